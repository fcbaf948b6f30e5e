//! The DatabricksIntegration API on the real API server: the CRD installs, the examples are
//! accepted with their defaults, and bad manifests are refused with a message naming the field.

mod manifests;

use serde::Deserialize;
use serde_json::Value;

use crate::support::harness::{assert_success, control_plane, read, repo};

const CRD_FILE: &str = "crds/databricksintegrations.uc-operator.dev.yaml";

#[test]
fn committed_crd_matches_the_code() {
    let generated = uc_operator::api::crd_yaml();
    assert_eq!(
        read(CRD_FILE),
        generated,
        "{CRD_FILE} is stale: run `make crds`"
    );
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_uc-operator"))
        .arg("crd")
        .output()
        .unwrap();
    assert_success(&printed, "uc-operator crd");
    assert_eq!(String::from_utf8(printed.stdout).unwrap(), generated);
}

/// Splits a multi-document manifest and returns the DatabricksIntegration in it.
fn integration_of(example: &str) -> Value {
    serde_yaml::Deserializer::from_str(example)
        .map(|d| serde_json::to_value(serde_yaml::Value::deserialize(d).unwrap()).unwrap())
        .find(|v: &Value| v["kind"] == "DatabricksIntegration")
        .expect("an example holds a DatabricksIntegration")
}

fn examples() -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

#[test]
// Long: each example applied, then its defaults checked field by field.
fn every_example_is_accepted_with_defaults_filled_in() {
    let cp = control_plane();
    let ns = cp.namespace("examples");
    let examples = examples();
    assert!(examples.len() >= 6, "one example per way of configuring");
    for (file, text) in &examples {
        let out = cp.kubectl_stdin(&["apply", "--server-side", "-n", &ns, "-f", "-"], text);
        assert_success(&out, &format!("apply examples/{file}"));
        let name = integration_of(text)["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let out = cp.kubectl(&["get", "dbi", &name, "-n", &ns, "-o", "json"]);
        assert_success(&out, "get dbi");
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let spec = &got["spec"];
        let sent = &integration_of(text)["spec"];
        // Defaults the API server fills in when the example leaves them out.
        let expect_default = |field: &str, value: Value| {
            if sent.get(field).is_none() {
                assert_eq!(spec[field], value, "{file}: default of {field}");
            }
        };
        expect_default("port", 443.into());
        expect_default("autoBootstrap", true.into());
        expect_default("deletionPolicy", "Delete".into());
        expect_default("revalidationInterval", "1h".into());
        if let Some(r) = sent.get("tokenSecretRef")
            && r.get("key").is_none()
        {
            assert_eq!(spec["tokenSecretRef"]["key"], "token", "{file}");
        }
        if let Some(o) = sent.get("oAuthClientConfig") {
            let got = &spec["oAuthClientConfig"];
            if o.get("scope").is_none() {
                assert_eq!(got["scope"], "all-apis", "{file}");
            }
            if o.get("useCertificate").is_none() {
                assert_eq!(got["useCertificate"], false, "{file}");
            }
            if o.get("clientSecretRef").is_some() {
                assert_eq!(got["clientSecretRef"]["key"], "clientSecret", "{file}");
            }
            if o.get("privateKeySecretRef").is_some() {
                assert_eq!(got["privateKeySecretRef"]["key"], "tls.key", "{file}");
            }
        }
        // Everything the example set reads back unchanged.
        for (k, v) in sent.as_object().unwrap() {
            if k != "tokenSecretRef"
                && k != "oAuthClientConfig"
                && k != "additionalWorkspaceConnections"
            {
                assert_eq!(&spec[k], v, "{file}: {k}");
            }
        }
        // And the typed view of the operator reads it too.
        let typed: uc_operator::api::DatabricksIntegration = serde_json::from_value(got).unwrap();
        assert_eq!(typed.spec.catalog, sent["catalog"].as_str().unwrap());
    }
}

#[test]
fn kubectl_get_prints_the_contract_columns() {
    let cp = control_plane();
    let ns = cp.namespace("columns");
    let (_, text) = examples()
        .into_iter()
        .find(|(f, _)| f == "token.yaml")
        .unwrap();
    assert_success(
        &cp.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &text),
        "apply",
    );
    let out = cp.kubectl(&["get", "dbi", "-n", &ns]);
    assert_success(&out, "kubectl get dbi");
    let table = String::from_utf8(out.stdout).unwrap();
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "WORKSPACE",
            "CATALOG",
            "PHASE",
            "READY",
            "SUSPENDED",
            "AGE"
        ]
    );
    let row = table.lines().nth(1).unwrap();
    assert!(row.contains("analytics.cloud.databricks.com"), "{row}");
    assert!(row.contains("governance_analytics"), "{row}");
    // The category and short name resolve too.
    assert_success(
        &cp.kubectl(&["get", "uc-operator", "-n", &ns]),
        "get by category",
    );
}
