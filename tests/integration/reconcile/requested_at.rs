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
