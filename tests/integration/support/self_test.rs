//! The harness's own control plane, checked: kube-controller-manager runs beside the API server, so owner
//! references are garbage-collected and deleted namespaces finish terminating, as in a cluster.

use serde_json::json;

use super::harness::{ControlPlane, assert_success, control_plane};
use super::manifests;

fn apply(cp: &ControlPlane, manifest: &serde_json::Value) {
    let out = cp.kubectl_stdin(
        &["apply", "--server-side", "--field-manager=tests", "-f", "-"],
        &manifest.to_string(),
    );
    assert_success(&out, "kubectl apply");
}

fn exists(cp: &ControlPlane, args: &[&str]) -> bool {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    cp.kubectl(&all).status.success()
}

/// `kubectl wait --for=delete`: a generous timeout, and the wait ends as soon as the object is gone.
fn wait_deleted(cp: &ControlPlane, args: &[&str]) {
    let mut all = vec!["wait", "--for=delete", "--timeout=120s"];
    all.extend_from_slice(args);
    assert_success(&cp.kubectl(&all), &format!("{args:?} deleted"));
}

fn integration(ns: &str, name: &str) -> serde_json::Value {
    let m = manifests::integration(name, "gc.cloud.databricks.com", "gc_catalog");
    manifests::in_namespace(m, ns)
}

fn config_map(ns: &str, name: &str, owner: Option<(&str, &str)>) -> serde_json::Value {
    let cm = manifests::config_map(name, json!({"setup.sql": "SELECT 1;"}));
    let cm = manifests::in_namespace(cm, ns);
    match owner {
        Some((owner, uid)) => manifests::owned_by(cm, owner, uid),
        None => cm,
    }
}

#[test]
fn a_config_map_owned_by_a_deleted_integration_is_garbage_collected() {
    let cp = control_plane();
    let ns = cp.namespace("gc");
    // No operator runs here: the resource has no finalizer and goes at once.
    apply(cp, &integration(&ns, "owner"));
    let out = cp.kubectl(&[
        "get",
        "dbi",
        "owner",
        "-n",
        &ns,
        "-o",
        "jsonpath={.metadata.uid}",
    ]);
    assert_success(&out, "owner uid");
    let uid = String::from_utf8(out.stdout).unwrap();
    apply(
        cp,
        &config_map(&ns, "owner-uc-setup", Some(("owner", &uid))),
    );
    apply(cp, &config_map(&ns, "unowned", None));

    assert_success(
        &cp.kubectl(&["delete", "dbi", "owner", "-n", &ns, "--wait=false"]),
        "delete the owner",
    );
    wait_deleted(cp, &["configmap", "owner-uc-setup", "-n", &ns]);
    assert!(
        exists(cp, &["configmap", "unowned", "-n", &ns]),
        "the collector removed an object nothing owned"
    );
}

#[test]
fn a_deleted_namespace_finishes_terminating() {
    let cp = control_plane();
    let empty = cp.namespace("ns-empty");
    let full = cp.namespace("ns-full");
    // The namespace controller has to empty it first, custom resources included.
    apply(cp, &integration(&full, "inside"));
    apply(cp, &config_map(&full, "inside", None));
    for ns in [&empty, &full] {
        assert_success(
            &cp.kubectl(&["delete", "namespace", ns, "--wait=false"]),
            "delete the namespace",
        );
    }
    for ns in [&empty, &full] {
        wait_deleted(cp, &["namespace", ns]);
        assert!(!exists(cp, &["namespace", ns]));
    }
}
