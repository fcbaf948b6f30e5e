//! Workload identity end to end: the operator process requests ServiceAccount tokens from the
//! API server and exchanges them; Databricks tokens that expire between re-checks are renewed,
//! and no token shows up in a log line, event, status or metric.

use std::time::Duration;

use databricks_sim::Scenario;
use uc_operator::api::Phase;

use crate::support::spawned::Env;
use crate::support::workload_identity::{AUDIENCE, SA, manifest, service_account, trusting};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_databricks_tokens_are_renewed_by_exchanging_again() {
    // Databricks tokens live two seconds: every re-check after that needs a new exchange.
    let mut env = Env::new_for("wi-e2e", |ns| -> Scenario {
        trusting(ns, 0).with_token_lifetime(2)
    })
    .await;
    service_account(&env.client, &env.ns, SA, true).await;
    env.start(&[]);
    let m = manifest("wi", &env.host("main"), SA, Some(AUDIENCE), false);
    env.apply(&m).await;
    env.wait_phase("wi", Phase::Enabled).await;
    let first = env.sim.state().federated.len();
    assert!(first >= 1, "the operator exchanged a ServiceAccount token");

    for round in ["one", "two"] {
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let before = env.validated_at("wi").await;
        let request = format!("uc-operator.dev/requestedAt={round}");
        let out = env.cp.kubectl(&[
            "annotate",
            "dbi",
            "wi",
            &request,
            "-n",
            &env.ns,
            "--overwrite",
        ]);
        crate::support::harness::assert_success(&out, "kubectl annotate");
        let dbi = env.wait_revalidated("wi", before).await;
        assert_eq!(
            dbi.status.as_ref().and_then(|s| s.phase),
            Some(Phase::Enabled),
            "{:?}",
            dbi.status
        );
    }
    let seen = env.sim.state().federated;
    assert!(
        seen.len() >= first + 2,
        "each re-check after the Databricks token expired exchanged again: {} then {}",
        first,
        seen.len()
    );
    assert!(seen.iter().all(|e| !e.client_secret_sent));
    for exchange in &seen {
        env.remember_secret(&exchange.token);
    }
    env.assert_no_secret_leaks("").await;
}
