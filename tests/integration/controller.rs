//! The controller end to end: a real API server, the real `uc-operator run` process, and the
//! Databricks simulator.

use std::time::{Duration, Instant};

use databricks_sim::{
    ADMIN_TOKEN, CatalogSpec, FaultKind, FaultRule, METASTORE_ID, SP_APP_ID, SP_CLIENT_ID,
    SP_CLIENT_SECRET, SP_TOKEN, Scenario, Simulator, WAREHOUSE_ID,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams};
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
            secrets: crate::harness::secret_markers(),
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
        crate::harness::apply_secret(&self.client, &self.ns, name, key, value).await;
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
        crate::harness::apply_manifest(&self.api(), manifest).await;
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
        crate::harness::wait_for(&self.api(), name, what, timeout, ok, || self.log_tail()).await
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
        crate::harness::tail(&logs)
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

mod expiry;
mod failures;
mod lifecycle;
mod operations;
mod setup;
