//! A real Kubernetes control plane for the tests: etcd and kube-apiserver (built by `make tools`,
//! started by `hack/control-plane.sh`, the same script `make demo` uses) on free loopback ports,
//! once per test binary and shared; each test works in namespaces of its own. kube-controller-manager
//! runs too, so namespaces finish terminating and owned objects are garbage-collected.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

pub struct ControlPlane {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub server: String,
}

static CONTROL_PLANE: OnceLock<ControlPlane> = OnceLock::new();

/// The repository root (tools live in `bin/`, manifests in `crds/` and `examples/`).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A tool linked into `bin/` by `make tools`.
pub fn tool(name: &str) -> PathBuf {
    let path = repo().join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `make tools` first",
        path.display()
    );
    path
}

/// Creates or replaces a one-key Secret by server-side apply (field manager `tests`).
pub async fn apply_secret(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    key: &str,
    value: &str,
) {
    use kube::api::{Api, Patch, PatchParams};
    let secret = super::manifests::secret(name, key, value);
    Api::<k8s_openapi::api::core::v1::Secret>::namespaced(client.clone(), namespace)
        .patch(
            name,
            &PatchParams::apply("tests").force(),
            &Patch::Apply(&secret),
        )
        .await
        .unwrap();
}

/// Creates or updates a `DatabricksIntegration` from its manifest by server-side apply.
pub async fn apply_manifest(
    api: &kube::Api<uc_operator::api::DatabricksIntegration>,
    manifest: &serde_json::Value,
) {
    use kube::api::{Patch, PatchParams};
    let name = manifest["metadata"]["name"].as_str().unwrap();
    let params = PatchParams::apply("tests").force();
    api.patch(name, &params, &Patch::Apply(manifest))
        .await
        .unwrap();
}

