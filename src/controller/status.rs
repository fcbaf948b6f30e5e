//! Building the status (phase, kstatus conditions) from what a reconcile found, and writing it by
//! server-side apply. Pure functions except [`apply`], so the rules are unit-tested.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use super::decide::Record;
use crate::api::{
    DatabricksIntegration, DatabricksIntegrationStatus, FIELD_MANAGER, Phase, TestStatus,
    ValidationTest, WorkspaceStatus,
};
use crate::checks::results::{connections, overall, validation_tests};
use crate::failure::{Failure, Reason};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
pub const VALIDATED: &str = "Validated";
pub const BOOTSTRAPPED: &str = "Bootstrapped";

/// The state a reconcile ends in, with the reason and message users see on the conditions.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    /// Working on it (first write of a create or edit, or a deletion under way).
    Progressing { reason: Reason, message: String },
    /// Validated and set up for the current generation.
    Enabled,
    /// Manual setup: the script is published and has not been run yet.
    AwaitingManualSetup { message: String },
    /// Something failed; `Stalled` when only a user can fix it, otherwise it is retried.
    Failed(Failure),
    /// `spec.suspend`: nothing is done; `Ready` and `Stalled` keep what they said.
    Suspended,
}

/// Sets (or keeps) one condition, preserving `lastTransitionTime` unless the status changed.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: Reason,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) {
    let status = if status { "True" } else { "False" };
    let previous = conditions.iter().position(|c| c.type_ == type_);
    let last_transition_time = match previous.map(|i| &conditions[i]) {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => now.clone(),
    };
    let condition = Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.as_str().to_string(),
        message: truncate(message, 32 * 1024),
        observed_generation: generation,
        last_transition_time,
    };
    match previous {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

pub(crate) use crate::databricks::truncate;

/// Writes phase and the three kstatus conditions plus `Validated`/`Bootstrapped` for `state`.
pub fn set_state(
    status: &mut DatabricksIntegrationStatus,
    phase: Phase,
    state: &State,
    generation: Option<i64>,
    now: &Time,
) {
    status.phase = Some(phase);
    status.observed_generation = generation;
    let c = &mut status.conditions;
    match state {
        State::Enabled => {
            let reason = Reason::Enabled;
            let message = "the integration is validated and set up";
            set_condition(c, READY, true, reason, message, generation, now);
            set_condition(c, RECONCILING, false, reason, "", generation, now);
            set_condition(c, STALLED, false, reason, "", generation, now);
        }
        State::Progressing { reason, message } => {
            let reason = *reason;
            set_condition(c, READY, false, reason, message, generation, now);
            set_condition(c, RECONCILING, true, reason, message, generation, now);
            set_condition(c, STALLED, false, reason, "", generation, now);
        }
        State::AwaitingManualSetup { message } => {
            let reason = Reason::AwaitingManualSetup;
            set_condition(c, READY, false, reason, message, generation, now);
            set_condition(c, RECONCILING, true, reason, message, generation, now);
            // A person must act, but this is the expected path of manual setup, not a failure.
            set_condition(c, STALLED, false, reason, "", generation, now);
        }
        State::Suspended => {
            let message = "spec.suspend is true: the operator sends nothing to Databricks";
            set_condition(
                c,
                RECONCILING,
                false,
                Reason::Suspended,
                message,
                generation,
                now,
            );
        }
        State::Failed(f) => {
            let (reason, message) = (f.reason, &f.message);
            set_condition(c, READY, false, reason, message, generation, now);
            if f.needs_user() {
                set_condition(c, RECONCILING, false, reason, "", generation, now);
                set_condition(c, STALLED, true, reason, message, generation, now);
            } else {
                let retrying = format!("retrying: {message}");
                set_condition(c, RECONCILING, true, reason, &retrying, generation, now);
                set_condition(c, STALLED, false, reason, "", generation, now);
            }
        }
    }
}

/// Sets `validationResults` and the `Validated` condition from the tests that ran.
pub fn set_validation(
    status: &mut DatabricksIntegrationStatus,
    tests: Vec<ValidationTest>,
    generation: Option<i64>,
    now: &Time,
) {
    let overall = overall(&tests);
    let failed: Vec<String> = tests
        .iter()
        .filter(|t| t.status == TestStatus::Failed)
        .map(|t| match &t.message {
            Some(m) => format!("{}: {m}", t.name),
            None => t.name.clone(),
        })
        .collect();
    let (ok, reason, message) = match overall {
        TestStatus::Failed => (false, Reason::ValidationFailed, failed.join("; ")),
        TestStatus::Warning => (true, Reason::PassedWithWarnings, warnings(&tests)),
        _ => (
            true,
            Reason::Passed,
            "all validation tests passed".to_string(),
        ),
    };
    let c = &mut status.conditions;
    set_condition(c, VALIDATED, ok, reason, &message, generation, now);
    status.validation_results = Some(crate::api::ValidationResults {
        status: overall,
        validation_tests: tests,
    });
    status.last_validation_time = Some(now.clone());
}

fn warnings(tests: &[ValidationTest]) -> String {
    tests
        .iter()
        .filter(|t| t.status == TestStatus::Warning)
        .map(|t| format!("{}: {}", t.name, t.message.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Puts what validation and setup found into the status: `Bootstrapped`, `bootstrap`, the
/// discovered workspace, the test results per connection and `Validated`.
pub fn record(
    status: &mut DatabricksIntegrationStatus,
    record: &Record,
    generation: Option<i64>,
    now: &Time,
) {
    let condition = &record.condition;
    let c = &mut status.conditions;
    let (done, reason, message) = (condition.done, condition.reason, &condition.message);
    set_condition(c, BOOTSTRAPPED, done, reason, message, generation, now);
    status.bootstrap = Some(record.setup.clone());
    let main = record.findings.main();
    status.workspace = Some(WorkspaceStatus {
        workspace_id: main.workspace_id,
        metastore_id: main.metastore_id,
        principal: main.principal,
    });
    let tests = validation_tests(&record.findings);
    status.connections = connections(&record.findings, &tests);
    set_validation(status, tests, generation, now);
}

/// A failure before the tests could run: `Validated` must not keep vouching for an earlier
/// generation.
pub fn not_validated(
    status: &mut DatabricksIntegrationStatus,
    reason: Reason,
    generation: Option<i64>,
    now: &Time,
) {
    let message = format!("the validation tests did not run ({reason})");
    let c = &mut status.conditions;
    set_condition(
        c,
        VALIDATED,
        false,
        Reason::NotValidated,
        &message,
        generation,
        now,
    );
}

/// Writes the whole status by server-side apply under the operator's field manager. Skips the
/// call when it equals what the server holds (`on_server`, the last status read or written), so
/// a reconcile that finds nothing new costs no API write.
pub async fn apply(
    api: &Api<DatabricksIntegration>,
    dbi: &DatabricksIntegration,
    on_server: Option<&DatabricksIntegrationStatus>,
    status: &DatabricksIntegrationStatus,
) -> Result<(), kube::Error> {
    if on_server == Some(status) {
        return Ok(());
    }
    let name = dbi.metadata.name.as_deref().unwrap_or_default();
    let patch = json!({
        "apiVersion": "uc-operator.dev/v1alpha1",
        "kind": "DatabricksIntegration",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn get<'a>(s: &'a DatabricksIntegrationStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn transition_time_changes_only_with_the_status() {
        let mut s = DatabricksIntegrationStatus::default();
        let failed = State::Failed(Failure::user(Reason::AuthenticationFailed, "first"));
        set_state(&mut s, Phase::CreateError, &failed, Some(1), &at(100));
        assert_eq!(get(&s, READY).last_transition_time, at(100));
        // Same status, new message and generation: the transition time stays.
        let failed_again = State::Failed(Failure::user(Reason::AuthenticationFailed, "second"));
        set_state(&mut s, Phase::CreateError, &failed_again, Some(2), &at(200));
        let ready = get(&s, READY);
        assert_eq!(ready.last_transition_time, at(100));
        assert_eq!(ready.message, "second");
        assert_eq!(ready.observed_generation, Some(2));
        // The status flips: now it moves.
        set_state(&mut s, Phase::Enabled, &State::Enabled, Some(2), &at(300));
        assert_eq!(get(&s, READY).status, "True");
        assert_eq!(get(&s, READY).last_transition_time, at(300));
        assert_eq!(get(&s, STALLED).last_transition_time, at(300));
        assert_eq!(get(&s, STALLED).status, "False");
    }

    #[test]
    fn suspension_touches_only_reconciling() {
        let mut s = DatabricksIntegrationStatus::default();
        set_state(&mut s, Phase::Enabled, &State::Enabled, Some(1), &at(1));
        set_state(&mut s, Phase::Enabled, &State::Suspended, Some(2), &at(2));
        assert_eq!(get(&s, READY).status, "True");
        assert_eq!(get(&s, RECONCILING).reason, "Suspended");
        assert_eq!(get(&s, RECONCILING).status, "False");
    }

    #[test]
    fn kstatus_conditions_follow_the_state() {
        let mut s = DatabricksIntegrationStatus::default();
        let transient = State::Failed(Failure::retry(Reason::WorkspaceUnavailable, "503"));
        set_state(&mut s, Phase::CreateError, &transient, Some(1), &at(1));
        assert_eq!(get(&s, RECONCILING).status, "True");
        assert_eq!(get(&s, STALLED).status, "False");
        let progressing = State::Progressing {
            reason: Reason::Creating,
            message: "validating".into(),
        };
        set_state(&mut s, Phase::Creating, &progressing, Some(1), &at(2));
        assert_eq!(get(&s, READY).status, "False");
        assert_eq!(get(&s, READY).reason, "Creating");
        assert_eq!(s.phase, Some(Phase::Creating));
    }
}
