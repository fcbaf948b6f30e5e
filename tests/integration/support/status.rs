//! Reading a `DatabricksIntegration`'s status: its phase, a condition, a validation test.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use uc_operator::api::{DatabricksIntegration, Phase, ValidationTest};
use uc_operator::failure::Reason;

pub fn phase(d: &DatabricksIntegration) -> Option<Phase> {
    d.status.as_ref().and_then(|s| s.phase)
}

/// The condition of type `t`; panics with the status when there is none.
pub fn condition_of<'a>(d: &'a DatabricksIntegration, t: &str) -> &'a Condition {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == t))
        .unwrap_or_else(|| panic!("no {t} condition in {:?}", d.status))
}

/// `(status, reason)` of a condition, after checking it describes the current generation.
pub fn condition(d: &DatabricksIntegration, type_: &str) -> (String, String) {
    let c = condition_of(d, type_);
    assert_eq!(c.observed_generation, d.metadata.generation, "{type_}");
    (c.status.clone(), c.reason.clone())
}

pub fn is(status: &str, reason: Reason) -> (String, String) {
    (status.to_string(), reason.as_str().to_string())
}

/// `(reason, message)` of the Ready condition.
pub fn ready(d: &DatabricksIntegration) -> (String, String) {
    let c = condition_of(d, "Ready");
    (c.reason.clone(), c.message.clone())
}

/// The `name` validation test of the last validation.
pub fn validation_test<'a>(d: &'a DatabricksIntegration, name: &str) -> &'a ValidationTest {
    d.status
        .as_ref()
        .and_then(|s| s.validation_results.as_ref())
        .and_then(|v| v.validation_tests.iter().find(|t| t.name == name))
        .unwrap_or_else(|| panic!("no test {name:?} in {:?}", d.status))
}

/// The time of the last validation.
pub fn validated_at(d: &DatabricksIntegration) -> k8s_openapi::jiff::Timestamp {
    d.status
        .as_ref()
        .unwrap()
        .last_validation_time
        .clone()
        .unwrap()
        .0
}

/// The last `uc-operator.dev/requestedAt` value the operator acted on.
pub fn handled(d: &DatabricksIntegration) -> Option<&str> {
    d.status.as_ref()?.last_handled_reconcile_at.as_deref()
}

/// Validation times have second precision: a later one is only visible a second on.
pub async fn next_second() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}
