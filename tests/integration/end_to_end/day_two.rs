//! Day two (issue 10): `spec.suspend`, the `uc-operator.dev/requestedAt` annotation,
//! `status.connections` of a multi-workspace integration, and manual setup over time
//! (`day_two/manual.rs`). Steps that need the real process (watches, the predicate filter) spawn
//! the binary; the rest drive `controller::reconcile` in-process through the reconcile fixtures.

use crate::support::in_process as fixtures;


use std::time::{Duration, Instant};

use databricks_sim::{
    ADMIN_TOKEN, ADMIN_USER, CatalogSpec, MAIN_WORKSPACE_ID, METASTORE_ID, SP_APP_ID, SP_TOKEN,
    Scenario, Simulator, WAREHOUSE_ID, WorkspaceSpec,
};
use serde_json::json;
use uc_operator::api::{DatabricksIntegration, Phase, REQUESTED_AT, TestStatus};
use uc_operator::databricks::{AuthConfig, Compute, ConnectionConfig, WorkspaceClient};
use uc_operator::failure::Reason;

use crate::support::harness::{Operator, control_plane};
use fixtures::{Env, condition, phase};

const ROTATED_TOKEN: &str = "dapi-rotated-token";

/// What a privileged user does in a SQL editor: the script, statement by statement, as the
/// metastore admin of the `main` workspace.
pub(crate) async fn run_as_admin(sim: &Simulator, script: &str) {
    let config = ConnectionConfig {
        host: "localhost".into(),
        port: sim.workspace("main").port,
        compute: Compute::Warehouse {
            id: WAREHOUSE_ID.into(),
        },
        auth: AuthConfig::Token(ADMIN_TOKEN.into()),
    };
    let admin = WorkspaceClient::new(config, &crate::domain::checks::settings(sim)).unwrap();
    let code: Vec<&str> = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .collect();
    for statement in code.join("\n").split(';').map(str::trim) {
        if !statement.is_empty() {
            let done = admin.execute(statement).await;
            done.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
    }
}

/// Polls the resource until `ok` holds (60 s); panics with its status and the log tail.
async fn wait(
    env: &Env,
    op: &Operator,
    name: &str,
    what: &str,
    ok: impl Fn(&DatabricksIntegration) -> bool,
) -> DatabricksIntegration {
    let timeout = Duration::from_secs(60);
    crate::support::harness::wait_for(env.api(), name, what, timeout, ok, || {
        crate::support::harness::tail(&op.logs())
    })
    .await
}

/// `uc_operator_reconciles_total` of the running operator.
async fn reconciles(op: &Operator) -> u64 {
    let url = format!("http://127.0.0.1:{}/metrics", op.metrics_port);
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("uc_operator_reconciles_total "));
    let value = line.and_then(|l| l.split_whitespace().nth(1));
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no reconcile count:\n{text}"))
}

