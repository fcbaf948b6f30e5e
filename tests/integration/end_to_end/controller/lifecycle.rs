//! Edits, rotation, deletion, periodic re-validation at rest, crash recovery, `kubectl wait`.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_secret_rotation_revalidate() {
    let mut scenario = Scenario::default_for_tests();
    scenario
        .principal_mut(SP_APP_ID)
        .tokens
        .push("dapi-rotated-token".into());
    let mut env = Env::new("edit", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    env.apply(&env.manifest("gov", "governance")).await;
    let first = env.wait_phase("gov", Phase::Enabled).await;

    // A spec change: editing, then enabled for the new generation.
    let mut changed = env.manifest("gov", "governance");
    changed["spec"]["revalidationInterval"] = "2h".into();
    env.apply(&changed).await;
    let edited = env.wait_phase("gov", Phase::Enabled).await;
    assert!(edited.metadata.generation > first.metadata.generation);
    assert_eq!(
        condition_of(&edited, "Ready").observed_generation,
        edited.metadata.generation
    );
    let reasons = env.event_reasons();
    assert!(
        reasons.iter().any(|r| r == "Editing"),
        "no Editing event: {reasons:?}"
    );

    // Rotate the Secret: re-validated (a new validation time) without a restart or spec change.
    let before = env.validated_at("gov").await;
    env.sim.clear_requests();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    env.secret("sp-token", "token", "dapi-rotated-token").await;
    let rotated = env.wait_revalidated("gov", before).await;
    assert_eq!(phase(&rotated), Some(Phase::Enabled));
    // Only the new token works from now on: a later re-validation proves it is the one in use.
    env.sim.revoke_token(SP_TOKEN);
    let before = env.validated_at("gov").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    env.cp
        .kubectl(&["annotate", "secret", "sp-token", "-n", &env.ns, "touched=1"]);
    let revalidated = env.wait_revalidated("gov", before).await;
    assert_eq!(
        phase(&revalidated),
        Some(Phase::Enabled),
        "{:?}",
        revalidated.status
    );
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: Retain, Delete, and a deletion retried through an outage, in order.
async fn deletion_honours_the_policy_and_retries_when_the_workspace_is_down() {
    let mut scenario = Scenario::default_for_tests().with_workspace(
        databricks_sim::WorkspaceSpec::new("other", 3003).with_warehouse(WAREHOUSE_ID, "RUNNING"),
    );
    scenario.workspace_mut("other");
    let mut env = Env::new("delete", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    env.apply(&env.manifest("drop", "dropped")).await;
    let mut keep = env.manifest("keep", "kept");
    keep["spec"]["workspaceUrl"] = env.host("other").into();
    keep["spec"]["deletionPolicy"] = "Retain".into();
    env.apply(&keep).await;
    env.wait_phase("drop", Phase::Enabled).await;
    env.wait_phase("keep", Phase::Enabled).await;

    // Retain: the resource goes, the catalog stays.
    env.api()
        .delete("keep", &DeleteParams::default())
        .await
        .unwrap();
    env.wait_gone("keep", Duration::from_secs(120)).await;
    assert!(catalog(&env.sim.state(), "kept").is_some());

    // Delete, with the workspace down: deleteError, then it finishes once the workspace is back.
    env.sim.inject(
        "main",
        FaultRule {
            path_prefix: "/api/2.1/unity-catalog".into(),
            method: None,
            kind: FaultKind::Status {
                status: 503,
                retry_after: None,
                error_code: "TEMPORARILY_UNAVAILABLE".into(),
                message: "workspace is down".into(),
            },
            times: None,
        },
    );
    env.api()
        .delete("drop", &DeleteParams::default())
        .await
        .unwrap();
    let failing = env
        .wait("drop", "deleteError", Duration::from_secs(120), |d| {
            phase(d) == Some(Phase::DeleteError)
        })
        .await;
    assert!(
        condition_of(&failing, "Ready")
            .message
            .contains("could not drop catalog dropped")
    );
    assert!(catalog(&env.sim.state(), "dropped").is_some());
    // Retries (backoff 0.5 s … 3 s) keep it in deleteError: no flapping back to deleting.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(phase(&env.get("drop").await), Some(Phase::DeleteError));
    }
    env.sim.clear_faults();
    env.wait_gone("drop", Duration::from_secs(120)).await;
    assert!(
        catalog(&env.sim.state(), "dropped").is_none(),
        "catalog not dropped"
    );
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: rest, restart and a stopped warehouse in one sequence, counted at each step.
async fn periodic_revalidation_never_starts_a_stopped_warehouse_and_costs_nothing_at_rest() {
    let mut env = Env::new("rest", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    env.apply(&env.manifest("idle", "idle_catalog")).await;
    env.wait_phase("idle", Phase::Enabled).await;

    // At rest (interval 1h): no Databricks request and no write to the resource for 8 s.
    let rv = env.get("idle").await.metadata.resource_version;
    env.sim.clear_requests();
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(env.sim.requests().len(), 0, "Databricks requests at rest");
    assert_eq!(
        env.get("idle").await.metadata.resource_version,
        rv,
        "writes at rest"
    );
    // A graceful stop (SIGTERM), then a restart: it re-validates nothing before the interval is due.
    let exit = env.operator.as_mut().unwrap().terminate();
    assert!(exit.success(), "exit after SIGTERM: {exit}");
    assert!(
        env.operator
            .as_ref()
            .unwrap()
            .logs()
            .contains("\"stopped\"")
    );
    env.start(&[]);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        env.operator
            .as_ref()
            .unwrap()
            .logs()
            .contains("serving metrics")
    );
    assert_eq!(
        env.sim.requests().len(),
        0,
        "Databricks requests after a restart"
    );
    assert_eq!(
        env.get("idle").await.metadata.resource_version,
        rv,
        "writes after a restart"
    );

    // The warehouse stops; the minimum interval is 1m, so re-check now through a Secret touch
    // (the same path a periodic re-check takes: Flow::Recheck).
    env.sim.set_warehouse_state("main", WAREHOUSE_ID, "STOPPED");
    let starts = env.sim.warehouse_starts(WAREHOUSE_ID);
    let before = env.validated_at("idle").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // A touched Secret makes the next reconcile re-validate (as a rotation does).
    env.cp.kubectl(&[
        "annotate",
        "secret",
        "sp-token",
        "-n",
        &env.ns,
        "touched=1",
        "--overwrite",
    ]);
    let dbi = env.wait_revalidated("idle", before).await;
    assert_eq!(
        env.sim.warehouse_starts(WAREHOUSE_ID),
        starts,
        "a periodic check started the warehouse"
    );
    let basic = validation_test(&dbi, "Basic Connection Test");
    assert_eq!(basic.status, TestStatus::Skipped);
    assert!(basic.message.as_deref().unwrap().contains("STOPPED"));
    assert_eq!(phase(&dbi), Some(Phase::Enabled));
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_setup_converges_after_restart() {
    let mut env = Env::new("crash", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    // Slow statements, so the kill lands in the middle of the setup plan.
    env.sim.inject(
        "main",
        FaultRule {
            path_prefix: "/api/2.0/sql/statements".into(),
            method: Some("POST".into()),
            kind: FaultKind::Latency { millis: 400 },
            times: None,
        },
    );
    env.start(&[]);
    env.apply(&env.manifest("crashy", "crash_catalog")).await;
    let start = Instant::now();
    while catalog(&env.sim.state(), "crash_catalog").is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "setup never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.operator.as_mut().unwrap().kill();
    let half = catalog(&env.sim.state(), "crash_catalog").unwrap().clone();
    let finished = half.tags.contains_key(TAG_KEY)
        && half
            .schemas
            .get("uc_operator_system")
            .is_some_and(|s| !s.views.is_empty());
    assert!(!finished, "setup finished before the kill");
    env.sim.clear_faults();
    env.start(&[]);
    env.wait_phase("crashy", Phase::Enabled).await;
    let state = env.sim.state();
    let cat = catalog(&state, "crash_catalog").unwrap();
    let internal = cat
        .schemas
        .get("uc_operator_system")
        .expect("internal schema");
    assert_eq!(internal.tables.len(), 1, "{internal:?}");
    assert_eq!(internal.views.len(), 1, "{internal:?}");
    assert_eq!(
        cat.tags.get(TAG_KEY),
        Some(&format!(
            "{}:{}:crashy",
            env.default_installation().await,
            env.ns
        ))
    );
    assert_eq!(cat.owner, SP_APP_ID);
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_create_catalog_then_deleted_drops_the_catalog() {
    let mut env = Env::new("crash-del", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    // Slow statements: the kill lands after CREATE CATALOG, before the plan's later stages.
    env.sim.inject(
        "main",
        FaultRule {
            path_prefix: "/api/2.0/sql/statements".into(),
            method: Some("POST".into()),
            kind: FaultKind::Latency { millis: 400 },
            times: None,
        },
    );
    env.start(&[]);
    env.apply(&env.manifest("cut", "cut_catalog")).await;
    let start = Instant::now();
    while catalog(&env.sim.state(), "cut_catalog").is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "setup never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    env.operator.as_mut().unwrap().kill();
    let half = catalog(&env.sim.state(), "cut_catalog").unwrap().clone();
    assert!(
        !half.schemas.contains_key("uc_operator_system"),
        "setup finished before the kill"
    );
    // The status said setup started before the catalog was created.
    let dbi = env.get("cut").await;
    assert_eq!(phase(&dbi), Some(Phase::Creating));
    assert_eq!(condition_of(&dbi, "Bootstrapped").reason, "SetupStarted");

    env.api()
        .delete("cut", &DeleteParams::default())
        .await
        .unwrap();
    env.sim.clear_faults();
    env.start(&[]);
    env.wait_gone("cut", Duration::from_secs(90)).await;
    // The catalog is this integration's (its CREATE CATALOG comment, owned by the service
    // principal), tagged or not: dropped, and said so.
    assert!(
        catalog(&env.sim.state(), "cut_catalog").is_none(),
        "the catalog was left: {}",
        env.log_tail()
    );
    let reasons = env.event_reasons();
    assert!(reasons.iter().any(|r| r == "CatalogDropped"), "{reasons:?}");
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_wait_ready_tracks_the_current_generation() {
    let mut env = Env::new("wait", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    env.apply(&env.manifest("w", "wait_catalog")).await;
    env.wait_phase("w", Phase::Enabled).await;
    // With the operator stopped, a new generation leaves Ready=True for the old one in place:
    // `kubectl wait` must not take it.
    assert!(env.operator.as_mut().unwrap().terminate().success());
    let mut changed = env.manifest("w", "wait_catalog");
    changed["spec"]["revalidationInterval"] = "3h".into();
    env.apply(&changed).await;
    let stale = env.get("w").await;
    assert_eq!(condition_of(&stale, "Ready").status, "True");
    let out = env.cp.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=3s",
        "-n",
        &env.ns,
        "dbi/w",
    ]);
    assert!(
        !out.status.success(),
        "kubectl wait took a Ready of an older generation"
    );
    env.start(&[]);
    let generation = env.get("w").await.metadata.generation;
    let out = env.cp.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        &env.ns,
        "dbi/w",
    ]);
    crate::support::harness::assert_success(&out, "kubectl wait");
    let dbi = env.get("w").await;
    assert_eq!(
        dbi.status.as_ref().unwrap().observed_generation,
        generation,
        "kubectl wait returned on a stale Ready"
    );
    assert_eq!(condition_of(&dbi, "Ready").observed_generation, generation);
    assert_eq!(phase(&dbi), Some(Phase::Enabled));
}
