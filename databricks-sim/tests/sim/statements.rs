//! The statement lifecycle and a stopped warehouse.

use crate::common::start;
use databricks_sim::*;
use serde_json::json;

#[tokio::test]
async fn statement_lifecycle_and_select_1() {
    let t = start(Scenario::default_for_tests()).await;
    let v = t.submit_async(SP_TOKEN, "SELECT 1").await;
    assert_eq!(v["status"]["state"], "PENDING");
    let id = v["statement_id"].as_str().unwrap();
    let (_, v) = t
        .get(SP_TOKEN, &format!("/api/2.0/sql/statements/{id}"))
        .await;
    assert_eq!(v["status"]["state"], "RUNNING");
    let (_, v) = t
        .get(SP_TOKEN, &format!("/api/2.0/sql/statements/{id}"))
        .await;
    assert_eq!(v["status"]["state"], "SUCCEEDED");
    assert_eq!(v["manifest"]["schema"]["columns"][0]["name"], "1");
    assert_eq!(v["manifest"]["schema"]["columns"][0]["type_name"], "INT");
    assert_eq!(v["result"]["data_array"], json!([["1"]]));
    // With a wait the statement finishes in the response.
    let (_, v) = t
        .post(
            SP_TOKEN,
            "/api/2.0/sql/statements",
            json!({"warehouse_id": "wh1", "statement": "SELECT current_user()", "wait_timeout": "10s"}),
        )
        .await;
    assert_eq!(v["result"]["data_array"], json!([[SP_APP_ID]]));
    let (s, v) = t
        .post(
            SP_TOKEN,
            "/api/2.0/sql/statements",
            json!({"warehouse_id": "nope", "statement": "SELECT 1"}),
        )
        .await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (404, Some("RESOURCE_DOES_NOT_EXIST"))
    );
    let v = t.sql(SP_TOKEN, "SELEC 1").await;
    assert_eq!(v["status"]["state"], "FAILED");
    assert_eq!(v["status"]["sql_state"], "42601");
    assert!(
        v["status"]["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("[PARSE_SYNTAX_ERROR]")
    );
}

#[tokio::test]
async fn stopped_warehouse_is_started_and_counted() {
    let t = start(Scenario::default_for_tests()).await;
    t.sim.set_warehouse_state("main", "wh1", "STOPPED");
    let v = t.submit_async(SP_TOKEN, "SELECT 1").await;
    assert_eq!(v["status"]["state"], "PENDING");
    let (_, w) = t.get(SP_TOKEN, "/api/2.0/sql/warehouses/wh1").await;
    assert_eq!(w["state"], "RUNNING", "one start poll, then running: {w}");
    assert_eq!(t.sim.warehouse_starts("wh1"), 1);
    let id = v["statement_id"].as_str().unwrap();
    let mut state = String::new();
    for _ in 0..5 {
        let (_, v) = t
            .get(SP_TOKEN, &format!("/api/2.0/sql/statements/{id}"))
            .await;
        state = v["status"]["state"].as_str().unwrap().into();
        if state == "SUCCEEDED" {
            break;
        }
    }
    assert_eq!(state, "SUCCEEDED");
    assert_eq!(t.sim.warehouse_starts("wh1"), 1);
}