/// Polls until `name` is gone (`timeout` is a deadline, not a measurement); panics with
/// `log_tail()` otherwise.
pub async fn wait_gone(
    api: &kube::Api<uc_operator::api::DatabricksIntegration>,
    name: &str,
    timeout: std::time::Duration,
    log_tail: impl Fn() -> String,
) {
    let start = Instant::now();
    while api.get_opt(name).await.unwrap().is_some() {
        assert!(
            start.elapsed() < timeout,
            "{name} not deleted:\n{}",
            log_tail()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Polls `name` every 200 ms until `ok` holds; after `timeout` (a deadline, not a measurement)
/// panics with its last status and `log_tail()`.
pub async fn wait_for(
    api: &kube::Api<uc_operator::api::DatabricksIntegration>,
    name: &str,
    what: &str,
    timeout: std::time::Duration,
    ok: impl Fn(&uc_operator::api::DatabricksIntegration) -> bool,
    log_tail: impl Fn() -> String,
) -> uc_operator::api::DatabricksIntegration {
    let start = Instant::now();
    loop {
        let dbi = api.get_opt(name).await.ok().flatten();
        if let Some(d) = dbi.as_ref().filter(|d| ok(d)) {
            return d.clone();
        }
        if start.elapsed() > timeout {
            let status = match &dbi {
                Some(d) => serde_json::to_string_pretty(&d.status).unwrap(),
                None => "(not found)".into(),
            };
            panic!(
                "{name}: not {what} after {timeout:?}; status: {status}\noperator log tail:\n{}",
                log_tail()
            );
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The last 30 lines of an operator's log.
pub fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// What no status, event or log line may contain: the simulator's credentials, and the prefixes
/// of what it issues (OAuth access tokens start `dsim-oauth-`; JWT assertions start `eyJ`).
pub fn secret_markers() -> Vec<String> {
    use databricks_sim::{ADMIN_TOKEN, SP_CLIENT_SECRET, SP_TOKEN};
    [
        SP_TOKEN,
        SP_CLIENT_SECRET,
        ADMIN_TOKEN,
        "dsim-oauth-",
        "eyJ",
    ]
    .map(String::from)
    .to_vec()
}

/// The shared control plane, started on first use, with the project's CRD installed.
pub fn control_plane() -> &'static ControlPlane {
    CONTROL_PLANE.get_or_init(start)
}

// Long: starting the control plane and installing the CRD are one ordered sequence.
fn start() -> ControlPlane {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("uc-operator-cp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let script = repo().join("hack/control-plane.sh");
    // Stop both servers and remove the data dir when this test process goes away, however it
    // ends (statics are never dropped). The watchdog outlives us on purpose: no wait().
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; '{script}' stop '{dir}'",
            me = std::process::id(),
            script = script.display(),
            dir = dir.display(),
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the watchdog");
    let out = Command::new(&script)
        .arg("start")
        .arg(&dir)
        .output()
        .expect("run hack/control-plane.sh");
    assert_success(&out, "hack/control-plane.sh start");
    let kubeconfig = dir.join("kubeconfig");
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let server = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: "))
        .unwrap()
        .to_string();
    let cp = ControlPlane {
        dir,
        kubeconfig,
        server,
    };
    let out = cp.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=uc-operator-tests",
        "-f",
        repo().join("crds").to_str().unwrap(),
    ]);
    assert_success(&out, "install the CRD");
    let out = cp.kubectl(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/databricksintegrations.uc-operator.dev",
    ]);
    assert_success(&out, "CRD established");
    eprintln!(
        "control plane ready at {} in {:.1}s ({})",
        cp.server,
        started.elapsed().as_secs_f64(),
        cp.dir.display()
    );
    cp
}

pub fn assert_success(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl ControlPlane {
    /// A kubeconfig whose requests the API server authorizes as `user` (admin impersonation).
    pub fn kubeconfig_as(&self, user: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.kubeconfig).unwrap();
        let path = self
            .dir
            .join(format!("kubeconfig-as-{}", user.replace(':', "-")));
        let token_line = text
            .lines()
            .find(|l| l.trim_start().starts_with("token: "))
            .unwrap();
        let text = text.replace(token_line, &format!("{token_line}\n    as: {user}"));
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs the real kubectl against this control plane.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new(tool("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .output()
            .expect("run kubectl")
    }

    /// Runs kubectl with `stdin` as its standard input.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(tool("kubectl"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Runs the real helm against this control plane.
    pub fn helm(&self, args: &[&str]) -> Output {
        Command::new(tool("helm"))
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .env("HELM_CACHE_HOME", self.dir.join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir.join("helm/config"))
            .env("HELM_DATA_HOME", self.dir.join("helm/data"))
            .output()
            .expect("run helm")
    }

    /// A fresh namespace for one test.
    pub fn namespace(&self, prefix: &str) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let ns = format!("{prefix}-{}", N.fetch_add(1, Ordering::SeqCst));
        assert_success(
            &self.kubectl(&["create", "namespace", &ns]),
            "create namespace",
        );
        ns
    }

    /// The API server as a workload identity issuer: its issuer URL (`--service-account-issuer`
    /// in hack/control-plane.sh) and the PEM that trusts its certificate. Its discovery document
    /// and keys are made readable without credentials, as a public issuer's are (the binding
    /// the Kubernetes docs give for that), so the simulator fetches them as Databricks would.
    pub fn public_issuer(&self) -> (String, String) {
        static BOUND: OnceLock<()> = OnceLock::new();
        BOUND.get_or_init(|| {
            let binding = r#"{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": {"name": "uc-operator-tests-public-issuer"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:service-account-issuer-discovery"},
                "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:unauthenticated"}]}"#;
            let out = self.kubectl_stdin(&["apply", "-f", "-"], binding);
            assert_success(&out, "bind issuer discovery to system:unauthenticated");
        });
        let ca = std::fs::read_to_string(self.dir.join("pki/apiserver.crt")).unwrap();
        (format!("{}/", self.server), ca)
    }

    /// A kube client with admin rights.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig).unwrap();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
            .await
            .unwrap();
        kube::Client::try_from(config).unwrap()
    }
}

/// Reads a file of the repository.
pub fn read(path: impl AsRef<Path>) -> String {
    std::fs::read_to_string(repo().join(path.as_ref()))
        .unwrap_or_else(|e| panic!("read {}: {e}", path.as_ref().display()))
}

fn log_level(default: &str) -> String {
    std::env::var("UC_TEST_OPERATOR_LOG").unwrap_or_else(|_| default.to_string())
}

/// Retry and poll timings short enough for tests.
pub const SHORT_TIMINGS: &[&str] = &[
    "--retry-base",
    "500ms",
    "--retry-max",
    "3s",
    "--manual-setup-poll",
    "1s",
    "--statement-poll",
    "50ms",
    "--request-retry-budget",
    "2s",
    // Tests ask for re-validations seconds apart; the once-a-minute rule is tested in-process.
    "--request-spacing",
    "1s",
];

/// A `uc-operator run` process watching one namespace; killed when dropped.
pub struct Operator {
    child: std::process::Child,
    pub log: PathBuf,
    pub metrics_port: u16,
    pub health_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

impl Operator {
    /// Starts the operator with short retry timings; `extra` adds flags.
    pub fn start(cp: &ControlPlane, namespace: &str, ca_bundle: &Path, extra: &[&str]) -> Operator {
        Self::start_with(cp, &cp.kubeconfig, namespace, ca_bundle, extra)
    }

