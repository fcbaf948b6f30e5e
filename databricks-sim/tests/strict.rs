//! The strictness rules of `docs/simulator.md`, one test each, over HTTPS.

use std::sync::Arc;

use databricks_sim::*;
use serde_json::{Value, json};

fn client(sim: &Simulator) -> reqwest::Client {
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pemfile::certs(&mut sim.ca_pem().as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(config)
        .build()
        .unwrap()
}

struct T {
    sim: Simulator,
    http: reqwest::Client,
    url: String,
}

async fn start(s: Scenario) -> T {
    let sim = Simulator::start(s).await.unwrap();
    let http = client(&sim);
    let url = sim.workspace("main").url;
    T { sim, http, url }
}

impl T {
    async fn call(
        &self,
        method: &str,
        token: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut r = self
            .http
            .request(m, format!("{}{path}", self.url))
            .bearer_auth(token);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        self.call("GET", token, path, None).await
    }
    async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", token, path, Some(body)).await
    }
    async fn patch(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.call("PATCH", token, path, Some(body)).await
    }
    /// Submits with a wait and returns the response as it came.
    async fn submit(&self, token: &str, sql: &str) -> Value {
        let (s, v) = self
            .post(
                token,
                "/api/2.0/sql/statements",
                json!({"warehouse_id": WAREHOUSE_ID, "statement": sql, "wait_timeout": "10s"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }
}

fn user(email: &str, token: &str) -> PrincipalSpec {
    PrincipalSpec::user(email).with_token(token)
}

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

#[tokio::test]
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
    let states: Vec<String> = futures_states(&t).await;
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

async fn futures_states(t: &T) -> Vec<String> {
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
async fn bindings_need_owner_or_metastore_admin() {
    let s = Scenario::default_for_tests()
        .with_principal(user("owner@example.com", "dapi-owner").in_group("team-b"))
        .with_catalog(
            CatalogSpec::new("iso", "team-b")
                .isolated(&[MAIN_WORKSPACE_ID])
                .with_grant(SP_APP_ID, &["USE_CATALOG", "MANAGE"]),
        );
    let t = start(s).await;
    for path in [
        "/api/2.1/unity-catalog/bindings/catalog/iso",
        "/api/2.1/unity-catalog/workspace-bindings/catalogs/iso",
    ] {
        let (s, v) = t.get(SP_TOKEN, path).await;
        assert_eq!(
            (s, v["error_code"].as_str()),
            (403, Some("PERMISSION_DENIED")),
            "{path}"
        );
        assert_eq!(
            t.get("dapi-owner", path).await.0,
            200,
            "owner through its group: {path}"
        );
        assert_eq!(t.get(ADMIN_TOKEN, path).await.0, 200, "{path}");
    }
    // The SP still sees the catalog it may use through the bound workspace.
    assert_eq!(
        t.get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/iso")
            .await
            .0,
        200
    );
    let (s, _) = t
        .patch(
            SP_TOKEN,
            "/api/2.1/unity-catalog/bindings/catalog/iso",
            json!({"add": [{"workspace_id": 7}]}),
        )
        .await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn effective_permissions_are_the_principals_own() {
    let s = Scenario::default_for_tests()
        .with_principal(user("u@example.com", "dapi-u").in_group("analysts"))
        .with_catalog(
            CatalogSpec::new("c", ADMIN_USER)
                .with_grant("analysts", &["USE_CATALOG"])
                .with_grant("account users", &["BROWSE"])
                .with_grant("u@example.com", &["SELECT"]),
        );
    let t = start(s).await;
    let (_, v) = t
        .get(
            ADMIN_TOKEN,
            "/api/2.1/unity-catalog/effective-permissions/catalog/c?principal=u@example.com",
        )
        .await;
    assert_eq!(
        v["privilege_assignments"],
        json!([{"principal": "u@example.com", "privileges": [{"privilege": "SELECT"}]}])
    );
    let (_, all) = t
        .get(
            ADMIN_TOKEN,
            "/api/2.1/unity-catalog/effective-permissions/catalog/c",
        )
        .await;
    assert_eq!(
        all["privilege_assignments"].as_array().unwrap().len(),
        3,
        "{all}"
    );
    // Through its group the user may use the catalog all the same.
    assert_eq!(
        t.get("dapi-u", "/api/2.1/unity-catalog/catalogs/c").await.0,
        200
    );
}

#[tokio::test]
async fn metastore_admin_is_the_owner_directly_or_through_a_group() {
    let mut s = Scenario::default_for_tests().with_metastore_owner("uc-admins");
    s.principal_mut(SP_APP_ID).metastore_privileges.clear();
    s.principal_mut(SP_APP_ID).groups.push("uc-admins".into());
    s.principal_mut(ADMIN_USER).metastore_admin = false;
    let t = start(s.with_catalog(CatalogSpec::new("other", ADMIN_USER))).await;
    let (_, me) = t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await;
    let displays: Vec<&str> = me["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["display"].as_str().unwrap())
        .collect();
    assert!(displays.contains(&"uc-admins"), "{me}");
    assert!(me["groups"][0]["value"].is_string());
    let (_, m) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/metastore_summary")
        .await;
    assert_eq!(m["owner"], "uc-admins");
    assert_eq!(
        t.submit(SP_TOKEN, "CREATE CATALOG mine").await["status"]["state"],
        "SUCCEEDED"
    );
    assert_eq!(
        t.get(SP_TOKEN, "/api/2.1/unity-catalog/bindings/catalog/other")
            .await
            .0,
        200
    );
    // The former admin, no longer in the owning group, is refused.
    let v = t.submit(ADMIN_TOKEN, "CREATE CATALOG nope").await;
    assert_eq!(v["status"]["sql_state"], "42501", "{v}");
}

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

#[tokio::test]
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
    let (_, p1) = t
        .get(SP_TOKEN, &format!("{perms}/catalog/c?max_results=1"))
        .await;
    assert_eq!(p1["privilege_assignments"].as_array().unwrap().len(), 1);
    let token = p1["next_page_token"].as_str().unwrap();
    let (_, p2) = t
        .get(
            SP_TOKEN,
            &format!("{perms}/catalog/c?max_results=1&page_token={token}"),
        )
        .await;
    assert!(p2.get("next_page_token").is_none(), "{p2}");
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
        .http
        .get(format!("{}/api/2.0/preview/scim/v2/Me", t.url))
        .bearer_auth(SP_TOKEN)
        .send()
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
