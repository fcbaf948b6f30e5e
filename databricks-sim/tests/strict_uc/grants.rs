//! Grants: what `REVOKE ALL PRIVILEGES` takes away.

use crate::common::start;
use databricks_sim::*;
use serde_json::json;

/// "Both the ALL PRIVILEGES grant and any individual privileges implied by it are revoked.
/// Privileges that are not part of ALL PRIVILEGES, such as MANAGE …, are not affected"
/// (docs.databricks.com sql/language-manual/security-revoke).
#[tokio::test]
async fn revoke_all_privileges_keeps_manage() {
    let s = Scenario::default_for_tests().with_catalog(
        CatalogSpec::new("c", SP_APP_ID)
            .with_grant("account users", &["ALL_PRIVILEGES", "SELECT", "MANAGE"]),
    );
    let t = start(s).await;
    let v = t
        .submit(
            SP_TOKEN,
            "REVOKE ALL PRIVILEGES ON CATALOG c FROM `account users`",
        )
        .await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{v}");
    let state = t.sim.state();
    let left: Vec<&String> = state.catalogs["c"].grants["account users"].iter().collect();
    assert_eq!(left, ["MANAGE"]);
    let v = t
        .submit(SP_TOKEN, "REVOKE MANAGE ON CATALOG c FROM `account users`")
        .await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{v}");
    assert!(
        !t.sim.state().catalogs["c"]
            .grants
            .contains_key("account users")
    );
}

/// A deleted principal's grants stay, listed with an empty `principal` and its `principal_id`;
/// a change names it by that id, never both (databricks-sdk-go `service/catalog/model.go`
/// `PrivilegeAssignment`, `PermissionsChange`).
#[tokio::test]
async fn a_deleted_principals_grants_are_named_by_id() {
    let s = Scenario::default_for_tests()
        .with_principal(PrincipalSpec::user("gone@example.com"))
        .with_catalog(CatalogSpec::new("c", SP_APP_ID).with_grant("gone@example.com", &["SELECT"]));
    let t = start(s).await;
    let id = t.sim.delete_principal("gone@example.com");
    let path = "/api/2.1/unity-catalog/permissions/catalog/c";
    let (_, v) = t.get(SP_TOKEN, path).await;
    assert_eq!(
        v["privilege_assignments"],
        json!([{"principal": "", "principal_id": id, "privileges": ["SELECT"]}])
    );
    // By name it no longer exists; both at once is refused.
    let by_name = json!({"changes": [{"principal": "gone@example.com", "remove": ["SELECT"]}]});
    let (s, e) = t.patch(SP_TOKEN, path, by_name).await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (404, Some("PRINCIPAL_DOES_NOT_EXIST"))
    );
    let both = json!({"changes": [{"principal": "x", "principal_id": id, "remove": ["SELECT"]}]});
    assert_eq!(t.patch(SP_TOKEN, path, both).await.0, 400);
    let by_id = json!({"changes": [{"principal_id": id, "remove": ["SELECT"]}]});
    let (s, v) = t.patch(SP_TOKEN, path, by_id).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["privilege_assignments"], json!([]));
}

/// Each securable type takes its own privileges ("Privilege types by securable object",
/// docs.databricks.com manage-privileges/privileges): a view takes no MODIFY, a schema no
/// USE CATALOG, a catalog no CREATE CATALOG, the metastore no SELECT.
#[tokio::test]
async fn privileges_are_checked_per_securable_type() {
    let t =
        start(Scenario::default_for_tests().with_principal(PrincipalSpec::user("u@example.com")))
            .await;
    for sql in [
        "CREATE CATALOG c",
        "CREATE SCHEMA c.s",
        "CREATE TABLE c.s.t (a STRING)",
        "CREATE VIEW c.s.v AS SELECT a FROM c.s.t",
        "GRANT USE CATALOG, CREATE SCHEMA ON CATALOG c TO `u@example.com`",
        "GRANT USE SCHEMA, SELECT ON SCHEMA c.s TO `u@example.com`",
        "GRANT SELECT, MODIFY ON TABLE c.s.t TO `u@example.com`",
        "GRANT SELECT ON TABLE c.s.v TO `u@example.com`",
    ] {
        let v = t.submit(SP_TOKEN, sql).await;
        assert_eq!(v["status"]["state"], "SUCCEEDED", "{sql}: {v}");
    }
    for sql in [
        "GRANT MODIFY ON TABLE c.s.v TO `u@example.com`",
        "GRANT USE CATALOG ON SCHEMA c.s TO `u@example.com`",
        "GRANT CREATE CATALOG ON CATALOG c TO `u@example.com`",
    ] {
        let v = t.submit(SP_TOKEN, sql).await;
        assert_eq!(v["status"]["state"], "FAILED", "{sql}: {v}");
    }
    let (s, _) = t
        .patch(
            ADMIN_TOKEN,
            &format!("/api/2.1/unity-catalog/permissions/metastore/{METASTORE_ID}"),
            json!({"changes": [{"principal": "u@example.com", "add": ["SELECT"]}]}),
        )
        .await;
    assert_eq!(s, 400);
}
