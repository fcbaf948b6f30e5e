//! Leader election under faults: a leader that loses its Lease (taken over by hand, or its API
//! server unreachable) stops all work at once, in-flight Databricks requests included; a standby
//! reports ready. Real API server, real `uc-operator run` processes, the simulator behind a TCP
//! proxy that shows what the operator still sends.

use std::path::Path;
use std::time::{Duration, Instant};

use databricks_sim::{FaultKind, FaultRule, SP_TOKEN, Scenario, Simulator};

use crate::support::harness::{
    ControlPlane, Operator, SHORT_TIMINGS, apply_secret, assert_success, control_plane,
};
use crate::support::manifests::{in_namespace, integration};
use crate::support::proxy::TcpProxy;

/// Short, so the tests are quick; the leader's renew deadline is two thirds of it.
const LEASE_SECS: u64 = 6;

/// Polls `ok` every 100 ms for at most `timeout` (generous: nothing here asserts on time).
async fn wait_until(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "{what}: not after {timeout:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn flags(ns: &str) -> Vec<String> {
    [
        "--leader-elect",
        "--leader-elect-namespace",
        ns,
        "--lease-duration",
        &LEASE_SECS.to_string(),
    ]
    .map(String::from)
    .to_vec()
}

/// The harness's timings, except that one Databricks request may keep retrying for ten minutes:
/// a reconcile stuck on a request that never answers then lasts that long.
fn patient() -> Vec<&'static str> {
    let mut timings = SHORT_TIMINGS.to_vec();
    let budget = timings
        .iter()
        .position(|f| *f == "--request-retry-budget")
        .expect("the harness sets a retry budget");
    timings[budget + 1] = "10m";
    timings
}

fn start(cp: &ControlPlane, kubeconfig: &Path, ns: &str, ca: &Path) -> Operator {
    let flags = flags(ns);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    Operator::start_timed(cp, kubeconfig, ns, ca, &patient(), &flags)
}

fn leading(op: &Operator) -> bool {
    op.logs().contains("\"leading\"")
}

async fn readyz(op: &Operator) -> (u16, String) {
    // reqwest is built without a default TLS provider; plain HTTP still needs one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("http://127.0.0.1:{}/readyz", op.health_port);
    match reqwest::get(&url).await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(_) => (0, String::new()), // not serving yet
    }
}

/// The simulator's `main` workspace, reached only through a proxy the test watches.
struct Workspace {
    cp: &'static ControlPlane,
    ns: String,
    sim: Simulator,
    proxy: TcpProxy,
}

impl Workspace {
    async fn new(prefix: &str) -> Workspace {
        let cp = control_plane();
        let ns = cp.namespace(prefix);
        let sim = Simulator::start(Scenario::default_for_tests())
            .await
            .expect("start the simulator");
        let proxy = TcpProxy::start(sim.workspace("main").port).await;
        apply_secret(&cp.client().await, &ns, "sp-token", "token", SP_TOKEN).await;
        Workspace { cp, ns, sim, proxy }
    }

    fn apply(&self) {
        let host = format!("localhost:{}", self.proxy.port);
        let manifest = in_namespace(integration("led", &host, "led_catalog"), &self.ns);
        let out = self.cp.kubectl_stdin(
            &["apply", "--server-side", "--field-manager=tests", "-f", "-"],
            &manifest.to_string(),
        );
        assert_success(&out, "apply the integration");
    }

    /// Gets `op` leading and into a reconcile stuck on a Databricks request: the workspace
    /// accepts it and answers nothing for ten minutes (the operator gives one attempt 60 s, then
    /// retries for up to ten minutes), so a graceful stop, which waits for it, would take that long.
    async fn busy(&self, op: &Operator) {
        self.sim.inject(
            "main",
            FaultRule::new("", FaultKind::Latency { millis: 600_000 }),
        );
        self.apply();
        let proxy = &self.proxy;
        wait_until(
            "a Databricks request in flight",
            Duration::from_secs(90),
            || proxy.bytes_sent() > 0 && proxy.open_connections() > 0,
        )
        .await;
        assert!(leading(op), "reconciled without leading");
        assert_eq!(self.sim.requests().len(), 0, "a request was answered");
    }

