//! SQL on warehouses (Statement Execution 2.0) and clusters (Command Execution 1.2): rows,
//! SQLSTATEs, polling, transient FAILED statements submitted again, and result chunks.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use databricks_sim::{CLUSTER_ID, SP_APP_ID, SP_TOKEN, Scenario};
use serde_json::{Value, json};
use uc_operator::databricks::{Compute, Error, ErrorKind, WorkspaceClient};

use super::*;
use crate::support::hostile::{Hostile, Reply};

const STATEMENTS: &str = "/api/2.0/sql/statements";

#[tokio::test]
async fn token_auth_runs_select_1_on_a_warehouse() {
    let sim = start(Scenario::default_for_tests()).await;
    let c = client(&sim, token(SP_TOKEN));
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    let result = c.execute("SELECT 1").await.unwrap();
    assert_eq!(
        serde_json::to_value(result.to_objects()).unwrap(),
        json!([{"1": 1}])
    );
    assert!(c.compute_state().await.unwrap().is_running());
}

#[tokio::test]
async fn select_1_on_a_cluster_through_the_command_api() {
    let sim = start(Scenario::default_for_tests()).await;
    let compute = Compute::Cluster {
        org_id: "1001".into(),
        cluster_id: CLUSTER_ID.into(),
    };
    let c = WorkspaceClient::new(config(&sim, compute, token(SP_TOKEN)), &settings(&sim)).unwrap();
    let result = c.execute("SELECT 1").await.unwrap();
    assert_eq!(
        serde_json::to_value(result.to_objects()).unwrap(),
        json!([{"1": 1}])
    );
    let paths: Vec<String> = sim.requests().into_iter().map(|r| r.path).collect();
    for expected in [
        "/api/1.2/contexts/create",
        "/api/1.2/commands/execute",
        "/api/1.2/contexts/destroy",
    ] {
        assert!(
            paths.iter().any(|p| p == expected),
            "{expected} in {paths:?}"
        );
    }
    assert!(!paths.iter().any(|p| p.starts_with(STATEMENTS)));
    assert!(c.compute_state().await.unwrap().is_running());

    let err = c
        .execute("SELECT * FROM nowhere.nothing.none")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sql, "{err:?}");
}

/// A command whose caller gives up (a reconcile past its deadline drops the future) still
/// gives its execution context back: contexts are limited per cluster.
#[tokio::test]
async fn a_cancelled_command_still_destroys_its_context() {
    // The command stays running for many polls: the caller gives up first.
    let sim = start(Scenario::default_for_tests().with_statement_polls(1000)).await;
    let compute = Compute::Cluster {
        org_id: "1001".into(),
        cluster_id: CLUSTER_ID.into(),
    };
    let c = WorkspaceClient::new(config(&sim, compute, token(SP_TOKEN)), &settings(&sim)).unwrap();
    let destroyed = || {
        sim.requests()
            .iter()
            .any(|r| r.path == "/api/1.2/contexts/destroy" && r.status == 200)
    };
    let gave_up = tokio::time::timeout(Duration::from_millis(500), c.execute("SELECT 1")).await;
    assert!(gave_up.is_err(), "the command finished: {gave_up:?}");
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path == "/api/1.2/commands/execute"),
        "the command was sent before the caller gave up"
    );
    // A deadline for a loaded machine, not a speed claim: the destroy is one request.
    for _ in 0..600 {
        if destroyed() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the context was never destroyed: {:?}", sim.requests());
}

#[tokio::test]
async fn a_failed_statement_surfaces_its_sql_state() {
    let sim = start(Scenario::default_for_tests().with_statement_polls(2)).await;
    let c = client(&sim, token(SP_TOKEN));
    let err = c
        .execute("SELECT * FROM nowhere.nothing.none")
        .await
        .unwrap_err();
    match &err {
        Error::Sql { message, .. } => {
            assert!(message.contains("TABLE_OR_VIEW_NOT_FOUND"), "{message}")
        }
        other => panic!("expected a SQL error, got {other:?}"),
    }
    assert_eq!(err.sql_state(), Some("42P01"), "{err}");
    assert!(err.to_string().contains("SQLSTATE 42P01"));
    let err = c.execute("SELEC 1").await.unwrap_err();
    assert_eq!(err.sql_state(), Some("42601"), "{err:?}");
    // A statement that is still running when the POST returns is polled with GET.
    let mut s = settings(&sim);
    s.poll.wait_timeout = Duration::ZERO;
    let c = WorkspaceClient::new(config(&sim, warehouse(), token(SP_TOKEN)), &s).unwrap();
    let result = c.execute("SELECT 1").await.unwrap();
    assert_eq!(
        serde_json::to_value(result.to_objects()).unwrap(),
        json!([{"1": 1}])
    );
    let err = c
        .execute("SELECT * FROM nowhere.nothing.none")
        .await
        .unwrap_err();
    assert_eq!(err.sql_state(), Some("42P01"), "{err:?}");
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.method == "GET" && r.path.starts_with("/api/2.0/sql/statements/"))
    );
}

