//! The flow decisions, branch by branch.
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::json;

use super::*;
use crate::api::{
    DatabricksIntegrationStatus, SetupMode, SetupStatus, ValidationResults, ValidationTest,
};

/// A token integration `ns/<name>` (uid = name, generation 2) for `url`; the decisions' tests use
/// it too.
pub(crate) fn dbi(name: &str, url: &str, created: i64) -> DatabricksIntegration {
    let mut d: DatabricksIntegration = serde_json::from_value(json!({
        "apiVersion": "uc-operator.dev/v1alpha1",
        "kind": "DatabricksIntegration",
        "metadata": {"name": name, "namespace": "ns", "uid": name, "generation": 2},
        "spec": {
            "workspaceUrl": url,
            "httpPath": "/sql/1.0/warehouses/w",
            "authenticationType": "token",
            "tokenSecretRef": {"name": "t"},
            "catalog": "gov"
        }
    }))
    .unwrap();
    d.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).unwrap()));
    d
}

fn with_status(
    mut d: DatabricksIntegration,
    phase: Phase,
    observed: i64,
    set_up: bool,
) -> DatabricksIntegration {
    d.status = Some(DatabricksIntegrationStatus {
        phase: Some(phase),
        observed_generation: Some(observed),
        bootstrap: Some(SetupStatus {
            mode: SetupMode::Automatic,
            script_config_map: None,
            applied_spec_hash: set_up.then(|| "h".into()),
        }),
        ..Default::default()
    });
    d
}

#[test]
fn flows_follow_the_status() {
    let d = dbi("a", "ws.cloud.databricks.com", 0);
    assert_eq!(Flow::of(&d), Flow::Create);
    assert_eq!(
        Flow::of(&with_status(d.clone(), Phase::CreateError, 2, true)),
        Flow::Create
    );
    // Enabled once, never set up (no hash): still a create.
    assert_eq!(
        Flow::of(&with_status(d.clone(), Phase::Enabled, 2, false)),
        Flow::Create
    );
    assert_eq!(
        Flow::of(&with_status(d.clone(), Phase::Enabled, 2, true)),
        Flow::Recheck
    );
    assert_eq!(
        Flow::of(&with_status(d.clone(), Phase::Enabled, 1, true)),
        Flow::Edit
    );
    assert_eq!(
        Flow::of(&with_status(d.clone(), Phase::EditError, 2, true)),
        Flow::Edit
    );
    assert_eq!(
        Flow::of(&with_status(d, Phase::RecurringValidationError, 2, true)),
        Flow::Recheck
    );
    assert_eq!(Flow::Recheck.error_phase(), Phase::RecurringValidationError);
    assert_eq!(Flow::Edit.in_progress_phase(), Phase::Editing);
    assert!(Flow::Recheck.announcement().is_none());
}

#[test]
fn due_after_the_interval_only_when_enabled() {
    let mut d = with_status(
        dbi("a", "ws.cloud.databricks.com", 0),
        Phase::Enabled,
        2,
        true,
    );
    d.spec.revalidation_interval = "10m".into();
    let last = Timestamp::from_second(1_000).unwrap();
    d.status.as_mut().unwrap().last_validation_time = Some(Time(last));
    let at = |s: i64| Timestamp::from_second(1_000 + s).unwrap();
    let due = until_due("a", last, Duration::from_secs(600)).as_secs() as i64;
    assert!((300..900).contains(&due), "{due}");
    assert_eq!(
        not_due(&d, at(60)),
        Some(Duration::from_secs(due as u64 - 60))
    );
    assert_eq!(not_due(&d, at(due)), None);
    assert_eq!(not_due(&d, at(due + 1)), None);
    d.status.as_mut().unwrap().phase = Some(Phase::RecurringValidationError);
    assert_eq!(
        not_due(&d, at(60)),
        None,
        "a failing resource is always due"
    );
    assert_eq!(interval(&d), Duration::from_secs(600));
}

