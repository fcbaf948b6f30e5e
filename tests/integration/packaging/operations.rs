//! Operating the operator without reading logs: the chart's alerts (checked and unit-tested with
//! promtool, firing and resolving), its Grafana dashboard (every query parses as PromQL), and its
//! kube-state-metrics configuration run by the real kube-state-metrics against the API server.

mod kube_state_metrics;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::packaging::chart::{documents, render};
use crate::support::harness::{assert_success, repo};

/// promtool from PATH (`make deps` installs the Debian prometheus package).
pub(crate) fn promtool(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run promtool: `make deps` installs it")
}

/// A fresh directory for one test's files.
pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("uc-operator-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The rendered PrometheusRule's groups, as a Prometheus rules file.
pub(crate) fn rules_file(values: &[&str]) -> String {
    let mut args = vec![
        "--set=prometheusRule.enabled=true",
        "--show-only=templates/prometheusrule.yaml",
    ];
    args.extend_from_slice(values);
    let rule = documents(&render(&args)).remove(0);
    assert_eq!(rule["kind"], "PrometheusRule");
    serde_yaml::to_string(&serde_json::json!({"groups": rule["spec"]["groups"]})).unwrap()
}

/// Every alert: its annotations, and a section in the troubleshooting guide its runbook names.
#[test]
fn every_alert_has_a_runbook_section() {
    let rules: Value = serde_yaml::from_str(&rules_file(&[])).unwrap();
    let guide = std::fs::read_to_string(repo().join("docs/troubleshooting.md")).unwrap();
    let mut alerts = 0;
    for rule in rules["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap())
    {
        let name = rule["alert"].as_str().unwrap();
        alerts += 1;
        for key in ["summary", "description", "runbook_url"] {
            assert!(rule["annotations"][key].is_string(), "{name}: no {key}");
        }
        let url = rule["annotations"]["runbook_url"].as_str().unwrap();
        let anchor = url.split_once("docs/troubleshooting.md#").unwrap().1;
        assert_eq!(anchor, name.to_lowercase(), "{name}: {url}");
        assert!(
            guide.contains(&format!("\n### {name}\n")),
            "docs/troubleshooting.md has no section `### {name}`"
        );
    }
    assert_eq!(alerts, 8);
    // Off by default, and labelled for the Prometheus Operator's selector when asked.
    assert!(!render(&[]).contains("kind: PrometheusRule"));
    let labelled = render(&[
        "--set=prometheusRule.enabled=true",
        "--set=prometheusRule.labels.release=kube-prometheus-stack",
        "--show-only=templates/prometheusrule.yaml",
    ]);
    assert_eq!(
        documents(&labelled)[0]["metadata"]["labels"]["release"],
        "kube-prometheus-stack"
    );
}

#[test]
fn alerts_pass_promtool_and_fire_and_resolve() {
    let dir = scratch("alerts");
    std::fs::write(dir.join("rules.yaml"), rules_file(&[])).unwrap();
    let tests = repo().join("tests/fixtures/alerts/alerts.test.yaml");
    std::fs::copy(&tests, dir.join("alerts.test.yaml")).unwrap();
    assert_success(
        &promtool(&["check", "rules", "rules.yaml"], &dir),
        "promtool check rules",
    );
    assert_success(
        &promtool(&["test", "rules", "alerts.test.yaml"], &dir),
        "promtool test rules",
    );
}

#[test]
fn the_credential_warning_value_sets_the_flag_and_the_alert_threshold() {
    let rules = rules_file(&["--set=credentialWarning=36h"]);
    assert!(rules.contains("- time() < 129600"), "{rules}");
    let rules = rules_file(&[]);
    assert!(rules.contains("- time() < 1209600"), "{rules}");
    let deployment = render(&["--set=credentialWarning=3d"]);
    assert!(deployment.contains("--credential-warning=3d"));
}

/// The dashboard's ConfigMap and JSON, when the chart renders one with `values`.
fn dashboard(values: &[&str]) -> Option<(Value, Value)> {
    let cm = documents(&render(values)).into_iter().find(|d| {
        d["kind"] == "ConfigMap"
            && d["metadata"]["name"]
                .as_str()
                .unwrap()
                .ends_with("-dashboard")
    })?;
    let json: Value = serde_json::from_str(cm["data"]["uc-operator.json"].as_str().unwrap())
        .expect("the dashboard is well-formed JSON");
    Some((cm, json))
}

#[test]
fn dashboard_queries_parse_as_promql() {
    let (cm, dash) = dashboard(&["--set=grafanaDashboard.enabled=true"]).unwrap();
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    assert!(dash["uid"].is_string() && dash["title"].is_string());
    let panels = dash["panels"].as_array().unwrap();
    let mut rules = Vec::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap();
        assert!(panel["gridPos"]["w"].is_number(), "{title}: no gridPos");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        for (i, t) in targets.iter().enumerate() {
            // Grafana's template variable stands for a regular expression of namespaces.
            let expr = t["expr"].as_str().unwrap().replace("$namespace", ".*");
            rules.push(
                serde_json::json!({"record": format!("panel:{}:{i}", panel["id"]), "expr": expr}),
            );
        }
    }
    // What the issue asks to see, each in some panel.
    let exprs = serde_json::to_string(&rules).unwrap();
    for metric in [
        "uc_operator_integrations",
        "uc_operator_integration_phase",
        "uc_operator_integration_condition",
        "uc_operator_reconciles_total",
        "uc_operator_reconcile_duration_seconds_bucket",
        "uc_operator_databricks_requests_total",
        "uc_operator_integration_credential_expiry_timestamp_seconds",
        "uc_operator_leader",
    ] {
        assert!(exprs.contains(metric), "no panel shows {metric}");
    }
    let dir = scratch("dashboard");
    let file =
        serde_yaml::to_string(&serde_json::json!({"groups": [{"name": "panels", "rules": rules}]}))
            .unwrap();
    std::fs::write(dir.join("panels.yaml"), file).unwrap();
    assert_success(
        &promtool(&["check", "rules", "panels.yaml"], &dir),
        "promtool check rules over the dashboard's queries",
    );
    // Off by default; the sidecar's label is configurable.
    assert!(dashboard(&[]).is_none());
    let (cm, _) = dashboard(&[
        "--set=grafanaDashboard.enabled=true",
        "--set=grafanaDashboard.labels.grafana_dashboard=null",
        "--set=grafanaDashboard.labels.dashboards=uc",
    ])
    .unwrap();
    assert_eq!(cm["metadata"]["labels"]["dashboards"], "uc");
    assert!(cm["metadata"]["labels"]["grafana_dashboard"].is_null());
}

/// `kubectl explain dbi.status` describes every field: each property under `status` in the
/// generated schema has a description.
#[test]
fn every_status_field_is_described() {
    fn walk(path: &str, schema: &Value, missing: &mut Vec<String>) {
        if let Some(props) = schema["properties"].as_object() {
            for (name, prop) in props {
                let here = format!("{path}.{name}");
                let described = prop["description"]
                    .as_str()
                    .is_some_and(|d| !d.trim().is_empty());
                if !described {
                    missing.push(here.clone());
                }
                walk(&here, prop, missing);
            }
        }
        if schema["items"].is_object() {
            walk(&format!("{path}[]"), &schema["items"], missing);
        }
    }
    let crd = serde_json::to_value(uc_operator::api::crd()).unwrap();
    let status = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
    assert!(status.is_object());
    let mut missing = Vec::new();
    walk("status", status, &mut missing);
    assert!(missing.is_empty(), "no description: {missing:?}");
}

/// The default `kubectl get` shows that a resource is suspended.
#[test]
fn kubectl_get_shows_a_suspended_resource() {
    let cp = crate::support::harness::control_plane();
    let ns = cp.namespace("suspended");
    let manifest = crate::support::harness::read("examples/token.yaml");
    let suspended = manifest
        .replace("name: analytics\n", "name: paused\n")
        .replace(
            "catalog: governance_analytics",
            "catalog: governance_paused\n  suspend: true",
        );
    for m in [&manifest, &suspended] {
        assert_success(
            &cp.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], m),
            "apply",
        );
    }
    let out = cp.kubectl(&["get", "dbi", "-n", &ns]);
    assert_success(&out, "kubectl get dbi");
    let table = String::from_utf8(out.stdout).unwrap();
    let mut lines = table.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let column = header
        .iter()
        .position(|h| *h == "SUSPENDED")
        .expect("a SUSPENDED column");
    for line in lines {
        let cells: Vec<&str> = line.split_whitespace().collect();
        // Phase and Ready are empty without an operator: count from the end (Age is last).
        let suspended = cells[cells.len() - (header.len() - column)];
        let expected = if cells[0] == "paused" {
            "true"
        } else {
            "false"
        };
        assert_eq!(suspended, expected, "{table}");
    }
}
