//! `uc-operator validate`: the real binary against the simulator (and, for Secrets read from the
//! cluster, the real API server). It must change nothing, in Databricks or in Kubernetes.

use std::path::{Path, PathBuf};
use std::process::Output;

use databricks_sim::{
    MAIN_WORKSPACE_ID, METASTORE_ID, SP_APP_ID, SP_TOKEN, Scenario, Simulator, WAREHOUSE_ID,
};
use serde_json::{Value, json};

use crate::support::harness::{apply_secret, assert_success, control_plane};
use crate::support::manifests::integration;

const CATALOG: &str = "governance";

/// A temp dir for one test's files; removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(format!("uc-validate-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.0.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `secrets/sp-token/token` holding `token`, as a CI job would write it.
    fn secrets_dir(&self, token: &str) -> PathBuf {
        self.write("secrets/sp-token/token", &format!("{token}\n"));
        self.0.join("secrets")
    }

    /// `-f <the manifest> --secrets-dir <a dir holding token>`, both written here.
    fn file_args(&self, sim: &Simulator, token: &str) -> Vec<String> {
        let file = self.write("dbi.yaml", &manifest(sim, None).to_string());
        let secrets = self.secrets_dir(token);
        [Path::new("-f"), &file, Path::new("--secrets-dir"), &secrets]
            .map(|p| p.to_str().unwrap().to_string())
            .to_vec()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start_sim() -> Simulator {
    Simulator::start(Scenario::default_for_tests())
        .await
        .expect("start the simulator")
}

/// A token-authenticated integration for the simulator's `main` workspace, with query audit on
/// so that more than `SELECT 1` runs.
fn manifest(sim: &Simulator, namespace: Option<&str>) -> Value {
    let mut m = integration("analytics", &sim.workspace("main").host, CATALOG);
    m["spec"]["audit"] = json!({"enabled": true});
    if let Some(ns) = namespace {
        m["metadata"]["namespace"] = ns.into();
    }
    m
}

/// Runs `uc-operator validate` with the simulator's CA and trace logging (so the secret scans
/// cover every log line); without `kubeconfig`, no cluster is reachable.
async fn validate(
    sim: &Simulator,
    kubeconfig: Option<&Path>,
    args: &[impl AsRef<std::ffi::OsStr>],
) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_uc-operator"));
    cmd.arg("validate")
        .args(args)
        .arg("--ca-bundle")
        .arg(sim.ca_path())
        .args(["--allowed-hosts", "localhost"])
        .env("RUST_LOG", "trace")
        .env_remove("UC_OPERATOR_INSTALLATION_ID")
        .env(
            "KUBECONFIG",
            kubeconfig.unwrap_or(Path::new("/nonexistent/kubeconfig")),
        )
        .env_remove("KUBERNETES_SERVICE_HOST");
    cmd.output().await.expect("run uc-operator validate")
}

/// Like [`validate`] with `-f -`, the manifest on standard input (as from `kustomize build`).
async fn validate_stdin(
    sim: &Simulator,
    manifest: &str,
    args: &[impl AsRef<std::ffi::OsStr>],
) -> Output {
    use tokio::io::AsyncWriteExt as _;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_uc-operator"))
        .args(["validate", "-f", "-"])
        .args(args)
        .arg("--ca-bundle")
        .arg(sim.ca_path())
        .args(["--allowed-hosts", "localhost"])
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run uc-operator validate");
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(manifest.as_bytes()).await.unwrap();
    drop(stdin);
    child.wait_with_output().await.unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(out),
        stderr(out)
    );
}

fn assert_no_secret(out: &Output, secret: &str) {
    assert!(
        !stdout(out).contains(secret) && !stderr(out).contains(secret),
        "a secret leaked into the output"
    );
}

/// The table line of test `name`, split into its status and message.
fn row(table: &str, name: &str) -> (String, String) {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("{name}  ")))
        .unwrap_or_else(|| panic!("no line for {name:?} in\n{table}"));
    let rest = line[name.len()..].trim_start();
    let (status, message) = rest.split_once("  ").unwrap_or((rest, ""));
    (status.to_string(), message.trim().to_string())
}

/// Everything the simulator holds (catalogs, grants, tags, compute states and starts).
fn world(sim: &Simulator) -> Value {
    serde_json::to_value(sim.state()).unwrap()
}

/// Reads only: every request is a GET except SQL statement submissions, and each of those is a
/// `SELECT` (the simulator records the SQL where it can). Returns the number of statements.
fn assert_read_only(sim: &Simulator) -> usize {
    let requests = sim.requests();
    assert!(!requests.is_empty(), "validate sent no request at all");
    let mut statements = 0;
    for r in &requests {
        // Getting an access token changes nothing in the workspace.
        if r.method == "GET" || (r.method == "POST" && r.path == "/oidc/v1/token") {
            continue;
        }
        assert!(
            r.method == "POST" && r.path == "/api/2.0/sql/statements",
            "a write: {} {}",
            r.method,
            r.path
        );
        statements += 1;
        if let Some(sql) = serde_json::to_value(r).unwrap()["sql"].as_str() {
            assert!(
                sql.trim_start().starts_with("SELECT 1"),
                "not a read: {sql}"
            );
        }
    }
    statements
}

