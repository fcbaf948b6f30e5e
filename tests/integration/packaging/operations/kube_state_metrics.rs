//! The real kube-state-metrics (built by `make tools`) with the chart's custom-resource-state
//! configuration, against the real API server: a failing integration's phase, conditions and
//! credential expiry come out labelled with its namespace and name, and the chart's alert over
//! those very series fires in `promtool test rules`.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{promtool, rules_file, scratch};
use crate::packaging::chart::{documents, render};
use crate::support::harness::{assert_success, control_plane, tool};

/// Killed when the test ends, passing or not.
struct Ksm(Child);

impl Drop for Ksm {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `GET /metrics` over plain HTTP/1.0 (kube-state-metrics' text exposition).
fn scrape(port: u16) -> Option<String> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body.split_once("\r\n\r\n")?.1.to_string())
}

const STATUS: &str = r#"{"status": {
  "phase": "createError",
  "observedGeneration": 1,
  "revalidationIntervalSeconds": 3600,
  "lastValidationTime": "2026-01-01T00:00:00Z",
  "conditions": [
    {"type": "Ready", "status": "False", "reason": "AuthenticationFailed", "message": "the workspace refused the token", "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1},
    {"type": "Stalled", "status": "True", "reason": "AuthenticationFailed", "message": "the workspace refused the token", "lastTransitionTime": "2026-01-01T00:00:00Z", "observedGeneration": 1}
  ],
  "connections": [
    {"workspaceUrl": "broken.cloud.databricks.com", "credentialExpiresAt": "1970-01-11T00:00:00Z"},
    {"workspaceUrl": "other.cloud.databricks.com"}
  ]
}}"#;

