//! Strictness rules of compute, statements, faults, Entra and the request log
//! (docs/simulator.md), one test each, over HTTPS.

mod common;

use common::{T, start, user};
use databricks_sim::*;
use serde_json::{Value, json};

#[tokio::test]
// Long: a cluster's states in order, each with what 1.2 and clusters/start answer.
async fn clusters_must_run_and_start_only_when_terminated() {
    let t = start(Scenario::default_for_tests().with_cluster_start_polls(2)).await;
    let ctx_body = json!({"clusterId": CLUSTER_ID, "language": "sql"});
    for state in ["TERMINATED", "PENDING", "RESTARTING"] {
        t.sim.set_cluster_state("main", CLUSTER_ID, state);
        let (s, v) = t
            .post(SP_TOKEN, "/api/1.2/contexts/create", ctx_body.clone())
            .await;
        assert_eq!(s, 500, "{state}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("ClusterNotReadyException"),
            "{v}"
        );
    }
    t.sim.set_cluster_state("main", CLUSTER_ID, "RESIZING");
    let (s, c) = t
        .post(SP_TOKEN, "/api/1.2/contexts/create", ctx_body.clone())
        .await;
    assert_eq!(s, 200, "RESIZING runs commands: {c}");
    let ctx_id = c["id"].as_str().unwrap().to_string();
    t.sim.set_cluster_state("main", CLUSTER_ID, "TERMINATED");
    let exec = json!({"clusterId": CLUSTER_ID, "contextId": ctx_id, "language": "sql", "command": "SELECT 1"});
    assert_eq!(
        t.post(SP_TOKEN, "/api/1.2/commands/execute", exec.clone())
            .await
            .0,
        500
    );
    assert_eq!(
        t.sim.cluster_starts(CLUSTER_ID),
        0,
        "1.2 never starts a cluster"
    );
    let start = json!({"cluster_id": CLUSTER_ID});
    assert_eq!(
        t.post(SP_TOKEN, "/api/2.0/clusters/start", start.clone())
            .await,
        (200, json!({}))
    );
    let states: Vec<String> = cluster_states(&t).await;
    assert_eq!(
        states,
        ["PENDING", "RUNNING"],
        "two polls with cluster_start_polls: 2"
    );
    let (s, v) = t.post(SP_TOKEN, "/api/2.0/clusters/start", start).await;
    assert_eq!((s, v["error_code"].as_str()), (400, Some("INVALID_STATE")));
    assert_eq!(
        v["message"],
        format!("Cluster {CLUSTER_ID} is in unexpected state Running.")
    );
    assert_eq!(t.sim.cluster_starts(CLUSTER_ID), 1);
    assert_eq!(t.sim.state().cluster_starts[CLUSTER_ID], 1);
    assert_eq!(
        t.post(SP_TOKEN, "/api/1.2/commands/execute", exec).await.0,
        200
    );
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.0/clusters/get?cluster_id=nope")
        .await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (400, Some("INVALID_PARAMETER_VALUE"))
    );
    assert_eq!(v["message"], "Cluster nope does not exist");
    // The admin route sets a state too.
    let r = t
        .http
        .post(format!("{}/_sim/clusters/{CLUSTER_ID}/state", t.url))
        .json(&json!({"state": "TERMINATED"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        t.sim.state().workspaces["main"].clusters[CLUSTER_ID],
        "TERMINATED"
    );
}

async fn cluster_states(t: &T) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..2 {
        let (_, c) = t
            .get(
                SP_TOKEN,
                &format!("/api/2.0/clusters/get?cluster_id={CLUSTER_ID}"),
            )
            .await;
        out.push(c["state"].as_str().unwrap().to_string());
    }
    out
}

