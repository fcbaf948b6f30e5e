//! Unity Catalog: isolation, bindings, paging and the setup statements.

use crate::common::start;
use databricks_sim::*;
use serde_json::json;

#[tokio::test]
// Long: one scenario walked through isolation, listing, paging and bindings.
async fn isolation_bindings_and_paging() {
    let s = Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("b", 1002).with_warehouse("wh-b", "RUNNING"))
        .with_catalog(CatalogSpec::new("aa_hidden", ADMIN_USER))
        .with_catalog(
            CatalogSpec::new("bb_iso", ADMIN_USER)
                .isolated(&[1002])
                .with_grant(SP_APP_ID, &["USE_CATALOG"]),
        )
        .with_catalog(
            CatalogSpec::new("cc_open", ADMIN_USER).with_grant(SP_APP_ID, &["USE_CATALOG"]),
        );
    let t = start(s).await;
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/bb_iso")
        .await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let (_, v) = t.get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs").await;
    let names: Vec<&str> = v["catalogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cc_open"]);
    let (_, v) = t
        .get(
            SP_TOKEN,
            "/api/2.1/unity-catalog/catalogs?include_unbound=true",
        )
        .await;
    assert_eq!(v["catalogs"].as_array().unwrap().len(), 2);
    // Paging walks all catalogs; the first page holds only a catalog the SP cannot see.
    let (_, p1) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs?max_results=1")
        .await;
    assert_eq!(p1["catalogs"], json!([]));
    let token = p1["next_page_token"].as_str().unwrap().to_string();
    let (_, p2) = t
        .get(
            SP_TOKEN,
            &format!("/api/2.1/unity-catalog/catalogs?max_results=2&page_token={token}"),
        )
        .await;
    assert_eq!(p2["catalogs"][0]["name"], "cc_open");
    assert!(p2.get("next_page_token").is_none());
    // Bindings are for the owner and metastore admins only.
    assert_eq!(
        t.get(SP_TOKEN, "/api/2.1/unity-catalog/bindings/catalog/bb_iso")
            .await
            .0,
        403
    );
    let (_, b) = t
        .get(
            ADMIN_TOKEN,
            "/api/2.1/unity-catalog/bindings/catalog/bb_iso",
        )
        .await;
    assert_eq!(
        b["bindings"],
        json!([{"workspace_id": 1002, "binding_type": "BINDING_TYPE_READ_WRITE"}])
    );
    let v = t.sql(SP_TOKEN, "CREATE SCHEMA bb_iso.s").await;
    assert_eq!(v["status"]["state"], "FAILED");
    assert!(
        v["status"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not accessible in current workspace")
    );
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/nope")
        .await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (404, Some("CATALOG_DOES_NOT_EXIST"))
    );
    assert!(v["details"][0]["request_id"].is_string());
}

#[tokio::test]
// Long: the setup statements in order, then what a non-owner is refused.
async fn setup_statements_and_privileges() {
    let t =
        start(Scenario::default_for_tests().with_catalog(CatalogSpec::new("sales", ADMIN_USER)))
            .await;
    for sql in [
        "CREATE CATALOG IF NOT EXISTS `uc_int` COMMENT 'owned by uc-operator'",
        &format!("ALTER CATALOG uc_int OWNER TO `{SP_APP_ID}`"),
        "REVOKE ALL PRIVILEGES ON CATALOG uc_int FROM `account users`",
        "CREATE SCHEMA IF NOT EXISTS uc_int.immuta_system",
        "CREATE TABLE IF NOT EXISTS uc_int.immuta_system.profiles (user_name STRING, profile STRING)",
        "CREATE OR REPLACE VIEW uc_int.immuta_system.my_profile AS SELECT * FROM uc_int.immuta_system.profiles WHERE user_name = current_user()",
        "ALTER CATALOG uc_int SET TAGS ('uc-operator.dev/owner' = 'ns/x')",
        "GRANT USE CATALOG ON CATALOG uc_int TO `admin@example.com`",
        "SELECT 1 FROM system.access.audit LIMIT 1",
    ] {
        let v = t.sql(SP_TOKEN, sql).await;
        assert_eq!(v["status"]["state"], "SUCCEEDED", "{sql}: {v}");
    }
    let snap = t.sim.state();
    let c = &snap.catalogs["uc_int"];
    assert_eq!(c.owner, SP_APP_ID);
    assert_eq!(c.tags["uc-operator.dev/owner"], "ns/x");
    assert!(c.schemas["immuta_system"].tables.contains_key("profiles"));
    assert!(c.schemas["immuta_system"].views.contains_key("my_profile"));
    assert!(c.grants[ADMIN_USER].contains("USE_CATALOG"));
    let (_, tag) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/entity-tag-assignments/catalogs/uc_int/tags/uc-operator.dev%2Fowner")
        .await;
    assert_eq!(tag["tag_value"], "ns/x");
    // Not the owner of `sales`: grants and ownership changes are refused with 42501.
    for sql in [
        "GRANT SELECT ON CATALOG sales TO `account users`",
        &format!("ALTER CATALOG sales OWNER TO `{SP_APP_ID}`"),
        "CREATE SCHEMA sales.x",
    ] {
        let v = t.sql(SP_TOKEN, sql).await;
        assert_eq!(v["status"]["state"], "FAILED", "{sql}");
        assert_eq!(v["status"]["sql_state"], "42501", "{sql}: {v}");
    }
    let v = t.sql(SP_TOKEN, "CREATE CATALOG uc_int").await;
    assert_eq!(
        v["status"]["error"]["message"]
            .as_str()
            .unwrap()
            .split(']')
            .next(),
        Some("[CATALOG_ALREADY_EXISTS")
    );
    t.sim
        .revoke_metastore_privilege(SP_APP_ID, "CREATE_CATALOG");
    let v = t.sql(SP_TOKEN, "CREATE CATALOG other").await;
    assert_eq!(v["status"]["sql_state"], "42501");
    let v = t
        .sql(ADMIN_TOKEN, "SELECT * FROM sales.default.missing")
        .await;
    assert_eq!(v["status"]["sql_state"], "42P01");
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/uc_int")
        .await;
    assert_eq!((s, v["owner"].as_str()), (200, Some(SP_APP_ID)));
    let (s, _) = t
        .http
        .delete(format!("{}/api/2.1/unity-catalog/catalogs/uc_int", t.url))
        .bearer_auth(SP_TOKEN)
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(s, 400, "CATALOG_NOT_EMPTY without force");
    let v = t.sql(SP_TOKEN, "DROP CATALOG uc_int CASCADE").await;
    assert_eq!(v["status"]["state"], "SUCCEEDED");
    assert!(!t.sim.state().catalogs.contains_key("uc_int"));
}
