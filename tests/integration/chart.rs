//! The Helm chart: lint, the committed rendering, the CRD copy, and real installs into the API
//! server in both RBAC modes (no kubelet runs, so pods never start: the tests assert on the
//! objects and on what the API server authorizes for the chart's ServiceAccount).

use crate::harness::{ControlPlane, assert_success, control_plane, repo, tool};
use serde_json::Value;
use std::process::{Command, Output};

pub(crate) const CHART: &str = "charts/uc-operator";
const CRD_COPY: &str = "charts/uc-operator/files/databricksintegrations.uc-operator.dev.yaml";

/// The committed renderings: (file, helm values).
const GOLDEN: &[(&str, &[&str])] = &[
    ("tests/golden/chart/default.yaml", &[]),
    (
        "tests/golden/chart/namespaced.yaml",
        &[
            "--set=watchNamespace=team-a",
            "--set=replicas=2",
            "--set=crds.install=false",
            "--set=networkPolicy.enabled=true",
            "--set=serviceMonitor.enabled=true",
            "--set=caBundle.configMap=corporate-ca",
            "--set=allowedHosts={*.cloud.databricks.com,*.azuredatabricks.net}",
            "--set=concurrency=32",
            "--set=reconcileTimeout=2m",
            "--set=installationId=prod-eu-1",
        ],
    ),
];

/// helm without a cluster (lint, template): its own homes so no user config leaks in.
fn helm(args: &[&str]) -> Output {
    let home = std::env::temp_dir().join(format!("uc-operator-helm-{}", std::process::id()));
    Command::new(tool("helm"))
        .args(args)
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .current_dir(repo())
        .output()
        .expect("run helm")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub(crate) fn render(values: &[&str]) -> String {
    let mut args = vec![
        "template",
        "uc-operator",
        CHART,
        "--namespace=uc-operator-system",
    ];
    args.extend_from_slice(values);
    let out = helm(&args);
    assert_success(&out, "helm template");
    stdout(&out)
}

pub(crate) fn documents(yaml: &str) -> Vec<Value> {
    use serde::Deserialize;
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde_json::to_value(serde_yaml::Value::deserialize(d).unwrap()).unwrap())
        .filter(|v: &Value| !v.is_null())
        .collect()
}

#[test]
fn helm_lint_is_clean() {
    for (_, values) in GOLDEN {
        let mut args = vec!["lint", CHART, "--strict"];
        args.extend_from_slice(values);
        let out = helm(&args);
        assert_success(&out, "helm lint");
        let text = stdout(&out);
        assert!(
            !text.contains("[WARNING]") && !text.contains("[ERROR]"),
            "{text}"
        );
    }
    // The schema refuses what the templates cannot honour.
    for bad in [
        "--set=logFormat=xml",
        "--set=watchNamespace=Not_A_Namespace",
        "--set=unknownValue=1",
    ] {
        let out = helm(&["lint", CHART, bad]);
        assert!(!out.status.success(), "{bad} passed lint");
    }
}

#[test]
fn committed_rendering_matches_the_chart() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (file, values) in GOLDEN {
        let rendered = render(values);
        let path = repo().join(file);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &rendered).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == rendered,
            "{file} is stale: run `UPDATE_GOLDEN=1 cargo test --test integration chart::` and review the diff"
        );
    }
}

#[test]
fn chart_crd_is_the_generated_crd() {
    let generated = uc_operator::api::crd_yaml();
    assert!(
        std::fs::read_to_string(repo().join(CRD_COPY)).unwrap_or_default() == generated,
        "{CRD_COPY} is stale: run `make crds`"
    );
    let rendered = render(&["--show-only=templates/crd.yaml"]);
    let mut crd = documents(&rendered).remove(0);
    let meta = crd["metadata"].as_object_mut().unwrap();
    let annotations = meta.remove("annotations").unwrap();
    assert_eq!(annotations["helm.sh/resource-policy"], "keep");
    let labels = meta.remove("labels").unwrap();
    assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm");
    // Apart from the annotation and labels, exactly the CRD the code generates.
    assert_eq!(
        crd,
        serde_json::to_value(uc_operator::api::crd()).unwrap(),
        "the chart's CRD differs from the generated one"
    );
    let off = render(&["--set=crds.install=false"]);
    assert!(!off.contains("kind: CustomResourceDefinition"));

    // The API server takes the chart's CRD as it is.
    let out = control_plane().kubectl_stdin(
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=uc-operator-chart-test",
            "--dry-run=server",
            "-f",
            "-",
        ],
        &rendered,
    );
    assert_success(&out, "server-side dry run of the chart's CRD");
}

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

