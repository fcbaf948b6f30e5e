//! Terminated all-purpose clusters: Command Execution 1.2 never starts one (it answers 500
//! `ClusterNotReadyException`), so the first attempt of a generation starts it with
//! `clusters/start`; a periodic re-check never does (CONTRACT: "Compute").

use databricks_sim::{CLUSTER_ID, SP_TOKEN, Scenario};
use serde_json::json;
use uc_operator::api::{Phase, TestStatus};
use uc_operator::checks::BASIC_CONNECTION_TEST;

use crate::support::in_process::Env;
use crate::support::status::{condition, condition_of, is, phase, validation_test};
use uc_operator::failure::Reason;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_cluster_is_started_once_and_never_by_a_recheck() {
    let env = Env::new("cluster", Scenario::default_for_tests()).await;
    env.sim.set_cluster_state("main", CLUSTER_ID, "TERMINATED");
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["httpPath"] = json!(format!("sql/protocolv1/o/0/{CLUSTER_ID}"));
    env.apply(&manifest).await;

    // Started, then waited for by coming back, not by holding the reconcile: each pass while
    // the cluster is PENDING ends at once, `creating` with reason ComputeStarting and no SQL.
    env.step("gov").await.result.unwrap();
    let mut waits = 0;
    let dbi = loop {
        let step = env.step("gov").await;
        let action = step.result.expect("no failure while the cluster starts");
        let dbi = env.get("gov").await;
        if phase(&dbi) == Some(Phase::Enabled) {
            break dbi;
        }
        assert_eq!(phase(&dbi), Some(Phase::Creating), "{:?}", dbi.status);
        assert_eq!(
            condition(&dbi, "Reconciling"),
            is("True", Reason::ComputeStarting)
        );
        let message = condition_of(&dbi, "Reconciling").message.clone();
        assert!(
            message.contains(CLUSTER_ID) && message.contains("PENDING"),
            "{message}"
        );
        assert!(format!("{action:?}").contains("requeue_after: Some"));
        assert!(
            !env.sim
                .requests()
                .iter()
                .any(|r| r.path.contains("/contexts/")),
            "no SQL before the cluster runs"
        );
        waits += 1;
        assert!(waits < 10, "the cluster never ran");
    };
    assert!(waits >= 1, "the start was waited for across reconciles");
    assert_eq!(env.sim.cluster_starts(CLUSTER_ID), 1);
    let basic = validation_test(&dbi, BASIC_CONNECTION_TEST);
    assert_eq!(basic.status, TestStatus::Passed);
    assert_eq!(basic.result, Some(json!([{"1": 1}])));
    assert_eq!(
        env.sim.state().workspaces["main"].clusters[CLUSTER_ID],
        "RUNNING"
    );

    // It auto-terminates; the next periodic re-check looks without starting it.
    env.sim.set_cluster_state("main", CLUSTER_ID, "TERMINATED");
    env.sim.clear_requests();
    env.force_recheck(&dbi);
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert!(step.phases().iter().all(|p| *p == Some(Phase::Enabled)));
    let requests = env.sim.requests();
    assert!(!requests.is_empty(), "the re-check ran");
    assert_eq!(env.sim.cluster_starts(CLUSTER_ID), 1, "nothing started");
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert!(
        !paths
            .iter()
            .any(|p| p.ends_with("/clusters/start") || p.contains("/contexts/")),
        "{paths:?}"
    );
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::Enabled));
    let basic = validation_test(&dbi, BASIC_CONNECTION_TEST);
    assert_eq!(basic.status, TestStatus::Skipped, "{basic:?}");
    assert_eq!(
        env.sim.state().workspaces["main"].clusters[CLUSTER_ID],
        "TERMINATED"
    );
}

/// `SET TAGS` needs Databricks Runtime 13.3+ on a cluster: on an older one setup fails with a
/// message saying so (not a bare parse error), and 1.2's HTML summary reaches no status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_cluster_runtime_is_named_when_set_tags_does_not_parse() {
    let mut scenario = Scenario::default_for_tests();
    let main = scenario.workspace_mut("main");
    main.clusters.clear();
    main.clusters.push(databricks_sim::ClusterSpec {
        id: CLUSTER_ID.into(),
        name: None,
        state: "RUNNING".into(),
        spark_version: "12.2.x-scala2.12".into(),
    });
    let env = Env::new("old-dbr", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["httpPath"] = json!(format!("sql/protocolv1/o/0/{CLUSTER_ID}"));
    env.apply(&manifest).await;
    env.step("gov").await.result.unwrap();
    let step = env.step("gov").await;
    let failure = step.failure();
    assert_eq!(failure.reason, uc_operator::failure::Reason::SetupFailed);
    assert!(
        failure.message.contains("Databricks Runtime 13.3"),
        "{}",
        failure.message
    );
    assert!(!failure.message.contains('<'), "{}", failure.message);
    assert_eq!(phase(&env.get("gov").await), Some(Phase::CreateError));
}

/// A cluster that does not run within `--compute-start-timeout` fails the Basic Connection
/// Test, naming the cluster and the flag (here the limit is zero: the first wait is too long).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_that_never_runs_fails_after_the_start_timeout() {
    use uc_operator::controller::Timing;
    let timing = Timing {
        compute_start_timeout: std::time::Duration::ZERO,
        ..Timing::default()
    };
    let env = Env::with_timing("cluster-slow", |_| Scenario::default_for_tests(), timing).await;
    env.sim.set_cluster_state("main", CLUSTER_ID, "TERMINATED");
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["httpPath"] = json!(format!("sql/protocolv1/o/0/{CLUSTER_ID}"));
    let failure = env.apply_until_failure("gov", &manifest).await;
    assert_eq!(
        failure.reason,
        Reason::ComputeStarting,
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains(CLUSTER_ID) && failure.message.contains("--compute-start-timeout"),
        "{}",
        failure.message
    );
    assert_eq!(env.sim.cluster_starts(CLUSTER_ID), 1);
}
