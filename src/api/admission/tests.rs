use serde_json::json;

use super::*;

fn manifest() -> Value {
    json!({
        "apiVersion": "uc-operator.dev/v1alpha1",
        "kind": "DatabricksIntegration",
        "metadata": {"name": "analytics"},
        "spec": {
            "workspaceUrl": "analytics.cloud.databricks.com",
            "httpPath": "/sql/1.0/warehouses/abc",
            "authenticationType": "token",
            "tokenSecretRef": {"name": "sp-token"},
            "catalog": "governance",
        }
    })
}

#[test]
fn every_example_is_accepted() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut seen = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let Some(dbi) = crate::api::manifest_document(&text).unwrap() else {
            continue;
        };
        assert_eq!(refusals(&dbi), Vec::<String>::new(), "{text}");
        seen += 1;
    }
    assert!(seen >= 6);
    assert!(refusals(&manifest()).is_empty());
}

#[test]
fn schema_and_rules_name_the_field() {
    let mut bad = manifest();
    bad["spec"]["catalog"] = json!("9bad-name");
    let r = refusals(&bad);
    assert!(r.iter().any(|m| m.starts_with("spec.catalog:")), "{r:?}");

    let mut missing = manifest();
    missing["spec"].as_object_mut().unwrap().remove("httpPath");
    assert_eq!(refusals(&missing), ["spec.httpPath: Required value"]);

    // A CEL rule with a fieldPath: token authentication without its Secret.
    let mut rule = manifest();
    rule["spec"]
        .as_object_mut()
        .unwrap()
        .remove("tokenSecretRef");
    let r = refusals(&rule);
    assert!(
        r.iter()
            .any(|m| m.starts_with("spec.tokenSecretRef:") && m.contains("required")),
        "{r:?}"
    );

    // A rule over a list: one catalog in two connections.
    let mut dup = manifest();
    let conn = |c: &str| {
        json!({"workspaceUrl": "b.cloud.databricks.com", "httpPath": "/sql/1.0/warehouses/x",
        "authenticationType": "token", "tokenSecretRef": {"name": "b"}, "catalogs": [c]})
    };
    dup["spec"]["additionalWorkspaceConnections"] = json!([conn("x"), conn("x")]);
    let r = refusals(&dup);
    assert!(
        r.iter()
            .any(|m| m.starts_with("spec.additionalWorkspaceConnections:")),
        "{r:?}"
    );

    // Defaults are filled in before the rules run: a duration under a minute.
    let mut short = manifest();
    short["spec"]["revalidationInterval"] = json!("30s");
    let r = refusals(&short);
    assert!(
        r.iter()
            .any(|m| m.starts_with("spec.revalidationInterval:")),
        "{r:?}"
    );
}
