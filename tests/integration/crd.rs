//! The DatabricksIntegration API on the real API server: the CRD installs, the examples are
//! accepted with their defaults, and bad manifests are refused with a message naming the field.

use crate::harness::{assert_success, control_plane, read, repo};
use serde_json::Value;

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

use serde::Deserialize;

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
        ["NAME", "WORKSPACE", "CATALOG", "PHASE", "READY", "AGE"]
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

/// A valid token-authenticated integration to break one field at a time.
fn valid() -> Value {
    serde_json::json!({
        "apiVersion": "uc-operator.dev/v1alpha1",
        "kind": "DatabricksIntegration",
        "metadata": {"name": "bad"},
        "spec": {
            "workspaceUrl": "www.example-workspace.cloud.databricks.com",
            "httpPath": "/sql/1.0/warehouses/abc123",
            "authenticationType": "token",
            "tokenSecretRef": {"name": "t"},
            "catalog": "governance"
        }
    })
}

fn oauth() -> Value {
    let mut m = valid();
    let spec = m["spec"].as_object_mut().unwrap();
    spec.remove("tokenSecretRef");
    spec.insert("authenticationType".into(), "oAuthM2M".into());
    spec.insert(
        "oAuthClientConfig".into(),
        serde_json::json!({"clientId": "abc", "clientSecretRef": {"name": "s"}}),
    );
    m
}

fn with(mut m: Value, pointer: &str, value: Value) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let parent = m.pointer_mut(parent).unwrap().as_object_mut().unwrap();
    if value.is_null() {
        parent.remove(key);
    } else {
        parent.insert(key.to_string(), value);
    }
    m
}

fn connection(catalogs: &[&str]) -> Value {
    serde_json::json!({
        "workspaceUrl": "b.cloud.databricks.com",
        "httpPath": "/sql/1.0/warehouses/b",
        "authenticationType": "token",
        "tokenSecretRef": {"name": "b"},
        "catalogs": catalogs,
    })
}

