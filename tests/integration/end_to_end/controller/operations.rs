//! Leader election, the chart's ServiceAccount, an imported payload.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_election_lets_one_replica_reconcile_and_fails_over() {
    let mut env = Env::new(
        "leader",
        Scenario::default_for_tests().with_workspace(
            databricks_sim::WorkspaceSpec::new("b", 5005).with_warehouse(WAREHOUSE_ID, "RUNNING"),
        ),
    )
    .await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    let ns = env.ns.clone();
    let flags = [
        "--leader-elect",
        "--leader-elect-namespace",
        ns.as_str(),
        // Long enough that a loaded CI machine renews in time; failover waits for expiry.
        "--lease-duration",
        "8",
    ];
    let mut a = Operator::start(env.cp, &env.ns, &env.sim.ca_path(), &flags);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut b = Operator::start(env.cp, &env.ns, &env.sim.ca_path(), &flags);
    env.apply(&env.manifest("led", "led_catalog")).await;
    env.wait_phase("led", Phase::Enabled).await;
    let (leader, standby) = if a.logs().contains("integration enabled") {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    assert!(
        leader.logs().contains("\"leading\""),
        "reconciled without leading"
    );
    assert!(
        !standby.logs().contains("\"leading\""),
        "both replicas lead"
    );
    assert!(
        !standby.logs().contains("reconcile"),
        "the standby reconciled"
    );

    leader.kill();
    let mut second = env.manifest("after", "after_catalog");
    second["spec"]["workspaceUrl"] = env.host("b").into();
    env.apply(&second).await;
    env.wait_phase("after", Phase::Enabled).await;
    assert!(
        standby.logs().contains("\"leading\""),
        "the standby never took over"
    );
    env.operator = None;
    let standby_logs = standby.logs();
    for secret in env.secrets() {
        assert!(!standby_logs.contains(secret.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: the chart's RBAC rendered, impersonated and exercised.
async fn reconciles_as_the_charts_service_account() {
    let mut env = Env::new("chart-sa", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    let ops = env.cp.namespace("chart-sa-ops");
    let out = env.cp.helm(&[
        "install",
        "sa",
        &format!("{}/charts/uc-operator", env!("CARGO_MANIFEST_DIR")),
        "--namespace",
        &ops,
        "--set=crds.install=false",
        &format!("--set=watchNamespace={}", env.ns),
        // Two replicas: the chart turns leader election on and grants the Lease.
        "--set=replicas=2",
    ]);
    crate::support::harness::assert_success(&out, "helm install");
    // Every call the operator makes is authorized by the API server as the chart's account,
    // with the chart's flags and POD_NAMESPACE: one namespace, a Lease, claims and records in
    // the release namespace.
    let kubeconfig = env
        .cp
        .kubeconfig_as(&format!("system:serviceaccount:{ops}:sa-uc-operator"));
    let flags = [
        "--leader-elect",
        "--leader-elect-namespace",
        ops.as_str(),
        "--leader-elect-lease",
        "sa-uc-operator",
        "--role-binding",
        "sa-uc-operator-watched",
    ];
    env.operator = Some(Operator::start_released(
        env.cp,
        &kubeconfig,
        &env.ns,
        &env.sim.ca_path(),
        &ops,
        &flags,
    ));
    let mut manifest = env.manifest("as-sa", "as_sa_catalog");
    manifest["spec"]["autoBootstrap"] = false.into();
    env.apply(&manifest).await;
    // Manual mode also exercises the ConfigMap and Event permissions.
    env.wait("as-sa", "script published", Duration::from_secs(60), |d| {
        d.status
            .as_ref()
            .and_then(|s| s.bootstrap.as_ref())
            .is_some_and(|b| b.script_config_map.is_some())
    })
    .await;
    let cm: ConfigMap = Api::namespaced(env.client.clone(), &env.ns)
        .get("as-sa-uc-setup")
        .await
        .unwrap();
    run_as_admin(&env.sim, &cm.data.unwrap()["setup.sql"]).await;
    env.wait_phase("as-sa", Phase::Enabled).await;
    assert!(env.event_reasons().iter().any(|r| r == "Enabled"));
    let logs = env.operator.as_ref().unwrap().logs();
    assert!(
        !logs.contains("forbidden"),
        "a call was forbidden:\n{}",
        env.log_tail()
    );
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_payload_reconciles_once_its_secret_is_filled() {
    use uc_operator::import::{Options, convert_with};
    let mut env = Env::new("imported", Scenario::default_for_tests()).await;
    env.start(&[]);
    // The documented token payload, pointed at the simulator (its httpPath is the cluster the
    // simulator has).
    let payload =
        crate::support::harness::read("tests/fixtures/integrations-api/create-token.json").replace(
            "www.example-workspace.cloud.databricks.com",
            &env.host("main"),
        );
    let imported = convert_with(
        &payload,
        &Options {
            name: Some("imported".into()),
            namespace: Some(env.ns.clone()),
            ..Options::default()
        },
    )
    .unwrap();
    // The payload's token is `REDACTED`: fill the Secret the import created, as a user would.
    let token_ref = imported
        .integration
        .spec
        .connection
        .token_secret_ref
        .clone()
        .unwrap();
    env.secret(&token_ref.name, &token_ref.key, SP_TOKEN).await;
    let mut manifest = serde_json::to_value(&imported.integration).unwrap();
    manifest["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("namespace");
    env.apply(&manifest).await;
    let dbi = env.wait_phase("imported", Phase::Enabled).await;
    assert_eq!(
        validation_test(&dbi, "Basic Connection Test").result,
        Some(json!([{"1": 1}]))
    );
    assert!(catalog(&env.sim.state(), "immuta").is_some());
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_kube_system_or_a_pinned_identity_the_operator_refuses_to_start() {
    let mut env = Env::new("no-cluster-id", Scenario::default_for_tests()).await;
    let ops = env.cp.namespace("no-cluster-id-ops");
    // installationId pinned: the chart grants no read of kube-system.
    let out = env.cp.helm(&[
        "install",
        "pin",
        &format!("{}/charts/uc-operator", env!("CARGO_MANIFEST_DIR")),
        "--namespace",
        &ops,
        "--set=crds.install=false",
        &format!("--set=watchNamespace={}", env.ns),
        "--set=installationId=pinned",
    ]);
    crate::support::harness::assert_success(&out, "helm install");
    let kubeconfig = env
        .cp
        .kubeconfig_as(&format!("system:serviceaccount:{ops}:pin-uc-operator"));
    // Run without the pinned flag: the default needs kube-system, which is refused.
    let mut operator = Operator::start_with(env.cp, &kubeconfig, &env.ns, &env.sim.ca_path(), &[]);
    let status = operator
        .wait_exit(Duration::from_secs(60))
        .expect("the operator exits");
    assert!(!status.success());
    let logs = operator.logs();
    for needed in ["kube-system", "--installation-id", "forbidden"] {
        assert!(logs.contains(needed), "{needed}: {logs}");
    }

    // With the chart's pinned value it starts and reconciles.
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.operator = Some(Operator::start_with(
        env.cp,
        &kubeconfig,
        &env.ns,
        &env.sim.ca_path(),
        &["--installation-id", "pinned"],
    ));
    env.apply(&env.manifest("pinned", "pinned_catalog")).await;
    env.wait_phase("pinned", Phase::Enabled).await;
    let state = env.sim.state();
    let tag = &state.catalogs["pinned_catalog"].tags[TAG_KEY];
    assert_eq!(tag, &format!("pinned:{}:pinned", env.ns));
}
