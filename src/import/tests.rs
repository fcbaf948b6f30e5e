//! Whole conversions, payload text to manifests: the mapping of each credential kind, the notes,
//! and the governance tool's documented payloads (`tests/fixtures/integrations-api`).

use std::collections::BTreeMap;

use super::*;
use crate::api::{Audit, TokenSecretRef};
use build::to_yaml;

/// A payload from `tests/fixtures/integrations-api` (the governance tool's documented ones).
fn fixture(name: &str) -> String {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/integrations-api"
    );
    std::fs::read_to_string(format!("{dir}/{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn secret<'a>(i: &'a Imported, name: &str) -> &'a BTreeMap<String, String> {
    i.secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(name))
        .and_then(|s| s.string_data.as_ref())
        .unwrap_or_else(|| panic!("no Secret {name} in {}", i.manifests))
}

/// Whether a note contains `text`.
pub(super) fn noted(notes: &[String], text: &str) -> bool {
    notes.iter().any(|n| n.contains(text))
}

fn minimal() -> String {
    r#"{"type":"Databricks","config":{"workspaceUrl":"a.cloud.databricks.com",
        "httpPath":"/sql/1.0/warehouses/a","authenticationType":"token","token":"t","catalog":"c"}}"#
        .to_string()
}

#[test]
fn token_payload_maps_every_field_and_moves_the_token_to_a_secret() {
    let input = r#"{"type":"Databricks","autoBootstrap":false,"config":{
        "workspaceUrl":"https://dbc-1.cloud.databricks.com","port":8443,
        "httpPath":"/sql/1.0/warehouses/abc","authenticationType":"token",
        "token":"dapi-real-token","catalog":"gov",
        "audit":{"enabled":true,"workspaceIds":[1, "2"]}}}"#;
    let i = convert(input, None, Some("team-a")).unwrap();
    let spec = &i.integration.spec;
    assert_eq!(i.integration.metadata.name.as_deref(), Some("dbc-1"));
    assert_eq!(i.integration.metadata.namespace.as_deref(), Some("team-a"));
    assert_eq!(
        spec.connection.workspace_url,
        "https://dbc-1.cloud.databricks.com"
    );
    assert_eq!(spec.connection.port, 8443);
    assert_eq!(spec.connection.http_path, "/sql/1.0/warehouses/abc");
    assert!(!spec.auto_bootstrap);
    assert_eq!(spec.catalog, "gov");
    assert_eq!(
        spec.audit,
        Some(Audit {
            enabled: true,
            workspace_ids: Some(vec![1, 2])
        })
    );
    assert_eq!(
        spec.connection.token_secret_ref,
        Some(TokenSecretRef {
            name: "dbc-1-token".into(),
            key: "token".into()
        })
    );
    assert_eq!(secret(&i, "dbc-1-token")["token"], "dapi-real-token");
    // The token is only in the Secret, and the notes never echo it.
    let dbi = to_yaml(&i.integration);
    assert!(!dbi.contains("dapi-real-token"));
    assert!(!noted(&i.notes, "dapi-real-token"));
    assert!(i.manifests.find("kind: Secret") < i.manifests.find("kind: DatabricksIntegration"));
    assert!(i.manifests.contains("namespace: team-a"));
}

#[test]
fn placeholders_and_missing_credentials_become_empty_secrets_with_notes() {
    for token in [r#""REDACTED""#, r#""<REDACTED>""#, r#""<SECRET>""#, r#""""#] {
        let input = format!(
            r#"{{"type":"Databricks","config":{{"workspaceUrl":"w.cloud.databricks.com",
            "httpPath":"/sql/1.0/warehouses/a","authenticationType":"token","token":{token},
            "catalog":"c"}}}}"#
        );
        let i = convert(&input, Some("x"), None).unwrap();
        assert_eq!(secret(&i, "x-token")["token"], "");
        assert!(i.manifests.contains("# FILL IN"), "{}", i.manifests);
        assert!(
            i.notes
                .iter()
                .any(|n| n.contains("placeholder") && n.contains("x-token")),
            "{:?}",
            i.notes
        );
    }
    let input = r#"{"type":"Databricks","config":{"workspaceUrl":"w.cloud.databricks.com",
        "httpPath":"/sql/1.0/warehouses/a","authenticationType":"token","catalog":"c"}}"#;
    let i = convert(input, Some("x"), None).unwrap();
    assert_eq!(secret(&i, "x-token")["token"], "");
    assert!(noted(&i.notes, "not in the payload"));
}

