//! End-to-end tests over HTTPS against a running simulator.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use databricks_sim::*;
use serde_json::{Value, json};
use sha2::Digest as _;

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
    async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }
    /// Runs SQL to completion and returns the final statement body.
    async fn sql(&self, token: &str, statement: &str) -> Value {
        let (s, mut v) = self
            .post(
                token,
                "/api/2.0/sql/statements",
                json!({"warehouse_id": WAREHOUSE_ID, "statement": statement, "wait_timeout": "0s"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        for _ in 0..20 {
            let state = v["status"]["state"].as_str().unwrap().to_string();
            if !matches!(state.as_str(), "PENDING" | "RUNNING") {
                return v;
            }
            let id = v["statement_id"].as_str().unwrap().to_string();
            v = self
                .get(token, &format!("/api/2.0/sql/statements/{id}"))
                .await
                .1;
        }
        panic!("statement never finished: {v}");
    }
}

#[tokio::test]
async fn statement_lifecycle_and_select_1() {
    let t = start(Scenario::default_for_tests()).await;
    let (_, v) = t
        .post(
            SP_TOKEN,
            "/api/2.0/sql/statements",
            json!({"warehouse_id": "wh1", "statement": "SELECT 1", "wait_timeout": "0s"}),
        )
        .await;
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
    let (_, v) = t
        .post(
            SP_TOKEN,
            "/api/2.0/sql/statements",
            json!({"warehouse_id": "wh1", "statement": "SELECT 1", "wait_timeout": "0s"}),
        )
        .await;
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

#[tokio::test]
async fn auth_error_shapes() {
    let t = start(Scenario::default_for_tests()).await;
    let r = t
        .http
        .get(format!("{}/api/2.0/preview/scim/v2/Me", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error_code"], "UNAUTHENTICATED");
    let (s, v) = t.get("dapi-wrong", "/api/2.0/preview/scim/v2/Me").await;
    assert_eq!(s, 403);
    assert_eq!(
        v,
        json!({"error_code": 403, "message": "Invalid access token."})
    );
    let (s, v) = t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await;
    assert_eq!((s, v["userName"].as_str()), (200, Some(SP_APP_ID)));
    t.sim.revoke_token(SP_TOKEN);
    assert_eq!(t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await.0, 403);
    let rec = t.sim.requests();
    assert!(
        rec.iter()
            .any(|r| r.principal.as_deref() == Some(SP_APP_ID) && r.status == 200)
    );
}

#[tokio::test]
async fn oauth_tokens_expire() {
    let t = start(Scenario::default_for_tests().with_token_lifetime(1)).await;
    let (_, d) = t
        .get("", "/oidc/.well-known/oauth-authorization-server")
        .await;
    let endpoint = d["token_endpoint"].as_str().unwrap().to_string();
    assert_eq!(endpoint, format!("{}/oidc/v1/token", t.url));
    let token = |secret: &'static str| {
        t.http
            .post(&endpoint)
            .basic_auth(SP_CLIENT_ID, Some(secret))
            .form(&[("grant_type", "client_credentials"), ("scope", "all-apis")])
            .send()
    };
    let r = token("wrong").await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let v: Value = token(SP_CLIENT_SECRET).await.unwrap().json().await.unwrap();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 1);
    let access = v["access_token"].as_str().unwrap().to_string();
    assert_eq!(t.get(&access, "/api/2.0/preview/scim/v2/Me").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, v) = t.get(&access, "/api/2.0/preview/scim/v2/Me").await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (401, Some("UNAUTHENTICATED"))
    );
}

fn assertion(cert: &testcert::ClientCert, aud: &str, ps256: bool) -> String {
    let der = rustls_pemfile::certs(&mut cert.cert_pem.as_bytes())
        .next()
        .unwrap()
        .unwrap();
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut header = jsonwebtoken::Header::new(if ps256 {
        jsonwebtoken::Algorithm::PS256
    } else {
        jsonwebtoken::Algorithm::RS256
    });
    if ps256 {
        header.x5t_s256 = Some(b64.encode(sha2::Sha256::digest(der.as_ref())));
    } else {
        header.x5t = Some(b64.encode(sha1::Sha1::digest(der.as_ref())));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({"aud": aud, "iss": SP_CLIENT_ID, "sub": SP_CLIENT_ID, "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "exp": now + 300});
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(cert.key_pem.as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

#[tokio::test]
async fn entra_jwt_assertion() {
    let good = testcert::client_certificate("sp-cert");
    let other = testcert::client_certificate("someone-else");
    let mut s = Scenario::default_for_tests();
    s.principal_mut(SP_APP_ID)
        .oauth
        .as_mut()
        .unwrap()
        .certificate_pem = Some(good.cert_pem.clone());
    let t = start(s).await;
    let url = format!("{}/tenant-1/oauth2/v2.0/token", t.url);
    let send = |a: String| {
        t.http
            .post(&url)
            .form(&[
                ("client_id", SP_CLIENT_ID),
                ("grant_type", "client_credentials"),
                ("scope", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default"),
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", a.as_str()),
            ])
            .send()
    };
    for ps in [true, false] {
        let r = send(assertion(&good, &url, ps)).await.unwrap();
        assert_eq!(r.status().as_u16(), 200, "ps256={ps}");
        let v: Value = r.json().await.unwrap();
        let token = v["access_token"].as_str().unwrap();
        assert_eq!(t.get(token, "/api/2.0/preview/scim/v2/Me").await.0, 200);
    }
    let r = send(assertion(&other, &url, true)).await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"], "invalid_client");
    assert!(
        v["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS")
    );
    let r = send(assertion(&good, "https://elsewhere/token", true))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}

#[tokio::test]
async fn faults_status_and_dropped_connections() {
    let t = start(Scenario::default_for_tests()).await;
    t.sim.inject(
        "main",
        FaultRule::too_many_requests("/api/2.0/preview", 2).times(1),
    );
    let r = t
        .http
        .get(format!("{}/api/2.0/preview/scim/v2/Me", t.url))
        .bearer_auth(SP_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error_code"],
        "REQUEST_LIMIT_EXCEEDED"
    );
    assert_eq!(t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await.0, 200);
    t.sim.inject("main", FaultRule::unavailable(""));
    assert_eq!(t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await.0, 503);
    t.sim.clear_faults();
    t.sim.inject(
        "main",
        FaultRule::new("", FaultKind::DropConnection).times(1),
    );
    let r = t
        .http
        .get(format!("{}/api/2.0/preview/scim/v2/Me", t.url))
        .bearer_auth(SP_TOKEN)
        .send()
        .await;
    assert!(r.is_err(), "expected a dropped connection, got {r:?}");
    assert_eq!(t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await.0, 200);
    assert!(t.sim.requests().iter().any(|r| r.status == 0));
}

#[tokio::test]
// Long: one scenario walked through isolation, listing, paging and bindings.
async fn isolation_bindings_and_paging() {
    let s = Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("b", 1002).with_warehouse("wh-b", "RUNNING"))
        .with_catalog(CatalogSpec::new("aa_hidden", ADMIN_USER))
        .with_catalog(
            CatalogSpec::new("bb_iso", ADMIN_USER)
                .isolated(&[1002])
                .with_grant(SP_APP_ID, &["USE_CATALOG"]),
        )
        .with_catalog(
            CatalogSpec::new("cc_open", ADMIN_USER).with_grant(SP_APP_ID, &["USE_CATALOG"]),
        );
    let t = start(s).await;
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/bb_iso")
        .await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (403, Some("PERMISSION_DENIED"))
    );
    let (_, v) = t.get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs").await;
    let names: Vec<&str> = v["catalogs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cc_open"]);
    let (_, v) = t
        .get(
            SP_TOKEN,
            "/api/2.1/unity-catalog/catalogs?include_unbound=true",
        )
        .await;
    assert_eq!(v["catalogs"].as_array().unwrap().len(), 2);
    // Paging walks all catalogs; the first page holds only a catalog the SP cannot see.
    let (_, p1) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs?max_results=1")
        .await;
    assert_eq!(p1["catalogs"], json!([]));
    let token = p1["next_page_token"].as_str().unwrap().to_string();
    let (_, p2) = t
        .get(
            SP_TOKEN,
            &format!("/api/2.1/unity-catalog/catalogs?max_results=2&page_token={token}"),
        )
        .await;
    assert_eq!(p2["catalogs"][0]["name"], "cc_open");
    assert!(p2.get("next_page_token").is_none());
    // Bindings are for the owner and metastore admins only.
    assert_eq!(
        t.get(SP_TOKEN, "/api/2.1/unity-catalog/bindings/catalog/bb_iso")
            .await
            .0,
        403
    );
    let (_, b) = t
        .get(
            ADMIN_TOKEN,
            "/api/2.1/unity-catalog/bindings/catalog/bb_iso",
        )
        .await;
    assert_eq!(
        b["bindings"],
        json!([{"workspace_id": 1002, "binding_type": "BINDING_TYPE_READ_WRITE"}])
    );
    let v = t.sql(SP_TOKEN, "CREATE SCHEMA bb_iso.s").await;
    assert_eq!(v["status"]["state"], "FAILED");
    assert!(
        v["status"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not accessible in current workspace")
    );
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/nope")
        .await;
    assert_eq!(
        (s, v["error_code"].as_str()),
        (404, Some("CATALOG_DOES_NOT_EXIST"))
    );
    assert!(v["details"][0]["request_id"].is_string());
}

#[tokio::test]
// Long: the setup statements in order, then what a non-owner is refused.
async fn setup_statements_and_privileges() {
    let t =
        start(Scenario::default_for_tests().with_catalog(CatalogSpec::new("sales", ADMIN_USER)))
            .await;
    for sql in [
        "CREATE CATALOG IF NOT EXISTS `uc_int` COMMENT 'owned by uc-operator'",
        &format!("ALTER CATALOG uc_int OWNER TO `{SP_APP_ID}`"),
        "REVOKE ALL PRIVILEGES ON CATALOG uc_int FROM `account users`",
        "CREATE SCHEMA IF NOT EXISTS uc_int.immuta_system",
        "CREATE TABLE IF NOT EXISTS uc_int.immuta_system.profiles (user_name STRING, profile STRING)",
        "CREATE OR REPLACE VIEW uc_int.immuta_system.my_profile AS SELECT * FROM uc_int.immuta_system.profiles WHERE user_name = current_user()",
        "ALTER CATALOG uc_int SET TAGS ('uc-operator.dev/owner' = 'ns/x')",
        "GRANT USE CATALOG ON CATALOG uc_int TO `admin@example.com`",
        "SELECT 1 FROM system.access.audit LIMIT 1",
    ] {
        let v = t.sql(SP_TOKEN, sql).await;
        assert_eq!(v["status"]["state"], "SUCCEEDED", "{sql}: {v}");
    }
    let snap = t.sim.state();
    let c = &snap.catalogs["uc_int"];
    assert_eq!(c.owner, SP_APP_ID);
    assert_eq!(c.tags["uc-operator.dev/owner"], "ns/x");
    assert!(c.schemas["immuta_system"].tables.contains_key("profiles"));
    assert!(c.schemas["immuta_system"].views.contains_key("my_profile"));
    assert!(c.grants[ADMIN_USER].contains("USE_CATALOG"));
    let (_, tag) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/entity-tag-assignments/catalogs/uc_int/tags/uc-operator.dev%2Fowner")
        .await;
    assert_eq!(tag["tag_value"], "ns/x");
    // Not the owner of `sales`: grants and ownership changes are refused with 42501.
    for sql in [
        "GRANT SELECT ON CATALOG sales TO `account users`",
        &format!("ALTER CATALOG sales OWNER TO `{SP_APP_ID}`"),
        "CREATE SCHEMA sales.x",
    ] {
        let v = t.sql(SP_TOKEN, sql).await;
        assert_eq!(v["status"]["state"], "FAILED", "{sql}");
        assert_eq!(v["status"]["sql_state"], "42501", "{sql}: {v}");
    }
    let v = t.sql(SP_TOKEN, "CREATE CATALOG uc_int").await;
    assert_eq!(
        v["status"]["error"]["message"]
            .as_str()
            .unwrap()
            .split(']')
            .next(),
        Some("[CATALOG_ALREADY_EXISTS")
    );
    t.sim
        .revoke_metastore_privilege(SP_APP_ID, "CREATE_CATALOG");
    let v = t.sql(SP_TOKEN, "CREATE CATALOG other").await;
    assert_eq!(v["status"]["sql_state"], "42501");
    let v = t
        .sql(ADMIN_TOKEN, "SELECT * FROM sales.default.missing")
        .await;
    assert_eq!(v["status"]["sql_state"], "42P01");
    let (s, v) = t
        .get(SP_TOKEN, "/api/2.1/unity-catalog/catalogs/uc_int")
        .await;
    assert_eq!((s, v["owner"].as_str()), (200, Some(SP_APP_ID)));
    let (s, _) = t
        .http
        .delete(format!("{}/api/2.1/unity-catalog/catalogs/uc_int", t.url))
        .bearer_auth(SP_TOKEN)
        .send()
        .await
        .map(|r| (r.status().as_u16(), ()))
        .unwrap();
    assert_eq!(s, 400, "CATALOG_NOT_EMPTY without force");
    let v = t.sql(SP_TOKEN, "DROP CATALOG uc_int CASCADE").await;
    assert_eq!(v["status"]["state"], "SUCCEEDED");
    assert!(!t.sim.state().catalogs.contains_key("uc_int"));
}

#[tokio::test]
// Long: a cluster's life from terminated to a finished command, in order.
async fn cluster_commands_and_metastore() {
    let t = start(Scenario::default_for_tests()).await;
    t.sim.set_cluster_state("main", CLUSTER_ID, "TERMINATED");
    // Command Execution never starts a cluster: clusters/start does, then one poll runs it.
    t.post(
        SP_TOKEN,
        "/api/2.0/clusters/start",
        json!({"cluster_id": CLUSTER_ID}),
    )
    .await;
    t.get(
        SP_TOKEN,
        &format!("/api/2.0/clusters/get?cluster_id={CLUSTER_ID}"),
    )
    .await;
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
