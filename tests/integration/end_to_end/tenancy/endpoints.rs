//! Hostile workspaces and token endpoints against the real binary: the process survives (same
//! pid), stays under the chart's memory limit, reports each resource, and a healthy tenant in
//! the same operator still reaches `enabled`. Also the reconcile deadline and a panicking reconcile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use databricks_sim::{
    FaultKind, FaultRule, SP_CLIENT_SECRET, SP_TOKEN, Scenario, WAREHOUSE_ID, WorkspaceSpec,
};
use serde_json::json;
use uc_operator::api::Phase;

use crate::support::hostile::{Hostile, Reply};
use crate::support::spawned::{Env, chart_memory_limit, peak_rss_bytes, rss_bytes};
use crate::support::status::{phase, ready};

/// Samples a process's VmRSS every 100 ms on a thread and keeps the highest value seen.
struct RssWatch {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl RssWatch {
    fn start(pid: u32) -> RssWatch {
        let (peak, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                // The process may be gone (the test then fails on the pid check).
                let Some(rss) = rss_bytes(pid) else { return };
                p.fetch_max(rss, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        RssWatch { peak, stop }
    }

    fn peak(&self) -> u64 {
        self.peak.load(Ordering::SeqCst)
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// A Databricks-shaped error reply.
fn error(status: u16, code: &str) -> Reply {
    Reply::json(status, json!({"error_code": code, "message": "hostile"}))
}

/// Three hostile workspaces: slow with an absurd Retry-After, one whose token endpoint hands out
/// an absurd lifetime, one streaming an endless body.
fn hostile_workspaces() -> (Hostile, Hostile, Hostile) {
    // Slow (over a second) and a Retry-After of u64::MAX seconds: `elapsed + wait` overflowed.
    let slow = Hostile::start(|_| {
        let reply =
            error(429, "REQUEST_LIMIT_EXCEEDED").with_header("retry-after", "18446744073709551615");
        Reply::Slow(Duration::from_millis(1200), Box::new(reply))
    });
    // A token lifetime of 10^19 s overflowed `Instant + Duration`; the workspace then refuses.
    let token = Hostile::start(|seen| {
        if seen.path == "/oidc/v1/token" {
            let body = json!({"access_token": "hostile-access-token", "token_type": "Bearer",
                "expires_in": 10_000_000_000_000_000_000u64});
            Reply::json(200, body)
        } else {
            error(403, "PERMISSION_DENIED")
        }
    });
    let endless = Hostile::start(|_| Reply::Endless { status: 200 });
    (slow, token, endless)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: four hostile tenants and a healthy one in one operator, each outcome pinned.
async fn hostile_endpoints_neither_crash_nor_exhaust_the_operator() {
    // Long: the four hostile tenants and the healthy one must share one operator process.
    let scenario = Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("pages", 7007).with_warehouse(WAREHOUSE_ID, "RUNNING"));
    let mut t = Env::new("hostile-ep", scenario).await;
    let (slow, token, endless) = hostile_workspaces();
    t.remember_secret("hostile-access-token");
    // The same page token forever, on the effective permissions the query-audit check reads
    // (the catalog check's own read only words a warning now: CREATE CATALOG is attempted).
    t.sim.inject(
        "pages",
        FaultRule {
            path_prefix: "/api/2.1/unity-catalog/effective-permissions".into(),
            method: Some("GET".into()),
            kind: FaultKind::Body {
                status: 200,
                retry_after: None,
                body: json!({"privilege_assignments": [], "next_page_token": "again"}),
            },
            times: None,
        },
    );
    t.trust(&[&slow, &token, &endless]);
    t.secret("sp-token", "token", SP_TOKEN).await;
    t.secret("sp-oauth", "clientSecret", SP_CLIENT_SECRET).await;
    t.start(&[]);

    let authority = format!("https://{}/oidc/v1/token", token.host());
    let pages = t.host("pages");
    let healthy = t.host("main");
    for manifest in [
        t.manifest_at("slow", &slow.host(), "slow_catalog"),
        t.oauth_manifest("token", &token.host(), Some(&authority)),
        t.manifest_at("endless", &endless.host(), "endless_catalog"),
        {
            let mut m = t.manifest_at("pages", &pages, "pages_catalog");
            m["spec"]["audit"] = json!({"enabled": true});
            m
        },
        t.manifest_at("healthy", &healthy, "healthy_catalog"),
    ] {
        t.apply(&manifest).await;
    }
    // The pid is looked up once the process is surely up (it has begun reconciling).
    let pid = t.pid();
    let rss = RssWatch::start(pid);

    t.wait_phase("healthy", Phase::Enabled).await;
    let expectations = [
        ("slow", "WorkspaceUnavailable", "HTTP 429"),
        ("token", "PermissionDenied", "PERMISSION_DENIED"),
        (
            "endless",
            "UnexpectedResponse",
            "is larger than 4194304 bytes",
        ),
        (
            "pages",
            "UnexpectedResponse",
            "the same page token came back",
        ),
    ];
    for (name, expected, problem) in expectations {
        let dbi = t.wait_phase(name, Phase::CreateError).await;
        let (reason, message) = ready(&dbi);
        assert_eq!(reason, expected, "{name}: {message}");
        assert!(message.contains(problem), "{name}: {message}");
    }
    assert!(
        token.count("/oidc/v1/token") >= 1,
        "the token endpoint was used"
    );
    assert!(token.count("/api/") >= 1, "the token was accepted and used");
    assert!(slow.count("") >= 2, "the slow workspace was retried");
    // Nothing of it stopped or restarted the process.
    assert!(t.running(), "{}", t.log_tail());
    assert_eq!(t.pid(), pid, "the operator restarted");
    let (peak, limit) = (rss.peak(), chart_memory_limit());
    assert!(
        peak > 0 && peak < limit,
        "peak RSS {peak} bytes, chart limit {limit}"
    );
    assert!(!t.logs().contains("panicked"), "a panic was logged");
    t.assert_no_secret_leaks("").await;
}

// The panic hook exists only with the `test-hooks` feature, which `make test` enables.
#[cfg(feature = "test-hooks")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_and_a_panic_fail_one_resource_not_the_process() {
    let mut t = Env::new("hostile-dl", Scenario::default_for_tests()).await;
    // Answers nothing for far longer than the deadline.
    let hang = Hostile::start(|_| {
        Reply::Slow(
            Duration::from_secs(20),
            Box::new(Reply::json(200, json!({}))),
        )
    });
    t.trust(&[&hang]);
    t.secret("sp-token", "token", SP_TOKEN).await;
    t.start_hooked(&["--reconcile-timeout", "2s"]);

    let mut panicking = t.manifest_at("boom", "localhost:9", "boom_catalog");
    panicking["metadata"]["annotations"] = json!({"uc-operator.dev/test-panic": "1"});
    let host = t.host("main");
    for manifest in [
        t.manifest_at("hang", &hang.host(), "hang_catalog"),
        panicking,
        t.manifest_at("healthy", &host, "healthy_catalog"),
    ] {
        t.apply(&manifest).await;
    }
    let pid = t.pid();
    let dbi = t
        .wait("hang", "timed out", Duration::from_secs(90), |d| {
            d.status.as_ref().is_some_and(|s| !s.conditions.is_empty())
                && ready(d).0 == "ReconcileTimeout"
        })
        .await;
    assert_eq!(phase(&dbi), Some(Phase::CreateError));
    assert!(
        ready(&dbi).1.contains("--reconcile-timeout (2s)"),
        "{:?}",
        ready(&dbi)
    );
    // Retried: a second reconcile sends its first request again.
    let first = hang.seen()[0].path.clone();
    t.wait("hang", "retried", Duration::from_secs(90), |_| {
        hang.count(&first) >= 2
    })
    .await;

    let boom = t
        .wait("boom", "panicked", Duration::from_secs(90), |d| {
            d.status.as_ref().is_some_and(|s| !s.conditions.is_empty())
                && ready(d).0 == "ReconcilePanicked"
        })
        .await;
    assert_eq!(phase(&boom), Some(Phase::CreateError));
    t.wait_phase("healthy", Phase::Enabled).await;
    assert!(t.running(), "{}", t.log_tail());
    assert_eq!(t.pid(), pid, "the operator restarted");
    t.assert_no_secret_leaks("").await;
}

/// A statement answer of `bytes` of empty rows (`[[],[],…]`): small on the wire per row, large
/// once decoded.
fn empty_rows(bytes: usize) -> FaultRule {
    let body = json!({"statement_id": "hostile", "status": {"state": "SUCCEEDED"},
        "manifest": {"schema": {"columns": [{"name": "1", "type_name": "INT"}]}},
        "result": {"data_array": "PAD"}});
    let kind = FaultKind::Padded {
        body,
        item: json!([]),
        bytes,
    };
    FaultRule {
        path_prefix: "/api/2.0/sql/statements".into(),
        method: Some("POST".into()),
        kind,
        times: None,
    }
}

/// A Unity Catalog page of `bytes` of minimal valid items (`[{"principal":"x"},…]`) on the
/// effective permissions the query-audit check reads (the resources enable audit).
fn minimal_items(bytes: usize) -> FaultRule {
    let kind = FaultKind::Padded {
        body: json!({"privilege_assignments": "PAD"}),
        item: json!({"principal": "x"}),
        bytes,
    };
    FaultRule {
        path_prefix: "/api/2.1/unity-catalog/effective-permissions".into(),
        method: Some("GET".into()),
        kind,
        times: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: seventeen hostile tenants and a healthy one in one operator, each outcome pinned.
async fn large_answers_from_many_workspaces_at_once_stay_within_the_memory_bound() {
    const MIB: usize = 1024 * 1024;
    let mut scenario = Scenario::default_for_tests();
    // name, the fault, and what the resource's failure must say.
    let mut hostile: Vec<(String, FaultRule, &str)> = Vec::new();
    for i in 0..8 {
        hostile.push((
            format!("rows-{i}"),
            empty_rows(8 * MIB),
            "is larger than 1048576 bytes",
        ));
    }
    for i in 0..4 {
        hostile.push((
            format!("pages-{i}"),
            minimal_items(16 * MIB),
            "is larger than 4194304 bytes",
        ));
        // Just under the cap: read whole, then counted while decoded.
        hostile.push((
            format!("items-{i}"),
            minimal_items(4 * MIB - 4096),
            "more than 10000 items",
        ));
    }
    for (i, (name, _, _)) in hostile.iter().enumerate() {
        let id = 8000 + i as i64;
        let ws = WorkspaceSpec::new(name, id).with_warehouse(WAREHOUSE_ID, "RUNNING");
        scenario = scenario.with_workspace(ws);
    }
    let mut t = Env::new("hostile-mem", scenario).await;
    for (name, rule, _) in &hostile {
        t.sim.inject(name, rule.clone());
    }
    let endless = Hostile::start(|_| Reply::Endless { status: 200 });
    t.trust(&[&endless]);
    t.secret("sp-token", "token", SP_TOKEN).await;
    t.start(&[]);

    for (name, _, _) in &hostile {
        let catalog = format!("{}_catalog", name.replace('-', "_"));
        let mut m = t.manifest_at(name, &t.host(name), &catalog);
        m["spec"]["audit"] = json!({"enabled": true});
        t.apply(&m).await;
    }
    t.apply(&t.manifest_at("endless", &endless.host(), "endless_catalog"))
        .await;
    t.apply(&t.manifest_at("healthy", &t.host("main"), "healthy_catalog"))
        .await;
    let pid = t.pid();

    t.wait_phase("healthy", Phase::Enabled).await;
    hostile.push((
        "endless".into(),
        FaultRule::new("/", FaultKind::DropConnection),
        "is larger than 4194304 bytes",
    ));
    for (name, _, problem) in &hostile {
        // On a loaded machine a first attempt may time out instead; the retry names the answer.
        let named = |d: &uc_operator::api::DatabricksIntegration| {
            phase(d) == Some(Phase::CreateError) && {
                let (reason, message) = ready(d);
                reason == "UnexpectedResponse" && message.contains(problem)
            }
        };
        t.wait(name, problem, Duration::from_secs(180), named).await;
    }
    assert!(t.running(), "{}", t.log_tail());
    assert_eq!(t.pid(), pid, "the operator restarted");
    // The debug binary's high-water mark (the release binary's is lower: docs/performance.md).
    let peak = peak_rss_bytes(pid).expect("the operator is running");
    assert!(
        peak > 0 && peak < 128 * MIB as u64,
        "peak RSS {} MiB",
        peak / MIB as u64
    );
    eprintln!(
        "peak RSS with 17 hostile workspaces: {} MiB",
        peak / MIB as u64
    );
}
