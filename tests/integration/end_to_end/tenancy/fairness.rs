//! Fair admission against the real binary: integrations piled onto one workspace that never
//! answers hold no more workers than `--workspace-concurrency`, so another integration in the
//! same operator reaches `enabled` meanwhile.

use std::time::Duration;

use databricks_sim::{SP_TOKEN, Scenario};
use serde_json::json;
use uc_operator::api::Phase;

use crate::support::hostile::{Hostile, Reply};
use crate::support::spawned::Env;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workspace_that_never_answers_holds_no_more_workers_than_its_cap() {
    let mut t = Env::new("fair-ws", Scenario::default_for_tests()).await;
    // Answers only after ten minutes: every request it gets holds a worker far past this test
    // (with the default retry budget, the operator gives up on a request after 60 s).
    let hang = Hostile::start(|_| {
        let reply = Reply::json(503, json!({"error_code": "TEMPORARILY_UNAVAILABLE"}));
        Reply::Slow(Duration::from_secs(600), Box::new(reply))
    });
    t.trust(&[&hang]);
    t.secret("sp-token", "token", SP_TOKEN).await;
    // Two workers: without the per-workspace cap, two of the piled integrations would hold both.
    let timings = ["--retry-base", "500ms", "--manual-setup-poll", "1s"];
    t.start_timed(
        &timings,
        &["--concurrency", "2", "--workspace-concurrency", "1"],
    );
    for i in 0..3 {
        let manifest = t.manifest_at(&format!("piled-{i}"), &hang.host(), &format!("piled_{i}"));
        t.apply(&manifest).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while hang.count("") == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the slow workspace was never asked: {}",
            t.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let healthy = t.manifest_at("healthy", &t.host("main"), "healthy_catalog");
    t.apply(&healthy).await;
    t.wait_phase("healthy", Phase::Enabled).await;

    // A reconcile asks who it is once (alongside its other first requests): one `Me` is one
    // reconcile in flight.
    assert_eq!(
        hang.count("/api/2.0/preview/scim/v2/Me"),
        1,
        "one reconcile at a time on the slow workspace: {:?}",
        hang.seen()
    );
    for i in 0..3 {
        let dbi = t.get(&format!("piled-{i}")).await;
        let phase = dbi.status.as_ref().and_then(|s| s.phase);
        assert_ne!(phase, Some(Phase::Enabled), "piled-{i} cannot be enabled");
    }
    let metrics = t.metrics().await;
    assert!(
        metrics.contains(r#"uc_operator_reconciles_deferred_total{scope="workspace"}"#),
        "the other piled integrations were deferred:\n{metrics}"
    );
    assert!(t.running(), "{}", t.log_tail());
}
