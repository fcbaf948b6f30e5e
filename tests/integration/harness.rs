//! A real Kubernetes control plane for the tests: etcd and kube-apiserver (built by `make tools`)
//! on free loopback ports, started once per test binary and shared; each test works in namespaces
//! of its own. A watchdog process kills both servers and removes their data directory as soon as
//! the test process exits, however it exits (statics are never dropped in Rust).

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < timeout,
            "{what} not ready after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn http_ok(port: u16, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200") || buf.starts_with("HTTP/1.0 200")
}

/// The shared control plane, started on first use, with the project's CRD installed.
pub fn control_plane() -> &'static ControlPlane {
    CONTROL_PLANE.get_or_init(start)
}

fn start() -> ControlPlane {
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("uc-operator-cp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("pki")).unwrap();

    // Service-account signing key: the API server refuses to start without one.
    let sa = rcgen::KeyPair::generate().unwrap();
    std::fs::write(dir.join("sa.key"), sa.serialize_pem()).unwrap();
    std::fs::write(dir.join("sa.pub"), sa.public_key_pem()).unwrap();
    let token = format!("admin-{}", uuid_like());
    std::fs::write(
        dir.join("tokens.csv"),
        format!("{token},admin,admin,\"system:masters\"\n"),
    )
    .unwrap();

    let (etcd_port, peer_port, api_port) = (free_port(), free_port(), free_port());
    let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
    let etcd = Command::new(tool("etcd"))
        .args([
            "--data-dir",
            dir.join("etcd").to_str().unwrap(),
            "--listen-client-urls",
            &format!("http://127.0.0.1:{etcd_port}"),
            "--advertise-client-urls",
            &format!("http://127.0.0.1:{etcd_port}"),
            "--listen-peer-urls",
            &format!("http://127.0.0.1:{peer_port}"),
            "--initial-advertise-peer-urls",
            &format!("http://127.0.0.1:{peer_port}"),
            "--initial-cluster",
            &format!("default=http://127.0.0.1:{peer_port}"),
            "--unsafe-no-fsync=true",
        ])
        .stdout(log("etcd.log"))
        .stderr(log("etcd.log"))
        .spawn()
        .expect("start etcd");
    let d = dir.display().to_string();
    let apiserver = Command::new(tool("kube-apiserver"))
        .args([
            format!("--etcd-servers=http://127.0.0.1:{etcd_port}"),
            format!("--cert-dir={d}/pki"),
            format!("--secure-port={api_port}"),
            "--bind-address=127.0.0.1".into(),
            "--advertise-address=127.0.0.1".into(),
            "--service-cluster-ip-range=10.0.0.0/24".into(),
            "--allow-privileged=true".into(),
            "--disable-admission-plugins=ServiceAccount".into(),
            "--authorization-mode=RBAC".into(),
            format!("--token-auth-file={d}/tokens.csv"),
            format!("--service-account-issuer=https://127.0.0.1:{api_port}/"),
            format!("--service-account-key-file={d}/sa.pub"),
            format!("--service-account-signing-key-file={d}/sa.key"),
        ])
        .stdout(log("kube-apiserver.log"))
        .stderr(log("kube-apiserver.log"))
        .spawn()
        .expect("start kube-apiserver");

    // Kill both servers and remove the data dir when this test process goes away.
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; kill {a} {e} 2>/dev/null; sleep 1; kill -9 {a} {e} 2>/dev/null; rm -rf '{d}'",
            me = std::process::id(),
            a = apiserver.id(),
            e = etcd.id(),
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the watchdog");

    wait_until("etcd", Duration::from_secs(30), || {
        http_ok(etcd_port, "/health")
    });
    let server = format!("https://127.0.0.1:{api_port}");
    let kubeconfig = dir.join("kubeconfig");
    let ca = dir.join("pki/apiserver.crt");
    wait_until("kube-apiserver certificate", Duration::from_secs(60), || {
        ca.exists()
    });
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {server}\n    certificate-authority: {ca}\nusers:\n- name: admin\n  user:\n    token: {token}\ncontexts:\n- name: local\n  context:\n    cluster: local\n    user: admin\n    namespace: default\ncurrent-context: local\n",
            ca = ca.display()
        ),
    )
    .unwrap();
    let cp = ControlPlane {
        dir,
        kubeconfig,
        server,
    };
    wait_until("kube-apiserver /readyz", Duration::from_secs(90), || {
        cp.kubectl(&["get", "--raw", "/readyz"]).status.success()
    });
    // The default namespace and RBAC bootstrap roles come from post-start hooks; wait for them.
    wait_until("default namespace", Duration::from_secs(60), || {
        cp.kubectl(&["get", "namespace", "default"])
            .status
            .success()
    });
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

fn uuid_like() -> String {
    format!(
        "{:x}{:x}",
        std::process::id(),
        Instant::now().elapsed().as_nanos() ^ 0x5eed
    )
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
        assert_success(&self.kubectl(&["create", "namespace", &ns]), "create namespace");
        ns
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
