//! Hostile tenants, faults and ownership (issue 12): nothing one tenant does takes down, robs or
//! blocks another. The spawned-binary tests share [`Tenants`]; the ownership rules that the
//! in-process reconcile can show use the reconcile layer's fixtures.



use std::path::PathBuf;
use std::time::Duration;

use databricks_sim::{Scenario, Simulator, WAREHOUSE_ID};
use kube::api::Api;
use serde_json::{Value, json};
use uc_operator::api::{DatabricksIntegration, Phase};

use crate::support::harness::{ControlPlane, Operator, control_plane};
use crate::support::hostile::Hostile;

pub const TAG_KEY: &str = uc_operator::setup::TAG_KEY;

/// One test's namespace, simulator and spawned operator, and every secret value it handed out.
pub struct Tenants {
    pub cp: &'static ControlPlane,
    pub ns: String,
    pub sim: Simulator,
    pub client: kube::Client,
    pub operator: Option<Operator>,
    hooked: Option<Hooked>,
    secrets: Vec<String>,
    bundle: PathBuf,
}

impl Tenants {
    pub async fn new(prefix: &str, scenario: Scenario) -> Tenants {
        let cp = control_plane();
        let ns = cp.namespace(prefix);
        let sim = Simulator::start(scenario).await.expect("simulator starts");
        let client = cp.client().await;
        let bundle = cp.dir.join(format!("{ns}-ca.pem"));
        std::fs::write(&bundle, sim.ca_pem()).unwrap();
        Tenants {
            cp,
            ns,
            sim,
            client,
            operator: None,
            hooked: None,
            secrets: crate::support::harness::secret_markers(),
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

    pub fn start(&mut self, extra: &[&str]) {
        self.operator = Some(Operator::start(self.cp, &self.ns, &self.bundle, extra));
    }

    /// The operator with `UC_OPERATOR_TEST_HOOKS=1`, which [`Operator`] cannot set.
    pub fn start_hooked(&mut self, extra: &[&str]) {
        self.hooked = Some(Hooked::start(self.cp, &self.ns, &self.bundle, extra));
    }

    /// Whether the operator process is alive (a zombie has no cmdline, so it counts as gone).
    pub fn running(&self) -> bool {
        operator_pid(&self.ns).is_some()
    }

    pub fn api(&self) -> Api<DatabricksIntegration> {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    pub fn host(&self, workspace: &str) -> String {
        self.sim.workspace(workspace).host
    }

    /// Remembers `value` as a secret for the leak scan too.
    pub fn remember_secret(&mut self, value: &str) {
        self.secrets.push(value.to_string());
    }

    pub async fn secret(&mut self, name: &str, key: &str, value: &str) {
        self.remember_secret(value);
        crate::support::harness::apply_secret(&self.client, &self.ns, name, key, value).await;
    }

    /// A token integration for the workspace at `host` whose token is in Secret `sp-token`.
    pub fn manifest(&self, name: &str, host: &str, catalog: &str) -> Value {
        json!({
            "apiVersion": "uc-operator.dev/v1alpha1",
            "kind": "DatabricksIntegration",
            "metadata": {"name": name},
            "spec": {
                "workspaceUrl": host,
                "httpPath": format!("/sql/1.0/warehouses/{WAREHOUSE_ID}"),
                "authenticationType": "token",
                "tokenSecretRef": {"name": "sp-token"},
                "catalog": catalog,
            }
        })
    }

    /// An OAuth M2M integration whose client secret is in Secret `sp-oauth`.
    pub fn oauth_manifest(&self, name: &str, host: &str, authority: Option<&str>) -> Value {
        let mut m = self.manifest(name, host, &format!("{}_catalog", name.replace('-', "_")));
        let spec = &mut m["spec"];
        spec.as_object_mut().unwrap().remove("tokenSecretRef");
        spec["authenticationType"] = json!("oAuthM2M");
        spec["oAuthClientConfig"] = json!({
            "clientId": databricks_sim::SP_CLIENT_ID,
            "clientSecretRef": {"name": "sp-oauth"},
        });
        if let Some(url) = authority {
            spec["oAuthClientConfig"]["authorityUrl"] = json!(url);
        }
        m
    }

    pub async fn apply(&self, manifest: &Value) {
        crate::support::harness::apply_manifest(&self.api(), manifest).await;
    }

    /// Polls until `ok` holds (90 s at most); panics with the last status and the log tail.
    pub async fn wait(
        &self,
        name: &str,
        what: &str,
        ok: impl Fn(&DatabricksIntegration) -> bool,
    ) -> DatabricksIntegration {
        let timeout = Duration::from_secs(90);
        crate::support::harness::wait_for(&self.api(), name, what, timeout, ok, || self.log_tail()).await
    }

    /// Waits for `phase` describing the current generation.
    pub async fn wait_phase(&self, name: &str, phase: Phase) -> DatabricksIntegration {
        self.wait(name, phase.as_str(), |d| {
            phase_of(d) == Some(phase)
                && d.status.as_ref().unwrap().observed_generation == d.metadata.generation
        })
        .await
    }

    pub fn logs(&self) -> String {
        let log = match (&self.operator, &self.hooked) {
            (Some(o), _) => &o.log,
            (None, Some(h)) => &h.log,
            (None, None) => return String::new(),
        };
        std::fs::read_to_string(log).unwrap_or_default()
    }

    pub fn log_tail(&self) -> String {
        crate::support::harness::tail(&self.logs())
    }

    /// The spawned operator's process id (found by its unique `--namespace`).
    pub fn pid(&self) -> u32 {
        operator_pid(&self.ns).expect("the operator process is running")
    }

    /// The operator's `/metrics` text.
    pub async fn metrics(&self) -> String {
        let port = match (&self.operator, &self.hooked) {
            (Some(o), _) => o.metrics_port,
            (_, h) => h.as_ref().expect("an operator").metrics_port,
        };
        let url = format!("http://127.0.0.1:{port}/metrics");
        reqwest::get(&url).await.unwrap().text().await.unwrap()
    }

    /// No secret value in any status, event, log line or metric of this test (`extra` adds
    /// texts captured elsewhere, e.g. events of a deleted namespace).
    pub async fn assert_no_secret_leaks(&self, extra: &str) {
        let statuses = serde_json::to_string(&self.api().list(&Default::default()).await.unwrap());
        let events =
            self.cp
                .kubectl(&["get", "events.events.k8s.io", "-n", &self.ns, "-o", "json"]);
        let events = String::from_utf8_lossy(&events.stdout).into_owned();
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

pub fn phase_of(d: &DatabricksIntegration) -> Option<Phase> {
    d.status.as_ref().and_then(|s| s.phase)
}

/// `(reason, message)` of the Ready condition.
pub fn ready(d: &DatabricksIntegration) -> (String, String) {
    let status = d.status.as_ref().expect("a status");
    let c = status.conditions.iter().find(|c| c.type_ == "Ready");
    let c = c.unwrap_or_else(|| panic!("no Ready condition in {status:?}"));
    (c.reason.clone(), c.message.clone())
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
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The chart's memory limit (`resources.limits.memory` in values.yaml), in bytes.
pub fn chart_memory_limit() -> u64 {
    let values: Value =
        serde_yaml::from_str(&crate::support::harness::read("charts/uc-operator/values.yaml"))
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

/// `uc-operator run` with the test hooks on and the harness's flags; killed when dropped.
pub struct Hooked {
    child: std::process::Child,
    log: PathBuf,
    metrics_port: u16,
}

impl Hooked {
    fn start(cp: &ControlPlane, ns: &str, bundle: &std::path::Path, extra: &[&str]) -> Hooked {
        let port = || {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let (metrics_port, health_port) = (port(), port());
        let log = cp.dir.join(format!("operator-{ns}-hooked.log"));
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_uc-operator"))
            .args(["run", "--namespace", ns, "--log-format", "json"])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .args(["--health-addr", &format!("127.0.0.1:{health_port}")])
            .arg("--ca-bundle")
            .arg(bundle)
            .args(crate::support::harness::SHORT_TIMINGS)
            .args(["--allowed-hosts", "localhost"])
            .args(extra)
            .env("KUBECONFIG", &cp.kubeconfig)
            .env(
                "RUST_LOG",
                "debug,hyper=info,h2=info,rustls=info,tower=info,kube_client=info",
            )
            .env("UC_OPERATOR_TEST_HOOKS", "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::OpenOptions::new().append(true).open(&log).unwrap())
            .spawn()
            .expect("start uc-operator");
        Hooked {
            child,
            log,
            metrics_port,
        }
    }
}

impl Drop for Hooked {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
