//! The Helm chart: lint, the committed rendering, the CRD copy, its values and what the schema
//! refuses, a server-side dry run of every option, and the generated configuration reference.
//! Real installs are in `chart_install`, upgrades and drains in `rollout`.

use crate::chart_install::args_of;
use crate::harness::{assert_success, control_plane, repo, tool};
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
