//! What the watch cache keeps of a resource, and reading the whole of it back.
//!
//! The cache holds every integration for as long as the operator runs, so it keeps only what
//! the controller decides from before it does any work (the flow, whether it is due, requests,
//! claims, the phase for metrics): not managedFields, not kubectl's `last-applied-configuration`
//! copy of the spec, not the messages and results of tests, conditions and connections. A
//! reconcile that works reads the resource back from the API server first (`latest`): what it
//! writes builds on the whole status, never on the trimmed copy.

use kube::api::Api;

use super::context::Context;
use super::error::Error;
use crate::api::DatabricksIntegration;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the cache does not need (applied to every object the watch delivers).
pub fn trim(dbi: &mut DatabricksIntegration) {
    dbi.metadata.managed_fields = None;
    if let Some(annotations) = dbi.metadata.annotations.as_mut() {
        annotations.remove(LAST_APPLIED);
    }
    let Some(status) = dbi.status.as_mut() else {
        return;
    };
    // Names and outcomes stay: whether the connection test passed decides claims and compute.
    if let Some(results) = status.validation_results.as_mut() {
        for test in &mut results.validation_tests {
            test.message = None;
            test.result = None;
        }
    }
    for condition in &mut status.conditions {
        condition.message = String::new();
    }
    for connection in &mut status.connections {
        connection.message = None;
    }
}

/// The resource as the API server holds it now: a reconcile that is about to work or write
/// starts from this, not from the trimmed cache.
pub async fn latest(
    ctx: &Context,
    cached: &DatabricksIntegration,
) -> Result<DatabricksIntegration, Error> {
    let ns = cached.metadata.namespace.as_deref().unwrap_or_default();
    let name = cached.metadata.name.as_deref().unwrap_or_default();
    let api: Api<DatabricksIntegration> = Api::namespaced(ctx.kube.clone(), ns);
    Ok(api.get(name).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        DatabricksIntegrationStatus, Phase, TestStatus, ValidationResults, ValidationTest,
    };
    use crate::controller::flow::{self, Flow};

    #[test]
    fn the_cache_keeps_what_the_decisions_read_and_drops_the_bulk() {
        let mut dbi = flow::tests::dbi("a", "https://ws.cloud.databricks.com", 1);
        dbi.metadata.annotations = Some(
            [
                (
                    LAST_APPLIED.to_string(),
                    "{\"spec\": \"a copy\"}".to_string(),
                ),
                (crate::api::REQUESTED_AT.to_string(), "now".to_string()),
            ]
            .into(),
        );
        let test = |name: &str| ValidationTest {
            name: name.into(),
            status: TestStatus::Passed,
            message: Some("a long message".repeat(20)),
            result: Some(serde_json::json!({"rows": [[1]]})),
        };
        dbi.status = Some(DatabricksIntegrationStatus {
            phase: Some(Phase::Enabled),
            observed_generation: Some(2),
            validation_results: Some(ValidationResults {
                status: TestStatus::Passed,
                validation_tests: vec![test(crate::checks::BASIC_CONNECTION_TEST), test("Other")],
            }),
            ..Default::default()
        });
        let before = (
            Flow::of(&dbi),
            flow::new_request(&dbi),
            flow::basic_connection_passed(&dbi),
        );
        let size = |d: &DatabricksIntegration| serde_json::to_string(d).unwrap().len();
        let full = size(&dbi);

        trim(&mut dbi);

        let after = (
            Flow::of(&dbi),
            flow::new_request(&dbi),
            flow::basic_connection_passed(&dbi),
        );
        assert_eq!(before, after, "the same decisions from the trimmed copy");
        assert!(size(&dbi) < full, "{} of {full} bytes kept", size(&dbi));
        let annotations = dbi.metadata.annotations.as_ref().unwrap();
        assert!(!annotations.contains_key(LAST_APPLIED));
        let tests = &dbi
            .status
            .as_ref()
            .unwrap()
            .validation_results
            .as_ref()
            .unwrap();
        assert_eq!(tests.validation_tests.len(), 2, "no test is dropped");
        assert!(
            tests
                .validation_tests
                .iter()
                .all(|t| t.message.is_none() && t.result.is_none())
        );
    }
}
