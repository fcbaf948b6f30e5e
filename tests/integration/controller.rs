//! The controller end to end: a real API server, the real `uc-operator run` process, and the
//! Databricks simulator.

use std::time::{Duration, Instant};

use databricks_sim::{
    ADMIN_TOKEN, CatalogSpec, FaultKind, FaultRule, METASTORE_ID, SP_APP_ID, SP_CLIENT_ID,
    SP_CLIENT_SECRET, SP_TOKEN, Scenario, Simulator, WAREHOUSE_ID,
};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};
use uc_operator::api::{DatabricksIntegration, Phase, TestStatus};

use crate::harness::{ControlPlane, Operator, control_plane};

const TAG_KEY: &str = "uc_operator_integration";

struct Env {
    cp: &'static ControlPlane,
    ns: String,
    sim: Simulator,
    client: kube::Client,
    operator: Option<Operator>,
    /// Every secret value the test handed out: none may show up anywhere.
    secrets: Vec<String>,
}

impl Env {
    async fn new(prefix: &str, scenario: Scenario) -> Env {
        let cp = control_plane();
        let ns = cp.namespace(prefix);
        let sim = Simulator::start(scenario)
            .await
            .expect("start the simulator");
        let client = cp.client().await;
        Env {
            cp,
            ns,
            sim,
            client,
            operator: None,
            // Issued OAuth access tokens start `dsim-oauth-`; JWT assertions start `eyJ`.
            secrets: vec![
                SP_TOKEN.into(),
                SP_CLIENT_SECRET.into(),
                ADMIN_TOKEN.into(),
                "dsim-oauth-".into(),
                "eyJ".into(),
            ],
        }
    }

    fn start_operator(&mut self, extra: &[&str]) {
        self.operator = Some(Operator::start(
            self.cp,
            &self.ns,
            &self.sim.ca_path(),
            extra,
        ));
    }

    fn api(&self) -> Api<DatabricksIntegration> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    fn host(&self, workspace: &str) -> String {
        self.sim.workspace(workspace).host
    }

