//! Entity tag assignments: an API a workspace may not serve.

use crate::common::start;
use databricks_sim::*;

/// Not served: 404 `ENDPOINT_NOT_FOUND`, whatever the catalog or tag; served: a missing tag is
/// 404 `RESOURCE_DOES_NOT_EXIST` and a present one its value.
#[tokio::test]
async fn an_unserved_tag_api_is_not_a_missing_tag() {
    let catalog = CatalogSpec::new("c", SP_APP_ID).with_tag("k", "v");
    let path = "/api/2.1/unity-catalog/entity-tag-assignments/catalogs/c/tags/k";
    let t = start(Scenario::default_for_tests().with_catalog(catalog.clone())).await;
    let (s, v) = t.get(SP_TOKEN, path).await;
    assert_eq!((s, v["tag_value"].as_str()), (200, Some("v")));
    let (s, v) = t
        .get(
            SP_TOKEN,
            "/api/2.1/unity-catalog/entity-tag-assignments/catalogs/c/tags/x",
        )
        .await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );

    let mut s = Scenario::default_for_tests().with_catalog(catalog);
    let main = s.workspace_mut("main");
    main.entity_tags_api = false;
    let t = start(s).await;
    let (s, v) = t.get(SP_TOKEN, path).await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (404, Some("ENDPOINT_NOT_FOUND")),
        "{v}"
    );
    // SQL tags still work there.
    let v = t
        .submit(SP_TOKEN, "ALTER CATALOG c SET TAGS ('k2' = 'v2')")
        .await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{v}");
}
