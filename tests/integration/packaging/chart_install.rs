//! Real installs of the chart into the API server in both RBAC modes, side by side. No kubelet
//! runs, so pods never start: the tests assert on the objects and on what the API server
//! authorizes for the chart's ServiceAccount.

use serde_json::Value;

use super::chart::{CHART, stdout};
use crate::support::harness::{ControlPlane, assert_success, control_plane};

pub(crate) fn get(cp: &ControlPlane, args: &[&str]) -> Value {
    let mut all = vec!["get", "-o", "json"];
    all.extend_from_slice(args);
    let out = cp.kubectl(&all);
    assert_success(&out, &format!("kubectl get {args:?}"));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Installs the chart (the CRD is already installed by the harness, owned by it, so the chart's
/// copy stays off: Helm refuses to adopt an object another manager created).
pub(crate) fn install(cp: &ControlPlane, release: &str, namespace: &str, values: &[&str]) {
    let mut args = vec![
        "install",
        release,
        CHART,
        "--namespace",
        namespace,
        "--set=crds.install=false",
        "--set=image.tag=test",
    ];
    args.extend_from_slice(values);
    let out = cp.helm(&args);
    assert_success(&out, &format!("helm install {release}"));
}

/// `kubectl auth can-i` as the chart's ServiceAccount: the API server's own RBAC decision.
fn can_i(cp: &ControlPlane, sa: &str, sa_ns: &str, verb: &str, what: &str, ns: &str) -> bool {
    let user = format!("system:serviceaccount:{sa_ns}:{sa}");
    let scope = if ns == "*" {
        vec!["--all-namespaces"]
    } else {
        vec!["-n", ns]
    };
    let mut args = vec!["auth", "can-i", verb, what, "--as", &user];
    args.extend(scope);
    let out = cp.kubectl(&args);
    match stdout(&out).trim() {
        "yes" => true,
        "no" => false,
        other => panic!(
            "can-i {verb} {what}: {other} {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Asserts each `(verb, resource, namespace, allowed)` against the API server's RBAC decision.
fn assert_can(cp: &ControlPlane, sa: &str, sa_ns: &str, cases: &[(&str, &str, &str, bool)]) {
    for (verb, what, ns, allowed) in cases {
        assert_eq!(
            can_i(cp, sa, sa_ns, verb, what, ns),
            *allowed,
            "{sa} may {verb} {what} in {ns:?}"
        );
    }
}

/// A TokenRequest (`kubectl create token`) as the chart's ServiceAccount for a ServiceAccount
/// created in `tenant_ns`, with a Databricks audience: the token, or `None` when refused.
fn token_as(cp: &ControlPlane, sa: &str, sa_ns: &str, tenant_ns: &str) -> Option<String> {
    // Created as admin; ignore "already exists" on a second call.
    let _ = cp.kubectl(&["create", "serviceaccount", "tenant-sa", "-n", tenant_ns]);
    let user = format!("system:serviceaccount:{sa_ns}:{sa}");
    let out = cp.kubectl(&[
        "create",
        "token",
        "tenant-sa",
        "-n",
        tenant_ns,
        "--audience=databricks-federation",
        "--duration=10m",
        "--as",
        &user,
    ]);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("forbidden"), "{err}");
        return None;
    }
    let token = stdout(&out).trim().to_string();
    assert!(token.starts_with("eyJ"), "a JWT");
    Some(token)
}

fn rules(role: &Value) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for r in role["rules"].as_array().unwrap() {
        for g in r["apiGroups"].as_array().unwrap() {
            for res in r["resources"].as_array().unwrap() {
                let verbs = r["verbs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_string())
                    .collect();
                out.push((
                    g.as_str().unwrap().to_string(),
                    res.as_str().unwrap().to_string(),
                    verbs,
                ));
            }
        }
    }
    out
}

fn assert_locked_down(deployment: &Value) {
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let c = &pod["containers"][0];
    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], "http-health");
    let ports: Vec<i64> = c["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["containerPort"].as_i64().unwrap())
        .collect();
    assert_eq!(ports, [8080, 8081]);
    assert!(c["resources"]["requests"]["memory"].is_string());
    assert!(c["resources"]["limits"]["memory"].is_string());
}

/// The ClusterRole of namespaces read by name: `get` on exactly `names`, nothing else.
fn assert_namespaces_only(role: &Value, names: &[&str]) {
    assert_eq!(
        role["rules"],
        serde_json::json!([{
            "apiGroups": [""],
            "resources": ["namespaces"],
            "resourceNames": names,
            "verbs": ["get"],
        }])
    );
}

pub(crate) fn args_of(deployment: &Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
// Long: one install (slow) checked object by object, then what its RBAC allows.
fn cluster_wide_install_creates_a_cluster_role_with_least_privilege() {
    let cp = control_plane();
    let ns = cp.namespace("chart-cluster");
    let other = cp.namespace("chart-cluster-other");
    install(cp, "ucop", &ns, &[]);
    let full = "ucop-uc-operator";

    let deployment = get(cp, &["deployment", full, "-n", &ns]);
    assert_locked_down(&deployment);
    let args = args_of(&deployment);
    assert_eq!(args[0], "run");
    assert!(args.contains(&"--metrics-addr=0.0.0.0:8080".to_string()));
    assert!(args.contains(&"--health-addr=0.0.0.0:8081".to_string()));
    assert!(!args.iter().any(|a| a.starts_with("--namespace")));
    assert!(!args.contains(&"--leader-elect".to_string()), "one replica");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["serviceAccountName"],
        full
    );
    get(cp, &["serviceaccount", full, "-n", &ns]);
    let service = get(cp, &["service", &format!("{full}-metrics"), "-n", &ns]);
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);

    let cluster_name = format!("{ns}-{full}");
    let role = get(cp, &["clusterrole", &cluster_name]);
    let rules = rules(&role);
    let has = |group: &str, res: &str, verbs: &[&str]| {
        rules.iter().any(|(g, r, v)| {
            g == group
                && r == res
                && verbs.len() == v.len()
                && verbs.iter().all(|x| v.contains(&x.to_string()))
        })
    };
    let expected: &[(&str, &str, &[&str])] = &[
        (
            "uc-operator.dev",
            "databricksintegrations",
            &["get", "list", "watch", "patch"],
        ),
        (
            "uc-operator.dev",
            "databricksintegrations/status",
            &["get", "patch"],
        ),
        (
            "uc-operator.dev",
            "databricksintegrations/finalizers",
            &["update"],
        ),
        ("", "secrets", &["get", "list", "watch"]),
        // No delete: the setup ConfigMaps go with their owner (garbage collection).
        (
            "",
            "configmaps",
            &["get", "list", "watch", "create", "patch"],
        ),
        ("", "events", &["create", "patch"]),
        ("events.k8s.io", "events", &["create", "patch"]),
        // Workload identity: an opted-in ServiceAccount's label, and its short-lived tokens.
        ("", "serviceaccounts", &["get"]),
        ("", "serviceaccounts/token", &["create"]),
    ];
    for (group, resource, verbs) in expected {
        assert!(
            has(group, resource, verbs),
            "{group}/{resource} {verbs:?} in {rules:?}"
        );
    }
    assert_eq!(
        rules.len(),
        9,
        "no rule beyond the operator's needs: {rules:?}"
    );
    let namespaces = get(cp, &["clusterrole", &format!("{cluster_name}-namespaces")]);
    assert_namespaces_only(&namespaces, &["kube-system"]);
    let binding = get(cp, &["clusterrolebinding", &cluster_name]);
    assert_eq!(binding["subjects"][0]["name"], full);
    assert_eq!(binding["subjects"][0]["namespace"], ns.as_str());
    assert!(
        !cp.kubectl(&["get", "role", full, "-n", &ns])
            .status
            .success(),
        "cluster mode has no namespaced Role"
    );

    // What the API server allows the ServiceAccount, everywhere (Secrets are read only).
    let dbi = "databricksintegrations.uc-operator.dev";
    let status = "databricksintegrations.uc-operator.dev/status";
    assert_can(
        cp,
        full,
        &ns,
        &[
            ("get", "secrets", &other, true),
            ("watch", dbi, &other, true),
            ("patch", status, &other, true),
            ("create", "secrets", &other, false),
            ("delete", dbi, &other, false),
            ("update", dbi, &other, false),
            ("get", "pods", &other, false),
            ("delete", "configmaps", &other, false),
            ("list", "serviceaccounts", &other, false),
            ("create", "serviceaccounts", &other, false),
            // Namespaces: kube-system's UID (the installation identity), and no other.
            ("get", "namespaces/kube-system", &other, true),
            ("get", &format!("namespaces/{other}"), &other, false),
            ("list", "namespaces", &other, false),
        ],
    );
    // A real TokenRequest as the operator, for a tenant's ServiceAccount.
    assert!(token_as(cp, full, &ns, &other).is_some());

    let out = cp.helm(&["uninstall", "ucop", "--namespace", &ns]);
    assert_success(&out, "helm uninstall");
    assert!(
        !cp.kubectl(&["get", "clusterrole", &cluster_name])
            .status
            .success()
    );
}

#[test]
// Long: one install (slow) checked object by object, then what its RBAC allows.
fn namespaced_install_grants_rights_in_the_watched_namespace_only() {
    let cp = control_plane();
    let ns = cp.namespace("chart-ops");
    let watched = cp.namespace("chart-watched");
    let other = cp.namespace("chart-elsewhere");
    install(
        cp,
        "team",
        &ns,
        &[
            &format!("--set=watchNamespace={watched}"),
            "--set=replicas=2",
        ],
    );
    let full = "team-uc-operator";

    let deployment = get(cp, &["deployment", full, "-n", &ns]);
    assert_locked_down(&deployment);
    assert_eq!(deployment["spec"]["replicas"], 2);
    let args = args_of(&deployment);
    assert!(args.contains(&format!("--namespace={watched}")), "{args:?}");
    assert!(args.contains(&"--leader-elect".to_string()), "{args:?}");
    assert!(
        args.contains(&format!("--leader-elect-namespace={ns}")),
        "{args:?}"
    );
    assert!(
        args.contains(&format!("--leader-elect-lease={full}")),
        "{args:?}"
    );
    let pdb = get(cp, &["poddisruptionbudget", full, "-n", &ns]);
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);

    // Nothing in any other namespace: the rules are a ClusterRole granted by a RoleBinding in
    // the watched namespace (a namespace teardown deletes Roles), held by a finalizer the
    // operator removes; namespaces are read by name only.
    let role = get(cp, &["clusterrole", &format!("{ns}-{full}")]);
    let role_rules = rules(&role);
    assert_eq!(role_rules.len(), 10, "{role_rules:?}");
    let held = role["rules"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(held["resources"], serde_json::json!(["rolebindings"]));
    assert_eq!(
        held["resourceNames"],
        serde_json::json!([format!("{full}-watched")])
    );
    assert!(
        !cp.kubectl(&["get", "clusterrolebinding", &format!("{ns}-{full}")])
            .status
            .success(),
        "the rules are bound in the watched namespace only"
    );
    let binding = get(
        cp,
        &["rolebinding", &format!("{full}-watched"), "-n", &watched],
    );
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    assert_eq!(
        binding["metadata"]["finalizers"],
        serde_json::json!(["uc-operator.dev/rbac"])
    );
    assert!(
        args.contains(&format!("--role-binding={full}-watched")),
        "{args:?}"
    );
    let namespaces = get(cp, &["clusterrole", &format!("{ns}-{full}-namespaces")]);
    assert_namespaces_only(&namespaces, &["kube-system", watched.as_str()]);
    let lease_role = get(cp, &["role", &format!("{full}-leader-election"), "-n", &ns]);
    assert_eq!(
        lease_role["rules"][1]["resourceNames"],
        serde_json::json!([full])
    );

    // The API server's word: Secrets in the watched namespace only (not even its own), and
    // its own Lease and no other.
    let dbi = "databricksintegrations.uc-operator.dev";
    let own_lease = format!("leases.coordination.k8s.io/{full}");
    assert_can(
        cp,
        full,
        &ns,
        &[
            ("get", "secrets", &watched, true),
            ("list", dbi, &watched, true),
            ("get", "secrets", &other, false),
            ("list", "secrets", &other, false),
            ("get", "secrets", &ns, false),
            ("list", dbi, &other, false),
            ("list", "secrets", "*", false),
            ("update", &own_lease, &ns, true),
            ("create", "leases.coordination.k8s.io", &ns, true),
            (
                "update",
                "leases.coordination.k8s.io/someone-else",
                &ns,
                false,
            ),
            ("patch", &own_lease, &ns, false),
            ("update", &own_lease, &watched, false),
            ("get", "namespaces/kube-system", &ns, true),
            ("get", &format!("namespaces/{watched}"), &ns, true),
            ("get", &format!("namespaces/{other}"), &ns, false),
            (
                "patch",
                &format!("rolebindings.rbac.authorization.k8s.io/{full}-watched"),
                &watched,
                true,
            ),
            (
                "patch",
                "rolebindings.rbac.authorization.k8s.io/x",
                &watched,
                false,
            ),
            (
                "patch",
                &format!("rolebindings.rbac.authorization.k8s.io/{full}-watched"),
                &other,
                false,
            ),
        ],
    );
    assert!(token_as(cp, full, &ns, &watched).is_some());
    assert!(
        token_as(cp, full, &ns, &other).is_none(),
        "no tokens outside the watched namespace"
    );

    // And an actual read as the ServiceAccount is forbidden by the API server.
    cp.kubectl(&[
        "create",
        "secret",
        "generic",
        "private",
        "-n",
        &other,
        "--from-literal=k=v",
    ]);
    let out = cp.kubectl(&[
        "get",
        "secret",
        "private",
        "-n",
        &other,
        "--as",
        &format!("system:serviceaccount:{ns}:{full}"),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("forbidden"));
}

#[test]
fn two_releases_install_side_by_side() {
    let cp = control_plane();
    let a = cp.namespace("chart-side-a");
    let b = cp.namespace("chart-side-b");
    // The same release name in two namespaces, and a second release in the first.
    install(cp, "uc", &a, &[]);
    install(cp, "uc", &b, &[]);
    install(cp, "uc-two", &a, &["--set=replicas=3"]);
    for (ns, full) in [
        (&a, "uc-uc-operator"),
        (&b, "uc-uc-operator"),
        (&a, "uc-two-uc-operator"),
    ] {
        get(cp, &["deployment", full, "-n", ns]);
        get(cp, &["clusterrole", &format!("{ns}-{full}")]);
        let binding = get(cp, &["clusterrolebinding", &format!("{ns}-{full}")]);
        assert_eq!(binding["subjects"][0]["namespace"], ns.as_str());
    }
    // "uc" contains the chart name's prefix but not the chart name: both get the suffix.
    let lease_role = get(
        cp,
        &["role", "uc-two-uc-operator-leader-election", "-n", &a],
    );
    assert_eq!(
        lease_role["rules"][1]["resourceNames"],
        serde_json::json!(["uc-two-uc-operator"])
    );
}
