//! Automatic and manual setup, query audit, OAuth and additional connections, end to end.

use super::*;
use crate::support::manifests::{oauth_connection, oauth_integration};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: one resource end to end: setup, lockdown, status, events, metrics and the leak scan.
async fn automatic_setup_enables_and_locks_down_the_catalog() {
    let mut env = Env::new("auto", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    env.apply(&env.manifest("gov", "governance")).await;
    let dbi = env.wait_phase("gov", Phase::Enabled).await;

    let ready = condition_of(&dbi, "Ready");
    assert_eq!(ready.status, "True");
    assert_eq!(ready.observed_generation, dbi.metadata.generation);
    assert_eq!(condition_of(&dbi, "Bootstrapped").status, "True");
    assert_eq!(condition_of(&dbi, "Stalled").status, "False");
    assert_eq!(condition_of(&dbi, "Reconciling").status, "False");
    let status = dbi.status.as_ref().unwrap();
    assert_eq!(
        status.validation_results.as_ref().unwrap().status,
        TestStatus::Passed
    );
    let basic = validation_test(&dbi, "Basic Connection Test");
    assert_eq!(basic.status, TestStatus::Passed);
    assert_eq!(basic.result, Some(json!([{"1": 1}])));
    assert_eq!(
        validation_test(&dbi, "Metastore validation").status,
        TestStatus::Passed
    );
    let ws = status.workspace.as_ref().unwrap();
    assert_eq!(ws.principal.as_deref(), Some(SP_APP_ID));
    assert_eq!(ws.metastore_id.as_deref(), Some(METASTORE_ID));
    assert!(
        dbi.metadata
            .finalizers
            .as_ref()
            .unwrap()
            .contains(&"uc-operator.dev/cleanup".to_string())
    );

    let state = env.sim.state();
    let cat = catalog(&state, "governance").expect("catalog created");
    assert_eq!(cat.owner, SP_APP_ID);
    assert_eq!(
        cat.tags.get(TAG_KEY).map(String::as_str),
        Some(format!("{}:{}:gov", env.default_installation().await, env.ns).as_str())
    );
    assert!(
        cat.grants.get("account users").is_none_or(|g| g.is_empty()),
        "{:?}",
        cat.grants
    );
    let schema = cat
        .schemas
        .get("uc_operator_system")
        .expect("internal schema");
    assert!(
        !schema.tables.is_empty() && !schema.views.is_empty(),
        "{schema:?}"
    );
    // Probes and metrics, as a kubelet and Prometheus see them.
    let op = env.operator.as_ref().unwrap();
    let get = |port: u16, path: &str| {
        let url = format!("http://127.0.0.1:{port}{path}");
        async move {
            let r = reqwest::get(&url).await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get(op.health_port, "/healthz").await.0, 200);
    // Ready once the watch cache has synced: moments after start.
    let start = Instant::now();
    while get(op.health_port, "/readyz").await.0 != 200 {
        assert!(start.elapsed() < Duration::from_secs(5), "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, metrics) = get(op.metrics_port, "/metrics").await;
    assert_eq!(status, 200);
    for expected in [
        "uc_operator_reconciles_total ",
        "uc_operator_reconcile_duration_seconds_count ",
        "uc_operator_integrations{phase=\"enabled\"} 1",
        "uc_operator_integrations{phase=\"createError\"} 0",
        "uc_operator_databricks_requests_total{endpoint=\"/api/2.0/sql/statements\",method=\"POST\",status=\"200\"}",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing from:\n{metrics}"
        );
    }
    let metrics_file = env.cp.dir.join(format!("{}-metrics.txt", env.ns));
    std::fs::write(&metrics_file, &metrics).unwrap();
    let promtool = which("promtool").expect("promtool is missing: run `make deps`");
    let out = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&metrics_file).unwrap())
        .output()
        .unwrap();
    crate::support::harness::assert_success(&out, "promtool check metrics");
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: the manual path step by step: published, waiting, run by the admin, verified.
async fn manual_setup_publishes_the_script_and_waits_for_it() {
    let mut scenario = Scenario::default_for_tests();
    // Without CREATE CATALOG the principal could not set itself up anyway.
    scenario
        .principal_mut(SP_APP_ID)
        .metastore_privileges
        .clear();
    let mut env = Env::new("manual", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    let mut manifest = env.manifest("mkt", "marketing");
    manifest["spec"]["autoBootstrap"] = false.into();
    env.apply(&manifest).await;

    let dbi = env
        .wait(
            "mkt",
            "awaiting manual setup",
            Duration::from_secs(60),
            |d| {
                d.status.as_ref().is_some_and(|s| {
                    s.conditions
                        .iter()
                        .any(|c| c.type_ == "Bootstrapped" && c.reason == "AwaitingManualSetup")
                })
            },
        )
        .await;
    assert_eq!(phase(&dbi), Some(Phase::Creating));
    assert_eq!(condition_of(&dbi, "Bootstrapped").status, "False");
    assert_eq!(condition_of(&dbi, "Ready").status, "False");

    let cm: ConfigMap = Api::namespaced(env.client.clone(), &env.ns)
        .get("mkt-uc-setup")
        .await
        .unwrap();
    let data = cm.data.unwrap();
    let setup_sql = &data["setup.sql"];
    assert!(data.contains_key("cleanup.sql"));
    assert!(setup_sql.contains(SP_APP_ID));
    assert_eq!(cm.metadata.owner_references.unwrap()[0].name, "mkt");
    // The same script as `uc-operator script` prints offline, given the operator's identity.
    let installation = env.default_installation().await;
    let file = env.cp.dir.join(format!("{}-mkt.yaml", env.ns));
    let mut offline = manifest.clone();
    offline["metadata"]["namespace"] = env.ns.clone().into();
    std::fs::write(&file, serde_yaml::to_string(&offline).unwrap()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_uc-operator"))
        .args([
            "script",
            "-f",
            file.to_str().unwrap(),
            "--principal",
            SP_APP_ID,
            "--installation-id",
            &installation,
        ])
        .output()
        .unwrap();
    crate::support::harness::assert_success(&out, "uc-operator script");
    assert_eq!(&String::from_utf8(out.stdout).unwrap(), setup_sql);

    // A deleted script ConfigMap comes back.
    let cms: Api<ConfigMap> = Api::namespaced(env.client.clone(), &env.ns);
    cms.delete("mkt-uc-setup", &DeleteParams::default())
        .await
        .unwrap();
    let start = Instant::now();
    while cms.get_opt("mkt-uc-setup").await.unwrap().is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the script ConfigMap was not re-published"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A privileged user runs the script, statement by statement, as in a SQL editor.
    run_as_admin(&env.sim, setup_sql).await;
    let dbi = env.wait_phase("mkt", Phase::Enabled).await;
    assert_eq!(
        condition_of(&dbi, "Bootstrapped").reason,
        "ManualSetupVerified"
    );
    assert_eq!(condition_of(&dbi, "Ready").status, "True");
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_audit_needs_the_system_tables() {
    let mut scenario = Scenario::default_for_tests();
    scenario.principal_mut(SP_APP_ID).system_tables_access = false;
    let mut env = Env::new("audit", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    let mut manifest = env.manifest("audited", "audited_catalog");
    manifest["spec"]["audit"] = json!({"enabled": true});
    env.apply(&manifest).await;
    let dbi = env.wait_phase("audited", Phase::CreateError).await;
    let audit = validation_test(&dbi, "Query audit: system table access");
    assert_eq!(audit.status, TestStatus::Failed);
    let message = audit.message.as_deref().unwrap();
    assert!(
        message.contains("no SELECT on system.access.audit"),
        "{message}"
    );
    assert_eq!(condition_of(&dbi, "Ready").reason, "InsufficientPrivileges");

    // With audit off the test is skipped and the integration comes up.
    env.apply(&env.manifest("audited", "audited_catalog")).await;
    let dbi = env.wait_phase("audited", Phase::Enabled).await;
    let audit = validation_test(&dbi, "Query audit: system table access");
    assert_eq!(audit.status, TestStatus::Skipped);
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: three connections and their catalogs, then an edit that breaks one.
async fn oauth_and_additional_connections_with_bindings() {
    let scenario = Scenario::default_for_tests()
        .with_workspace(
            databricks_sim::WorkspaceSpec::new("b", 6006).with_warehouse(WAREHOUSE_ID, "RUNNING"),
        )
        .with_catalog(
            CatalogSpec::new("bound_to_b", "admin@example.com")
                .isolated(&[6006])
                .with_grant(SP_APP_ID, &databricks_sim::GOVERNANCE_PRIVILEGES),
        )
        .with_catalog(
            CatalogSpec::new("bound_elsewhere", "admin@example.com")
                .isolated(&[9999, 8888])
                .with_grant(SP_APP_ID, &databricks_sim::GOVERNANCE_PRIVILEGES),
        );
    let mut env = Env::new("oauth", scenario).await;
    env.secret("sp-oauth", "clientSecret", SP_CLIENT_SECRET)
        .await;
    env.start(&[]);
    let connection = |catalogs: &[&str]| oauth_connection(&env.host("b"), catalogs);
    let mut manifest = oauth_integration("multi", &env.host("main"), "multi_catalog", None);
    manifest["spec"]["httpPath"] = json!("sql/protocolv1/o/0/0000-00000-abc123");
    manifest["spec"]["additionalWorkspaceConnections"] = json!([connection(&["bound_to_b"])]);
    env.apply(&manifest).await;
    let dbi = env.wait_phase("multi", Phase::Enabled).await;
    assert_eq!(
        validation_test(&dbi, "Catalog access: bound_to_b").status,
        TestStatus::Passed
    );
    assert_eq!(
        validation_test(&dbi, "Basic Connection Test").result,
        Some(json!([{"1": 1}]))
    );

    // A catalog bound only to workspaces no connection reaches fails. Its bindings are readable
    // only by its owner (admin@example.com) or a metastore admin, so the message cannot name them.
    let mut bad = manifest.clone();
    bad["spec"]["additionalWorkspaceConnections"] =
        json!([connection(&["bound_to_b", "bound_elsewhere"])]);
    env.apply(&bad).await;
    let dbi = env.wait_phase("multi", Phase::EditError).await;
    let test = validation_test(&dbi, "Catalog access: bound_elsewhere");
    assert_eq!(test.status, TestStatus::Failed);
    let message = test.message.as_deref().unwrap();
    assert!(
        message.contains("bound_elsewhere") && message.contains("not accessible"),
        "{message}"
    );
    assert_eq!(condition_of(&dbi, "Ready").reason, "CatalogNotReachable");
    env.assert_no_secret_leaks("").await;
}
