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

use crate::support::harness::Operator;
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
async fn deleting_the_whole_namespace_completes() {
    let mut t = Env::new("hostile-nsdel", Scenario::default_for_tests()).await;
    t.secret("sp-token", "token", SP_TOKEN).await;
    t.start(&[]);
    tear_down(&t, "teardown_cat").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_watched_namespace_completes_under_the_one_namespace_charts_rbac() {
    let mut t = Env::new("nsdel-one", Scenario::default_for_tests()).await;
    t.secret("sp-token", "token", SP_TOKEN).await;
    let ops = t.cp.namespace("nsdel-one-ops");
    let out = t.cp.helm(&[
        "install",
        "one",
        &format!("{}/charts/uc-operator", env!("CARGO_MANIFEST_DIR")),
        "--namespace",
        &ops,
        "--set=crds.install=false",
        &format!("--set=watchNamespace={}", t.ns),
    ]);
    crate::support::harness::assert_success(&out, "helm install");
    // Every call is authorized as the chart's ServiceAccount, with the chart's flags and its
    // POD_NAMESPACE (claims and records in the release namespace).
    let kubeconfig =
        t.cp.kubeconfig_as(&format!("system:serviceaccount:{ops}:one-uc-operator"));
    let binding = "one-uc-operator-watched";
    t.operator = Some(Operator::start_released(
        t.cp,
        &kubeconfig,
        &t.ns,
        &t.sim.ca_path(),
        &ops,
        &["--role-binding", binding],
    ));
    tear_down(&t, "one_ns_cat").await;
    // The namespace's RoleBinding went only when the operator let it go.
    assert!(
        t.logs().contains("released the RoleBinding"),
        "{}",
        t.log_tail()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uninstall_lets_the_watched_namespaces_role_binding_go_at_once() {
    let mut t = Env::new("unbind", Scenario::default_for_tests()).await;
    t.secret("sp-token", "token", SP_TOKEN).await;
    let ops = t.cp.namespace("unbind-ops");
    let out = t.cp.helm(&[
        "install",
        "un",
        &format!("{}/charts/uc-operator", env!("CARGO_MANIFEST_DIR")),
        "--namespace",
        &ops,
        "--set=crds.install=false",
        &format!("--set=watchNamespace={}", t.ns),
    ]);
    crate::support::harness::assert_success(&out, "helm install");
    let kubeconfig =
        t.cp.kubeconfig_as(&format!("system:serviceaccount:{ops}:un-uc-operator"));
    let binding = "un-uc-operator-watched";
    t.operator = Some(Operator::start_released(
        t.cp,
        &kubeconfig,
        &t.ns,
        &t.sim.ca_path(),
        &ops,
        &["--role-binding", binding],
    ));
    // An enabled resource (it carries the cleanup finalizer) stays; the namespace too.
    t.apply(&t.manifest_at("gov", &t.host("main"), "unbind_cat"))
        .await;
    t.wait_phase("gov", Phase::Enabled).await;
    let out = (t.cp).kubectl(&[
        "delete",
        "rolebinding",
        binding,
        "-n",
        &t.ns,
        "--wait=false",
    ]);
    crate::support::harness::assert_success(&out, "delete the RoleBinding");
    let start = Instant::now();
    loop {
        let out = (t.cp).kubectl(&[
            "get",
            "rolebinding",
            binding,
            "-n",
            &t.ns,
            "--ignore-not-found",
            "-o",
            "name",
        ]);
        if out.status.success() && out.stdout.is_empty() {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the RoleBinding is still held:\n{}",
            t.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        t.logs().contains("released the RoleBinding"),
        "{}",
        t.log_tail()
    );
    // The resource itself is untouched: still there, still waiting for its cleanup.
    assert!(!t.gone("gov").await);
}

/// Enables an integration for `catalog`, deletes its namespace and waits for the namespace to
/// be gone; then the catalog is dropped, or left in place and named in a Warning.
// Long: the teardown and both outcomes the contract allows.
async fn tear_down(t: &Env, catalog: &str) {
    t.apply(&t.manifest_at("gov", &t.host("main"), catalog))
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
    if t.sim.state().catalogs.contains_key(catalog) {
        // The credentials went first: the catalog stays, and a Warning says so. A terminating
        // namespace refuses new events, so it may only be in the operator's log.
        let said = |l: &&str| l.contains("CatalogNotDropped") && l.contains(catalog);
        let warning = events
            .lines()
            .find(said)
            .or_else(|| logs.lines().find(said));
        let warning = warning
            .unwrap_or_else(|| panic!("no CatalogNotDropped in events:\n{events}\nlog:\n{logs}"));
        assert!(
            warning.contains(&format!("DROP CATALOG `{catalog}` CASCADE")),
            "{warning}"
        );
        assert!(
            warning.contains("Warning") || warning.contains("WARN"),
            "{warning}"
        );
    } else {
        // The Secret outlived the resource: the cleanup ran as for any deletion.
        let dropped = |l: &str| l.contains("CatalogDropped") && l.contains(catalog);
        assert!(
            logs.lines().any(dropped) || events.lines().any(dropped),
            "{logs}"
        );
    }
    t.assert_no_secret_leaks(&events).await;
}
