//! Warehouse and cluster state, and starting a terminated cluster only when asked to.

use std::sync::{Arc, Mutex};

use databricks_sim::{SP_TOKEN, Scenario, WAREHOUSE_ID};
use serde_json::json;
use uc_operator::databricks::{Compute, ErrorKind, WorkspaceClient};

use super::*;
use crate::support::hostile::{Hostile, Reply};

const GET: &str = "/api/2.0/clusters/get";
const START: &str = "/api/2.0/clusters/start";

/// Whether `ensure_running` ends with the cluster running.
async fn started(server: &Hostile) -> bool {
    cluster_client(server)
        .ensure_running()
        .await
        .unwrap()
        .is_running()
}

#[tokio::test]
async fn compute_state_never_starts_a_stopped_warehouse() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.set_warehouse_state("main", WAREHOUSE_ID, "STOPPED");
    let c = client(&sim, token(SP_TOKEN));
    let state = c.compute_state().await.unwrap();
    assert_eq!(state.state, "STOPPED");
    assert!(!state.is_running());
    // Nor does ensure_running: a statement starts a warehouse by itself.
    assert!(!c.ensure_running().await.unwrap().is_running());
    assert_eq!(sim.warehouse_starts(WAREHOUSE_ID), 0);
}

fn cluster() -> Compute {
    Compute::Cluster {
        org_id: "1".into(),
        cluster_id: "0101-abc".into(),
    }
}

/// A cluster that goes through `states` one `clusters/get` at a time (staying on the last),
/// and whose `clusters/start` moves it to `after_start` (a state list again).
fn cluster_server(states: &[&str], after_start: &[&str]) -> Hostile {
    let queue: Vec<String> = states.iter().map(|s| s.to_string()).collect();
    let restart: Vec<String> = after_start.iter().map(|s| s.to_string()).collect();
    let queue = Arc::new(Mutex::new(queue));
    Hostile::start(move |seen| {
        let mut q = queue.lock().unwrap();
        if seen.path == START {
            if seen.method != "POST" || !seen.body.contains("0101-abc") {
                return Reply::json(400, json!({"error_code": "INVALID_PARAMETER_VALUE"}));
            }
            *q = restart.clone();
            return Reply::json(200, json!({}));
        }
        let state = if q.len() > 1 {
            q.remove(0)
        } else {
            q[0].clone()
        };
        Reply::json(200, json!({"cluster_id": "0101-abc", "state": state}))
    })
}

fn cluster_client(server: &Hostile) -> WorkspaceClient {
    hostile_client_with(server, cluster(), settings_for(server.ca_pem()))
}

#[tokio::test]
async fn a_terminated_cluster_is_started_once_and_waited_for() {
    let server = cluster_server(&["TERMINATED"], &["PENDING", "PENDING", "RUNNING"]);
    let c = cluster_client(&server);
    // Reading the state starts nothing.
    assert!(!c.compute_state().await.unwrap().is_running());
    assert_eq!(server.count(START), 0);
    let state = c.ensure_running().await.unwrap();
    assert_eq!(state.state, "RUNNING");
    assert_eq!(server.count(START), 1);

    // A terminating cluster is waited for, then started.
    let server = cluster_server(&["TERMINATING", "TERMINATED"], &["RUNNING"]);
    assert!(started(&server).await);
    assert_eq!(server.count(START), 1);
}

#[tokio::test]
async fn running_and_resizing_clusters_are_not_started() {
    for state in ["RUNNING", "RESIZING"] {
        let server = cluster_server(&[state], &["RUNNING"]);
        assert!(started(&server).await);
        assert_eq!(server.count(START), 0, "{state}");
        assert_eq!(server.count(GET), 1);
    }
}

#[tokio::test]
async fn a_cluster_that_fails_to_start_is_an_error() {
    let server = cluster_server(&["TERMINATED"], &["PENDING", "TERMINATED"]);
    let err = cluster_client(&server).ensure_running().await.unwrap_err();
    assert!(err.to_string().contains("0101-abc is TERMINATED"), "{err}");
    assert_eq!(server.count(START), 1, "started once, not again");

    let server = cluster_server(&["ERROR"], &["RUNNING"]);
    assert!(cluster_client(&server).ensure_running().await.is_err());
    assert_eq!(server.count(START), 0);
}

#[tokio::test]
async fn someone_else_starting_the_cluster_is_fine() {
    // clusters/start answers INVALID_STATE when the cluster is already starting.
    let queue = Arc::new(Mutex::new(vec!["TERMINATED", "PENDING", "RUNNING"]));
    let server = Hostile::start(move |seen| {
        if seen.path == START {
            return Reply::json(
                400,
                json!({"error_code": "INVALID_STATE", "message": "Cluster 0101-abc is in unexpected state Pending."}),
            );
        }
        let mut q = queue.lock().unwrap();
        let state = if q.len() > 1 { q.remove(0) } else { q[0] };
        Reply::json(200, json!({"state": state}))
    });
    assert!(started(&server).await);
    assert_eq!(server.count(START), 1);
}

#[tokio::test]
async fn an_unknown_cluster_is_not_found() {
    let server = Hostile::start(|_| {
        Reply::json(
            400,
            json!({"error_code": "INVALID_PARAMETER_VALUE", "message": "Cluster 0101-abc does not exist"}),
        )
    });
    let err = cluster_client(&server).compute_state().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
}