pub(crate) fn args_of(deployment: &Value) -> Vec<String> {
    deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect()
}

#[test]
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
    assert!(has(
        "uc-operator.dev",
        "databricksintegrations",
        &["get", "list", "watch", "patch"]
    ));
    assert!(has(
        "uc-operator.dev",
        "databricksintegrations/status",
        &["get", "patch"]
    ));
    assert!(has(
        "uc-operator.dev",
        "databricksintegrations/finalizers",
        &["update"]
    ));
    assert!(has("", "secrets", &["get", "list", "watch"]));
    // No delete: the setup ConfigMaps go with their owner (garbage collection).
    assert!(has(
        "",
        "configmaps",
        &["get", "list", "watch", "create", "patch"]
    ));
    assert!(has("", "events", &["create", "patch"]));
    assert!(has("events.k8s.io", "events", &["create", "patch"]));
    assert_eq!(
        rules.len(),
        7,
        "no rule beyond the operator's needs: {rules:?}"
    );
    let binding = get(cp, &["clusterrolebinding", &cluster_name]);
    assert_eq!(binding["subjects"][0]["name"], full);
    assert_eq!(binding["subjects"][0]["namespace"], ns.as_str());
    assert!(
        !cp.kubectl(&["get", "role", full, "-n", &ns])
            .status
            .success(),
        "cluster mode has no namespaced Role"
    );

    // What the API server allows the ServiceAccount, everywhere.
    assert!(can_i(cp, full, &ns, "get", "secrets", &other));
    assert!(can_i(
        cp,
        full,
        &ns,
        "watch",
        "databricksintegrations.uc-operator.dev",
        &other
    ));
    assert!(can_i(
        cp,
        full,
        &ns,
        "patch",
        "databricksintegrations.uc-operator.dev/status",
        &other
    ));
    assert!(
        !can_i(cp, full, &ns, "create", "secrets", &other),
        "Secrets are read only"
    );
    assert!(!can_i(
        cp,
        full,
        &ns,
        "delete",
        "databricksintegrations.uc-operator.dev",
        &other
    ));
    assert!(!can_i(
        cp,
        full,
        &ns,
        "update",
        "databricksintegrations.uc-operator.dev",
        &other
    ));
    assert!(!can_i(cp, full, &ns, "get", "pods", &other));
    assert!(!can_i(cp, full, &ns, "delete", "configmaps", &other));

    let out = cp.helm(&["uninstall", "ucop", "--namespace", &ns]);
    assert_success(&out, "helm uninstall");
    assert!(
        !cp.kubectl(&["get", "clusterrole", &cluster_name])
            .status
            .success()
    );
}