#[test]
fn rechecks_of_integrations_created_together_spread_over_the_interval() {
    let interval = Duration::from_secs(3600);
    let last = Timestamp::from_second(1_700_000_000).unwrap();
    let waits: Vec<u64> = (0..200)
        .map(|i| until_due(&format!("uid-{i}"), last, interval).as_secs())
        .collect();
    assert!(waits.iter().all(|w| (1800..5400).contains(w)), "{waits:?}");
    // Every tenth of the interval gets some of the 200, none gets more than a fifth.
    let mut buckets = [0usize; 10];
    for w in &waits {
        buckets[((w - 1800) / 360) as usize] += 1;
    }
    assert!(buckets.iter().all(|&n| n > 0 && n < 40), "{buckets:?}");
    // Stable: the same resource gets the same slot again.
    assert_eq!(
        until_due("uid-7", last, interval),
        until_due("uid-7", last, interval)
    );
}

#[test]
fn a_new_request_is_acted_on_once() {
    let mut d = with_status(
        dbi("a", "ws.cloud.databricks.com", 0),
        Phase::Enabled,
        2,
        true,
    );
    assert_eq!(new_request(&d), None);
    d.metadata.annotations =
        Some([(crate::api::REQUESTED_AT.to_string(), "t1".to_string())].into());
    assert_eq!(new_request(&d).as_deref(), Some("t1"));
    d.status.as_mut().unwrap().last_handled_reconcile_at = Some("t1".into());
    assert_eq!(new_request(&d), None);
}

#[test]
fn requests_wait_for_a_minute_after_the_last_validation() {
    let mut d = with_status(
        dbi("a", "ws.cloud.databricks.com", 0),
        Phase::Enabled,
        2,
        true,
    );
    let minute = Duration::from_secs(60);
    let last: Timestamp = "2026-12-05T10:00:00Z".parse().unwrap();
    let at = |s: i64| last + k8s_openapi::jiff::SignedDuration::from_secs(s);
    // Never validated: nothing to wait for.
    assert_eq!(request_wait(&d, at(0), minute), None);
    d.status.as_mut().unwrap().last_validation_time = Some(Time(last));
    assert_eq!(
        request_wait(&d, at(20), minute),
        Some(Duration::from_secs(40))
    );
    assert_eq!(request_wait(&d, at(60), minute), None);
    assert_eq!(request_wait(&d, at(20), Duration::ZERO), None);
}

#[test]
fn compute_may_start_only_on_the_first_attempt_or_until_the_connection_passed() {
    let d = dbi("a", "ws.cloud.databricks.com", 0);
    assert_eq!(compute_policy(&d, Flow::Create), ComputePolicy::MayStart);
    let mut retry = with_status(d.clone(), Phase::CreateError, 2, false);
    assert!(announced(&retry, Flow::Create));
    assert_eq!(
        compute_policy(&retry, Flow::Create),
        ComputePolicy::MayStart
    );
    retry.status.as_mut().unwrap().validation_results = Some(ValidationResults {
        status: TestStatus::Failed,
        validation_tests: vec![ValidationTest {
            name: BASIC_CONNECTION_TEST.into(),
            status: TestStatus::Passed,
            message: None,
            result: None,
        }],
    });
    assert_eq!(
        compute_policy(&retry, Flow::Create),
        ComputePolicy::OnlyIfRunning
    );
    let enabled = with_status(d, Phase::Enabled, 2, true);
    assert_eq!(
        compute_policy(&enabled, Flow::Recheck),
        ComputePolicy::OnlyIfRunning
    );
}

#[test]
fn announced_once_per_generation() {
    let d = dbi("a", "ws.cloud.databricks.com", 0);
    assert!(!announced(&d, Flow::Create));
    assert!(announced(
        &with_status(d.clone(), Phase::Creating, 2, false),
        Flow::Create
    ));
    assert!(!announced(
        &with_status(d.clone(), Phase::Creating, 1, false),
        Flow::Create
    ));
    assert!(!announced(
        &with_status(d, Phase::Enabled, 1, true),
        Flow::Edit
    ));
}

#[test]
fn a_workspace_is_keyed_by_host_and_port_whatever_the_spelling() {
    let a = dbi("a", "https://WS.cloud.databricks.com:443", 10);
    let b = dbi("b", "ws.cloud.databricks.com", 20);
    let c = dbi("c", "ws.cloud.databricks.com:8443", 5);
    assert_eq!(
        workspace_key(&a).as_deref(),
        Some("ws.cloud.databricks.com")
    );
    assert_eq!(workspace_key(&a), workspace_key(&b));
    assert_eq!(
        workspace_key(&c).as_deref(),
        Some("ws.cloud.databricks.com:8443")
    );
}