#[test]
fn oauth_secret_and_certificate_share_one_secret_per_connection() {
    let input = r#"{"type":"Databricks","config":{"workspaceUrl":"main.cloud.databricks.com",
        "httpPath":"/sql/1.0/warehouses/a","authenticationType":"oAuthM2M",
        "oAuthClientConfig":{"clientId":"app-1","clientSecret":"s3cret"},
        "catalog":"c","additionalWorkspaceConnections":[{
          "workspaceUrl":"b.cloud.databricks.com","httpPath":"/sql/1.0/warehouses/b",
          "authenticationType":"oAuthM2M","catalogs":["k1","k2"],
          "oAuthClientConfig":{"clientId":"app-2","useCertificate":true,
            "publicCertificateThumbprint":"ABCDEF","oauthPrivateKey":"-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n",
            "authorityUrl":"login.example.com/token","scope":"custom"}}]}}"#;
    let i = convert(input, None, None).unwrap();
    let spec = &i.integration.spec;
    let o = spec.connection.oauth_client_config.as_ref().unwrap();
    assert_eq!(o.client_id, "app-1");
    assert_eq!(o.scope, "all-apis");
    assert!(!o.use_certificate);
    assert_eq!(o.client_secret_ref.as_ref().unwrap().name, "main-oauth");
    assert_eq!(o.client_secret_ref.as_ref().unwrap().key, "clientSecret");
    assert_eq!(secret(&i, "main-oauth")["clientSecret"], "s3cret");
    let extra = &spec.additional_workspace_connections.as_ref().unwrap()[0];
    assert_eq!(extra.catalogs, ["k1", "k2"]);
    let o2 = extra.connection.oauth_client_config.as_ref().unwrap();
    assert!(o2.use_certificate);
    assert!(o2.client_secret_ref.is_none());
    assert_eq!(o2.public_certificate_thumbprint.as_deref(), Some("ABCDEF"));
    assert_eq!(o2.authority_url.as_deref(), Some("login.example.com/token"));
    assert_eq!(o2.scope, "custom");
    let key = o2.private_key_secret_ref.as_ref().unwrap();
    assert_eq!(
        (key.name.as_str(), key.key.as_str()),
        ("main-1-oauth", "tls.key")
    );
    assert!(secret(&i, "main-1-oauth")["tls.key"].starts_with("-----BEGIN"));
    let dbi = to_yaml(&i.integration);
    assert!(!dbi.contains("s3cret") && !dbi.contains("BEGIN PRIVATE"));
    assert!(
        i.notes
            .iter()
            .all(|n| !n.contains("s3cret") && !n.contains("BEGIN"))
    );
}

#[test]
fn missing_oauth_config_gets_placeholders_the_schema_accepts() {
    let input = r#"{"type":"Databricks","config":{"workspaceUrl":"a.cloud.databricks.com",
        "httpPath":"/sql/1.0/warehouses/a","authenticationType":"oAuthM2M","catalog":"c"}}"#;
    let i = convert(input, None, None).unwrap();
    let o = i
        .integration
        .spec
        .connection
        .oauth_client_config
        .clone()
        .unwrap();
    assert_eq!(o.client_id, CLIENT_ID_PLACEHOLDER);
    assert_eq!(o.client_secret_ref.unwrap().name, "a-oauth");
    assert!(noted(&i.notes, "clientId"));
    assert!(
        i.notes
            .iter()
            .any(|n| n.contains("a-oauth") && n.contains("clientSecret"))
    );
}

