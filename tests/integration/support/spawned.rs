//! One test's namespace, simulator and spawned `uc-operator run` process (the end-to-end
//! layer's environment), with every secret value it handed out for the leak scans; and what
//! the tenancy tests read from the process (its pid, memory, the chart's limit).

use std::path::PathBuf;
use std::time::Duration;

use databricks_sim::{Scenario, Simulator};
use kube::api::Api;
use serde_json::Value;
use uc_operator::api::{DatabricksIntegration, Phase};

use super::harness::{ControlPlane, Operator, control_plane};
use super::hostile::Hostile;
use super::manifests;
use super::status::phase;

pub const TAG_KEY: &str = uc_operator::setup::TAG_KEY;

/// One test's namespace, simulator and spawned operator, and every secret value it handed out.
pub struct Env {
    pub cp: &'static ControlPlane,
    pub ns: String,
    pub sim: Simulator,
    pub client: kube::Client,
    pub operator: Option<Operator>,
    /// Every secret value the test handed out: none may show up anywhere.
    secrets: Vec<String>,
    bundle: PathBuf,
}

impl Env {
    pub async fn new(prefix: &str, scenario: Scenario) -> Env {
        Self::new_for(prefix, |_| scenario).await
    }

    /// An environment whose scenario depends on the namespace (a federation policy names the
    /// namespace's ServiceAccount).
    pub async fn new_for(prefix: &str, scenario: impl FnOnce(&str) -> Scenario) -> Env {
        let cp = control_plane();
        let ns = cp.namespace(prefix);
        let sim = Simulator::start(scenario(&ns))
            .await
            .expect("simulator starts");
        let client = cp.client().await;
        let bundle = cp.dir.join(format!("{ns}-ca.pem"));
        std::fs::write(&bundle, sim.ca_pem()).unwrap();
        Env {
            cp,
            ns,
            sim,
            client,
            operator: None,
            secrets: super::harness::secret_markers(),
            bundle,
        }
    }

    /// Trusts the hostile servers' CAs too (one `--ca-bundle` holds them all).
    pub fn trust(&self, servers: &[&Hostile]) {
        let mut pem = self.sim.ca_pem();
        for server in servers {
            pem.push('\n');
            pem.push_str(&server.ca_pem());
        }
        std::fs::write(&self.bundle, pem).unwrap();
    }

    /// Starts (or replaces) the operator; `extra` adds flags.
    pub fn start(&mut self, extra: &[&str]) {
        self.operator = Some(Operator::start(self.cp, &self.ns, &self.bundle, extra));
    }

    /// Starts the operator with `timings` in place of the short test timings.
    pub fn start_timed(&mut self, timings: &[&str], extra: &[&str]) {
        let kubeconfig = &self.cp.kubeconfig;
        let op = Operator::start_timed(self.cp, kubeconfig, &self.ns, &self.bundle, timings, extra);
        self.operator = Some(op);
    }

    /// The operator with its test hooks on.
    #[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
    pub fn start_hooked(&mut self, extra: &[&str]) {
        self.operator = Some(Operator::start_hooked(
            self.cp,
            &self.ns,
            &self.bundle,
            extra,
        ));
    }

    /// Whether the operator process is alive (a zombie has no cmdline, so it counts as gone).
    pub fn running(&self) -> bool {
        operator_pid(&self.ns).is_some()
    }

    pub fn api(&self) -> Api<DatabricksIntegration> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// The identity an operator started without `--installation-id` writes markers under: the
    /// UID of `kube-system`.
    pub async fn default_installation(&self) -> String {
        let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(self.client.clone());
        let ns = namespaces.get("kube-system").await.unwrap();
        ns.metadata.uid.expect("a namespace has a UID")
    }

    pub fn host(&self, workspace: &str) -> String {
        self.sim.workspace(workspace).host
    }

    pub async fn get(&self, name: &str) -> DatabricksIntegration {
        self.api().get(name).await.unwrap()
    }

    /// Remembers `value` as a secret for the leak scan too.
    pub fn remember_secret(&mut self, value: &str) {
        self.secrets.push(value.to_string());
    }

    /// Every secret value of this test (the simulator's and those handed out).
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    pub async fn secret(&mut self, name: &str, key: &str, value: &str) {
        self.remember_secret(value);
        super::harness::apply_secret(&self.client, &self.ns, name, key, value).await;
    }

    /// A token integration for the `main` workspace whose token is in Secret `sp-token`.
    pub fn manifest(&self, name: &str, catalog: &str) -> Value {
        manifests::integration(name, &self.host("main"), catalog)
    }

    /// A token integration for the workspace at `host` whose token is in Secret `sp-token`.
    pub fn manifest_at(&self, name: &str, host: &str, catalog: &str) -> Value {
        manifests::integration(name, host, catalog)
    }

    /// An OAuth M2M integration whose client secret is in Secret `sp-oauth`.
    pub fn oauth_manifest(&self, name: &str, host: &str, authority: Option<&str>) -> Value {
        let catalog = format!("{}_catalog", name.replace('-', "_"));
        manifests::oauth_integration(name, host, &catalog, authority)
    }

