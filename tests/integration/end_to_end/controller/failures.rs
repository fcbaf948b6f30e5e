//! Validation failures, the one-integration-per-workspace rule and start-up refusals.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: one case per validation failure, each with its reason and message.
async fn validation_failures_become_create_errors() {
    let mut scenario = Scenario::default_for_tests();
    scenario
        .principal_mut(SP_APP_ID)
        .metastore_privileges
        .clear();
    scenario = scenario.with_workspace(
        databricks_sim::WorkspaceSpec::new("nometa", 2002)
            .with_warehouse(WAREHOUSE_ID, "RUNNING")
            .with_metastore_assigned(false),
    );
    let mut env = Env::new("errors", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.secret("wrong-token", "token", "dapi-not-a-real-token")
        .await;
    env.start(&[]);

    // A wrong token.
    let mut wrong = env.manifest("wrong", "wrong_token");
    wrong["spec"]["tokenSecretRef"]["name"] = "wrong-token".into();
    env.apply(&wrong).await;
    // No CREATE CATALOG on the metastore (main workspace is taken by `wrong`... so use nometa? no:
    // duplicates are per workspace, so each case has a workspace of its own).
    let mut nometa = env.manifest("nometa", "no_metastore");
    nometa["spec"]["workspaceUrl"] = env.host("nometa").into();
    env.apply(&nometa).await;

    let dbi = env.wait_phase("wrong", Phase::CreateError).await;
    let ready = condition_of(&dbi, "Ready");
    assert_eq!(ready.reason, "AuthenticationFailed");
    assert!(
        ready.message.contains("authentication failed"),
        "{}",
        ready.message
    );
    assert_eq!(condition_of(&dbi, "Stalled").status, "True");

    let dbi = env.wait_phase("nometa", Phase::CreateError).await;
    let test = validation_test(&dbi, "Metastore validation");
    assert_eq!(test.status, TestStatus::Failed);
    assert!(
        test.message
            .as_deref()
            .unwrap()
            .contains("Error trying to get the current metastore info")
    );

    // Fix the token: the same resource recovers without a restart.
    env.secret("wrong-token", "token", SP_TOKEN).await;
    let dbi = env
        .wait(
            "wrong",
            "failing on CREATE CATALOG",
            Duration::from_secs(60),
            |d| {
                d.status
                    .as_ref()
                    .and_then(|s| s.validation_results.as_ref())
                    .is_some_and(|v| {
                        v.validation_tests.iter().any(|t| {
                            t.name == "Catalog validation" && t.status == TestStatus::Failed
                        })
                    })
            },
        )
        .await;
    let catalog_test = validation_test(&dbi, "Catalog validation");
    assert!(
        catalog_test
            .message
            .as_deref()
            .unwrap()
            .contains("CREATE CATALOG"),
        "{catalog_test:?}"
    );
    assert_eq!(phase(&dbi), Some(Phase::CreateError));
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_integration_per_workspace_and_no_takeover() {
    let scenario = Scenario::default_for_tests()
        .with_workspace(
            databricks_sim::WorkspaceSpec::new("b", 4004).with_warehouse(WAREHOUSE_ID, "RUNNING"),
        )
        .with_catalog(
            CatalogSpec::new("taken", SP_APP_ID).with_tag(TAG_KEY, "elsewhere/other-integration"),
        );
    let mut env = Env::new("dup", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    env.apply(&env.manifest("first", "first_catalog")).await;
    env.wait_phase("first", Phase::Enabled).await;
    env.apply(&env.manifest("second", "second_catalog")).await;
    let second = env.wait_phase("second", Phase::CreateError).await;
    let expected = format!(
        "Databricks Unity Catalog integration already exists on {} ({}/first)",
        env.host("main"),
        env.ns
    );
    assert_eq!(condition_of(&second, "Ready").message, expected);

    let mut taken = env.manifest("taker", "taken");
    taken["spec"]["workspaceUrl"] = env.host("b").into();
    env.apply(&taken).await;
    let taker = env.wait_phase("taker", Phase::CreateError).await;
    let message = &condition_of(&taker, "Ready").message;
    assert!(message.contains("elsewhere/other-integration"), "{message}");
    assert_eq!(
        catalog(&env.sim.state(), "taken")
            .unwrap()
            .tags
            .get(TAG_KEY)
            .unwrap(),
        "elsewhere/other-integration"
    );
    env.assert_no_secret_leaks("").await;
}

/// Start-up refuses to run without its CRD or with a CA bundle that holds no certificate, and
/// says what to do.
#[test]
fn startup_checks_fail_with_a_hint() {
    let cp = control_plane();
    let run = |kubeconfig: &std::path::Path, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_uc-operator"))
            .args([
                "run",
                "--metrics-addr",
                "127.0.0.1:0",
                "--health-addr",
                "127.0.0.1:0",
            ])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .output()
            .unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let empty = cp.dir.join("empty-ca.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let stderr = run(&cp.kubeconfig, &["--ca-bundle", empty.to_str().unwrap()]);
    assert!(stderr.contains("no PEM certificates"), "{stderr}");

    // A control plane of its own, without the CRD.
    let dir = cp.dir.join("no-crd");
    let script = crate::support::harness::repo().join("hack/control-plane.sh");
    let out = std::process::Command::new(&script)
        .arg("start")
        .arg(&dir)
        .output()
        .unwrap();
    crate::support::harness::assert_success(&out, "second control plane");
    let stderr = run(&dir.join("kubeconfig"), &[]);
    let _ = std::process::Command::new(&script)
        .arg("stop")
        .arg(&dir)
        .output();
    assert!(stderr.contains("CRD is not installed"), "{stderr}");
    assert!(
        stderr.contains("uc-operator crd | kubectl apply"),
        "{stderr}"
    );
}
