//! Bindings, effective permissions and who counts as a metastore admin.

use crate::common::{start, user};
use databricks_sim::*;
use serde_json::json;

#[tokio::test]
async fn bindings_need_owner_or_metastore_admin() {
    let s = Scenario::default_for_tests()
        .with_principal(user("owner@example.com", "dapi-owner").in_group("team-b"))
        .with_catalog(
            CatalogSpec::new("iso", "team-b")
                .isolated(&[MAIN_WORKSPACE_ID])
                .with_grant(SP_APP_ID, &["USE_CATALOG", "MANAGE"]),
        );
    let t = start(s).await;
    for path in [
        "/api/2.1/unity-catalog/bindings/catalog/iso",
        "/api/2.1/unity-catalog/workspace-bindings/catalogs/iso",
    ] {
        let (s, v) = t.get(SP_TOKEN, path).await;
        assert_eq!(
            (s, v["error_code"].as_str()),
            (403, Some("PERMISSION_DENIED")),
            "{path}"
        );
        assert_eq!(
            t.get("dapi-owner", path).await.0,
            200,
            "owner through its group: {path}"
        );
        assert_eq!(t.get(ADMIN_TOKEN, path).await.0, 200, "{path}");
    }
    // The SP still sees the catalog it may use through the bound workspace.
    assert_eq!(
        t.get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/iso")
            .await
            .0,
        200
    );
    let (s, _) = t
        .patch(
            SP_TOKEN,
            "/api/2.1/unity-catalog/bindings/catalog/iso",
            json!({"add": [{"workspace_id": 7}]}),
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn effective_permissions_are_the_principals_own() {
    let s = Scenario::default_for_tests()
        .with_principal(user("u@example.com", "dapi-u").in_group("analysts"))
        .with_catalog(
            CatalogSpec::new("c", ADMIN_USER)
                .with_grant("analysts", &["USE_CATALOG"])
                .with_grant("account users", &["BROWSE"])
                .with_grant("u@example.com", &["SELECT"]),
        );
    let t = start(s).await;
    let (_, v) = t
        .get(
            ADMIN_TOKEN,
            "/api/2.1/unity-catalog/effective-permissions/catalog/c?principal=u@example.com",
        )
        .await;
    assert_eq!(
        v["privilege_assignments"],
        json!([{"principal": "u@example.com", "privileges": [{"privilege": "SELECT"}]}])
    );
    let (_, all) = t
        .get(
            ADMIN_TOKEN,
            "/api/2.1/unity-catalog/effective-permissions/catalog/c",
        )
        .await;
    assert_eq!(
        all["privilege_assignments"].as_array().unwrap().len(),
        3,
        "{all}"
    );
    // Through its group the user may use the catalog all the same.
    assert_eq!(
        t.get("dapi-u", "/api/2.1/unity-catalog/catalogs/c").await.0,
        200
    );
}

#[tokio::test]
async fn metastore_admin_is_the_owner_directly_or_through_a_group() {
    let mut s = Scenario::default_for_tests().with_metastore_owner("uc-admins");
    s.principal_mut(SP_APP_ID).metastore_privileges.clear();
    s.principal_mut(SP_APP_ID).groups.push("uc-admins".into());
    s.principal_mut(ADMIN_USER).metastore_admin = false;
    let t = start(s.with_catalog(CatalogSpec::new("other", ADMIN_USER))).await;
    let (_, me) = t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await;
    let displays: Vec<&str> = me["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display"].as_str().unwrap())
        .collect();
    assert!(displays.contains(&"uc-admins"), "{me}");
    assert!(me["groups"][0]["value"].is_string());
    let (_, m) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/metastore_summary")
        .await;
    assert_eq!(m["owner"], "uc-admins");
    assert_eq!(
        t.submit(SP_TOKEN, "CREATE CATALOG mine").await["status"]["state"],
        "SUCCEEDED"
    );
    assert_eq!(
        t.get(SP_TOKEN, "/api/2.1/unity-catalog/bindings/catalog/other")
            .await
            .0,
        200
    );
    // The former admin, no longer in the owning group, is refused.
    let v = t.submit(ADMIN_TOKEN, "CREATE CATALOG nope").await;
    assert_eq!(v["status"]["sql_state"], "42501", "{v}");
}

/// SCIM `Me` lists the groups the principal is directly in; one held through another group
/// (nested) is missing there, yet makes it a metastore admin all the same.
#[tokio::test]
async fn scim_me_lists_only_direct_groups() {
    let mut s = Scenario::default_for_tests().with_metastore_owner("uc-admins");
    let sp = s.principal_mut(SP_APP_ID);
    sp.metastore_privileges.clear();
    sp.groups.push("platform".into());
    sp.nested_groups.push("uc-admins".into());
    s.principal_mut(ADMIN_USER).metastore_admin = false;
    let t = start(s).await;
    let (_, me) = t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await;
    let displays: Vec<&str> = me["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display"].as_str().unwrap())
        .collect();
    assert!(displays.contains(&"platform"), "{me}");
    assert!(!displays.contains(&"uc-admins"), "{me}");
    assert_eq!(
        t.submit(SP_TOKEN, "CREATE CATALOG mine").await["status"]["state"],
        "SUCCEEDED"
    );
}
