//! Transient failures the SDKs retry, met during a reconcile. Each code and message is retried
//! at the client level in `domain::client::retries` and `domain::client::sql` (`statements_failing_transiently_…`);
//! here they happen in the middle of a setup against the strict simulator.

use std::time::Duration;

use databricks_sim::{
    CLUSTER_ID, FaultKind, FaultRule, SP_TOKEN, Scenario, Simulator, WAREHOUSE_ID,
};
use serde_json::json;
use uc_operator::databricks::{Error, RetryPolicy, WorkspaceClient};

use crate::support::databricks::{connection, settings, submitted_sql};
use crate::support::in_process::Env;

const STATEMENTS: &str = "/api/2.0/sql/statements";

/// The codes of FAILED statements that name a passing condition (databricks-sdk-go
/// `service/sql/model.go` `ServiceErrorCode`); the operator resubmits them, the SDKs do not.
const CODES: [&str; 5] = [
    "TEMPORARILY_UNAVAILABLE",
    "WORKSPACE_TEMPORARILY_UNAVAILABLE",
    "SERVICE_UNDER_MAINTENANCE",
    "RESOURCE_EXHAUSTED",
    "DEADLINE_EXCEEDED",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_failing_transiently_during_setup_is_submitted_again_and_enables() {
    for code in CODES {
        let env = Env::new("failed-stmt", Scenario::default_for_tests()).await;
        env.secret("sp-token", SP_TOKEN).await;
        // The first submission (the basic connection test's SELECT 1) passes untouched; the
        // next one, the first setup statement, ends FAILED once.
        let pass_one = FaultRule::new(STATEMENTS, FaultKind::Latency { millis: 0 })
            .method("POST")
            .times(1);
        env.sim.inject("main", pass_one);
        env.sim
            .inject("main", FaultRule::statement_failed(code).times(1));
        env.apply(&env.manifest("gov", "governance")).await;
        env.enable("gov").await;

        let sql = submitted_sql(&env.sim);
        assert_eq!(sql[0], "SELECT 1", "{code}: {sql:?}");
        assert_ne!(sql[1], "SELECT 1", "{code}: the fault hit setup");
        assert_eq!(sql[1], sql[2], "{code}: submitted again");
        let state = env.sim.state();
        assert_eq!(
            state.catalogs["governance"].owner,
            databricks_sim::SP_APP_ID,
            "{code}"
        );
    }
}

/// Two changes to one securable that conflict: the loser ends `ABORTED` (a statement) or gets
/// 409 `ABORTED` (REST). Both are retried and succeed; neither reads as "already exists".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conflicting_statement_or_request_is_retried_and_succeeds() {
    let env = Env::new("conflict", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let pass_one = FaultRule::new(STATEMENTS, FaultKind::Latency { millis: 0 })
        .method("POST")
        .times(1);
    env.sim.inject("main", pass_one);
    env.sim
        .inject("main", FaultRule::statement_conflict().times(1));
    env.apply(&env.manifest("gov", "governance")).await;
    env.enable("gov").await;
    let sql = submitted_sql(&env.sim);
    assert_eq!(
        sql[1], sql[2],
        "the aborted statement was submitted again: {sql:?}"
    );

    // A REST read answered 409 ABORTED once is retried too.
    let catalogs = "/api/2.1/unity-catalog/catalogs/governance";
    env.sim
        .inject("main", FaultRule::conflict(catalogs).times(1));
    let client = WorkspaceClient::new(
        connection(&env.sim, "main", WAREHOUSE_ID, SP_TOKEN),
        &settings(&env.sim),
    )
    .unwrap();
    let info = client.get_catalog("governance").await.unwrap();
    assert!(info.is_some());
    let statuses: Vec<u16> = env
        .sim
        .requests()
        .iter()
        .filter(|r| r.path == catalogs)
        .map(|r| r.status)
        .collect();
    assert!(statuses.ends_with(&[409, 200]), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_not_ready_answer_is_retried_and_enables() {
    let env = Env::new("not-ready", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    // The legacy 1.2 error body (terraform-provider-databricks#217), matched by its message.
    let body = json!({"error": format!(
        "com.databricks.backend.manager.util.ClusterNotReadyException: Cluster {CLUSTER_ID} is not running (state RESTARTING)"
    )});
    let fault = FaultKind::Body {
        status: 500,
        retry_after: None,
        body,
    };
    let contexts = "/api/1.2/contexts/create";
    env.sim
        .inject("main", FaultRule::new(contexts, fault).times(1));
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["httpPath"] = json!(format!("sql/protocolv1/o/0/{CLUSTER_ID}"));
    env.apply(&manifest).await;
    env.enable("gov").await;

    let statuses: Vec<u16> = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path == contexts)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses.first(), Some(&500), "{statuses:?}");
    assert!(statuses[1..].contains(&200), "{statuses:?}");
    assert_eq!(env.sim.cluster_starts(CLUSTER_ID), 0, "it was running");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_zero_storm_from_the_simulator_does_not_spin() {
    // Only the client and the simulator: no Kubernetes needed.
    let sim = Simulator::start(Scenario::default_for_tests())
        .await
        .unwrap();
    let me = "/api/2.0/preview/scim/v2/Me";
    sim.inject("main", FaultRule::too_many_requests(me, 0));
    let mut settings = settings(&sim);
    settings.retry = RetryPolicy {
        total_budget: Duration::from_secs(1),
        base_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_millis(100),
        ..settings.retry
    };
    let client =
        WorkspaceClient::new(connection(&sim, "main", WAREHOUSE_ID, SP_TOKEN), &settings).unwrap();
    let err = client.me().await.unwrap_err();
    let Error::RetryBudgetExhausted { attempts, .. } = err else {
        panic!("expected RetryBudgetExhausted, got {err:?}");
    };
    let sent = sim.requests().iter().filter(|r| r.path == me).count();
    assert_eq!(attempts as usize, sent);
    assert!(sent >= 2, "it retried: {sent}");
    // Every wait is at least the 100 ms backoff and none starts past the 1 s budget.
    assert!(sent <= 11, "{sent} requests");
}