#[tokio::test]
async fn unknown_warehouse_is_not_found() {
    let sim = start(Scenario::default_for_tests()).await;
    let compute = Compute::Warehouse { id: "nope".into() };
    let c = WorkspaceClient::new(config(&sim, compute, token(SP_TOKEN)), &settings(&sim)).unwrap();
    let err = c.execute("SELECT 1").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
    let err = c.compute_state().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err:?}");
}

fn succeeded(result: Value) -> Reply {
    Reply::json(
        200,
        json!({
            "statement_id": "s1",
            "status": {"state": "SUCCEEDED"},
            "manifest": {"schema": {"columns": [{"name": "1", "type_name": "INT"}]}},
            "result": result,
        }),
    )
}

fn failed(code: &str, message: &str) -> Reply {
    Reply::json(
        200,
        json!({
            "statement_id": "s1",
            "status": {"state": "FAILED", "error": {"error_code": code, "message": message}},
        }),
    )
}

#[tokio::test]
async fn statements_failing_transiently_are_submitted_again() {
    let transient = [
        ("TEMPORARILY_UNAVAILABLE", "x"),
        ("WORKSPACE_TEMPORARILY_UNAVAILABLE", "x"),
        ("SERVICE_UNDER_MAINTENANCE", "x"),
        ("RESOURCE_EXHAUSTED", "x"),
        ("DEADLINE_EXCEEDED", "x"),
        (
            "INTERNAL_ERROR",
            "ClusterNotReadyException: the cluster is starting",
        ),
        ("INTERNAL_ERROR", "Timed out after 30 seconds"),
    ];
    for (code, message) in transient {
        let submits = Arc::new(AtomicUsize::new(0));
        let n = submits.clone();
        let server = Hostile::start(move |_| match n.fetch_add(1, Ordering::SeqCst) {
            0 => failed(code, message),
            _ => succeeded(json!({"data_array": [["1"]]})),
        });
        let rows = hostile_client(&server).execute("SELECT 1").await;
        let rows = rows.unwrap_or_else(|e| panic!("{code}: {e}"));
        assert_eq!(rows.rows, vec![vec![json!(1)]]);
        assert_eq!(server.count(STATEMENTS), 2, "{code}");
    }
    // Bounded: always unavailable gives up after three more submits, as Unavailable.
    let server = Hostile::start(|_| failed("TEMPORARILY_UNAVAILABLE", "x"));
    let err = hostile_client(&server)
        .execute("SELECT 1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert_eq!(server.count(STATEMENTS), 4);
    // A real SQL error is not submitted again.
    let server = Hostile::start(|_| failed("BAD_REQUEST", "[PARSE_SYNTAX_ERROR] x"));
    let err = hostile_client(&server)
        .execute("SELEC 1")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Sql);
    assert_eq!(server.count(STATEMENTS), 1);
}

#[tokio::test]
async fn result_chunks_are_followed_and_bounded() {
    // Three chunks, then the end.
    let server = Hostile::start(|seen| {
        let chunk = |i: u64, next: Option<u64>| json!({"chunk_index": i, "data_array": [[i.to_string()]], "next_chunk_index": next});
        match seen.path.rsplit_once("/chunks/") {
            Some((_, i)) => {
                let i: u64 = i.parse().unwrap();
                Reply::json(200, chunk(i, (i < 2).then_some(i + 1)))
            }
            None => succeeded(chunk(0, Some(1))),
        }
    });
    let result = hostile_client(&server).execute("SELECT 1").await.unwrap();
    assert_eq!(
        result.rows,
        vec![vec![json!(0)], vec![json!(1)], vec![json!(2)]]
    );
    assert_eq!(server.count("/api/2.0/sql/statements/s1/result/chunks/"), 2);

    // Chunks that never end, and a chunk index that repeats.
    for (endless, expected_chunk_requests) in [(true, 63), (false, 1)] {
        let server = Hostile::start(move |seen| match seen.path.rsplit_once("/chunks/") {
            Some((_, i)) => {
                let i: u64 = i.parse().unwrap();
                let next = if endless { i + 1 } else { i };
                Reply::json(
                    200,
                    json!({"data_array": [["1"]], "next_chunk_index": next}),
                )
            }
            None => succeeded(json!({"data_array": [], "next_chunk_index": 1})),
        });
        let err = hostile_client(&server)
            .execute("SELECT 1")
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnexpectedResponse, "{err:?}");
        assert!(err.to_string().contains("chunks do not end"), "{err}");
        assert_eq!(
            server.count("/api/2.0/sql/statements/s1/result/chunks/"),
            expected_chunk_requests
        );
    }
}
