//! Which catalogs and system tables a principal may see.

use crate::common::start;
use databricks_sim::*;
use serde_json::Value;

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
