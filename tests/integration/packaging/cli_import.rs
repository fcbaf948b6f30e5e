//! `uc-operator import` against the documented `/integrations` payloads: every Databricks one
//! becomes manifests the real API server accepts, with the credentials in Secrets only.

use crate::support::harness::{assert_success, control_plane, read, repo};
use serde::Deserialize;
use serde_json::Value;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Output;
use uc_operator::import::{ImportError, Options, convert_with};

/// The governance tool's payloads (copied from shared/fixtures, so a clone is self-contained).
const FIXTURES: &str = "tests/fixtures/integrations-api";

fn fixtures() -> PathBuf {
    repo().join(FIXTURES)
}

fn fixture(name: &str) -> String {
    read(format!("{FIXTURES}/{name}"))
}

/// Runs `uc-operator import` with `args`.
fn import_cli<S: AsRef<OsStr>>(args: &[S]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_uc-operator"))
        .arg("import")
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

/// Every Databricks payload, with the Secret names and the inline credentials it carries.
const DATABRICKS: &[&str] = &[
    "create-token.json",
    "create-oauth.json",
    "create-additional-workspaces.json",
    "script-create-manual.json",
    "update-additional-workspaces.json",
    "get-response.json",
    "get-all-response.json",
];

/// The `kind` of each YAML document, in order.
fn kinds(yaml: &str) -> Vec<String> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| {
            let doc = serde_yaml::Value::deserialize(d).unwrap();
            doc["kind"].as_str().expect("a kind").to_string()
        })
        .collect()
}

#[test]
// Long: each fixture converted, applied and read back, check by check.
fn every_databricks_payload_is_accepted_by_the_api_server() {
    let cp = control_plane();
    let listed: Vec<String> = std::fs::read_dir(fixtures())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".json"))
        .collect();
    for f in &listed {
        assert!(
            DATABRICKS.contains(&f.as_str()),
            "new fixture {f}: add it here"
        );
    }
    for file in DATABRICKS {
        let ns = cp.namespace("import");
        let imported = convert_with(&fixture(file), &Options::default())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let kinds = kinds(&imported.manifests);
        assert_eq!(
            kinds.last().map(String::as_str),
            Some("DatabricksIntegration"),
            "{file}: Secrets first"
        );
        assert!(kinds[..kinds.len() - 1].iter().all(|k| *k == "Secret"));

        let dry = cp.kubectl_stdin(
            &["apply", "--dry-run=server", "-n", &ns, "-f", "-"],
            &imported.manifests,
        );
        assert_success(&dry, &format!("{file}: server-side dry run"));
        let out = cp.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &imported.manifests);
        assert_success(&out, &format!("{file}: apply"));

        // Read back: every Secret the spec references exists, and the DBI holds no credential.
        let name = imported.integration.metadata.name.clone().unwrap();
        let out = cp.kubectl(&["get", "dbi", &name, "-n", &ns, "-o", "json"]);
        assert_success(&out, "read back");
        let dbi: Value = serde_json::from_slice(&out.stdout).unwrap();
        let spec_text = dbi["spec"].to_string();
        for key in [
            "\"token\":",
            "clientSecret\":",
            "oauthPrivateKey",
            "REDACTED",
        ] {
            assert!(!spec_text.contains(key), "{file}: {key} in the spec");
        }
        for secret in imported.integration.spec.secret_names() {
            let out = cp.kubectl(&["get", "secret", &secret, "-n", &ns]);
            assert_success(&out, &format!("{file}: Secret {secret}"));
        }
        let spec = serde_json::to_value(&imported.integration.spec).unwrap();
        for field in [
            "catalog",
            "autoBootstrap",
            "adoptExistingCatalog",
            "suspend",
        ] {
            assert_eq!(dbi["spec"][field], spec[field], "{file}: {field}");
        }
        // Only the list's entry says its (automatic) setup already ran.
        let adopted = file == &"get-all-response.json";
        assert_eq!(dbi["spec"]["adoptExistingCatalog"], adopted, "{file}");
    }
}

#[test]
fn storage_root_and_suspend_are_accepted_by_the_api_server() {
    let cp = control_plane();
    let ns = cp.namespace("import-state");
    // A disabled integration (the GET response with its status changed) becomes suspended.
    let mut disabled: Value = serde_json::from_str(&fixture("get-all-response.json")).unwrap();
    disabled[1]["status"] = "disabled".into();
    let payload = std::env::temp_dir().join(format!("uc-import-state-{}.json", std::process::id()));
    std::fs::write(&payload, disabled.to_string()).unwrap();
    let url = "s3://governance-bucket/uc/immuta";
    let out = import_cli(&[
        OsStr::new("-f"),
        payload.as_os_str(),
        OsStr::new("--storage-root"),
        OsStr::new(url),
        OsStr::new("--name"),
        OsStr::new("stored"),
    ]);
    let _ = std::fs::remove_file(&payload);
    assert_success(&out, "import with --storage-root");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("suspend is true"), "{stderr}");
    let manifests = String::from_utf8(out.stdout).unwrap();
    let applied = cp.kubectl_stdin(&["apply", "-n", &ns, "-f", "-"], &manifests);
    assert_success(&applied, "apply");
    let out = cp.kubectl(&["get", "dbi", "stored", "-n", &ns, "-o", "json"]);
    assert_success(&out, "read back");
    let dbi: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(dbi["spec"]["storageRoot"], url);
    assert_eq!(dbi["spec"]["suspend"], true);
    assert_eq!(dbi["spec"]["adoptExistingCatalog"], false);

    // A URL the CRD would refuse is refused before any manifest is printed.
    let out = import_cli(&[
        OsStr::new("-f"),
        fixtures().join("create-token.json").as_os_str(),
        OsStr::new("--storage-root"),
        OsStr::new("https://bucket/x"),
    ]);
    assert!(!out.status.success() && out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--storage-root: `https://bucket/x`"), "{err}");
}