    async fn secret(&mut self, name: &str, key: &str, value: &str) {
        self.secrets.push(value.to_string());
        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name},
            "stringData": {key: value},
        }))
        .unwrap();
        Api::<Secret>::namespaced(self.client.clone(), &self.ns)
            .patch(
                name,
                &PatchParams::apply("tests").force(),
                &Patch::Apply(&secret),
            )
            .await
            .unwrap();
    }

    /// A token-authenticated integration for the `main` workspace.
    fn manifest(&self, name: &str, catalog: &str) -> Value {
        json!({
            "apiVersion": "uc-operator.dev/v1alpha1",
            "kind": "DatabricksIntegration",
            "metadata": {"name": name},
            "spec": {
                "workspaceUrl": self.host("main"),
                "httpPath": format!("/sql/1.0/warehouses/{WAREHOUSE_ID}"),
                "authenticationType": "token",
                "tokenSecretRef": {"name": "sp-token"},
                "catalog": catalog,
            }
        })
    }

    async fn apply(&self, manifest: &Value) {
        let name = manifest["metadata"]["name"].as_str().unwrap();
        self.api()
            .patch(
                name,
                &PatchParams::apply("tests").force(),
                &Patch::Apply(manifest),
            )
            .await
            .unwrap();
    }

    async fn get(&self, name: &str) -> DatabricksIntegration {
        self.api().get(name).await.unwrap()
    }

    /// Polls until `ok` holds; panics with the last status otherwise.
    async fn wait(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&DatabricksIntegration) -> bool,
    ) -> DatabricksIntegration {
        let start = Instant::now();
        loop {
            if let Ok(Some(dbi)) = self.api().get_opt(name).await {
                if ok(&dbi) {
                    return dbi;
                }
                if start.elapsed() > timeout {
                    panic!(
                        "{name}: not {what} after {timeout:?}; status: {}\noperator log tail:\n{}",
                        serde_json::to_string_pretty(&dbi.status).unwrap(),
                        self.log_tail()
                    );
                }
            } else if start.elapsed() > timeout {
                panic!("{name}: not {what} after {timeout:?} (not found)");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn wait_phase(&self, name: &str, phase: Phase) -> DatabricksIntegration {
        self.wait(name, phase.as_str(), Duration::from_secs(60), |d| {
            phase_of(d) == Some(phase)
                && d.status.as_ref().unwrap().observed_generation == d.metadata.generation
        })
        .await
    }

    /// The reasons of the events recorded in the test's namespace.
    fn event_reasons(&self) -> Vec<String> {
        let out = self
            .cp
            .kubectl(&["get", "events.events.k8s.io", "-n", &self.ns, "-o", "json"]);
        let events: Value = serde_json::from_slice(&out.stdout).unwrap();
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["reason"].as_str().map(str::to_string))
            .collect()
    }

    /// The last validation time of `name`.
    async fn validated_at(&self, name: &str) -> k8s_openapi::jiff::Timestamp {
        let dbi = self.get(name).await;
        dbi.status.unwrap().last_validation_time.unwrap().0
    }

    /// Waits for a validation after `after` (validation times have second precision).
    async fn wait_revalidated(
        &self,
        name: &str,
        after: k8s_openapi::jiff::Timestamp,
    ) -> DatabricksIntegration {
        self.wait(name, "re-validated", Duration::from_secs(30), |d| {
            d.status
                .as_ref()
                .and_then(|s| s.last_validation_time.as_ref())
                .is_some_and(|t| t.0 > after)
        })
        .await
    }

    /// What a privileged user does in a SQL editor: the script, statement by statement.
    async fn run_as_admin(&self, script: &str) {
        let admin = admin_client(self);
        for statement in statements_of(script) {
            admin
                .execute(&statement)
                .await
                .unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }

    fn log_tail(&self) -> String {
        let logs = self.operator.as_ref().map(|o| o.logs()).unwrap_or_default();
        let lines: Vec<&str> = logs.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// No secret value in any status, event or operator log line of this test.
    async fn assert_no_secret_leaks(&self) {
        let statuses =
            serde_json::to_string(&self.api().list(&Default::default()).await.unwrap()).unwrap();
        let events =
            self.cp
                .kubectl(&["get", "events.events.k8s.io", "-n", &self.ns, "-o", "json"]);
        let events = String::from_utf8_lossy(&events.stdout).into_owned();
        let logs = self.operator.as_ref().map(|o| o.logs()).unwrap_or_default();
        assert!(!logs.is_empty(), "the operator logged nothing");
        for secret in &self.secrets {
            for (what, text) in [
                ("status", &statuses),
                ("events", &events),
                ("operator log", &logs),
            ] {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret value appears in the {what}"
                );
            }
        }
    }
}

/// A tool on PATH (`make test` installs promtool through hack/deps.sh).
fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(tool))
                .find(|p| p.exists())
        })
        .ok_or(())
}

/// The statements of a script: `--` comment lines dropped, split on `;`.
fn statements_of(script: &str) -> Vec<String> {
    script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect::<Vec<_>>()
        .join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The metastore admin, through the operator's own client.
fn admin_client(env: &Env) -> uc_operator::databricks::WorkspaceClient {
    use uc_operator::databricks::{AuthConfig, ClientSettings, Compute, ConnectionConfig};
    let ws = env.sim.workspace("main");
    let config = ConnectionConfig {
        host: "localhost".into(),
        port: ws.port,
        compute: Compute::Warehouse {
            id: WAREHOUSE_ID.into(),
        },
        auth: AuthConfig::Token(ADMIN_TOKEN.into()),
    };
    let settings = ClientSettings {
        ca_bundle_pem: Some(env.sim.ca_pem()),
        allowed_hosts: uc_operator::databricks::AllowedHosts::parse("localhost").unwrap(),
        ..Default::default()
    };
    uc_operator::databricks::WorkspaceClient::new(config, &settings).unwrap()
}

fn phase_of(d: &DatabricksIntegration) -> Option<Phase> {
    d.status.as_ref().and_then(|s| s.phase)
}

fn condition<'a>(
    d: &'a DatabricksIntegration,
    t: &str,
) -> &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    d.status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == t))
        .unwrap_or_else(|| panic!("no {t} condition in {:?}", d.status))
}