#[test]
fn bad_manifests_are_refused_naming_the_field() {
    use serde_json::json;
    let cp = control_plane();
    let ns = cp.namespace("bad");
    let cert = |o: Value| {
        with(
            oauth(),
            "/spec/oAuthClientConfig",
            json!({"clientId": "abc", "useCertificate": true})
                .as_object()
                .unwrap()
                .clone()
                .into_iter()
                .chain(o.as_object().unwrap().clone())
                .collect::<serde_json::Map<_, _>>()
                .into(),
        )
    };
    let cases: Vec<(&str, Value, &[&str])> = vec![
        (
            "catalog starting with a digit",
            with(valid(), "/spec/catalog", "1abc".into()),
            &["spec.catalog", "catalog must start with a letter"],
        ),
        (
            "catalog with a dash",
            with(valid(), "/spec/catalog", "my-cat".into()),
            &["spec.catalog", "letters, digits and underscores"],
        ),
        (
            "catalog of 256 characters",
            with(valid(), "/spec/catalog", "a".repeat(256).into()),
            &["spec.catalog", "255"],
        ),
        (
            "missing workspaceUrl",
            with(valid(), "/spec/workspaceUrl", Value::Null),
            &["spec.workspaceUrl", "Required value"],
        ),
        (
            "workspaceUrl with a path",
            with(
                valid(),
                "/spec/workspaceUrl",
                "https://ws.cloud.databricks.com/path".into(),
            ),
            &["spec.workspaceUrl", "without a path"],
        ),
        (
            "workspaceUrl with http://",
            with(
                valid(),
                "/spec/workspaceUrl",
                "http://ws.cloud.databricks.com".into(),
            ),
            &["spec.workspaceUrl", "other scheme"],
        ),
        (
            "httpPath neither warehouse nor cluster",
            with(valid(), "/spec/httpPath", "/sql/2.0/things/x".into()),
            &["spec.httpPath", "warehouse"],
        ),
        (
            "cluster httpPath with a non-numeric org",
            with(
                valid(),
                "/spec/httpPath",
                "sql/protocolv1/o/abc/0000-00000-abc123".into(),
            ),
            &["spec.httpPath"],
        ),
        (
            "unknown authenticationType",
            with(valid(), "/spec/authenticationType", "password".into()),
            &[
                "spec.authenticationType",
                "Unsupported value",
                "\"token\"",
                "\"oAuthM2M\"",
            ],
        ),
        (
            "token without tokenSecretRef",
            with(valid(), "/spec/tokenSecretRef", Value::Null),
            &[
                "spec.tokenSecretRef",
                "required when authenticationType is token",
            ],
        ),
        (
            "tokenSecretRef with oAuthM2M",
            with(oauth(), "/spec/tokenSecretRef", json!({"name": "t"})),
            &[
                "spec.tokenSecretRef",
                "only allowed when authenticationType is token",
            ],
        ),
        (
            "oAuthM2M without oAuthClientConfig",
            with(oauth(), "/spec/oAuthClientConfig", Value::Null),
            &[
                "spec.oAuthClientConfig",
                "required when authenticationType is oAuthM2M",
            ],
        ),
        (
            "oAuthM2M without clientId",
            with(oauth(), "/spec/oAuthClientConfig/clientId", Value::Null),
            &["spec.oAuthClientConfig.clientId", "Required value"],
        ),
        (
            "oAuthM2M without a client secret",
            with(
                oauth(),
                "/spec/oAuthClientConfig/clientSecretRef",
                Value::Null,
            ),
            &[
                "spec.oAuthClientConfig.clientSecretRef",
                "unless useCertificate",
            ],
        ),
        (
            "useCertificate without thumbprint",
            cert(json!({"privateKeySecretRef": {"name": "k"}})),
            &[
                "spec.oAuthClientConfig.publicCertificateThumbprint",
                "required when useCertificate",
            ],
        ),
        (
            "useCertificate without key reference",
            cert(json!({"publicCertificateThumbprint": "ab12"})),
            &[
                "spec.oAuthClientConfig.privateKeySecretRef",
                "required when useCertificate",
            ],
        ),
        (
            "authorityUrl over http",
            with(
                oauth(),
                "/spec/oAuthClientConfig/authorityUrl",
                "http://login.example.com/token".into(),
            ),
            &["spec.oAuthClientConfig.authorityUrl", "https://"],
        ),
        (
            "same catalog in two additional connections",
            with(
                valid(),
                "/spec/additionalWorkspaceConnections",
                json!([connection(&["shared"]), connection(&["shared", "other"])]),
            ),
            &[
                "spec.additionalWorkspaceConnections",
                "at most one additional workspace connection",
            ],
        ),
        (
            "empty catalogs list",
            with(
                valid(),
                "/spec/additionalWorkspaceConnections",
                json!([connection(&[])]),
            ),
            &[
                "spec.additionalWorkspaceConnections[0].catalogs",
                "at least 1",
            ],
        ),
        (
            "additional connection with a bad catalog",
            with(
                valid(),
                "/spec/additionalWorkspaceConnections",
                json!([connection(&["bad-name"])]),
            ),
            &["spec.additionalWorkspaceConnections[0].catalogs[0]"],
        ),
        (
            "additional connection token without secret",
            with(
                valid(),
                "/spec/additionalWorkspaceConnections",
                json!([with(
                    json!({"c": connection(&["x"])}),
                    "/c/tokenSecretRef",
                    Value::Null
                )["c"]]),
            ),
            &[
                "spec.additionalWorkspaceConnections[0].tokenSecretRef",
                "required",
            ],
        ),
        (
            "port 0",
            with(valid(), "/spec/port", 0.into()),
            &["spec.port", "greater than or equal to 1"],
        ),
        (
            "port 70000",
            with(valid(), "/spec/port", 70000.into()),
            &["spec.port", "less than or equal to 65535"],
        ),
        (
            "revalidationInterval 30s",
            with(valid(), "/spec/revalidationInterval", "30s".into()),
            &["spec.revalidationInterval", "at least 1m"],
        ),
        (
            "revalidationInterval soon",
            with(valid(), "/spec/revalidationInterval", "soon".into()),
            &["spec.revalidationInterval", "duration such as"],
        ),
        (
            "deletionPolicy Keep",
            with(valid(), "/spec/deletionPolicy", "Keep".into()),
            &["spec.deletionPolicy", "Unsupported value", "\"Retain\""],
        ),
    ];
    let mut failures = Vec::new();
    for (what, manifest, expected) in &cases {
        let out = cp.kubectl_stdin(
            &["apply", "--dry-run=server", "-n", &ns, "-f", "-"],
            &manifest.to_string(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            failures.push(format!("{what}: accepted"));
        } else if let Some(missing) = expected.iter().find(|e| !stderr.contains(*e)) {
            failures.push(format!("{what}: error lacks {missing:?}: {stderr}"));
        }
    }
    // The same manifests minus the mistake are fine, so each refusal is for its own field.
    for good in [
        valid(),
        oauth(),
        with(
            valid(),
            "/spec/additionalWorkspaceConnections",
            json!([connection(&["a"]), connection(&["b", "c"])]),
        ),
    ] {
        let out = cp.kubectl_stdin(
            &["apply", "--dry-run=server", "-n", &ns, "-f", "-"],
            &good.to_string(),
        );
        assert_success(&out, &format!("valid manifest {good}"));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn catalog_cannot_change_on_update() {
    let cp = control_plane();
    let ns = cp.namespace("immutable");
    assert_success(
        &cp.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &valid().to_string()),
        "create",
    );
    let changed = with(valid(), "/spec/catalog", "another".into());
    let out = cp.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &changed.to_string());
    assert!(!out.status.success(), "catalog change accepted");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("spec.catalog") && stderr.contains("catalog is immutable"),
        "{stderr}"
    );
    // Other fields stay editable.
    let edited = with(valid(), "/spec/revalidationInterval", "2h".into());
    assert_success(
        &cp.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &edited.to_string()),
        "edit another field",
    );
}
