//! What the status tells monitoring, decided from the statuses alone (pure, so unit-tested):
//! the re-validation interval in seconds (an alert compares it with `lastValidationTime`; the
//! spec's duration string cannot be compared in PromQL), and which credentials newly came within
//! the warning window (one `CredentialExpiringSoon` Warning event per credential, not per
//! reconcile).
//!
//! Hooks: `prepare` where the status is about to be written (write.rs `write_status`), which
//! returns the notes of the `CredentialExpiringSoon` Warning events to publish once it is written;
//! `with_warning` where the checks are told about the integration (phases/mod.rs).

use super::context::Context;
use crate::api::{DatabricksIntegration, DatabricksIntegrationStatus, TestStatus};
use crate::checks::{Integration, expiry_test};

/// The checks' view of the integration with `--credential-warning`.
pub fn with_warning<'a>(it: Integration<'a>, ctx: &Context) -> Integration<'a> {
    Integration {
        credential_warning: ctx.timing.credential_warning,
        ..it
    }
}

/// Completes `status` before it is written over `previous` (what the API server holds): the
/// interval in seconds; returns the notes of the Warning events to publish.
pub fn prepare(
    status: &mut DatabricksIntegrationStatus,
    previous: Option<&DatabricksIntegrationStatus>,
    dbi: &DatabricksIntegration,
) -> Vec<String> {
    set_interval(status, dbi);
    expiring_soon(previous, status)
}

/// Records `spec.revalidationInterval` in seconds, as the operator applies it.
pub fn set_interval(status: &mut DatabricksIntegrationStatus, dbi: &DatabricksIntegration) {
    let secs = super::flow::interval(dbi).as_secs();
    status.revalidation_interval_seconds = i64::try_from(secs).ok();
}

/// The notes of the Warning events to publish: one per connection whose credential expiry test
/// warns in `now` and did not warn for that same expiry in `previous`. A rotated credential
/// (another expiry) that is again close gets a new event; a restart of the operator none.
pub fn expiring_soon(
    previous: Option<&DatabricksIntegrationStatus>,
    now: &DatabricksIntegrationStatus,
) -> Vec<String> {
    now.connections
        .iter()
        .filter_map(|c| {
            let test = expiry_test(&c.workspace_url);
            let message = warning(now, &test)?;
            let expires = c.credential_expires_at.as_ref();
            let announced = previous.is_some_and(|p| {
                warning(p, &test).is_some()
                    && p.connections.iter().any(|pc| {
                        pc.workspace_url == c.workspace_url
                            && pc.credential_expires_at.as_ref() == expires
                    })
            });
            (!announced).then(|| format!("{}: {message}", c.workspace_url))
        })
        .collect()
}

fn warning<'a>(status: &'a DatabricksIntegrationStatus, test: &str) -> Option<&'a str> {
    let tests = &status.validation_results.as_ref()?.validation_tests;
    let t = tests
        .iter()
        .find(|t| t.name == test && t.status == TestStatus::Warning)?;
    Some(
        t.message
            .as_deref()
            .unwrap_or("the credential expires soon"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ConnectionStatus, ValidationResults, ValidationTest};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    const HOST: &str = "a.cloud.databricks.com";

    fn status(expires: i64, warns: bool) -> DatabricksIntegrationStatus {
        let tests = warns
            .then(|| ValidationTest {
                name: expiry_test(HOST),
                status: TestStatus::Warning,
                message: Some("expires in 10 days".into()),
                result: None,
            })
            .into_iter()
            .collect();
        DatabricksIntegrationStatus {
            connections: vec![ConnectionStatus {
                workspace_url: HOST.into(),
                credential_expires_at: Some(Time(Timestamp::from_second(expires).unwrap())),
                ..Default::default()
            }],
            validation_results: Some(ValidationResults {
                status: TestStatus::Passed,
                validation_tests: tests,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn one_event_per_credential() {
        let soon = status(1_000, true);
        let notes = expiring_soon(None, &soon);
        assert_eq!(notes.len(), 1);
        assert!(
            notes[0].starts_with(HOST) && notes[0].contains("10 days"),
            "{notes:?}"
        );
        // The next reconcile, and one after a restart, say nothing new.
        assert!(expiring_soon(Some(&soon), &soon.clone()).is_empty());
        // Far from expiry: nothing, then a rotated credential close to expiry: a new event.
        assert!(expiring_soon(None, &status(9_000_000, false)).is_empty());
        assert_eq!(expiring_soon(Some(&soon), &status(2_000, true)).len(), 1);
        // It comes back within the window after a renewal far away: announced again.
        assert_eq!(expiring_soon(Some(&status(1_000, false)), &soon).len(), 1);
    }
}
