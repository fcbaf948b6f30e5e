//! Strictness rules of Unity Catalog (docs/simulator.md), one test each, over HTTPS.

mod common;

use common::{start, user};
use databricks_sim::*;
use serde_json::{Value, json};

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

#[tokio::test]
async fn catalogs_are_visible_only_with_use_catalog_browse_or_ownership() {
    let s = Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("b", 1002))
        .with_catalog(CatalogSpec::new("hidden", ADMIN_USER))
        .with_catalog(CatalogSpec::new("browse", ADMIN_USER).with_grant(SP_APP_ID, &["BROWSE"]))
        .with_catalog(CatalogSpec::new("used", ADMIN_USER).with_grant(SP_APP_ID, &["USE_CATALOG"]))
        .with_catalog(CatalogSpec::new("unbound", SP_APP_ID).isolated(&[1002]));
    let t = start(s).await;
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/hidden")
        .await;
    assert_eq!(
        (s, v["message"].as_str()),
        (
            403,
            Some("User does not have USE CATALOG on Catalog 'hidden'.")
        )
    );
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/browse")
        .await;
    assert_eq!((s, v["browse_only"].as_bool()), (200, Some(true)));
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/unbound")
        .await;
    assert_eq!(s, 403, "owned but not bound here: {v}");
    let names = |v: &Value| -> Vec<String> {
        v["catalogs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        names(&t.get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs").await.1),
        ["used"]
    );
    assert_eq!(
        names(
            &t.get(
                SP_TOKEN,
                "/api/2.1/unity-catalog/catalogs?include_browse=true&include_unbound=true"
            )
            .await
            .1
        ),
        ["browse", "unbound", "used"]
    );
}

#[tokio::test]
// Long: one scenario walked through grants, paging and ownership in order.
async fn grants_and_ownership_over_rest() {
    let s = Scenario::default_for_tests()
        .with_principal(user("u@example.com", "dapi-u"))
        .with_catalog(
            CatalogSpec::new("c", SP_APP_ID).with_grant("u@example.com", &["USE_CATALOG"]),
        );
    let t = start(s).await;
    for sql in [
        "CREATE SCHEMA c.s COMMENT 'internal'",
        "CREATE TABLE c.s.t (a STRING)",
        "CREATE VIEW c.s.v AS SELECT a FROM c.s.t",
        "GRANT USE SCHEMA ON SCHEMA c.s TO `u@example.com`",
        "GRANT SELECT ON TABLE c.s.t TO `u@example.com`",
        "GRANT USE CATALOG ON CATALOG c TO `account users`",
    ] {
        assert_eq!(
            t.submit(SP_TOKEN, sql).await["status"]["state"],
            "SUCCEEDED",
            "{sql}"
        );
    }
    let perms = "/api/2.1/unity-catalog/permissions";
    let (_, p1) = t
        .get(SP_TOKEN, &format!("{perms}/catalog/c?max_results=1"))
        .await;
    assert_eq!(p1["privilege_assignments"].as_array().unwrap().len(), 1);
    let token = p1["next_page_token"].as_str().unwrap();
    let (_, p2) = t
        .get(
            SP_TOKEN,
            &format!("{perms}/catalog/c?max_results=1&page_token={token}"),
        )
        .await;
    assert!(p2.get("next_page_token").is_none(), "{p2}");
    // Only the owner, a MANAGE holder or a metastore admin may change grants.
    let revoke = json!({"changes": [{"principal": "u@example.com", "remove": ["SELECT"]}]});
    assert_eq!(
        t.patch("dapi-u", &format!("{perms}/table/c.s.t"), revoke.clone())
            .await
            .0,
        403
    );
    let (s, v) = t
        .patch(SP_TOKEN, &format!("{perms}/table/c.s.t"), revoke)
        .await;
    assert_eq!((s, v["privilege_assignments"].clone()), (200, json!([])));
    let (_, sch) = t.get(SP_TOKEN, "/api/2.1/unity-catalog/schemas/c.s").await;
    assert_eq!(
        (sch["owner"].as_str(), sch["comment"].as_str()),
        (Some(SP_APP_ID), Some("internal"))
    );
    let (_, list) = t
        .get(
            SP_TOKEN,
            "/api/2.1/unity-catalog/tables?catalog_name=c&schema_name=s",
        )
        .await;
    let types: Vec<&str> = list["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["table_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["MANAGED", "VIEW"]);
    assert_eq!(
        t.patch(
            "dapi-u",
            "/api/2.1/unity-catalog/tables/c.s.v",
            json!({"owner": "u@example.com"})
        )
        .await
        .0,
        403
    );
    let (s, v) = t
        .patch(
            SP_TOKEN,
            "/api/2.1/unity-catalog/tables/c.s.v",
            json!({"owner": ADMIN_USER}),
        )
        .await;
    assert_eq!((s, v["owner"].as_str()), (200, Some(ADMIN_USER)));
    let (s, v) = t
        .patch(
            SP_TOKEN,
            "/api/2.1/unity-catalog/schemas/c.s",
            json!({"owner": ADMIN_USER}),
        )
        .await;
    assert_eq!((s, v["owner"].as_str()), (200, Some(ADMIN_USER)));
    let (_, schemas) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/schemas?catalog_name=c")
        .await;
    assert_eq!(
        schemas["schemas"].as_array().unwrap().len(),
        3,
        "default, information_schema, s"
    );
}

