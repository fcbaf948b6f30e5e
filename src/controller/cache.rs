//! What the watch cache keeps of a resource, and reading the whole of it back.
//!
//! The cache holds every integration for as long as the operator runs, so it keeps only what
//! the controller decides from before it does any work: the metadata (without managedFields,
//! labels, or annotations other than a request not yet handled), the spec, and of the status the
//! phase, generation, setup hash and times that say which flow it is in and whether it is due.
//! Conditions, test results, connections and the workspace are left out. A reconcile that works
//! reads the resource back from the API server first (`latest`): what it writes builds on the
//! whole status, never on the trimmed copy.

use kube::api::Api;

use super::context::Context;
use super::error::Error;
use crate::api::{DatabricksIntegration, REQUESTED_AT};

#[cfg(test)]
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// Drops what the cache does not need (applied to every object the watch delivers).
pub fn trim(dbi: &mut DatabricksIntegration) {
    let meta = &mut dbi.metadata;
    meta.managed_fields = None;
    // Labels and annotations are the tenant's, of any size; only an unhandled request is read.
    meta.labels = None;
    let handled = dbi
        .status
        .as_ref()
        .and_then(|s| s.last_handled_reconcile_at.as_ref());
    meta.annotations = meta.annotations.take().and_then(|mut all| {
        all.retain(|k, v| (k == REQUESTED_AT && Some(&*v) != handled) || kept_for_tests(k));
        (!all.is_empty()).then_some(all)
    });
    if let Some(status) = dbi.status.as_mut() {
        status.conditions = Vec::new();
        status.validation_results = None;
        status.connections = Vec::new();
        status.workspace = None;
    }
}

/// The panic hook's annotation (`reconcile.rs`), only in builds with the test hooks.
fn kept_for_tests(key: &str) -> bool {
    cfg!(feature = "test-hooks") && key == "uc-operator.dev/test-panic"
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
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    use super::*;
    use crate::api::{
        DatabricksIntegrationStatus, Phase, TestStatus, ValidationResults, ValidationTest,
    };
    use crate::controller::flow::{self, Flow};

    #[test]
    fn the_cache_keeps_what_the_decisions_read_and_drops_the_bulk() {
        let mut dbi = flow::tests::dbi("a", "https://ws.cloud.databricks.com", 1);
        let copy = (
            LAST_APPLIED.to_string(),
            "{\"spec\": \"a copy\"}".to_string(),
        );
        let request = (REQUESTED_AT.to_string(), "now".to_string());
        dbi.metadata.annotations = Some([copy, request].into());
        let test = ValidationTest {
            name: crate::checks::BASIC_CONNECTION_TEST.into(),
            status: TestStatus::Passed,
            message: Some("a long message".repeat(20)),
            result: Some(serde_json::json!({"rows": [[1]]})),
        };
        dbi.status = Some(DatabricksIntegrationStatus {
            phase: Some(Phase::Enabled),
            observed_generation: Some(2),
            last_validation_time: Some(Time(Timestamp::now())),
            validation_results: Some(ValidationResults {
                status: TestStatus::Passed,
                validation_tests: vec![test],
            }),
            ..Default::default()
        });
        let decisions = |d: &DatabricksIntegration| {
            let now = Timestamp::now();
            (
                Flow::of(d),
                flow::new_request(d),
                flow::not_due(d, now).is_some(),
                flow::request_wait(d, now, std::time::Duration::from_secs(60)).is_some(),
                flow::workspace_key(d),
            )
        };
        let before = decisions(&dbi);

        trim(&mut dbi);

        assert_eq!(
            decisions(&dbi),
            before,
            "the same decisions from the trimmed copy"
        );
        let annotations = dbi.metadata.annotations.as_ref().unwrap();
        assert!(!annotations.contains_key(LAST_APPLIED));
        assert!(annotations.contains_key(REQUESTED_AT), "not handled yet");
        // Once handled, the request is no decision's business any more.
        dbi.status.as_mut().unwrap().last_handled_reconcile_at = Some("now".into());
        trim(&mut dbi);
        assert_eq!(flow::new_request(&dbi), None);
        assert!(dbi.metadata.annotations.is_none());
        let status = dbi.status.as_ref().unwrap();
        assert!(status.validation_results.is_none() && status.conditions.is_empty());
    }
}
