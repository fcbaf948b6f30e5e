//! The `uc-operator.dev/requestedAt` annotation in-process: a value already acted on does
//! nothing (a new value re-validating at once is shown end to end in `end_to_end::suspend_and_requests`).

use databricks_sim::{SP_TOKEN, Scenario};
use serde_json::json;
use uc_operator::api::REQUESTED_AT;

use crate::support::in_process::Env;
use crate::support::status::{handled, next_second, validated_at};

/// The same value again does nothing; exact in-process (a reconcile that does run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_requested_at_value_does_nothing() {
    let env = Env::new("request-same", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    env.apply(&manifest).await;
    let before = validated_at(&env.enable("gov").await);

    next_second().await;
    manifest["metadata"]["annotations"] = json!({REQUESTED_AT: "first"});
    env.apply(&manifest).await;
    env.sim.clear_requests();
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert!(!env.sim.requests().is_empty(), "not re-validated");
    let dbi = env.get("gov").await;
    assert_eq!(handled(&dbi), Some("first"));
    assert!(validated_at(&dbi) > before);

    env.sim.clear_requests();
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert!(step.writes.is_empty(), "{:?}", step.phases());
    assert!(
        env.sim.requests().is_empty(),
        "re-validated on the same value"
    );
}

/// A new value within a minute of the last validation waits for the minute to end (contract:
/// at most once a minute per resource); then it is acted on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_within_a_minute_of_the_last_validation_waits_for_it() {
    use std::time::Duration;
    use uc_operator::controller::Timing;
    let timing = Timing {
        request_spacing: Duration::from_secs(60),
        ..Timing::default()
    };
    let env = Env::with_timing("request-spacing", |_| Scenario::default_for_tests(), timing).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    env.apply(&manifest).await;
    let before = validated_at(&env.enable("gov").await);

    manifest["metadata"]["annotations"] = json!({REQUESTED_AT: "soon"});
    env.apply(&manifest).await;
    env.sim.clear_requests();
    let step = env.step("gov").await;
    assert!(step.writes.is_empty(), "{:?}", step.phases());
    assert!(
        env.sim.requests().is_empty(),
        "re-validated within the minute"
    );
    // Woken when the minute since the last validation ends.
    let action = step.result.expect("a requeue");
    let requeue = format!("{action:?}");
    assert!(requeue.contains("requeue_after: Some"), "{requeue}");
    let dbi = env.get("gov").await;
    assert_eq!(handled(&dbi), None);
    assert_eq!(validated_at(&dbi), before);
}