#[tokio::test]
async fn sql_owner_transfers_and_schema_options() {
    let t = start(Scenario::default_for_tests()).await;
    for sql in [
        "CREATE CATALOG c MANAGED LOCATION 's3://b/c'",
        "CREATE SCHEMA IF NOT EXISTS c.s COMMENT 'x' MANAGED LOCATION 's3://b/s'",
        "CREATE TABLE c.s.t (a STRING)",
        "CREATE VIEW c.s.v AS SELECT a FROM c.s.t",
        &format!("ALTER TABLE c.s.t OWNER TO `{ADMIN_USER}`"),
        &format!("ALTER VIEW c.s.v OWNER TO `{ADMIN_USER}`"),
        &format!("ALTER SCHEMA c.s OWNER TO `{ADMIN_USER}`"),
    ] {
        assert_eq!(
            t.submit(SP_TOKEN, sql).await["status"]["state"],
            "SUCCEEDED",
            "{sql}"
        );
    }
    let snap = t.sim.state();
    let s = &snap.catalogs["c"].schemas["s"];
    assert_eq!(
        (
            s.owner.as_str(),
            s.tables["t"].owner.as_str(),
            s.views["v"].owner.as_str()
        ),
        (ADMIN_USER, ADMIN_USER, ADMIN_USER)
    );
    // ALTER TABLE does not apply to a view.
    assert_eq!(
        t.submit(ADMIN_TOKEN, "ALTER TABLE c.s.v OWNER TO `x`")
            .await["status"]["state"],
        "FAILED"
    );
}

#[tokio::test]
// Long: refused, granted by an admin, then read, in order.
async fn system_tables_need_grants_only_a_metastore_admin_gives() {
    let mut s = Scenario::default_for_tests().with_principal(user("u@example.com", "dapi-u"));
    s.principal_mut(SP_APP_ID).system_tables_access = false;
    s.principal_mut("u@example.com").metastore_privileges = vec!["CREATE_CATALOG".into()];
    let t = start(s).await;
    let read = "SELECT 1 FROM system.access.audit LIMIT 1";
    assert_eq!(
        t.submit(SP_TOKEN, read).await["status"]["sql_state"],
        "42501"
    );
    let grants = [
        format!("GRANT USE CATALOG ON CATALOG `system` TO `{SP_APP_ID}`"),
        format!("GRANT USE SCHEMA ON SCHEMA `system`.`access` TO `{SP_APP_ID}`"),
        format!("GRANT SELECT ON TABLE `system`.`access`.`audit` TO `{SP_APP_ID}`"),
    ];
    // A runner who may only create catalogs cannot grant on the system catalog.
    let v = t.submit("dapi-u", &grants[0]).await;
    assert_eq!(v["status"]["sql_state"], "42501", "{v}");
    for g in &grants {
        assert_eq!(
            t.submit(ADMIN_TOKEN, g).await["status"]["state"],
            "SUCCEEDED",
            "{g}"
        );
    }
    assert_eq!(
        t.submit(SP_TOKEN, read).await["status"]["state"],
        "SUCCEEDED"
    );
    let (_, e) = t
        .get(
            SP_TOKEN,
            &format!("/api/2.1/unity-catalog/effective-permissions/table/system.access.audit?principal={SP_APP_ID}"),
        )
        .await;
    assert_eq!(
        e["privilege_assignments"][0]["privileges"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "{e}"
    );
    // The system catalog is neither listed, created nor dropped.
    let (_, list) = t.get(ADMIN_TOKEN, "/api/2.1/unity-catalog/catalogs").await;
    assert!(
        list["catalogs"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "system")
    );
    assert_eq!(
        t.submit(ADMIN_TOKEN, "DROP CATALOG system CASCADE").await["status"]["state"],
        "FAILED"
    );
    assert_eq!(
        t.submit(ADMIN_TOKEN, "CREATE CATALOG system").await["status"]["state"],
        "FAILED"
    );
}

#[test]
fn scenario_yaml_carries_the_account_properties() {
    let s = Scenario::from_yaml(
        "metastore_id: m\nmetastore_storage_root: null\nmetastore_owner: admins-g\ncluster_start_polls: 3\nstatement_polls_past_wait: 2\nresult_chunk_rows: 7\ngenerated_workspaces: {count: 2}\nworkspaces: []\nprincipals: [{application_id: a@b.c, groups: [admins-g]}]\nfaults: [{path_prefix: /api/2.0/sql/statements, kind: {statement_failed: {error_code: TEMPORARILY_UNAVAILABLE}}, times: 1}]\n",
    )
    .unwrap();
    assert_eq!(s.metastore_storage_root, None);
    assert_eq!(s.metastore_owner.as_deref(), Some("admins-g"));
    assert_eq!(
        (
            s.cluster_start_polls,
            s.statement_polls_past_wait,
            s.result_chunk_rows
        ),
        (3, 2, 7)
    );
    assert_eq!(s.principals[0].groups, ["admins-g"]);
    let names: Vec<String> = s
        .expanded()
        .workspaces
        .iter()
        .map(|w| w.name.clone())
        .collect();
    assert_eq!(names, ["ws-0001", "ws-0002"]);
    // Without the field the metastore has root storage, so older scenarios keep working.
    let d = Scenario::from_yaml("workspaces: []").unwrap();
    assert_eq!(
        d.metastore_storage_root.as_deref(),
        Some(DEFAULT_STORAGE_ROOT)
    );
}
