//! Manifests the API server must refuse, one mistake each, naming the field; and the one
//! field that cannot change after creation.

use serde_json::{Value, json};

use crate::support::harness::{assert_success, control_plane};
use crate::support::manifests::{integration, oauth_integration, token_connection};

/// A valid token-authenticated integration to break one field at a time.
fn valid() -> Value {
    integration(
        "bad",
        "www.example-workspace.cloud.databricks.com",
        "governance",
    )
}

fn oauth() -> Value {
    oauth_integration(
        "bad",
        "www.example-workspace.cloud.databricks.com",
        "governance",
        None,
    )
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

/// An OAuth integration proving its identity with `workload_identity` instead of a secret.
fn workload_identity(workload_identity: Value) -> Value {
    let m = with(
        oauth(),
        "/spec/oAuthClientConfig/clientSecretRef",
        Value::Null,
    );
    with(
        m,
        "/spec/oAuthClientConfig/workloadIdentity",
        workload_identity,
    )
}

fn connection(catalogs: &[&str]) -> Value {
    token_connection("b.cloud.databricks.com", "b", catalogs)
}

/// A manifest with one mistake, and what the refusal must mention.
type Case = (&'static str, Value, &'static [&'static str]);

// Long: one row per schema or CEL rule, so a new rule is one more row.
fn refused() -> Vec<Case> {
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
    vec![
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
            "a Secret name that is no DNS-1123 subdomain",
            with(
                valid(),
                "/spec/tokenSecretRef",
                json!({"name": "Team_Token"}),
            ),
            &["spec.tokenSecretRef.name", "should match"],
        ),
        (
            "a Secret key with a slash",
            with(
                valid(),
                "/spec/tokenSecretRef",
                json!({"name": "t", "key": "a/b"}),
            ),
            &["spec.tokenSecretRef.key", "should match"],
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
                "exactly one of clientSecretRef, useCertificate: true and workloadIdentity",
            ],
        ),
        (
            "a client secret and a workload identity",
            with(
                oauth(),
                "/spec/oAuthClientConfig/workloadIdentity",
                json!({"serviceAccountName": "uc", "audience": "databricks"}),
            ),
            &["spec.oAuthClientConfig.clientSecretRef", "exactly one of"],
        ),
        (
            "a workload identity without an audience for Databricks",
            workload_identity(json!({"serviceAccountName": "uc"})),
            &[
                "spec.oAuthClientConfig.workloadIdentity.audience",
                "required unless authorityUrl is a Microsoft Entra token endpoint",
            ],
        ),
        (
            "a workload identity for the API server's own audience",
            workload_identity(
                json!({"serviceAccountName": "uc", "audience": "https://kubernetes.default.svc.cluster.local"}),
            ),
            &[
                "spec.oAuthClientConfig.workloadIdentity.audience",
                "must not be an audience the Kubernetes API server accepts",
            ],
        ),
        (
            "a ServiceAccount name that is not a DNS subdomain",
            workload_identity(json!({"serviceAccountName": "UC_sa", "audience": "databricks"})),
            &["spec.oAuthClientConfig.workloadIdentity.serviceAccountName"],
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
            "governed catalog equal to the integration's catalog",
            with(
                valid(),
                "/spec/governedCatalogs",
                json!(["sales", valid()["spec"]["catalog"].clone()]),
            ),
            &["spec.governedCatalogs", "must not list catalog"],
        ),
        (
            "governed catalog also in a connection",
            with(
                with(
                    valid(),
                    "/spec/additionalWorkspaceConnections",
                    json!([connection(&["shared"])]),
                ),
                "/spec/governedCatalogs",
                json!(["shared"]),
            ),
            &["spec.governedCatalogs", "additional workspace connection"],
        ),
        (
            "governed catalog listed twice",
            with(valid(), "/spec/governedCatalogs", json!(["sales", "sales"])),
            &["spec.governedCatalogs", "Duplicate value"],
        ),
        (
            "governed catalog with a bad name",
            with(valid(), "/spec/governedCatalogs", json!(["9bad"])),
            &["spec.governedCatalogs[0]", "letter or underscore"],
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
    ]
}

#[test]
fn bad_manifests_are_refused_naming_the_field() {
    let cp = control_plane();
    let ns = cp.namespace("bad");
    let cases = refused();
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

/// The CEL rules stay within the API server's cost budget at every maximum: 10 connections of
/// 50 catalogs each, every name at its longest.
#[test]
fn a_manifest_at_every_maximum_is_accepted() {
    let cp = control_plane();
    let ns = cp.namespace("maxima");
    let long = |i: usize, j: usize| format!("c{i:02}_{j:02}_{}", "x".repeat(255 - 7));
    let connections: Vec<Value> = (0..10)
        .map(|i| {
            let names: Vec<String> = (0..50).map(|j| long(i, j)).collect();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            connection(&names)
        })
        .collect();
    let catalog = format!("m{}", "y".repeat(254));
    let mut manifest = with(valid(), "/spec/catalog", json!(catalog));
    manifest = with(
        manifest,
        "/spec/additionalWorkspaceConnections",
        json!(connections),
    );
    let out = cp.kubectl_stdin(
        &["apply", "--dry-run=server", "-n", &ns, "-f", "-"],
        &manifest.to_string(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
