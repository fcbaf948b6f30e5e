//! `kubectl delete namespace` of a namespace holding an enabled integration and its Secret:
//! the namespace disappears; the catalog is dropped if the Secret outlived the resource, and
//! otherwise left in place with a `CatalogNotDropped` Warning naming it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use databricks_sim::{SP_TOKEN, Scenario};
use futures::StreamExt;
use k8s_openapi::api::events::v1::Event;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use uc_operator::api::Phase;

use crate::support::spawned::Env;

/// Every event of `ns` as JSON, captured by a watch (a deleted namespace's events vanish).
fn capture_events(
    client: kube::Client,
    ns: &str,
) -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let api: Api<Event> = Api::namespaced(client, ns);
    let s = seen.clone();
    let task = tokio::spawn(async move {
        let stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .applied_objects();
        let mut stream = std::pin::pin!(stream);
        while let Some(item) = stream.next().await {
            if let Ok(event) = item {
                s.lock()
                    .unwrap()
                    .push(serde_json::to_string(&event).unwrap());
            }
        }
    });
    (seen, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: the teardown and both outcomes the contract allows.
async fn deleting_the_whole_namespace_completes() {
    let mut t = Env::new("hostile-nsdel", Scenario::default_for_tests()).await;
    t.secret("sp-token", "token", SP_TOKEN).await;
    t.start(&[]);
    t.apply(&t.manifest_at("gov", &t.host("main"), "teardown_cat"))
        .await;
    t.wait_phase("gov", Phase::Enabled).await;
    let (events, task) = capture_events(t.client.clone(), &t.ns);

    let out =
        t.cp.kubectl(&["delete", "namespace", &t.ns, "--wait=false"]);
    crate::support::harness::assert_success(&out, "kubectl delete namespace");
    let start = Instant::now();
    loop {
        let out = t.cp.kubectl(&[
            "get",
            "namespace",
            &t.ns,
            "--ignore-not-found",
            "-o",
            "name",
        ]);
        if out.status.success() && out.stdout.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "namespace still there:\n{}",
            t.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    task.abort();
    let events = events.lock().unwrap().join("\n");
    let logs = t.logs();
    if t.sim.state().catalogs.contains_key("teardown_cat") {
        // The credentials went first: the catalog stays, and a Warning says so. A terminating
        // namespace refuses new events, so it may only be in the operator's log.
        let said = |l: &&str| l.contains("CatalogNotDropped") && l.contains("teardown_cat");
        let warning = events
            .lines()
            .find(said)
            .or_else(|| logs.lines().find(said));
        let warning = warning
            .unwrap_or_else(|| panic!("no CatalogNotDropped in events:\n{events}\nlog:\n{logs}"));
        assert!(
            warning.contains("DROP CATALOG `teardown_cat` CASCADE"),
            "{warning}"
        );
        assert!(
            warning.contains("Warning") || warning.contains("WARN"),
            "{warning}"
        );
    } else {
        // The Secret outlived the resource: the cleanup ran as for any deletion.
        let dropped = |l: &str| l.contains("CatalogDropped") && l.contains("teardown_cat");
        assert!(
            logs.lines().any(dropped) || events.lines().any(dropped),
            "{logs}"
        );
    }
    t.assert_no_secret_leaks(&events).await;
}
