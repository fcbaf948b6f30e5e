//! The Helm chart: lint, the committed rendering, the CRD copy, its values and what the schema
//! refuses, a server-side dry run of every option, and the generated configuration reference.
//! Real installs are in `chart_install`, upgrades and drains in `rollout`.

mod reference;

use super::chart_install::args_of;
use crate::support::harness::{assert_success, control_plane, repo, tool};
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
            "--set=prometheusRule.enabled=true",
            "--set=kubeStateMetrics.enabled=true",
            "--set=grafanaDashboard.enabled=true",
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

pub(crate) fn stdout(out: &Output) -> String {
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
        "--set=kubeStateMetrics.enabled=true",
        "--set=grafanaDashboard.enabled=true",
    ]);
    assert_success(&out, "helm install --dry-run=server with every option");
    let text = stdout(&out);
    assert!(text.contains("kind: NetworkPolicy"));
    assert!(text.contains("--ca-bundle=/etc/uc-operator/ca/ca.crt"));
    assert!(text.contains("secretName: corporate-ca"));
    assert!(text.contains("@sha256:0123456789abcdef"));
    assert!(text.contains("maxUnavailable: 50%"));
}

/// The Deployment the chart renders with `values`.
fn deployment(values: &[&str]) -> Value {
    documents(&render(values))
        .into_iter()
        .find(|d| d["kind"] == "Deployment")
        .unwrap()
}

#[test]
fn operator_values_become_flags() {
    // Defaults: the binary's own host list and identity; a 5m reconcile deadline; concurrency
    // sized against the 256Mi memory limit.
    let args = args_of(&deployment(&[]));
    for flag in ["--reconcile-timeout=5m", "--concurrency=128"] {
        assert!(args.contains(&flag.to_string()), "{flag}: {args:?}");
    }
    for flag in [
        "--allowed-hosts",
        "--installation-id",
        "--workspace-concurrency",
    ] {
        assert!(
            !args.iter().any(|a| a.starts_with(flag)),
            "{flag}: {args:?}"
        );
    }
    // A smaller limit, fewer workers (96 MiB kept, then one per MiB; at least 8); no limit,
    // the binary's default.
    for (limit, flag) in [
        ("128Mi", Some("--concurrency=32")),
        ("200M", Some("--concurrency=94")),
        ("64Mi", Some("--concurrency=8")),
        ("null", None),
    ] {
        let set = format!("--set=resources.limits.memory={limit}");
        let args = args_of(&deployment(&[&set]));
        let got: Vec<_> = args
            .iter()
            .filter(|a| a.starts_with("--concurrency"))
            .collect();
        assert_eq!(got.first().map(|a| a.as_str()), flag, "{limit}: {args:?}");
    }
    let args = args_of(&deployment(&[
        "--set=workspaceConcurrency=2",
        "--set=allowedHosts={*.cloud.databricks.com,adb-1.2.azuredatabricks.net}",
        "--set=concurrency=64",
        "--set=reconcileTimeout=90s",
        "--set=installationId=prod-eu-1",
    ]));
    for flag in [
        "--allowed-hosts=*.cloud.databricks.com,adb-1.2.azuredatabricks.net",
        "--concurrency=64",
        "--workspace-concurrency=2",
        "--reconcile-timeout=90s",
        "--installation-id=prod-eu-1",
    ] {
        assert!(args.contains(&flag.to_string()), "{flag}: {args:?}");
    }
    // What the schema refuses, naming the value.
    for (bad, named) in [
        ("--set=concurrency=0", "concurrency"),
        ("--set=workspaceConcurrency=0", "workspaceConcurrency"),
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
    let strategy = |values: &[&str]| deployment(values)["spec"]["strategy"].clone();
    // Without leader election two pods would both reconcile: the old one stops first.
    assert_eq!(strategy(&[]), serde_json::json!({"type": "Recreate"}));
    let surge = serde_json::json!({
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    });
    assert_eq!(strategy(&["--set=leaderElection.enabled=true"]), surge);
    assert_eq!(strategy(&["--set=replicas=3"]), surge);
}

#[test]
fn kube_system_is_readable_only_while_the_installation_id_is_defaulted() {
    let reads_kube_system = |values: &[&str]| {
        documents(&render(values)).iter().any(|d| {
            d["kind"] == "ClusterRole"
                && d["rules"].as_array().unwrap().iter().any(|r| {
                    r["resources"] == serde_json::json!(["namespaces"])
                        && r["resourceNames"]
                            .as_array()
                            .is_some_and(|n| n.contains(&"kube-system".into()))
                })
        })
    };
    assert!(reads_kube_system(&[]));
    assert!(reads_kube_system(&["--set=watchNamespace=team-a"]));
    // Pinned, the operator reads no namespace: no grant.
    assert!(!reads_kube_system(&["--set=installationId=prod-eu-1"]));
    assert!(!reads_kube_system(&[
        "--set=watchNamespace=team-a",
        "--set=installationId=prod-eu-1"
    ]));
}
