//! Clusters, command execution and the metastore assignment.

use crate::common::start;
use databricks_sim::*;
use serde_json::{Value, json};

#[tokio::test]
// Long: a cluster's life from terminated to a finished command, in order.
async fn cluster_commands_and_metastore() {
    let t = start(Scenario::default_for_tests()).await;
    t.sim.set_cluster_state("main", CLUSTER_ID, "TERMINATED");
    // Command Execution never starts a cluster: clusters/start does, and it runs after
    // `cluster_start_polls` (3 by default) polls.
    t.post(
        SP_TOKEN,
        "/api/2.0/clusters/start",
        json!({"cluster_id": CLUSTER_ID}),
    )
    .await;
    let mut states = Vec::new();
    for _ in 0..3 {
        let (_, c) = t
            .get(
                SP_TOKEN,
                &format!("/api/2.0/clusters/get?cluster_id={CLUSTER_ID}"),
            )
            .await;
        states.push(c["state"].as_str().unwrap().to_string());
    }
    assert_eq!(states, ["PENDING", "PENDING", "RUNNING"]);
    let (_, c) = t
        .post(
            SP_TOKEN,
            "/api/1.2/contexts/create",
            json!({"clusterId": CLUSTER_ID, "language": "sql"}),
        )
        .await;
    let ctx_id = c["id"].as_str().unwrap().to_string();
    assert_eq!(t.sim.cluster_starts(CLUSTER_ID), 1);
    let (_, e) = t
        .post(
            SP_TOKEN,
            "/api/1.2/commands/execute",
            json!({"clusterId": CLUSTER_ID, "contextId": ctx_id, "language": "sql", "command": "SELECT 1"}),
        )
        .await;
    let cmd = e["id"].as_str().unwrap().to_string();
    let mut last = Value::Null;
    for _ in 0..6 {
        last = t
            .get(SP_TOKEN, &format!("/api/1.2/commands/status?clusterId={CLUSTER_ID}&contextId={ctx_id}&commandId={cmd}"))
            .await
            .1;
        if last["status"] == "Finished" {
            break;
        }
    }
    assert_eq!(last["status"], "Finished", "{last}");
    assert_eq!(last["results"]["data"], json!([[1]]));
    let (_, a) = t
        .get(
            SP_TOKEN,
            "/api/2.1/unity-catalog/current-metastore-assignment",
        )
        .await;
    assert_eq!(a["metastore_id"], METASTORE_ID);
    t.sim.set_metastore_assigned("main", false);
    let (s, a) = t
        .get(
            SP_TOKEN,
            "/api/2.1/unity-catalog/current-metastore-assignment",
        )
        .await;
    assert_eq!(
        (s, a["error_code"].as_str()),
        (404, Some("METASTORE_DOES_NOT_EXIST"))
    );
}