#[tokio::test]
async fn a_good_manifest_passes_from_a_secrets_dir_and_changes_nothing() {
    let sim = start_sim().await;
    let scratch = Scratch::new();
    let args = scratch.file_args(&sim, SP_TOKEN);
    let before = world(&sim);

    let out = validate(&sim, None, &args).await;
    assert_exit(&out, 0);
    let table = stdout(&out);
    assert!(table.starts_with("NAME "), "{table}");
    for name in [
        "Metastore validation",
        "Basic Connection Test",
        "Catalog validation",
    ] {
        assert_eq!(row(&table, name).0, "passed", "{name} in\n{table}");
    }
    assert_eq!(row(&table, "Query audit: system table access").0, "passed");
    assert_no_secret(&out, SP_TOKEN);

    // SELECT 1 only (query audit is read over REST); nothing created, granted or started.
    assert_eq!(assert_read_only(&sim), 1);
    let after = world(&sim);
    assert!(
        after["catalogs"].get(CATALOG).is_none(),
        "the catalog was created"
    );
    assert_eq!(before, after, "validate changed the simulator's state");

    // The same manifest piped in, after a Secret and before another document.
    let piped = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: x}}\n---\n{}\n---\nkind: ConfigMap\n",
        manifest(&sim, None)
    );
    let out = validate_stdin(&sim, &piped, &args[2..]).await;
    assert_exit(&out, 0);
    assert_eq!(row(&stdout(&out), "Basic Connection Test").0, "passed");
}

#[tokio::test]
// Long: one namespace walked through: the Secret found, the report, a missing Secret, nothing written.
async fn secrets_from_the_cluster_and_json_output() {
    let cp = control_plane();
    let ns = cp.namespace("validate");
    let sim = start_sim().await;
    let scratch = Scratch::new();
    apply_secret(&cp.client().await, &ns, "sp-token", "token", SP_TOKEN).await;
    let file = scratch.write("dbi.yaml", &manifest(&sim, Some(&ns)).to_string());
    let before = world(&sim);

    let out = validate(
        &sim,
        Some(&cp.kubeconfig),
        &["-f", file.to_str().unwrap(), "-o", "json"],
    )
    .await;
    assert_exit(&out, 0);
    assert_no_secret(&out, SP_TOKEN);
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(report["status"], "passed");
    let tests = report["validationTests"].as_array().unwrap();
    let basic = tests
        .iter()
        .find(|t| t["name"] == "Basic Connection Test")
        .expect("the basic connection test");
    assert_eq!(basic["status"], "passed");
    assert_eq!(basic["result"], json!([{"1": 1}]));
    assert_eq!(report["workspace"]["workspaceId"], MAIN_WORKSPACE_ID);
    assert_eq!(report["workspace"]["metastoreId"], METASTORE_ID);
    assert_eq!(report["workspace"]["principal"], SP_APP_ID);
    assert_eq!(report["connections"][0]["status"], "passed");

    assert_read_only(&sim);
    assert_eq!(before, world(&sim));
    // A Secret missing from the namespace is bad input, like a missing file.
    let mut m = manifest(&sim, Some(&ns));
    m["spec"]["tokenSecretRef"]["name"] = "absent".into();
    let absent = scratch.write("absent.yaml", &m.to_string());
    let out = validate(
        &sim,
        Some(&cp.kubeconfig),
        &["-f", absent.to_str().unwrap()],
    )
    .await;
    assert_exit(&out, 2);
    let message = format!("Secret {ns}/absent not found");
    assert!(stderr(&out).contains(&message), "{}", stderr(&out));

    // Nothing written in Kubernetes either: no resource, no setup ConfigMap.
    let out = cp.kubectl(&[
        "get",
        "databricksintegrations,configmaps",
        "-n",
        &ns,
        "-o",
        "name",
    ]);
    assert_success(&out, "list the namespace");
    let listed = stdout(&out);
    assert!(
        !listed.contains("databricksintegration") && !listed.contains("uc-setup"),
        "{listed}"
    );
}