/// Waits (60 s) until the operator has reconciled more than `seen` times; the new count.
async fn wait_reconciled(op: &Operator, seen: u64) -> u64 {
    let start = Instant::now();
    loop {
        let now = reconciles(op).await;
        if now > seen {
            return now;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no reconcile");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn enabled(d: &DatabricksIntegration) -> bool {
    phase(d) == Some(Phase::Enabled)
        && d.status.as_ref().unwrap().observed_generation == d.metadata.generation
}

fn suspended(d: &DatabricksIntegration) -> bool {
    d.status.as_ref().is_some_and(|s| {
        s.observed_generation == d.metadata.generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Reconciling" && c.reason == Reason::Suspended.as_str())
    })
}

fn validated_at(d: &DatabricksIntegration) -> k8s_openapi::jiff::Timestamp {
    d.status
        .as_ref()
        .unwrap()
        .last_validation_time
        .clone()
        .unwrap()
        .0
}

fn handled(d: &DatabricksIntegration) -> Option<&str> {
    d.status.as_ref()?.last_handled_reconcile_at.as_deref()
}

fn annotate(env: &Env, name: &str, value: &str) {
    let annotation = format!("{REQUESTED_AT}={value}");
    let args = [
        "annotate",
        "dbi",
        name,
        "-n",
        &env.ns,
        "--overwrite",
        &annotation,
    ];
    crate::support::harness::assert_success(&control_plane().kubectl(&args), "kubectl annotate");
}

/// Validation times have second precision: a later one is only visible a second on.
async fn next_second() {
    tokio::time::sleep(Duration::from_millis(1100)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: suspend, changes while suspended, resume and delete, in order.
async fn suspend_sends_nothing_and_resuming_revalidates_at_once() {
    // One story on one operator process: suspend, the quiet window, resume, delete suspended.
    let mut scenario = Scenario::default_for_tests();
    scenario
        .principal_mut(SP_APP_ID)
        .tokens
        .push(ROTATED_TOKEN.into());
    let env = Env::new("d2-suspend", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    let op = Operator::start(control_plane(), &env.ns, &env.sim.ca_path(), &[]);
    let mut manifest = env.manifest("gov", "governance");
    env.apply(&manifest).await;
    let before = validated_at(&wait(&env, &op, "gov", "enabled", enabled).await);

    manifest["spec"]["suspend"] = json!(true);
    env.apply(&manifest).await;
    let dbi = wait(&env, &op, "gov", "suspended", suspended).await;
    assert_eq!(condition(&dbi, "Reconciling").0, "False");
    // Suspension changes only `Reconciling`: Ready still says what it said, of the generation
    // it said it of.
    let conditions = &dbi.status.as_ref().unwrap().conditions;
    let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "True");
    assert!(
        ready.observed_generation < dbi.metadata.generation,
        "{ready:?}"
    );

    // A rotated Secret and a reconcile request, each of which would otherwise re-validate: each
    // is seen to reach a reconcile (the operator's counter), then a window passes.
    env.sim.clear_requests();
    let seen = reconciles(&op).await;
    env.secret("sp-token", ROTATED_TOKEN).await;
    let seen = wait_reconciled(&op, seen).await;
    annotate(&env, "gov", "while-suspended");
    wait_reconciled(&op, seen).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let requests = env.sim.requests();
    assert!(requests.is_empty(), "sent while suspended: {requests:?}");
    let dbi = env.get("gov").await;
    assert_eq!(validated_at(&dbi), before, "validated while suspended");
    assert_ne!(handled(&dbi), Some("while-suspended"));

    next_second().await;
    manifest["spec"]["suspend"] = json!(false);
    env.apply(&manifest).await;
    let dbi = wait(&env, &op, "gov", "re-validated", |d| {
        enabled(d) && validated_at(d) > before
    })
    .await;
    assert_ne!(condition(&dbi, "Reconciling").1, Reason::Suspended.as_str());
    assert_eq!(condition(&dbi, "Ready").0, "True");
    // The request made while suspended was acted on by the resumed reconcile.
    assert_eq!(handled(&dbi), Some("while-suspended"));
    assert!(!env.sim.requests().is_empty());

    // Deleting while suspended: the finalizer goes, the catalog stays, nothing is sent.
    manifest["spec"]["suspend"] = json!(true);
    env.apply(&manifest).await;
    wait(&env, &op, "gov", "suspended again", suspended).await;
    env.sim.clear_requests();
    let cp = control_plane();
    let out = cp.kubectl(&["delete", "dbi", "gov", "-n", &env.ns, "--timeout=60s"]);
    crate::support::harness::assert_success(&out, "kubectl delete (waits for the finalizer)");
    assert!(env.gone("gov").await);
    assert!(env.sim.state().catalogs.contains_key("governance"));
    let requests = env.sim.requests();
    assert!(requests.is_empty(), "sent on deletion: {requests:?}");
    assert!(!op.logs().contains(ROTATED_TOKEN) && !op.logs().contains(SP_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_requested_at_value_revalidates_now() {
    let env = Env::new("d2-request", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let op = Operator::start(control_plane(), &env.ns, &env.sim.ca_path(), &[]);
    env.apply(&env.manifest("gov", "governance")).await;
    let mut before = validated_at(&wait(&env, &op, "gov", "enabled", enabled).await);

    // The interval is 1h: only the annotation can make these re-validations happen.
    for value in ["2026-12-01T10:00:00Z", "again"] {
        next_second().await;
        annotate(&env, "gov", value);
        let dbi = wait(&env, &op, "gov", "re-validated on request", |d| {
            handled(d) == Some(value) && validated_at(d) > before
        })
        .await;
        assert!(enabled(&dbi), "{:?}", dbi.status);
        before = validated_at(&dbi);
    }
}

/// The same value again does nothing; exact in-process (a reconcile that does run).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_requested_at_value_does_nothing() {
    let env = Env::new("d2-request-same", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    env.apply(&manifest).await;
    let before = validated_at(&env.enable("gov").await);

    next_second().await;
    manifest["metadata"]["annotations"] = json!({REQUESTED_AT: "first"});
    env.apply(&manifest).await;
    env.sim.clear_requests();
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert!(!env.sim.requests().is_empty(), "not re-validated");
    let dbi = env.get("gov").await;
    assert_eq!(handled(&dbi), Some("first"));
    assert!(validated_at(&dbi) > before);

    env.sim.clear_requests();
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert!(step.writes.is_empty(), "{:?}", step.phases());
    assert!(
        env.sim.requests().is_empty(),
        "re-validated on the same value"
    );
}

/// A workspace with a warehouse and an OPEN catalog the service principal may use.
fn workspace_with_catalog(scenario: Scenario, name: &str, id: i64, catalog: &str) -> Scenario {
    scenario
        .with_workspace(WorkspaceSpec::new(name, id).with_warehouse(WAREHOUSE_ID, "RUNNING"))
        .with_catalog(CatalogSpec::new(catalog, ADMIN_USER).with_grant(SP_APP_ID, &["USE_CATALOG"]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_name_the_broken_workspace() {
    let scenario = Scenario::default_for_tests();
    let scenario = workspace_with_catalog(scenario, "east", 2002, "east_data");
    let scenario = workspace_with_catalog(scenario, "west", 3003, "west_data");
    let env = Env::new("d2-connections", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.secret("west-token", "dapi-not-a-real-token").await;
    let connection = |workspace: &str, secret: &str, catalog: &str| {
        json!({
            "workspaceUrl": env.sim.workspace(workspace).host,
            "httpPath": format!("/sql/1.0/warehouses/{WAREHOUSE_ID}"),
            "authenticationType": "token",
            "tokenSecretRef": {"name": secret},
            "catalogs": [catalog],
        })
    };
    let mut manifest = env.manifest("multi", "multi_catalog");
    manifest["spec"]["additionalWorkspaceConnections"] = json!([
        connection("east", "sp-token", "east_data"),
        connection("west", "west-token", "west_data"),
    ]);
    env.apply(&manifest).await;
    env.step("multi").await.result.unwrap();
    let step = env.step("multi").await;
    assert_eq!(step.phases().last(), Some(&Some(Phase::CreateError)));

    let dbi = env.get("multi").await;
    let connections = &dbi.status.as_ref().unwrap().connections;
    let hosts: Vec<&str> = connections
        .iter()
        .map(|c| c.workspace_url.as_str())
        .collect();
    let host = |w: &str| env.sim.workspace(w).host;
    assert_eq!(hosts, [host("main"), host("east"), host("west")]);
    let (main, east, west) = (&connections[0], &connections[1], &connections[2]);
    for (c, id) in [(main, MAIN_WORKSPACE_ID), (east, 2002)] {
        assert_eq!(c.status, Some(TestStatus::Passed), "{c:?}");
        assert_eq!(c.message, None, "{c:?}");
        assert_eq!(c.workspace_id, Some(id), "{c:?}");
        assert_eq!(c.metastore_id.as_deref(), Some(METASTORE_ID), "{c:?}");
        assert_eq!(c.principal.as_deref(), Some(SP_APP_ID), "{c:?}");
    }
    assert_eq!(west.status, Some(TestStatus::Failed), "{west:?}");
    let message = west.message.as_deref().unwrap_or_default();
    assert!(message.contains(&host("west")), "{message}");
    assert!(message.contains("authentication"), "{message}");
    assert!(!message.contains("dapi-not-a-real-token"));

    // `-o wide` has no connections column yet (src/api/types.rs): the status is what shows it.
    let args = ["get", "dbi", "multi", "-n", &env.ns, "-o", "wide"];
    let out = control_plane().kubectl(&args);
    crate::support::harness::assert_success(&out, "kubectl get -o wide");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.contains("createError"), "{table}");
    env.assert_no_leak("dapi-not-a-real-token").await;
}
