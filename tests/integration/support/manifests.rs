//! The manifests the tests apply, built in one place: tests start from these and change the
//! fields they are about.

use databricks_sim::{SP_CLIENT_ID, WAREHOUSE_ID};
use serde_json::{Value, json};

/// A token integration for the workspace at `host` whose token is in Secret `sp-token`, on the
/// simulator's warehouse.
pub fn integration(name: &str, host: &str, catalog: &str) -> Value {
    json!({
        "apiVersion": "uc-operator.dev/v1alpha1",
        "kind": "DatabricksIntegration",
        "metadata": {"name": name},
        "spec": {
            "workspaceUrl": host,
            "httpPath": format!("/sql/1.0/warehouses/{WAREHOUSE_ID}"),
            "authenticationType": "token",
            "tokenSecretRef": {"name": "sp-token"},
            "catalog": catalog,
        }
    })
}

/// An OAuth M2M integration whose client secret is in Secret `sp-oauth`.
pub fn oauth_integration(name: &str, host: &str, catalog: &str, authority: Option<&str>) -> Value {
    let mut m = integration(name, host, catalog);
    let spec = &mut m["spec"];
    spec.as_object_mut().unwrap().remove("tokenSecretRef");
    spec["authenticationType"] = json!("oAuthM2M");
    spec["oAuthClientConfig"] = oauth_client("sp-oauth");
    if let Some(url) = authority {
        spec["oAuthClientConfig"]["authorityUrl"] = json!(url);
    }
    m
}

fn oauth_client(secret: &str) -> Value {
    json!({"clientId": SP_CLIENT_ID, "clientSecretRef": {"name": secret}})
}

/// An additional workspace connection by token (Secret `secret`) reaching `catalogs`.
pub fn token_connection(host: &str, secret: &str, catalogs: &[&str]) -> Value {
    json!({
        "workspaceUrl": host,
        "httpPath": format!("/sql/1.0/warehouses/{WAREHOUSE_ID}"),
        "authenticationType": "token",
        "tokenSecretRef": {"name": secret},
        "catalogs": catalogs,
    })
}

/// An additional workspace connection by OAuth M2M (Secret `sp-oauth`) reaching `catalogs`.
pub fn oauth_connection(host: &str, catalogs: &[&str]) -> Value {
    let mut c = token_connection(host, "", catalogs);
    let fields = c.as_object_mut().unwrap();
    fields.remove("tokenSecretRef");
    fields.insert("authenticationType".into(), json!("oAuthM2M"));
    fields.insert("oAuthClientConfig".into(), oauth_client("sp-oauth"));
    c
}

/// A one-key Secret.
pub fn secret(name: &str, key: &str, value: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name},
        "stringData": {key: value},
    })
}

/// A ConfigMap holding `data`.
pub fn config_map(name: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": data,
    })
}

/// `object` owned by the `DatabricksIntegration` `owner` (uid `uid`), for the garbage collector.
pub fn owned_by(mut object: Value, owner: &str, uid: &str) -> Value {
    object["metadata"]["ownerReferences"] = json!([{
        "apiVersion": "uc-operator.dev/v1alpha1", "kind": "DatabricksIntegration",
        "name": owner, "uid": uid,
    }]);
    object
}

/// `object` in namespace `ns` (for kubectl, which applies it as written).
pub fn in_namespace(mut object: Value, ns: &str) -> Value {
    object["metadata"]["namespace"] = json!(ns);
    object
}