#[test]
fn a_certificate_connection_without_authority_gets_an_entra_placeholder() {
    let input = r#"{"type":"Databricks","config":{"workspaceUrl":"a.azuredatabricks.net",
        "httpPath":"/sql/1.0/warehouses/a","authenticationType":"oAuthM2M","catalog":"c",
        "oAuthClientConfig":{"clientId":"app","useCertificate":true,
          "publicCertificateThumbprint":"AB12","oauthPrivateKey":"REDACTED"}}}"#;
    let i = convert(input, None, None).unwrap();
    let o = i.integration.spec.connection.oauth_client_config.as_ref();
    let authority = o.and_then(|o| o.authority_url.as_deref()).unwrap();
    assert!(authority.contains(TENANT_PLACEHOLDER));
    assert!(noted(&i.notes, "authorityUrl"));
    assert_eq!(secret(&i, "a-oauth")["tls.key"], "");
}

#[test]
fn names_and_namespaces_are_checked() {
    assert!(matches!(
        convert(&minimal(), Some("Bad_Name"), None),
        Err(ImportError::InvalidName(_))
    ));
    let err = convert(&minimal(), None, Some("Team_A")).unwrap_err();
    assert!(err.to_string().starts_with("--namespace: "), "{err}");
    let long = "n".repeat(63);
    let i = convert(&minimal(), None, Some(&long)).unwrap();
    assert_eq!(
        i.integration.metadata.namespace.as_deref(),
        Some(long.as_str())
    );
}

#[test]
fn malformed_json_is_refused_with_line_and_column() {
    let err = convert(
        "{\n  \"type\": \"Databricks\"\n  \"config\": {}\n}",
        None,
        None,
    )
    .unwrap_err();
    assert_eq!(
        err,
        ImportError::Json {
            line: 3,
            column: 3,
            message: "expected `,` or `}`".into()
        }
    );
    assert!(err.to_string().contains("line 3, column 3"));
}

#[test]
fn yaml_payloads_are_read_and_bad_yaml_is_located() {
    let yaml = "type: Databricks\nautoBootstrap: true\nconfig:\n  workspaceUrl: a.cloud.databricks.com\n  httpPath: /sql/1.0/warehouses/a\n  authenticationType: token\n  token: REDACTED\n  catalog: c\n";
    let i = convert(yaml, None, None).unwrap();
    assert_eq!(i.integration.spec.catalog, "c");
    let bad = convert("type: Databricks\nconfig:\n  a: [1, 2\n", None, None).unwrap_err();
    assert!(
        matches!(bad, ImportError::Yaml { line: 3 | 4, .. }),
        "{bad}"
    );
}

