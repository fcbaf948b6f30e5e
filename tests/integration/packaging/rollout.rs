//! Day-two operations on the chart against the real API server: `helm upgrade` of a
//! leader-elected release, and a node drain against the PodDisruptionBudget of two replicas.
//!
//! No kubelet and no scheduler run, so pods never start and `helm upgrade --wait` could never
//! succeed here: the tests assert on the objects `helm upgrade` leaves and on what the eviction
//! API (which enforces PodDisruptionBudgets) allows. That a standby pod reports ready, which the
//! rollout relies on, is shown with real processes in `leader::a_standby_is_ready_*`.

use serde_json::{Value, json};

use super::chart::CHART;
use super::chart_install::{args_of, get, install};
use crate::support::harness::{ControlPlane, assert_success, control_plane};

fn helm_status(cp: &ControlPlane, release: &str, ns: &str) -> Value {
    let out = cp.helm(&["status", release, "--namespace", ns, "-o", "json"]);
    assert_success(&out, "helm status");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn helm_upgrade_of_a_one_replica_leader_elected_release_completes() {
    let cp = control_plane();
    let ns = cp.namespace("upgrade");
    let values = ["--set=leaderElection.enabled=true", "--set=replicas=1"];
    install(cp, "roll", &ns, &values);
    let full = "roll-uc-operator";
    let before = get(cp, &["deployment", full, "-n", &ns]);

    // Without --wait (see the module comment): the upgrade itself must go through.
    let mut args = vec![
        "upgrade",
        "roll",
        CHART,
        "--namespace",
        &ns,
        "--set=crds.install=false",
        "--set=image.tag=next",
    ];
    args.extend_from_slice(&values);
    assert_success(&cp.helm(&args), "helm upgrade");
    let status = helm_status(cp, "roll", &ns);
    assert_eq!(status["info"]["status"], "deployed", "{status}");
    assert_eq!(status["version"], 2);

    let after = get(cp, &["deployment", full, "-n", &ns]);
    // The pod template changed, so the Deployment controller rolls out a new pod ...
    assert_ne!(
        before["spec"]["template"], after["spec"]["template"],
        "nothing to roll out"
    );
    let container = &after["spec"]["template"]["spec"]["containers"][0];
    assert!(container["image"].as_str().unwrap().ends_with(":next"));
    assert!(args_of(&after).contains(&"--leader-elect".to_string()));
    // ... beside the old one (surge 1), and removes the old one only once the new one is ready
    // (unavailable 0): the new pod must be ready while it waits for the Lease the old pod holds
    // until it is stopped. A standby's /readyz is 200, so this rollout completes; were it 503,
    // it would wait forever.
    assert_eq!(after["spec"]["replicas"], 1);
    assert_eq!(
        after["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}})
    );
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    // One replica: no budget that could hold a drain.
    assert!(
        !cp.kubectl(&["get", "pdb", full, "-n", &ns])
            .status
            .success()
    );
}

/// A pod as the Deployment's ReplicaSet would have made it, with `Ready` as a kubelet would set it.
fn pod(cp: &ControlPlane, ns: &str, name: &str, rs: &Value, ready: bool) {
    let labels = &rs["spec"]["selector"]["matchLabels"];
    let manifest = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": ns, "labels": labels,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "ReplicaSet", "controller": true,
                "name": rs["metadata"]["name"], "uid": rs["metadata"]["uid"],
            }],
        },
        "spec": {"containers": [{"name": "operator", "image": "uc-operator:test"}]},
    });
    let out = cp.kubectl_stdin(&["create", "-f", "-"], &manifest.to_string());
    assert_success(&out, "create a pod");
    let status = json!({"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": if ready { "True" } else { "False" }},
    ]}});
    let out = cp.kubectl(&[
        "patch",
        "pod",
        name,
        "-n",
        ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
    assert_success(&out, "set the pod's readiness");
}

/// The eviction API, as `kubectl drain` calls it: `Ok` when allowed, else the error kubectl
/// reports.
fn evict(cp: &ControlPlane, ns: &str, name: &str) -> Result<(), String> {
    let eviction = json!({
        "apiVersion": "policy/v1", "kind": "Eviction",
        "metadata": {"name": name, "namespace": ns},
    });
    let path = format!("/api/v1/namespaces/{ns}/pods/{name}/eviction");
    let out = cp.kubectl_stdin(
        &["create", "--raw", &path, "-f", "-"],
        &eviction.to_string(),
    );
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn a_drain_of_two_replicas_is_never_blocked_by_the_budget() {
    let cp = control_plane();
    let ns = cp.namespace("drain");
    install(cp, "drain", &ns, &["--set=replicas=2"]);
    let full = "drain-uc-operator";
    let pdb = get(cp, &["pdb", full, "-n", &ns]);
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);
    assert_eq!(pdb["spec"]["unhealthyPodEvictionPolicy"], "AlwaysAllow");

    // What the Deployment and ReplicaSet controllers (not running here) would have made: a
    // ReplicaSet of two owned by the Deployment, and its pods, leader and standby both ready.
    let deployment = get(cp, &["deployment", full, "-n", &ns]);
    let rs = json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {
            "name": format!("{full}-rs"), "namespace": ns,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "Deployment", "controller": true,
                "name": full, "uid": deployment["metadata"]["uid"],
            }],
        },
        "spec": {
            "replicas": 2,
            "selector": deployment["spec"]["selector"],
            "template": deployment["spec"]["template"],
        },
    });
    let out = cp.kubectl_stdin(&["create", "-f", "-"], &rs.to_string());
    assert_success(&out, "create the ReplicaSet");
    let rs = get(cp, &["replicaset", &format!("{full}-rs"), "-n", &ns]);
    pod(cp, &ns, "leader", &rs, true);
    pod(cp, &ns, "standby", &rs, true);
    let out = cp.kubectl(&[
        "wait",
        "pdb",
        full,
        "-n",
        &ns,
        "--for=jsonpath={.status.disruptionsAllowed}=1",
        "--timeout=120s",
    ]);
    assert_success(&out, "the disruption controller counts both pods healthy");

    // The drain moves one replica at a time: the first eviction goes, a second at once would
    // leave none, and waits (429) until the replacement is ready.
    assert_eq!(evict(cp, &ns, "standby"), Ok(()));
    let refused = evict(cp, &ns, "leader").unwrap_err();
    assert!(refused.contains("TooManyRequests"), "{refused}");
    assert!(refused.contains("disruption budget"), "{refused}");
    // A pod that is not ready (crash-looping, say) never holds a drain, budget or not.
    pod(cp, &ns, "broken", &rs, false);
    assert_eq!(evict(cp, &ns, "broken"), Ok(()));
}