#[tokio::test]
async fn a_bad_credential_fails_with_exit_1_naming_the_test() {
    let sim = start_sim().await;
    let scratch = Scratch::new();
    let args = scratch.file_args(&sim, "dapi-not-a-valid-token");

    let out = validate(&sim, None, &args).await;
    assert_exit(&out, 1);
    let (status, message) = row(&stdout(&out), "Metastore validation");
    assert_eq!(status, "failed");
    assert!(!message.is_empty(), "the failure says why");
    assert_no_secret(&out, "dapi-not-a-valid-token");
    assert!(
        !stderr(&out).contains("--allow-start"),
        "no compute note here"
    );
    assert!(sim.requests().iter().all(|r| r.method == "GET"));
}

#[tokio::test]
async fn bad_input_exits_2_before_any_request() {
    let sim = start_sim().await;
    let scratch = Scratch::new();
    let secrets = scratch.secrets_dir(SP_TOKEN);
    let secrets = secrets.to_str().unwrap();
    let malformed = scratch.write(
        "malformed.yaml",
        "kind: DatabricksIntegration\nspec: [oops\n",
    );
    let other = scratch.write(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );
    let mut m = manifest(&sim, None);
    m["spec"]["tokenSecretRef"]["name"] = "absent".into();
    let absent = scratch.write("absent.yaml", &m.to_string());
    // What the API server would refuse (its schema, its CEL rules) is refused first.
    let mut m = manifest(&sim, None);
    m["spec"]["catalog"] = "9bad-name".into();
    let bad_catalog = scratch.write("catalog.yaml", &m.to_string());
    let mut m = manifest(&sim, None);
    m["spec"]["revalidationInterval"] = "30s".into();
    let bad_rule = scratch.write("rule.yaml", &m.to_string());

    for (file, says) in [
        (&malformed, "not a valid manifest"),
        (&other, "no DatabricksIntegration"),
        (&absent, "absent/token: not found"),
        (
            &bad_catalog,
            "would refuse this manifest:\n  spec.catalog: ",
        ),
        (&bad_rule, "spec.revalidationInterval: Invalid value"),
    ] {
        let out = validate(
            &sim,
            None,
            &["-f", file.to_str().unwrap(), "--secrets-dir", secrets],
        )
        .await;
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(says), "{says}: {}", stderr(&out));
        assert!(stdout(&out).is_empty(), "no report on bad input");
    }
    assert!(sim.requests().is_empty(), "bad input reached Databricks");
}

#[tokio::test]
async fn a_stopped_warehouse_is_started_only_with_allow_start() {
    let sim = start_sim().await;
    sim.set_warehouse_state("main", WAREHOUSE_ID, "STOPPED");
    let scratch = Scratch::new();
    let args = scratch.file_args(&sim, SP_TOKEN);

    let out = validate(&sim, None, &args).await;
    assert_exit(&out, 0);
    assert_eq!(row(&stdout(&out), "Basic Connection Test").0, "skipped");
    assert!(stderr(&out).contains("--allow-start"), "{}", stderr(&out));
    assert_eq!(sim.warehouse_starts(WAREHOUSE_ID), 0);
    assert_eq!(assert_read_only(&sim), 0, "no SQL on stopped compute");

    let out = validate(&sim, None, &[&args[..], &["--allow-start".into()]].concat()).await;
    assert_exit(&out, 0);
    assert_eq!(row(&stdout(&out), "Basic Connection Test").0, "passed");
    assert_eq!(sim.warehouse_starts(WAREHOUSE_ID), 1);
}

#[tokio::test]
async fn a_workload_identity_is_validated_through_the_cluster_and_not_from_files() {
    use crate::support::workload_identity::{self, AUDIENCE, SA};
    let cp = control_plane();
    let ns = cp.namespace("validate-wi");
    let sim = Simulator::start(workload_identity::trusting(&ns, 0))
        .await
        .expect("start the simulator");
    workload_identity::service_account(&cp.client().await, &ns, SA, true).await;
    let scratch = Scratch::new();
    let mut m = workload_identity::manifest(
        "analytics",
        &sim.workspace("main").host,
        SA,
        Some(AUDIENCE),
        false,
    );
    m["metadata"]["namespace"] = ns.clone().into();
    let file = scratch.write("wi.yaml", &m.to_string());

    let out = validate(&sim, Some(&cp.kubeconfig), &["-f", file.to_str().unwrap()]).await;
    assert_exit(&out, 0);
    let seen = sim.state().federated;
    assert_eq!(seen.len(), 1, "one token exchange");
    assert_no_secret(&out, &seen[0].token);
    assert_read_only(&sim);

    // Files hold no ServiceAccount tokens: bad input, nothing sent.
    let secrets = scratch.secrets_dir(SP_TOKEN);
    let before = sim.requests().len();
    let args = [
        "-f",
        file.to_str().unwrap(),
        "--secrets-dir",
        secrets.to_str().unwrap(),
    ];
    let out = validate(&sim, None, &args).await;
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("workloadIdentity needs"),
        "{}",
        stderr(&out)
    );
    assert_eq!(sim.requests().len(), before);
}