fn test_result<'a>(
    d: &'a DatabricksIntegration,
    name: &str,
) -> &'a uc_operator::api::ValidationTest {
    d.status
        .as_ref()
        .and_then(|s| s.validation_results.as_ref())
        .and_then(|v| v.validation_tests.iter().find(|t| t.name == name))
        .unwrap_or_else(|| panic!("no test {name:?} in {:?}", d.status))
}

fn catalog<'a>(
    sim: &'a databricks_sim::Snapshot,
    name: &str,
) -> Option<&'a databricks_sim::Catalog> {
    sim.catalogs.get(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn automatic_setup_enables_and_locks_down_the_catalog() {
    let mut env = Env::new("auto", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start_operator(&[]);
    env.apply(&env.manifest("gov", "governance")).await;
    let dbi = env.wait_phase("gov", Phase::Enabled).await;

    let ready = condition(&dbi, "Ready");
    assert_eq!(ready.status, "True");
    assert_eq!(ready.observed_generation, dbi.metadata.generation);
    assert_eq!(condition(&dbi, "Bootstrapped").status, "True");
    assert_eq!(condition(&dbi, "Stalled").status, "False");
    assert_eq!(condition(&dbi, "Reconciling").status, "False");
    let status = dbi.status.as_ref().unwrap();
    assert_eq!(
        status.validation_results.as_ref().unwrap().status,
        TestStatus::Passed
    );
    let basic = test_result(&dbi, "Basic Connection Test");
    assert_eq!(basic.status, TestStatus::Passed);
    assert_eq!(basic.result, Some(json!([{"1": 1}])));
    assert_eq!(
        test_result(&dbi, "Metastore validation").status,
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
        Some(format!("default/{}/gov", env.ns).as_str())
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
    crate::harness::assert_success(&out, "promtool check metrics");
    env.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_setup_publishes_the_script_and_waits_for_it() {
    let mut scenario = Scenario::default_for_tests();
    // Without CREATE CATALOG the principal could not set itself up anyway.
    scenario
        .principal_mut(SP_APP_ID)
        .metastore_privileges
        .clear();
    let mut env = Env::new("manual", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start_operator(&[]);
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
    assert_eq!(phase_of(&dbi), Some(Phase::Creating));
    assert_eq!(condition(&dbi, "Bootstrapped").status, "False");
    assert_eq!(condition(&dbi, "Ready").status, "False");

    let cm: ConfigMap = Api::namespaced(env.client.clone(), &env.ns)
        .get("mkt-uc-setup")
        .await
        .unwrap();
    let data = cm.data.unwrap();
    let setup_sql = &data["setup.sql"];
    assert!(data.contains_key("cleanup.sql"));
    assert!(setup_sql.contains(SP_APP_ID));
    assert_eq!(cm.metadata.owner_references.unwrap()[0].name, "mkt");
    // The same script as `uc-operator script` prints offline.
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
        ])
        .output()
        .unwrap();
    crate::harness::assert_success(&out, "uc-operator script");
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
    env.run_as_admin(setup_sql).await;
    let dbi = env.wait_phase("mkt", Phase::Enabled).await;
    assert_eq!(
        condition(&dbi, "Bootstrapped").reason,
        "ManualSetupVerified"
    );
    assert_eq!(condition(&dbi, "Ready").status, "True");
    env.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    env.start_operator(&[]);

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
    let ready = condition(&dbi, "Ready");
    assert_eq!(ready.reason, "AuthenticationFailed");
    assert!(
        ready.message.contains("authentication failed"),
        "{}",
        ready.message
    );
    assert_eq!(condition(&dbi, "Stalled").status, "True");

    let dbi = env.wait_phase("nometa", Phase::CreateError).await;
    let test = test_result(&dbi, "Metastore validation");
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
    let catalog_test = test_result(&dbi, "Catalog validation");
    assert!(
        catalog_test
            .message
            .as_deref()
            .unwrap()
            .contains("CREATE CATALOG"),
        "{catalog_test:?}"
    );
    assert_eq!(phase_of(&dbi), Some(Phase::CreateError));
    env.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_secret_rotation_revalidate() {
    let mut scenario = Scenario::default_for_tests();
    scenario
        .principal_mut(SP_APP_ID)
        .tokens
        .push("dapi-rotated-token".into());
    let mut env = Env::new("edit", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start_operator(&[]);
    env.apply(&env.manifest("gov", "governance")).await;
    let first = env.wait_phase("gov", Phase::Enabled).await;

    // A spec change: editing, then enabled for the new generation.
    let mut changed = env.manifest("gov", "governance");
    changed["spec"]["revalidationInterval"] = "2h".into();
    env.apply(&changed).await;
    let edited = env.wait_phase("gov", Phase::Enabled).await;
    assert!(edited.metadata.generation > first.metadata.generation);
    assert_eq!(
        condition(&edited, "Ready").observed_generation,
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
    assert_eq!(phase_of(&rotated), Some(Phase::Enabled));
    // Only the new token works from now on: a later re-validation proves it is the one in use.
    env.sim.revoke_token(SP_TOKEN);
    let before = env.validated_at("gov").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    env.cp
        .kubectl(&["annotate", "secret", "sp-token", "-n", &env.ns, "touched=1"]);
    let revalidated = env.wait_revalidated("gov", before).await;
    assert_eq!(
        phase_of(&revalidated),
        Some(Phase::Enabled),
        "{:?}",
        revalidated.status
    );
    env.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_honours_the_policy_and_retries_when_the_workspace_is_down() {
    let mut scenario = Scenario::default_for_tests().with_workspace(
        databricks_sim::WorkspaceSpec::new("other", 3003).with_warehouse(WAREHOUSE_ID, "RUNNING"),
    );
    scenario.workspace_mut("other");
    let mut env = Env::new("delete", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start_operator(&[]);
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
    wait_gone(&env, "keep").await;
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
            phase_of(d) == Some(Phase::DeleteError)
        })
        .await;
    assert!(
        condition(&failing, "Ready")
            .message
            .contains("could not drop catalog dropped")
    );
    assert!(catalog(&env.sim.state(), "dropped").is_some());
    // Retries (backoff 0.5 s … 3 s) keep it in deleteError: no flapping back to deleting.
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(phase_of(&env.get("drop").await), Some(Phase::DeleteError));
    }
    env.sim.clear_faults();
    wait_gone(&env, "drop").await;
    assert!(
        catalog(&env.sim.state(), "dropped").is_none(),
        "catalog not dropped"
    );
    env.assert_no_secret_leaks().await;
}

async fn wait_gone(env: &Env, name: &str) {
    let start = Instant::now();
    while env.api().get_opt(name).await.unwrap().is_some() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "{name} not deleted:\n{}",
            env.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
    env.start_operator(&[]);
    env.apply(&env.manifest("first", "first_catalog")).await;
    env.wait_phase("first", Phase::Enabled).await;
    env.apply(&env.manifest("second", "second_catalog")).await;
    let second = env.wait_phase("second", Phase::CreateError).await;
    let expected = format!(
        "Databricks Unity Catalog integration already exists on {} ({}/first)",
        env.host("main"),
        env.ns
    );
    assert_eq!(condition(&second, "Ready").message, expected);

    let mut taken = env.manifest("taker", "taken");
    taken["spec"]["workspaceUrl"] = env.host("b").into();
    env.apply(&taken).await;
    let taker = env.wait_phase("taker", Phase::CreateError).await;
    let message = &condition(&taker, "Ready").message;
    assert!(message.contains("elsewhere/other-integration"), "{message}");
    assert_eq!(
        catalog(&env.sim.state(), "taken")
            .unwrap()
            .tags
            .get(TAG_KEY)
            .unwrap(),
        "elsewhere/other-integration"
    );
    env.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_revalidation_never_starts_a_stopped_warehouse_and_costs_nothing_at_rest() {
    let mut env = Env::new("rest", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start_operator(&[]);
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
    env.start_operator(&[]);
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
    let basic = test_result(&dbi, "Basic Connection Test");
    assert_eq!(basic.status, TestStatus::Skipped);
    assert!(basic.message.as_deref().unwrap().contains("STOPPED"));
    assert_eq!(phase_of(&dbi), Some(Phase::Enabled));
    env.assert_no_secret_leaks().await;
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
    env.start_operator(&[]);
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
    env.start_operator(&[]);
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
        Some(&format!("default/{}/crashy", env.ns))
    );
    assert_eq!(cat.owner, SP_APP_ID);
    env.assert_no_secret_leaks().await;
}

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
    for secret in &env.secrets {
        assert!(!standby_logs.contains(secret.as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_wait_ready_tracks_the_current_generation() {
    let mut env = Env::new("wait", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start_operator(&[]);
    env.apply(&env.manifest("w", "wait_catalog")).await;
    env.wait_phase("w", Phase::Enabled).await;
    // With the operator stopped, a new generation leaves Ready=True for the old one in place:
    // `kubectl wait` must not take it.
    assert!(env.operator.as_mut().unwrap().terminate().success());
    let mut changed = env.manifest("w", "wait_catalog");
    changed["spec"]["revalidationInterval"] = "3h".into();
    env.apply(&changed).await;
    let stale = env.get("w").await;
    assert_eq!(condition(&stale, "Ready").status, "True");
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
    env.start_operator(&[]);
    let generation = env.get("w").await.metadata.generation;
    let out = env.cp.kubectl(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=60s",
        "-n",
        &env.ns,
        "dbi/w",
    ]);
    crate::harness::assert_success(&out, "kubectl wait");
    let dbi = env.get("w").await;
    assert_eq!(
        dbi.status.as_ref().unwrap().observed_generation,
        generation,
        "kubectl wait returned on a stale Ready"
    );
    assert_eq!(condition(&dbi, "Ready").observed_generation, generation);
    assert_eq!(phase_of(&dbi), Some(Phase::Enabled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth_and_additional_connections_with_bindings() {
    let scenario = Scenario::default_for_tests()
        .with_workspace(
            databricks_sim::WorkspaceSpec::new("b", 6006).with_warehouse(WAREHOUSE_ID, "RUNNING"),
        )
        .with_catalog(
            CatalogSpec::new("bound_to_b", "admin@example.com")
                .isolated(&[6006])
                .with_grant(SP_APP_ID, &["USE_CATALOG"]),
        )
        .with_catalog(
            CatalogSpec::new("bound_elsewhere", "admin@example.com")
                .isolated(&[9999, 8888])
                .with_grant(SP_APP_ID, &["USE_CATALOG"]),
        );
    let mut env = Env::new("oauth", scenario).await;
    env.secret("sp-oauth", "clientSecret", SP_CLIENT_SECRET)
        .await;
    env.start_operator(&[]);
    let connection = |catalogs: &[&str]| {
        json!({
            "workspaceUrl": env.host("b"),
            "httpPath": format!("/sql/1.0/warehouses/{WAREHOUSE_ID}"),
            "authenticationType": "oAuthM2M",
            "oAuthClientConfig": {"clientId": SP_CLIENT_ID, "clientSecretRef": {"name": "sp-oauth"}},
            "catalogs": catalogs,
        })
    };
    let manifest = json!({
        "apiVersion": "uc-operator.dev/v1alpha1",
        "kind": "DatabricksIntegration",
        "metadata": {"name": "multi"},
        "spec": {
            "workspaceUrl": env.host("main"),
            "httpPath": "sql/protocolv1/o/0/0000-00000-abc123",
            "authenticationType": "oAuthM2M",
            "oAuthClientConfig": {"clientId": SP_CLIENT_ID, "clientSecretRef": {"name": "sp-oauth"}},
            "catalog": "multi_catalog",
            "additionalWorkspaceConnections": [connection(&["bound_to_b"])],
        }
    });
    env.apply(&manifest).await;
    let dbi = env.wait_phase("multi", Phase::Enabled).await;
    assert_eq!(
        test_result(&dbi, "Catalog access: bound_to_b").status,
        TestStatus::Passed
    );
    assert_eq!(
        test_result(&dbi, "Basic Connection Test").result,
        Some(json!([{"1": 1}]))
    );

    // A catalog bound only to workspaces no connection reaches fails. Its bindings are readable
    // only by its owner (admin@example.com) or a metastore admin, so the message cannot name them.
    let mut bad = manifest.clone();
    bad["spec"]["additionalWorkspaceConnections"] =
        json!([connection(&["bound_to_b", "bound_elsewhere"])]);
    env.apply(&bad).await;
    let dbi = env.wait_phase("multi", Phase::EditError).await;
    let test = test_result(&dbi, "Catalog access: bound_elsewhere");
    assert_eq!(test.status, TestStatus::Failed);
    let message = test.message.as_deref().unwrap();
    assert!(
        message.contains("bound_elsewhere") && message.contains("not accessible"),
        "{message}"
    );
    assert_eq!(condition(&dbi, "Ready").reason, "CatalogNotReachable");
    env.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
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
    crate::harness::assert_success(&out, "helm install");
    // Every call the operator makes is authorized by the API server as the chart's account,
    // with the chart's flags: one namespace, a Lease in the release namespace.
    let kubeconfig = env
        .cp
        .kubeconfig_as(&format!("system:serviceaccount:{ops}:sa-uc-operator"));
    let flags = [
        "--leader-elect",
        "--leader-elect-namespace",
        ops.as_str(),
        "--leader-elect-lease",
        "sa-uc-operator",
    ];
    env.operator = Some(Operator::start_with(
        env.cp,
        &kubeconfig,
        &env.ns,
        &env.sim.ca_path(),
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
    env.run_as_admin(&cm.data.unwrap()["setup.sql"]).await;
    env.wait_phase("as-sa", Phase::Enabled).await;
    assert!(env.event_reasons().iter().any(|r| r == "Enabled"));
    let logs = env.operator.as_ref().unwrap().logs();
    assert!(
        !logs.contains("forbidden"),
        "a call was forbidden:\n{}",
        env.log_tail()
    );
    env.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_payload_reconciles_once_its_secret_is_filled() {
    use uc_operator::import::{Options, convert_with};
    let mut env = Env::new("imported", Scenario::default_for_tests()).await;
    env.start_operator(&[]);
    // The documented token payload, pointed at the simulator (its httpPath is the cluster the
    // simulator has).
    let payload = crate::harness::read("tests/fixtures/integrations-api/create-token.json")
        .replace(
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
        test_result(&dbi, "Basic Connection Test").result,
        Some(json!([{"1": 1}]))
    );
    assert!(catalog(&env.sim.state(), "immuta").is_some());
    env.assert_no_secret_leaks().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_audit_needs_the_system_tables() {
    let mut scenario = Scenario::default_for_tests();
    scenario.principal_mut(SP_APP_ID).system_tables_access = false;
    let mut env = Env::new("audit", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start_operator(&[]);
    let mut manifest = env.manifest("audited", "audited_catalog");
    manifest["spec"]["audit"] = json!({"enabled": true});
    env.apply(&manifest).await;
    let dbi = env.wait_phase("audited", Phase::CreateError).await;
    let audit = test_result(&dbi, "Query audit: system table access");
    assert_eq!(audit.status, TestStatus::Failed);
    let message = audit.message.as_deref().unwrap();
    assert!(
        message.contains("no SELECT on system.access.audit"),
        "{message}"
    );
    assert_eq!(condition(&dbi, "Ready").reason, "InsufficientPrivileges");

    // With audit off the test is skipped and the integration comes up.
    env.apply(&env.manifest("audited", "audited_catalog")).await;
    let dbi = env.wait_phase("audited", Phase::Enabled).await;
    let audit = test_result(&dbi, "Query audit: system table access");
    assert_eq!(audit.status, TestStatus::Skipped);
    env.assert_no_secret_leaks().await;
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
    let script = crate::harness::repo().join("hack/control-plane.sh");
    let out = std::process::Command::new(&script)
        .arg("start")
        .arg(&dir)
        .output()
        .unwrap();
    crate::harness::assert_success(&out, "second control plane");
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
