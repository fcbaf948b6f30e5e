//! A metastore without a storage root refuses catalogs before `IF NOT EXISTS` is looked at.

use crate::common::{T, start};
use databricks_sim::*;
use serde_json::json;

#[tokio::test]
async fn root_storage_is_required_before_if_not_exists() {
    let t = start(Scenario::default_for_tests().without_storage_root()).await;
    let (_, m) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/metastore_summary")
        .await;
    assert!(m.get("storage_root").is_none(), "{m}");
    assert_eq!(m["owner"], ADMIN_USER);
    let v = t.submit(SP_TOKEN, "CREATE CATALOG IF NOT EXISTS c1").await;
    assert_eq!(v["status"]["state"], "FAILED");
    let msg = v["status"]["error"]["message"].as_str().unwrap();
    assert!(
        msg.starts_with("[INVALID_STATE] Metastore storage root URL does not exist."),
        "{msg}"
    );
    let (s, e) = t
        .post(
            SP_TOKEN,
            "/api/2.1/unity-catalog/catalogs",
            json!({"name": "c1"}),
        )
        .await;
    assert_eq!((s, e["error_code"].as_str()), (400, Some("INVALID_STATE")));
    assert!(t.sim.state().catalogs.is_empty());
    let v = t
        .submit(
            SP_TOKEN,
            "CREATE CATALOG IF NOT EXISTS c1 MANAGED LOCATION 's3://b/c1' COMMENT 'x'",
        )
        .await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{v}");
    // The check comes first: even an existing catalog fails a bare IF NOT EXISTS.
    let v = t.submit(SP_TOKEN, "CREATE CATALOG IF NOT EXISTS c1").await;
    assert_eq!(v["status"]["state"], "FAILED");
    let (_, c) = t.get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/c1").await;
    assert_eq!(c["storage_root"], "s3://b/c1");
    let (s, c) = t
        .post(
            SP_TOKEN,
            "/api/2.1/unity-catalog/catalogs",
            json!({"name": "c2", "storage_root": "s3://b/c2"}),
        )
        .await;
    assert_eq!((s, c["storage_root"].as_str()), (200, Some("s3://b/c2")));
    // With root storage (the default) a bare CREATE CATALOG works and the summary has the root.
    let t = start(Scenario::default_for_tests()).await;
    let (_, m) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/metastore_summary")
        .await;
    assert_eq!(m["storage_root"], DEFAULT_STORAGE_ROOT);
    assert_eq!(
        t.submit(SP_TOKEN, "CREATE CATALOG c").await["status"]["state"],
        "SUCCEEDED"
    );
}

/// A serverless workspace with Default Storage creates catalogs without a location on a
/// root-less metastore; the catalog is bound to that workspace only (docs.databricks.com
/// storage/default-storage). Another, classic workspace on the same metastore is still refused.
#[tokio::test]
async fn default_storage_needs_no_location() {
    let mut s = Scenario::default_for_tests()
        .without_storage_root()
        .with_workspace(
            WorkspaceSpec::new("classic", 2002).with_warehouse(WAREHOUSE_ID, "RUNNING"),
        );
    s.workspace_mut("main").default_storage = true;
    let t = start(s).await;
    let v = t.submit(SP_TOKEN, "CREATE CATALOG IF NOT EXISTS c1").await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{v}");
    let (s, c) = t
        .post(
            SP_TOKEN,
            "/api/2.1/unity-catalog/catalogs",
            json!({"name": "c2"}),
        )
        .await;
    assert_eq!(s, 200, "{c}");
    assert!(c.get("storage_root").is_none(), "{c}");
    let state = t.sim.state();
    let c1 = &state.catalogs["c1"];
    assert_eq!(c1.storage_root, None);
    assert_eq!(c1.isolation_mode, "ISOLATED");
    assert_eq!(c1.bindings.keys().collect::<Vec<_>>(), [&MAIN_WORKSPACE_ID]);

    let classic = T {
        url: t.sim.workspace("classic").url,
        http: t.http.clone(),
        sim: t.sim.clone(),
    };
    let v = classic.submit(SP_TOKEN, "CREATE CATALOG c3").await;
    assert_eq!(v["status"]["state"], "FAILED", "{v}");
    assert!(!t.sim.state().catalogs.contains_key("c3"));
}

/// `CREATE CATALOG` held through a group or through `account users` is enough to create a
/// catalog, although effective permissions for the principal list neither.
#[tokio::test]
async fn create_catalog_through_a_group_or_account_users() {
    for grantee in ["uc-creators", "account users"] {
        let mut s =
            Scenario::default_for_tests().with_metastore_grant(grantee, &["CREATE_CATALOG"]);
        let sp = s.principal_mut(SP_APP_ID);
        sp.metastore_privileges.clear();
        sp.groups.push("uc-creators".into());
        let t = start(s).await;
        let path = format!(
            "/api/2.1/unity-catalog/effective-permissions/metastore/{METASTORE_ID}?principal={SP_APP_ID}"
        );
        let (status, v) = t.get(SP_TOKEN, &path).await;
        assert_eq!(status, 200, "{v}");
        assert!(!v.to_string().contains("CREATE_CATALOG"), "{grantee}: {v}");
        let v = t.submit(SP_TOKEN, "CREATE CATALOG c").await;
        assert_eq!(v["status"]["state"], "SUCCEEDED", "{grantee}: {v}");
        assert_eq!(t.sim.state().catalogs["c"].owner, SP_APP_ID);
    }
    // Without any: refused, as permission denied.
    let mut s = Scenario::default_for_tests();
    s.principal_mut(SP_APP_ID).metastore_privileges.clear();
    let t = start(s).await;
    let v = t.submit(SP_TOKEN, "CREATE CATALOG c").await;
    assert_eq!(v["status"]["state"], "FAILED", "{v}");
    assert_eq!(v["status"]["sql_state"], "42501", "{v}");
}
