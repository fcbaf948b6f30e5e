//! Unity Catalog and SCIM reads and grant changes: no compute needed.

use databricks_sim::{CatalogSpec, SP_APP_ID, SP_TOKEN, Scenario};
use serde_json::json;
use uc_operator::databricks::{CatalogTag, PermissionsChange};

use super::*;
use crate::support::hostile::{Hostile, Reply};

#[tokio::test]
async fn a_missing_metastore_is_none() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.set_metastore_assigned("main", false);
    let c = client(&sim, token(SP_TOKEN));
    assert_eq!(c.metastore_summary().await.unwrap(), None);
}

#[tokio::test]
async fn metastore_summary_and_identity() {
    let sim = start(Scenario::default_for_tests()).await;
    let c = client(&sim, token(SP_TOKEN));
    let summary = c.metastore_summary().await.unwrap().expect("assigned");
    assert_eq!(summary.metastore_id, databricks_sim::METASTORE_ID);
    assert!(!summary.owner.is_empty());
    assert_eq!(c.workspace_id(), None);
    let me = c.me().await.unwrap();
    assert_eq!(me.user_name, SP_APP_ID);
    assert_eq!(me.groups, ["users"]);
    // The workspace id rides on SCIM `Me` (X-Databricks-Org-Id), and the client keeps it.
    assert_eq!(me.workspace_id, Some(1001));
    assert_eq!(c.workspace_id(), Some(1001));
    // Independent reads at once on one client.
    let (a, b, d) = tokio::join!(c.me(), c.metastore_summary(), c.get_catalog("absent"));
    assert!(a.is_ok() && b.is_ok() && d.unwrap().is_none());
}

#[tokio::test]
async fn unity_catalog_reads() {
    let scenario = Scenario::default_for_tests().with_catalog(
        CatalogSpec::new("sales", SP_APP_ID)
            .with_tag("uc_operator_integration", "ns/one")
            .with_grant("account users", &["USE_CATALOG"])
            .isolated(&[1001]),
    );
    let sim = start(scenario).await;
    let c = client(&sim, token(SP_TOKEN));
    let info = c.get_catalog("sales").await.unwrap().expect("exists");
    assert_eq!(info.owner.as_deref(), Some(SP_APP_ID));
    assert!(info.is_isolated());
    assert_eq!(c.get_catalog("absent").await.unwrap(), None);
    assert_eq!(
        c.get_catalog_tag("sales", "uc_operator_integration")
            .await
            .unwrap(),
        CatalogTag::Value("ns/one".into())
    );
    assert_eq!(
        c.get_catalog_tag("sales", "other").await.unwrap(),
        CatalogTag::Absent
    );
    let bindings = c.catalog_bindings("sales").await.unwrap();
    assert_eq!(
        bindings.iter().map(|b| b.workspace_id).collect::<Vec<_>>(),
        vec![1001]
    );
    let grants = c.get_permissions("catalog", "sales").await.unwrap();
    assert!(
        grants
            .iter()
            .any(|g| g.principal == "account users" && g.privileges == ["USE_CATALOG"]),
        "{grants:?}"
    );
    let effective = c
        .effective_permissions("catalog", "sales", "account users")
        .await
        .unwrap();
    assert!(
        effective
            .iter()
            .any(|a| a.privileges.iter().any(|p| p.privilege == "USE_CATALOG")),
        "{effective:?}"
    );
    c.execute("CREATE SCHEMA IF NOT EXISTS sales.inner")
        .await
        .unwrap();
    let schema = c.get_schema("sales.inner").await.unwrap().expect("exists");
    assert_eq!(schema.full_name.as_deref(), Some("sales.inner"));
    assert_eq!(c.get_schema("sales.absent").await.unwrap(), None);
    c.delete_catalog("sales", true).await.unwrap();
    assert_eq!(c.get_catalog("sales").await.unwrap(), None);
    c.delete_catalog("sales", true).await.unwrap();
}

#[tokio::test]
async fn grants_are_changed_by_patch() {
    let scenario = Scenario::default_for_tests().with_catalog(
        CatalogSpec::new("sales", SP_APP_ID)
            .with_grant("account users", &["USE_CATALOG", "SELECT"]),
    );
    let sim = start(scenario).await;
    let c = client(&sim, token(SP_TOKEN));
    let change = PermissionsChange {
        principal: "account users".into(),
        remove: vec!["SELECT".into()],
        ..Default::default()
    };
    c.update_permissions("catalog", "sales", &[change])
        .await
        .unwrap();
    let grants = c.get_permissions("catalog", "sales").await.unwrap();
    let held: Vec<&String> = grants
        .iter()
        .filter(|g| g.principal == "account users")
        .flat_map(|g| &g.privileges)
        .collect();
    assert_eq!(held, ["USE_CATALOG"], "{grants:?}");
}

#[tokio::test]
async fn schemas_are_listed_across_pages() {
    let mut catalog = CatalogSpec::new("many", SP_APP_ID);
    catalog.schemas = (0..120).map(|i| format!("s{i:03}")).collect();
    let sim = start(Scenario::default_for_tests().with_catalog(catalog)).await;
    let c = client(&sim, token(SP_TOKEN));
    let schemas = c.list_schemas("many").await.unwrap();
    // Ours, besides the ones every catalog has (`default`, `information_schema`).
    let ours: std::collections::BTreeSet<&str> = schemas
        .iter()
        .map(|s| s.name.as_str())
        .filter(|n| n.starts_with('s') && n.len() == 4)
        .collect();
    assert_eq!(ours.len(), 120, "{schemas:?}");
    let pages = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/api/2.1/unity-catalog/schemas")
        .count();
    assert!(pages >= 3, "{pages} pages");
}

#[tokio::test]
async fn tables_are_read_and_listed_across_pages() {
    let server = Hostile::start(|seen| {
        let table = |name: &str| json!({"name": name, "full_name": format!("c.s.{name}"), "owner": "o", "table_type": "VIEW"});
        match (seen.path.as_str(), seen.query.contains("page_token=2")) {
            ("/api/2.1/unity-catalog/tables", false) => {
                Reply::json(200, json!({"tables": [table("a")], "next_page_token": "2"}))
            }
            ("/api/2.1/unity-catalog/tables", true) => {
                Reply::json(200, json!({"tables": [table("b")]}))
            }
            ("/api/2.1/unity-catalog/tables/c.s.a", _) => Reply::json(200, table("a")),
            _ => Reply::json(
                404,
                json!({"error_code": "TABLE_DOES_NOT_EXIST", "message": "no"}),
            ),
        }
    });
    let c = hostile_client(&server);
    let tables = c.list_tables("c", "s").await.unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    assert!(server.seen()[0].query.contains("catalog_name=c"));
    let a = c.get_table("c.s.a").await.unwrap().expect("exists");
    assert_eq!(
        (a.owner.as_deref(), a.table_type.as_deref()),
        (Some("o"), Some("VIEW"))
    );
    assert_eq!(c.get_table("c.s.nope").await.unwrap(), None);
}