#[test]
fn inline_credentials_land_in_secrets_only() {
    let imported = convert_with(&fixture("create-oauth.json"), &Options::default()).unwrap();
    let secret = imported
        .secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("example-workspace-oauth"))
        .expect("the OAuth Secret");
    assert_eq!(
        secret.string_data.as_ref().unwrap()["clientSecret"],
        "secret"
    );
    let o = imported
        .integration
        .spec
        .connection
        .oauth_client_config
        .as_ref()
        .unwrap();
    assert_eq!(o.client_id, "123456abc");
    assert_eq!(o.authority_url.as_deref(), Some("example.authority.com"));
    assert_eq!(o.client_secret_ref.as_ref().unwrap().key, "clientSecret");

    // Redacted and left-out credentials become empty Secrets the notes point at.
    let get = convert_with(&fixture("get-response.json"), &Options::default()).unwrap();
    assert!(!get.integration.spec.auto_bootstrap);
    assert_eq!(
        get.secrets[0].string_data.as_ref().unwrap()["token"],
        "",
        "REDACTED is not a token"
    );
    assert!(
        get.notes
            .iter()
            .any(|n| n.contains("example-workspace-token"))
    );
    let update = convert_with(
        &fixture("update-additional-workspaces.json"),
        &Options::default(),
    )
    .unwrap();
    assert_eq!(update.secrets.len(), 3);
    assert!(
        update
            .notes
            .iter()
            .any(|n| n.contains("not in the payload"))
    );
}

#[test]
fn the_documented_example_is_refused_with_its_line_and_column() {
    let err = convert_with(
        &fixture("create-additional-workspaces.as-documented.txt"),
        &Options::default(),
    )
    .unwrap_err();
    let ImportError::Json { line, column, .. } = &err else {
        panic!("{err}");
    };
    // Line 13 repeats `clientSecret` (and lacks the comma before `scope`).
    assert_eq!((*line, *column > 0), (13, true), "{err}");
    assert!(err.to_string().contains("line 13, column"), "{err}");
}

#[test]
fn other_integration_types_are_refused() {
    let all = fixture("get-all-response.json");
    let snowflake: Value = serde_json::from_str::<Value>(&all).unwrap()[0].clone();
    let err = convert_with(&snowflake.to_string(), &Options::default()).unwrap_err();
    assert_eq!(err, ImportError::UnsupportedType("Snowflake".into()));
    assert!(err.to_string().contains("Snowflake"), "{err}");
    // The list picks its one Databricks entry.
    let picked = convert_with(&all, &Options::default()).unwrap();
    assert_eq!(
        picked.integration.metadata.annotations.unwrap()["uc-operator.dev/imported-from"],
        "integration 2"
    );
}

#[test]
fn the_binary_imports_end_to_end() {
    let cp = control_plane();
    let ns = cp.namespace("import-cli");
    let token = fixtures().join("create-token.json");
    let out = import_cli(&[
        OsStr::new("-f"),
        token.as_os_str(),
        OsStr::new("--name"),
        OsStr::new("migrated"),
        OsStr::new("--namespace"),
        OsStr::new(&ns),
    ]);
    assert_success(&out, "uc-operator import");
    let manifests = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("migrated-token"), "{stderr}");
    assert!(stderr.contains("placeholder"), "{stderr}");
    let applied = cp.kubectl_stdin(&["apply", "-f", "-"], &manifests);
    assert_success(&applied, "apply the import");
    let out = cp.kubectl(&[
        "get",
        "dbi",
        "migrated",
        "-n",
        &ns,
        "-o",
        "jsonpath={.spec.tokenSecretRef.name}",
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "migrated-token");

    // A real secret is never echoed on stderr.
    let dir = std::env::temp_dir().join(format!("uc-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let payload = dir.join("payload.yaml");
    std::fs::write(
        &payload,
        "type: Databricks\nconfig:\n  workspaceUrl: w.cloud.databricks.com\n  httpPath: /sql/1.0/warehouses/a\n  authenticationType: token\n  token: dapi-very-secret\n  catalog: c\n",
    )
    .unwrap();
    let out = import_cli(&[OsStr::new("-f"), payload.as_os_str()]);
    assert_success(&out, "import YAML");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("dapi-very-secret"));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dapi-very-secret"));

    // Errors: a non-zero exit naming the place.
    let documented = fixtures().join("create-additional-workspaces.as-documented.txt");
    let out = import_cli(&[OsStr::new("-f"), documented.as_os_str()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 13, column"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