#[test]
fn an_entry_picked_by_id_keeps_its_id_in_an_annotation() {
    let snow = r#"{"type":"Snowflake","config":{"host":"x"}}"#;
    let a = minimal().replacen('{', r#"{"id":"7","#, 1);
    let b = a.replace("\"7\"", "\"8\"").replace("a.cloud", "b.cloud");
    let two = format!("[{snow},{a},{b}]");
    let err = convert(&two, None, None).unwrap_err();
    assert!(err.to_string().contains("--id"), "{err}");
    let id = Some("8".into());
    let picked = convert_with(
        &two,
        &Options {
            id,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(picked.integration.metadata.name.as_deref(), Some("b"));
    assert_eq!(
        picked.integration.metadata.annotations.unwrap()["uc-operator.dev/imported-from"],
        "integration 8"
    );
}

#[test]
fn unmapped_fields_are_reported() {
    let input = minimal().replace("\"catalog\"", "\"lineage\":{\"enabled\":true},\"catalog\"");
    let i = convert(&input, None, None).unwrap();
    assert!(
        i.notes
            .iter()
            .any(|n| n == "not mapped (no DatabricksIntegration field): config.lineage"),
        "{:?}",
        i.notes
    );
}

#[test]
fn the_documented_payloads_convert() {
    let i = convert(&fixture("create-additional-workspaces.json"), None, None).unwrap();
    assert_eq!(
        i.integration.metadata.name.as_deref(),
        Some("example-workspace")
    );
    let names: Vec<_> = i
        .secrets
        .iter()
        .filter_map(|s| s.metadata.name.clone())
        .collect();
    assert_eq!(
        names,
        [
            "example-workspace-1-oauth",
            "example-workspace-2-oauth",
            "example-workspace-oauth"
        ]
    );
    let documented = fixture("create-additional-workspaces.as-documented.txt");
    let err = convert(&documented, None, None).unwrap_err();
    assert!(matches!(err, ImportError::Json { line: 13, .. }), "{err}");
    let snowflake = Options {
        id: Some("1".into()),
        ..Default::default()
    };
    assert_eq!(
        convert_with(&fixture("get-all-response.json"), &snowflake).unwrap_err(),
        ImportError::UnsupportedType("Snowflake".into())
    );
}

#[test]
fn an_enabled_automatic_integration_comes_with_adopt_existing_catalog() {
    // The list's Databricks entry: status enabled, automatic setup, catalog `immuta`.
    let i = convert(&fixture("get-all-response.json"), None, None).unwrap();
    let spec = &i.integration.spec;
    assert!(spec.adopt_existing_catalog && !spec.suspend);
    assert!(to_yaml(&i.integration).contains("adoptExistingCatalog: true"));
    assert!(
        noted(&i.notes, "already created catalog immuta"),
        "{:?}",
        i.notes
    );
    // A catalog that exists needs no location: no storage note.
    assert!(!noted(&i.notes, "storageRoot"), "{:?}", i.notes);

    // Manual setup never adopts (the CRD refuses it), even when enabled.
    let manual = convert(&fixture("get-response.json"), Some("m"), None).unwrap();
    assert!(!manual.integration.spec.adopt_existing_catalog);
    assert!(
        manual
            .notes
            .iter()
            .any(|n| n.contains("ConfigMap m-uc-setup")),
        "{:?}",
        manual.notes
    );
}

#[test]
fn a_request_body_says_nothing_about_the_catalog_so_the_notes_do() {
    let i = convert(&fixture("create-token.json"), None, None).unwrap();
    let spec = &i.integration.spec;
    assert!(!spec.adopt_existing_catalog && !spec.suspend && spec.storage_root.is_none());
    for field in [
        "set adoptExistingCatalog: true",
        "set spec.storageRoot (or --storage-root)",
    ] {
        assert!(noted(&i.notes, field), "{field}: {:?}", i.notes);
    }
}

#[test]
fn a_disabled_integration_is_imported_suspended() {
    let input = minimal().replacen('{', r#"{"id":"3","status":"disabled","#, 1);
    let i = convert(&input, None, None).unwrap();
    assert!(i.integration.spec.suspend);
    assert!(to_yaml(&i.integration).contains("suspend: true"));
}

#[test]
fn storage_root_comes_from_the_option_and_is_checked() {
    let url = "abfss://uc@account.dfs.core.windows.net/gov";
    let options = Options {
        storage_root: Some(url.into()),
        ..Default::default()
    };
    let i = convert_with(&minimal(), &options).unwrap();
    assert_eq!(i.integration.spec.storage_root.as_deref(), Some(url));
    assert!(
        i.manifests.contains(&format!("storageRoot: {url}")),
        "{}",
        i.manifests
    );
    let bad = Options {
        storage_root: Some("https://x".into()),
        ..Default::default()
    };
    let err = convert_with(&minimal(), &bad).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("--storage-root: `https://x` is not"),
        "{err}"
    );
}

#[test]
fn debug_never_prints_the_payload_credentials() {
    let payload = r#"{"type": "Databricks", "autoBootstrap": true, "config": {
        "workspaceUrl": "ws.cloud.databricks.com", "httpPath": "/sql/1.0/warehouses/w",
        "authenticationType": "token", "token": "dapi-very-secret", "catalog": "c"}}"#;
    let imported = convert(payload, Some("ws"), None).unwrap();
    assert!(imported.manifests.contains("dapi-very-secret"));
    assert!(!format!("{imported:?}").contains("dapi-very-secret"));
}
