//! A metastore without a storage root refuses catalogs before `IF NOT EXISTS` is looked at.

use crate::common::start;
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