#[test]
fn namespaced_install_uses_roles_only_and_cannot_read_other_namespaces() {
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

    // Roles only: nothing cluster-wide carries this release.
    let cluster_roles = get(
        cp,
        &["clusterrole", "-l", "app.kubernetes.io/instance=team"],
    );
    assert_eq!(cluster_roles["items"], serde_json::json!([]));
    let role = get(cp, &["role", full, "-n", &watched]);
    assert_eq!(rules(&role).len(), 7);
    get(cp, &["rolebinding", full, "-n", &watched]);
    let lease_role = get(cp, &["role", &format!("{full}-leader-election"), "-n", &ns]);
    assert_eq!(
        lease_role["rules"][1]["resourceNames"],
        serde_json::json!([full])
    );

    // The API server's word: Secrets in the watched namespace only.
    assert!(can_i(cp, full, &ns, "get", "secrets", &watched));
    assert!(can_i(
        cp,
        full,
        &ns,
        "list",
        "databricksintegrations.uc-operator.dev",
        &watched
    ));
    assert!(!can_i(cp, full, &ns, "get", "secrets", &other));
    assert!(!can_i(cp, full, &ns, "list", "secrets", &other));
    assert!(
        !can_i(cp, full, &ns, "get", "secrets", &ns),
        "not even its own namespace"
    );
    assert!(!can_i(
        cp,
        full,
        &ns,
        "list",
        "databricksintegrations.uc-operator.dev",
        &other
    ));
    assert!(!can_i(cp, full, &ns, "list", "secrets", "*"));
    // Its own Lease, and no other.
    assert!(can_i(
        cp,
        full,
        &ns,
        "update",
        &format!("leases.coordination.k8s.io/{full}"),
        &ns
    ));
    assert!(can_i(
        cp,
        full,
        &ns,
        "create",
        "leases.coordination.k8s.io",
        &ns
    ));
    assert!(!can_i(
        cp,
        full,
        &ns,
        "update",
        "leases.coordination.k8s.io/someone-else",
        &ns
    ));
    assert!(!can_i(
        cp,
        full,
        &ns,
        "update",
        &format!("leases.coordination.k8s.io/{full}"),
        &watched
    ));

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

#[test]
fn every_option_is_accepted_by_the_api_server() {
    let cp = control_plane();
    let ns = cp.namespace("chart-options");
    let out = cp.helm(&[
        "install",
        "opts",
        CHART,
        "--namespace",
        &ns,
        "--dry-run=server",
        "--set=crds.install=false",
        "--set=replicas=2",
        "--set=networkPolicy.enabled=true",
        "--set=networkPolicy.apiServer.cidrs={10.0.0.1/32}",
        "--set=caBundle.secret=corporate-ca",
        "--set=watchNamespace=somewhere",
        "--set=logFormat=text",
        "--set=image.digest=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "--set=allowedHosts={*}",
        "--set=concurrency=4",
        "--set=reconcileTimeout=90s",
        "--set=installationId=dr-test",
        "--set=podDisruptionBudget.maxUnavailable=50%",
    ]);
    assert_success(&out, "helm install --dry-run=server with every option");
    let text = stdout(&out);
    assert!(text.contains("kind: NetworkPolicy"));
    assert!(text.contains("--ca-bundle=/etc/uc-operator/ca/ca.crt"));
    assert!(text.contains("secretName: corporate-ca"));
    assert!(text.contains("@sha256:0123456789abcdef"));
    assert!(text.contains("maxUnavailable: 50%"));
}

#[test]
fn operator_values_become_flags() {
    let deployment = |values: &[&str]| {
        documents(&render(values))
            .into_iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap()
    };
    // Defaults: the binary's own host list, concurrency and identity; a 5m reconcile deadline.
    let args = args_of(&deployment(&[]));
    assert!(
        args.contains(&"--reconcile-timeout=5m".to_string()),
        "{args:?}"
    );
    for flag in ["--allowed-hosts", "--concurrency", "--installation-id"] {
        assert!(
            !args.iter().any(|a| a.starts_with(flag)),
            "{flag}: {args:?}"
        );
    }
    let args = args_of(&deployment(&[
        "--set=allowedHosts={*.cloud.databricks.com,adb-1.2.azuredatabricks.net}",
        "--set=concurrency=64",
        "--set=reconcileTimeout=90s",
        "--set=installationId=prod-eu-1",
    ]));
    for flag in [
        "--allowed-hosts=*.cloud.databricks.com,adb-1.2.azuredatabricks.net",
        "--concurrency=64",
        "--reconcile-timeout=90s",
        "--installation-id=prod-eu-1",
    ] {
        assert!(args.contains(&flag.to_string()), "{flag}: {args:?}");
    }
    // What the schema refuses, naming the value.
    for (bad, named) in [
        ("--set=concurrency=0", "concurrency"),
        ("--set=reconcileTimeout=5", "reconcileTimeout"),
        ("--set=reconcileTimeout=five minutes", "reconcileTimeout"),
        (
            "--set=allowedHosts={a.example.com b.example.com}",
            "allowedHosts",
        ),
        ("--set=installationId=two words", "installationId"),
        (
            "--set=podDisruptionBudget.maxUnavailable=0",
            "maxUnavailable",
        ),
    ] {
        let out = helm(&["template", "uc-operator", CHART, bad]);
        assert!(!out.status.success(), "{bad} was accepted");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(named), "{bad}: {err}");
    }
}

#[test]
fn the_update_strategy_never_runs_two_unelected_operators() {
    let strategy = |values: &[&str]| {
        documents(&render(values))
            .into_iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap()["spec"]["strategy"]
            .clone()
    };
    // Without leader election two pods would both reconcile: the old one stops first.
    assert_eq!(strategy(&[]), serde_json::json!({"type": "Recreate"}));
    let surge = serde_json::json!({
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    });
    assert_eq!(strategy(&["--set=leaderElection.enabled=true"]), surge);
    assert_eq!(strategy(&["--set=replicas=3"]), surge);
}

// ---------------------------------------------------------------------------------------------
// Docs: the configuration reference is generated from the CRD's OpenAPI schema.

const REFERENCE: &str = "docs/reference.md";