    /// The old leader exited (1) and sends nothing any more: its connections to the workspace are
    /// closed and, over a whole Lease duration after the exit, no byte and no request arrives.
    async fn assert_stopped(&self, op: &mut Operator) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = op.wait_exit(Duration::ZERO) {
                break status;
            }
            // Far beyond the renew deadline, and short of the stuck request's first 60 s: a
            // graceful stop, which waits for the reconcile, does not pass.
            assert!(
                start.elapsed() < Duration::from_secs(40),
                "the old leader is still running:\n{}",
                op.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(status.code(), Some(1), "{}", op.logs());
        assert!(op.logs().contains("lost the leader Lease"), "{}", op.logs());
        let proxy = &self.proxy;
        wait_until(
            "the old leader's connections closed",
            Duration::from_secs(30),
            || proxy.open_connections() == 0,
        )
        .await;
        let (sent, requests) = (proxy.bytes_sent(), self.sim.requests().len());
        tokio::time::sleep(Duration::from_secs(LEASE_SECS)).await;
        assert_eq!(proxy.bytes_sent(), sent, "bytes sent after the exit");
        assert_eq!(
            self.sim.requests().len(),
            requests,
            "requests after the exit"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_whose_lease_is_taken_over_stops_all_work() {
    let ws = Workspace::new("lease-taken").await;
    let mut op = start(ws.cp, &ws.cp.kubeconfig, &ws.ns, &ws.sim.ca_path());
    ws.busy(&op).await;
    let out = ws.cp.kubectl(&[
        "patch",
        "lease",
        "uc-operator",
        "-n",
        &ws.ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"holderIdentity":"taken-by-hand"}}"#,
    ]);
    assert_success(&out, "take the Lease over");
    ws.assert_stopped(&mut op).await;
    assert!(
        op.logs().contains("taken-by-hand"),
        "the log names the holder"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_server_stops_all_work() {
    let ws = Workspace::new("lease-cut").await;
    let api = TcpProxy::start(ws.cp.port()).await;
    let kubeconfig = ws
        .cp
        .kubeconfig_via(&format!("https://127.0.0.1:{}", api.port), &ws.ns);
    let mut op = start(ws.cp, &kubeconfig, &ws.ns, &ws.sim.ca_path());
    ws.busy(&op).await;
    api.cut();
    ws.assert_stopped(&mut op).await;
    assert!(
        op.logs().contains("not renewed within the renew deadline"),
        "{}",
        op.logs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_is_ready_and_takes_over_at_once_when_the_leader_stops() {
    let cp = control_plane();
    let ns = cp.namespace("standby");
    // Any PEM certificate will do: nothing here talks to Databricks.
    let ca = cp.dir.join("pki/apiserver.crt");
    let mut a = start(cp, &cp.kubeconfig, &ns, &ca);
    wait_until("the first replica leads", Duration::from_secs(60), || {
        leading(&a)
    })
    .await;
    let b = start(cp, &cp.kubeconfig, &ns, &ca);
    let start = Instant::now();
    let (status, body) = loop {
        let answer = readyz(&b).await;
        if answer.0 == 200 {
            break answer;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "standby never ready: {answer:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(status, 200);
    assert!(body.contains("standby"), "{body}");
    assert!(!leading(&b), "both replicas lead");
    assert_eq!(readyz(&a).await, (200, "ok".to_string()));

    // A graceful stop releases the Lease (no holder), so the standby may take it at once.
    assert!(a.terminate().success(), "{}", a.logs());
    assert!(
        a.logs().contains("released the leader Lease"),
        "{}",
        a.logs()
    );
    wait_until("the standby leads", Duration::from_secs(60), || leading(&b)).await;
    let start = Instant::now();
    while readyz(&b).await != (200, "ok".to_string()) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the new leader never synced"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