    pub async fn apply(&self, manifest: &Value) {
        super::harness::apply_manifest(&self.api(), manifest).await;
    }

    /// Polls until `ok` holds (`timeout` is a deadline); panics with the last status and the
    /// log tail.
    pub async fn wait(
        &self,
        name: &str,
        what: &str,
        timeout: Duration,
        ok: impl Fn(&DatabricksIntegration) -> bool,
    ) -> DatabricksIntegration {
        super::harness::wait_for(&self.api(), name, what, timeout, ok, || self.log_tail()).await
    }

    /// Waits (90 s at most) for `phase` describing the current generation.
    pub async fn wait_phase(&self, name: &str, want: Phase) -> DatabricksIntegration {
        self.wait(name, want.as_str(), Duration::from_secs(90), |d| {
            phase(d) == Some(want)
                && d.status.as_ref().unwrap().observed_generation == d.metadata.generation
        })
        .await
    }

    pub async fn gone(&self, name: &str) -> bool {
        self.api().get_opt(name).await.unwrap().is_none()
    }

    /// Waits (`timeout` at most) until the resource is gone.
    pub async fn wait_gone(&self, name: &str, timeout: Duration) {
        super::harness::wait_gone(&self.api(), name, timeout, || self.log_tail()).await
    }

    /// The last validation time of `name`.
    pub async fn validated_at(&self, name: &str) -> k8s_openapi::jiff::Timestamp {
        let dbi = self.get(name).await;
        dbi.status.unwrap().last_validation_time.unwrap().0
    }

    /// Waits for a validation after `after` (validation times have second precision).
    pub async fn wait_revalidated(
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

    /// The reasons of the events recorded in the test's namespace.
    pub fn event_reasons(&self) -> Vec<String> {
        let events: Value = serde_json::from_str(&self.events()).unwrap();
        events["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["reason"].as_str().map(str::to_string))
            .collect()
    }

    /// The namespace's events as JSON, from kubectl.
    fn events(&self) -> String {
        let out = (self.cp).kubectl(&["get", "events.events.k8s.io", "-n", &self.ns, "-o", "json"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn logs(&self) -> String {
        self.operator.as_ref().map(|o| o.logs()).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        super::harness::tail(&self.logs())
    }

    /// The spawned operator's process id (found by its unique `--namespace`).
    pub fn pid(&self) -> u32 {
        operator_pid(&self.ns).expect("the operator process is running")
    }

    /// The operator's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let port = self.operator.as_ref().expect("an operator").metrics_port;
        let url = format!("http://127.0.0.1:{port}/metrics");
        reqwest::get(&url).await.unwrap().text().await.unwrap()
    }

    /// No secret value in any status, event, log line or metric of this test (`extra` adds
    /// texts captured elsewhere, e.g. events of a deleted namespace).
    pub async fn assert_no_secret_leaks(&self, extra: &str) {
        let statuses = serde_json::to_string(&self.api().list(&Default::default()).await.unwrap());
        let events = self.events();
        let logs = self.logs();
        assert!(!logs.is_empty(), "the operator logged nothing");
        let metrics = self.metrics().await;
        let texts = [
            ("status", statuses.unwrap()),
            ("events", events),
            ("operator log", logs),
            ("metrics", metrics),
            ("captured", extra.to_string()),
        ];
        for secret in &self.secrets {
            for (what, text) in &texts {
                assert!(
                    !text.contains(secret.as_str()),
                    "a secret value appears in the {what}"
                );
            }
        }
    }
}

/// The pid of the `uc-operator run` process watching `namespace` (namespaces are unique).
pub fn operator_pid(namespace: &str) -> Option<u32> {
    let needle = format!("\0--namespace\0{namespace}\0");
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline);
            (cmdline.contains("uc-operator\0run\0") && cmdline.contains(&needle)).then_some(pid)
        })
}

/// VmRSS of a process, in bytes; `None` once it is gone.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    proc_status_bytes(pid, "VmRSS:")
}

/// The highest resident set size the process has had so far (`VmHWM`), in bytes.
pub fn peak_rss_bytes(pid: u32) -> Option<u64> {
    proc_status_bytes(pid, "VmHWM:")
}

fn proc_status_bytes(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The chart's memory limit (`resources.limits.memory` in values.yaml), in bytes.
pub fn chart_memory_limit() -> u64 {
    let values: Value =
        serde_yaml::from_str(&super::harness::read("charts/uc-operator/values.yaml"))
            .expect("values.yaml parses");
    let limit = values["resources"]["limits"]["memory"]
        .as_str()
        .expect("a memory limit");
    let (digits, unit) = limit.split_at(limit.find(|c: char| !c.is_ascii_digit()).unwrap());
    let n: u64 = digits.parse().unwrap();
    n * match unit {
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        other => panic!("unit {other}"),
    }
}