fn md(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

fn type_of(schema: &Value) -> String {
    if let Some(values) = schema["enum"].as_array() {
        let names: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect();
        return format!("enum: {}", names.join(", "));
    }
    match schema["type"].as_str() {
        Some("array") => format!("[]{}", type_of(&schema["items"])),
        Some(t) => t.to_string(),
        None if schema["x-kubernetes-preserve-unknown-fields"] == true => "any".into(),
        None => "object".into(),
    }
}

/// Every rule on a field: its own bounds and CEL messages, and the parent's rules aimed at it.
fn rules_of(schema: &Value, inherited: &[String]) -> String {
    let mut rules: Vec<String> = Vec::new();
    // Bounds may be serialized as floats (`65535.0`).
    let bound = |k: &str| schema[k].as_f64().map(|f| f as i64);
    match (bound("minLength"), bound("maxLength")) {
        (Some(a), Some(b)) => rules.push(format!("length {a}–{b}")),
        (None, Some(b)) => rules.push(format!("at most {b} characters")),
        _ => {}
    }
    match (bound("minimum"), bound("maximum")) {
        (Some(a), Some(b)) => rules.push(format!("{a}–{b}")),
        (Some(a), None) => rules.push(format!("at least {a}")),
        _ => {}
    }
    match (bound("minItems"), bound("maxItems")) {
        (Some(a), Some(b)) => rules.push(format!("{a}–{b} items")),
        (None, Some(b)) => rules.push(format!("at most {b} items")),
        _ => {}
    }
    for r in schema["x-kubernetes-validations"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if r["fieldPath"].is_null() {
            rules.push(r["message"].as_str().unwrap_or_default().to_string());
        }
    }
    rules.extend(inherited.iter().cloned());
    md(&rules.join("; "))
}

fn reference_rows(schema: &Value, prefix: &str, out: &mut Vec<String>) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    for (name, field) in props {
        let path = format!("{prefix}{name}");
        // Rules the parent states about this field (e.g. "required when ...").
        let aimed: Vec<String> = schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["fieldPath"].as_str() == Some(&format!(".{name}")))
            .filter_map(|r| r["message"].as_str().map(str::to_string))
            .collect();
        let default = match &field["default"] {
            Value::Null => String::new(),
            v => format!(
                "`{}`",
                v.as_str().map_or_else(|| v.to_string(), str::to_string)
            ),
        };
        out.push(format!(
            "| `{path}` | {} | {} | {default} | {} | {} |",
            type_of(field),
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                ""
            },
            md(field["description"].as_str().unwrap_or_default()),
            rules_of(field, &aimed),
        ));
        // Standard Kubernetes conditions are documented upstream.
        if name == "conditions" {
            continue;
        }
        if field["type"] == "array" {
            reference_rows(&field["items"], &format!("{path}[]."), out);
        } else {
            reference_rows(field, &format!("{path}."), out);
        }
    }
}

/// The reference page, from the CRD the code generates.
fn reference() -> String {
    let crd = serde_json::to_value(uc_operator::api::crd()).unwrap();
    let version = &crd["spec"]["versions"][0];
    let schema = &version["schema"]["openAPIV3Schema"];
    let header =
        "| Field | Type | Required | Default | Description | Rules |\n|---|---|---|---|---|---|";
    let mut text = format!(
        "# Configuration reference\n\n<!-- Generated from the CRD by `UPDATE_GOLDEN=1 cargo test --test integration chart::`; do not edit. -->\n\n\
         `{}/{}` `{}` (namespaced; short name `dbi`, category `uc-operator`).\n\n{}\n\n\
         Every rule below is enforced by the API server when the resource is applied.\n",
        crd["spec"]["group"].as_str().unwrap(),
        version["name"].as_str().unwrap(),
        crd["spec"]["names"]["kind"].as_str().unwrap(),
        md(schema["properties"]["spec"]["description"]
            .as_str()
            .unwrap_or_default()),
    );
    for section in ["spec", "status"] {
        let mut rows = Vec::new();
        reference_rows(
            &schema["properties"][section],
            &format!("{section}."),
            &mut rows,
        );
        let spec_rules = if section == "spec" {
            let rules = rules_of(&schema["properties"]["spec"], &[]);
            if rules.is_empty() {
                String::new()
            } else {
                format!("\nRules on the whole spec: {rules}.\n")
            }
        } else {
            "\nWritten by the operator only. `conditions` are standard `metav1.Condition`s (see [phases and conditions](phases-and-conditions.md)).\n".to_string()
        };
        text.push_str(&format!(
            "\n## {section}\n{spec_rules}\n{header}\n{}\n",
            rows.join("\n")
        ));
    }
    text
}

#[test]
fn configuration_reference_matches_the_crd() {
    let generated = reference();
    let path = repo().join(REFERENCE);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap_or_default() == generated,
        "{REFERENCE} is stale: run `UPDATE_GOLDEN=1 cargo test --test integration chart::`"
    );
}
