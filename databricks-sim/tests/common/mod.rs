//! Shared helpers of the simulator's tests: an HTTPS client trusting the simulator's CA.
#![allow(dead_code)] // each test binary uses a different subset

use std::sync::Arc;

use databricks_sim::*;
use serde_json::{Value, json};

pub fn client(sim: &Simulator) -> reqwest::Client {
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

pub struct T {
    pub sim: Simulator,
    pub http: reqwest::Client,
    pub url: String,
}

pub async fn start(s: Scenario) -> T {
    let sim = Simulator::start(s).await.unwrap();
    let http = client(&sim);
    let url = sim.workspace("main").url;
    T { sim, http, url }
}

impl T {
    pub async fn call(
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
    pub async fn get(&self, token: &str, path: &str) -> (u16, Value) {
        self.call("GET", token, path, None).await
    }
    pub async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", token, path, Some(body)).await
    }
    pub async fn patch(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        self.call("PATCH", token, path, Some(body)).await
    }
    /// Sends a GET and returns the response itself (for headers or a dropped connection).
    pub async fn send_get(&self, token: &str, path: &str) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
    }
    /// Submits without waiting and returns the first (PENDING) response.
    pub async fn submit_async(&self, token: &str, sql: &str) -> Value {
        let (s, v) = self
            .post(
                token,
                "/api/2.0/sql/statements",
                json!({"warehouse_id": WAREHOUSE_ID, "statement": sql, "wait_timeout": "0s"}),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }
    /// Runs SQL to completion and returns the final statement body.
    pub async fn sql(&self, token: &str, statement: &str) -> Value {
        let mut v = self.submit_async(token, statement).await;
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
    /// Submits with a wait and returns the response as it came.
    pub async fn submit(&self, token: &str, sql: &str) -> Value {
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

pub fn user(email: &str, token: &str) -> PrincipalSpec {
    PrincipalSpec::user(email).with_token(token)
}