    /// The operator's log filter: every line at every level, its dependencies' included, so the
    /// suite's secret scans (of logs, statuses, events and metrics) cover trace output too.
    /// `UC_TEST_OPERATOR_LOG` overrides it.
    const LOG: &str = "trace";

    /// Starts the operator with another kubeconfig (e.g. one impersonating a ServiceAccount).
    pub fn start_with(
        cp: &ControlPlane,
        kubeconfig: &Path,
        namespace: &str,
        ca_bundle: &Path,
        extra: &[&str],
    ) -> Operator {
        Self::start_timed(cp, kubeconfig, namespace, ca_bundle, SHORT_TIMINGS, extra)
    }

    /// Starts the operator with `timings` in place of [`SHORT_TIMINGS`] (each flag may be given
    /// once only).
    pub fn start_timed(
        cp: &ControlPlane,
        kubeconfig: &Path,
        namespace: &str,
        ca_bundle: &Path,
        timings: &[&str],
        extra: &[&str],
    ) -> Operator {
        Self::spawn(cp, kubeconfig, namespace, ca_bundle, timings, extra, &[])
    }

    /// Starts the operator as the chart runs it: as `kubeconfig`'s user, with `POD_NAMESPACE`
    /// (where its claims and records live) set to the release namespace.
    pub fn start_released(
        cp: &ControlPlane,
        kubeconfig: &Path,
        namespace: &str,
        ca_bundle: &Path,
        release_namespace: &str,
        extra: &[&str],
    ) -> Operator {
        let env = [("POD_NAMESPACE", release_namespace)];
        Self::spawn(
            cp,
            kubeconfig,
            namespace,
            ca_bundle,
            SHORT_TIMINGS,
            extra,
            &env,
        )
    }

    /// Starts the operator with its test hooks on (`UC_OPERATOR_TEST_HOOKS=1`: a reconcile
    /// panics on the `uc-operator.dev/test-panic` annotation).
    #[cfg_attr(not(feature = "test-hooks"), allow(dead_code))]
    pub fn start_hooked(
        cp: &ControlPlane,
        namespace: &str,
        ca_bundle: &Path,
        extra: &[&str],
    ) -> Operator {
        let kubeconfig = &cp.kubeconfig;
        Self::spawn(
            cp,
            kubeconfig,
            namespace,
            ca_bundle,
            SHORT_TIMINGS,
            extra,
            &[("UC_OPERATOR_TEST_HOOKS", "1")],
        )
    }

    fn spawn(
        cp: &ControlPlane,
        kubeconfig: &Path,
        namespace: &str,
        ca_bundle: &Path,
        timings: &[&str],
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Operator {
        static N: AtomicU32 = AtomicU32::new(0);
        let log = cp.dir.join(format!(
            "operator-{namespace}-{}.log",
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let (metrics_port, health_port) = (free_port(), free_port());
        // `UC_TEST_OPERATOR_BIN` runs another build (the release binary, to measure it).
        let binary = std::env::var("UC_TEST_OPERATOR_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_uc-operator").to_string());
        let mut command = Command::new(binary);
        command
            .arg("run")
            .args(["--namespace", namespace])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .args(["--health-addr", &format!("127.0.0.1:{health_port}")])
            .arg("--ca-bundle")
            .arg(ca_bundle)
            .args(["--log-format", "json"])
            .args(timings)
            // The simulator serves on localhost, which the default allow-list refuses.
            .args(["--allowed-hosts", "localhost"])
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env("RUST_LOG", log_level(Self::LOG))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::OpenOptions::new().append(true).open(&log).unwrap());
        command.envs(env.iter().copied());
        let child = command.spawn().expect("start uc-operator");
        Operator {
            child,
            log,
            metrics_port,
            health_port,
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as the kubelet sends, and waits (at most 10 s) for the exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(start.elapsed().as_secs() < 10, "no exit 10 s after SIGTERM");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// SIGKILL: no graceful shutdown, as when a node dies.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Operator {
    /// Waits up to `timeout` for the process to exit by itself; `None` if it is still running.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl ControlPlane {
    /// A copy of the admin kubeconfig that reaches the API server at `server` instead (a proxy).
    pub fn kubeconfig_via(&self, server: &str, name: &str) -> PathBuf {
        let text = std::fs::read_to_string(&self.kubeconfig).unwrap();
        let path = self.dir.join(format!("kubeconfig-via-{name}"));
        std::fs::write(&path, text.replace(&self.server, server)).unwrap();
        path
    }

    /// The API server's loopback port.
    pub fn port(&self) -> u16 {
        self.server.rsplit(':').next().unwrap().parse().unwrap()
    }
}
