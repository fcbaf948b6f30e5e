//! Grants and ownership over REST and SQL.

use crate::common::{start, user};
use databricks_sim::*;
use serde_json::json;

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
    // Pages hold whole assignments: 1..149 is refused (databricks-sdk-go GetGrantRequest).
    for max in [1, 149] {
        let (s, e) = t
            .get(SP_TOKEN, &format!("{perms}/catalog/c?max_results={max}"))
            .await;
        assert_eq!(
            (s, e["error_code"].as_str()),
            (400, Some("INVALID_PARAMETER_VALUE"))
        );
        let effective =
            format!("/api/2.1/unity-catalog/effective-permissions/catalog/c?max_results={max}");
        assert_eq!(t.get(SP_TOKEN, &effective).await.0, 400);
    }
    for max in [0, 150] {
        let (s, p) = t
            .get(SP_TOKEN, &format!("{perms}/catalog/c?max_results={max}"))
            .await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["privilege_assignments"].as_array().unwrap().len(), 2);
        assert!(p.get("next_page_token").is_none(), "{p}");
    }
    // A view's grants are a table's: `view` is no securable type.
    assert_eq!(t.get(SP_TOKEN, &format!("{perms}/view/c.s.v")).await.0, 400);
    assert_eq!(
        t.get(SP_TOKEN, &format!("{perms}/table/c.s.v")).await.0,
        200
    );
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