#[tokio::test]
async fn statements_past_wait_chunks_and_cancel() {
    let s = Scenario::default_for_tests()
        .with_statement_polls_past_wait(2)
        .with_result_chunk_rows(2)
        .with_principal(user("u@example.com", "dapi-u"));
    let t = start(s).await;
    let v = t.submit(SP_TOKEN, "SELECT id FROM range(5)").await;
    assert_eq!(v["status"]["state"], "RUNNING", "past its wait: {v}");
    let id = v["statement_id"].as_str().unwrap().to_string();
    let (s, e) = t
        .post(
            "dapi-u",
            &format!("/api/2.0/sql/statements/{id}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(
        (s, e["error_code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let path = format!("/api/2.0/sql/statements/{id}");
    for _ in 0..2 {
        assert_eq!(t.get(SP_TOKEN, &path).await.1["status"]["state"], "RUNNING");
    }
    let (_, v) = t.get(SP_TOKEN, &path).await;
    assert_eq!(v["status"]["state"], "SUCCEEDED");
    assert_eq!(v["manifest"]["total_chunk_count"], 3);
    assert_eq!(v["manifest"]["total_row_count"], 5);
    assert_eq!(v["result"]["data_array"], json!([["0"], ["1"]]));
    let mut rows = vec![];
    let mut next = v["result"]["next_chunk_index"].as_u64();
    while let Some(i) = next {
        let (s, c) = t.get(SP_TOKEN, &format!("{path}/result/chunks/{i}")).await;
        assert_eq!(s, 200);
        rows.extend(c["data_array"].as_array().unwrap().iter().cloned());
        next = c["next_chunk_index"].as_u64();
    }
    assert_eq!(json!(rows), json!([["2"], ["3"], ["4"]]));
    assert_eq!(
        t.get(SP_TOKEN, &format!("{path}/result/chunks/3")).await.0,
        400
    );
    // With on_wait_timeout CANCEL, a statement outlasting its wait is canceled.
    let (_, v) = t
        .post(SP_TOKEN, "/api/2.0/sql/statements", json!({"warehouse_id": WAREHOUSE_ID, "statement": "SELECT 1", "wait_timeout": "5s", "on_wait_timeout": "CANCEL"}))
        .await;
    assert_eq!(v["status"]["state"], "CANCELED");
}

#[tokio::test]
// Long: one fault of each transient kind, each followed by a success.
async fn transient_faults_then_success() {
    let t = start(Scenario::default_for_tests()).await;
    for code in [
        "TEMPORARILY_UNAVAILABLE",
        "WORKSPACE_TEMPORARILY_UNAVAILABLE",
        "SERVICE_UNDER_MAINTENANCE",
        "RESOURCE_EXHAUSTED",
        "DEADLINE_EXCEEDED",
    ] {
        t.sim
            .inject("main", FaultRule::statement_failed(code).times(1));
        // The rule ignores polls: only a submission consumes it.
        assert_eq!(t.get(SP_TOKEN, "/api/2.0/sql/statements/x").await.0, 404);
        let v = t.submit(SP_TOKEN, "SELECT 1").await;
        assert_eq!(
            (
                v["status"]["state"].as_str(),
                v["status"]["error"]["error_code"].as_str()
            ),
            (Some("FAILED"), Some(code))
        );
        assert_eq!(
            t.submit(SP_TOKEN, "SELECT 1").await["status"]["state"],
            "SUCCEEDED"
        );
    }
    t.sim.inject(
        "main",
        FaultRule::transient_message("/api/2.0/preview", 400, "Timed out after 30s").times(1),
    );
    let (s, v) = t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await;
    assert_eq!(
        (s, v["message"].as_str()),
        (400, Some("Timed out after 30s"))
    );
    t.sim.inject(
        "main",
        FaultRule::new(
            "/api/1.2/",
            FaultKind::Body {
                status: 500,
                retry_after: None,
                body: json!({"error": "ClusterNotReadyException: not ready"}),
            },
        )
        .times(1),
    );
    let (s, v) = t
        .post(
            SP_TOKEN,
            "/api/1.2/contexts/create",
            json!({"clusterId": CLUSTER_ID}),
        )
        .await;
    assert_eq!(
        (s, v["error"].as_str()),
        (500, Some("ClusterNotReadyException: not ready"))
    );
    t.sim.inject(
        "main",
        FaultRule::unavailable_retry_after("/api/2.0/preview", 0).times(1),
    );
    let r = t
        .send_get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me")
        .await
        .unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["retry-after"].to_str().unwrap()
        ),
        (503, "0")
    );
    assert_eq!(t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await.0, 200);
}

#[tokio::test]
async fn entra_accepts_only_the_azure_databricks_resource() {
    let t = start(Scenario::default_for_tests()).await;
    let send = |path: &'static str, extra: (&'static str, &'static str)| {
        t.http
            .post(format!("{}/tenant-1/{path}", t.url))
            .form(&[
                ("client_id", SP_CLIENT_ID),
                ("client_secret", SP_CLIENT_SECRET),
                ("grant_type", "client_credentials"),
                extra,
            ])
            .send()
    };
    let ok = send(
        "oauth2/v2.0/token",
        ("scope", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"),
    )
    .await
    .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    for (scope, code) in [
        ("https://graph.microsoft.com/.default", "AADSTS500011"),
        ("2ff814a6-3304-4ab8-85cb-cd0e6f879c1d", "AADSTS1002012"),
        ("all-apis", "AADSTS1002012"),
    ] {
        let r = send("oauth2/v2.0/token", ("scope", scope)).await.unwrap();
        assert_eq!(r.status().as_u16(), 400, "{scope}");
        let v: Value = r.json().await.unwrap();
        assert!(
            v["error_description"].as_str().unwrap().starts_with(code),
            "{scope}: {v}"
        );
    }
    let r = send(
        "oauth2/token",
        ("resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.unwrap();
    let token = v["access_token"].as_str().unwrap();
    assert_eq!(t.get(token, "/api/2.0/preview/scim/v2/Me").await.0, 200);
    let r = send(
        "oauth2/token",
        ("scope", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"),
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400, "v1 needs resource=");
}

#[tokio::test]
async fn request_log_names_workspace_principal_and_sql_and_many_workspaces_start() {
    let t = start(Scenario::default_for_tests().with_generated_workspaces(1000)).await;
    assert_eq!(t.sim.workspaces().len(), 1001);
    let last = t.sim.workspace("ws-1000");
    let (s, v) = t
        .http
        .get(format!("{}/api/2.0/preview/scim/v2/Me", last.url))
        .bearer_auth("dapi-ws-1000")
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(s, 200);
    assert_eq!(
        v.json::<Value>().await.unwrap()["userName"],
        GeneratedWorkspaces::application_id(1000)
    );
    // A generated principal is confined to its own workspace.
    let r = t
        .http
        .get(format!("{}/api/2.0/preview/scim/v2/Me", t.url))
        .bearer_auth("dapi-ws-1000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    t.submit(SP_TOKEN, "SELECT 1").await;
    let log = t.sim.requests();
    let sql: Vec<_> = log.iter().filter(|r| r.sql.is_some()).collect();
    assert_eq!(sql.len(), 1);
    assert_eq!(
        (
            sql[0].workspace.as_str(),
            sql[0].method.as_str(),
            sql[0].path.as_str(),
            sql[0].principal.as_deref(),
            sql[0].sql.as_deref()
        ),
        (
            "main",
            "POST",
            "/api/2.0/sql/statements",
            Some(SP_APP_ID),
            Some("SELECT 1")
        )
    );
    assert!(
        log.iter()
            .all(|r| r.workspace == "main" || r.workspace == "ws-1000")
    );
    let counts = t.sim.request_counts();
    assert_eq!(counts["ws-1000 GET /api/2.0/preview/scim/v2/Me"], 1);
    assert_eq!(counts["main GET /api/2.0/preview/scim/v2/Me"], 1);
}

/// Runs one 1.2 command on the default cluster and returns its final status body.
async fn command(t: &T, sql: &str) -> Value {
    let ctx_body = json!({"clusterId": CLUSTER_ID, "language": "sql"});
    let (_, c) = t.post(SP_TOKEN, "/api/1.2/contexts/create", ctx_body).await;
    let ctx_id = c["id"].as_str().unwrap().to_string();
    let exec =
        json!({"clusterId": CLUSTER_ID, "contextId": ctx_id, "language": "sql", "command": sql});
    let (_, cmd) = t.post(SP_TOKEN, "/api/1.2/commands/execute", exec).await;
    let id = cmd["id"].as_str().unwrap().to_string();
    for _ in 0..20 {
        let path = format!(
            "/api/1.2/commands/status?clusterId={CLUSTER_ID}&contextId={ctx_id}&commandId={id}"
        );
        let (_, v) = t.get(SP_TOKEN, &path).await;
        if !matches!(v["status"].as_str(), Some("Queued" | "Running")) {
            return v;
        }
    }
    panic!("the command never finished");
}

/// A failed command's `summary` is HTML (the SDK strips it: databricks-sdk-go
/// `service/compute/ext_results.go`); `SET TAGS` does not parse below Databricks Runtime 13.3
/// (docs: ALTER CATALOG "Databricks Runtime 13.3 LTS and above"), and `clusters/get` reports the
/// runtime.
#[tokio::test]
async fn command_errors_are_html_and_old_runtimes_refuse_set_tags() {
    let t = start(Scenario::default_for_tests()).await;
    let v = command(&t, "SELECT * FROM nope.nope.nope").await;
    let summary = v["results"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("<div") && summary.contains("</span>"),
        "{summary}"
    );
    assert!(!v["results"]["cause"].as_str().unwrap().contains('<'));
    let v = command(&t, "ALTER CATALOG system SET TAGS ('a' = 'b')").await;
    assert!(
        !v.to_string().contains("PARSE_SYNTAX_ERROR"),
        "15.4 parses it: {v}"
    );

    let mut s = Scenario::default_for_tests();
    let main = s.workspace_mut("main");
    main.clusters.clear();
    *main = main
        .clone()
        .with_cluster_runtime(CLUSTER_ID, "RUNNING", "12.2.x-scala2.12");
    let t = start(s).await;
    let (_, c) = t
        .get(
            SP_TOKEN,
            &format!("/api/2.0/clusters/get?cluster_id={CLUSTER_ID}"),
        )
        .await;
    assert_eq!(c["spark_version"], "12.2.x-scala2.12");
    let v = command(&t, "CREATE CATALOG c").await;
    assert_eq!(v["status"], "Finished", "{v}");
    let v = command(&t, "ALTER CATALOG c SET TAGS ('a' = 'b')").await;
    assert!(
        v["results"]["cause"]
            .as_str()
            .unwrap()
            .contains("PARSE_SYNTAX_ERROR"),
        "{v}"
    );
}