#[test]
fn kube_state_metrics_names_a_failing_integration_and_its_alert_fires() {
    let cp = control_plane();
    let ns = cp.namespace("ksm");
    let manifest = crate::support::harness::read("examples/token.yaml")
        .replace("name: analytics\n", "name: broken\n");
    let out = cp.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &manifest);
    assert_success(&out, "apply the integration");
    let out = cp.kubectl(&[
        "patch",
        "dbi",
        "broken",
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        STATUS,
    ]);
    assert_success(&out, "write its status");

    // The configuration exactly as the chart's ConfigMap holds it.
    let cm = documents(&render(&[
        "--set=kubeStateMetrics.enabled=true",
        "--show-only=templates/kube-state-metrics.yaml",
    ]))
    .remove(0);
    let dir = scratch("ksm");
    let config = dir.join("config.yaml");
    std::fs::write(&config, cm["data"]["uc-operator.yaml"].as_str().unwrap()).unwrap();
    let (port, telemetry) = (free_port(), free_port());
    let _ksm = Ksm(Command::new(tool("kube-state-metrics"))
        .args([
            &format!("--kubeconfig={}", cp.kubeconfig.display()),
            "--custom-resource-state-only",
            &format!("--custom-resource-state-config-file={}", config.display()),
            "--host=127.0.0.1",
            &format!("--port={port}"),
            "--telemetry-host=127.0.0.1",
            &format!("--telemetry-port={telemetry}"),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("ksm.log")).unwrap())
        .spawn()
        .expect("start kube-state-metrics"));

    let ours = format!("namespace=\"{ns}\"");
    let deadline = Instant::now() + Duration::from_secs(90);
    let lines: Vec<String> = loop {
        let text = scrape(port).unwrap_or_default();
        let lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains(&ours))
            .map(String::from)
            .collect();
        if lines.iter().any(|l| l.contains("credential_expiry")) {
            break lines;
        }
        assert!(
            Instant::now() < deadline,
            "kube-state-metrics exposed nothing for {ns}: {}\n{text}",
            std::fs::read_to_string(dir.join("ksm.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let find = |metric: &str, with: &[&str]| -> f64 {
        let line = lines
            .iter()
            .find(|l| l.starts_with(&format!("{metric}{{")) && with.iter().all(|w| l.contains(w)))
            .unwrap_or_else(|| panic!("no {metric} with {with:?} in\n{}", lines.join("\n")));
        assert!(line.contains("name=\"broken\""), "{line}");
        line.rsplit(' ').next().unwrap().parse().unwrap()
    };
    assert_eq!(
        find("uc_operator_integration_phase", &["phase=\"createError\""]),
        1.0
    );
    assert_eq!(
        find("uc_operator_integration_phase", &["phase=\"enabled\""]),
        0.0
    );
    assert_eq!(
        find(
            "uc_operator_integration_condition",
            &["type=\"Stalled\"", "reason=\"AuthenticationFailed\""]
        ),
        1.0
    );
    assert_eq!(
        find("uc_operator_integration_condition", &["type=\"Ready\""]),
        0.0
    );
    assert_eq!(
        find("uc_operator_integration_revalidation_interval_seconds", &[]),
        3600.0
    );
    assert_eq!(
        find(
            "uc_operator_integration_last_validation_timestamp_seconds",
            &[]
        ),
        1_767_225_600.0
    );
    assert_eq!(
        find(
            "uc_operator_integration_credential_expiry_timestamp_seconds",
            &["workspace_url=\"broken.cloud.databricks.com\""]
        ),
        864_000.0
    );
    assert_eq!(find("uc_operator_integration_suspended", &[]), 0.0);

    // Those very series, held for an hour, through the chart's rules.
    let series: String = lines
        .iter()
        .map(|l| {
            let (selector, value) = l.rsplit_once(' ').unwrap();
            format!("      - series: '{selector}'\n        values: '{value}x60'\n")
        })
        .collect();
    let labels_of = |metric: &str, with: &str| -> String {
        let line = lines
            .iter()
            .find(|l| l.starts_with(metric) && l.contains(with))
            .unwrap();
        let inner = line.split_once('{').unwrap().1.rsplit_once('}').unwrap().0;
        inner.replace("=", ": ")
    };
    let stalled = labels_of("uc_operator_integration_condition{", "type=\"Stalled\"");
    let expiring = labels_of(
        "uc_operator_integration_credential_expiry_timestamp_seconds{",
        "broken.cloud",
    );
    let runbook = "https://github.com/uc-operator/uc-operator/blob/main/docs/troubleshooting.md";
    let test = format!(
        r#"rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
{series}
    alert_rule_test:
      - eval_time: 20m
        alertname: DatabricksIntegrationStalled
        exp_alerts:
          - exp_labels: {{severity: warning, {stalled}}}
            exp_annotations:
              summary: Databricks integration {ns}/broken needs a user's action
              description: The DatabricksIntegration {ns}/broken is Stalled (reason AuthenticationFailed); retrying will not fix it. Its Ready condition's message names what to change.
              runbook_url: {runbook}#databricksintegrationstalled
      - eval_time: 40m
        alertname: DatabricksIntegrationFailing
        exp_alerts: []
      - eval_time: 5m
        alertname: DatabricksCredentialExpiringSoon
        exp_alerts:
          - exp_labels: {{severity: warning, {expiring}}}
            exp_annotations:
              summary: The credential of {ns}/broken for broken.cloud.databricks.com expires in 9d 23h 55m 0s
              description: The DatabricksIntegration {ns}/broken authenticates to broken.cloud.databricks.com with a token or certificate that expires within 14d (9d 23h 55m 0s left; negative when expired). Rotate it and update the Secret.
              runbook_url: {runbook}#databrickscredentialexpiringsoon
"#
    );
    std::fs::write(dir.join("rules.yaml"), rules_file(&[])).unwrap();
    std::fs::write(dir.join("ksm.test.yaml"), &test).unwrap();
    let out = promtool(&["test", "rules", "ksm.test.yaml"], &dir);
    assert_success(
        &out,
        &format!("promtool test rules over kube-state-metrics' series:\n{test}"),
    );
}
