//! The Databricks client against the simulator: authentication, retries, SQL on warehouses and
//! clusters, Unity Catalog reads, typed errors, and no secret in any error or log line.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use databricks_sim::{
    ADMIN_TOKEN, CLUSTER_ID, CatalogSpec, FaultKind, FaultRule, SP_APP_ID, SP_CLIENT_ID,
    SP_CLIENT_SECRET, SP_TOKEN, Scenario, Simulator, WAREHOUSE_ID, testcert,
};
use serde_json::json;
use uc_operator::databricks::{
    AuthConfig, ClientSettings, Compute, ConnectionConfig, Error, PollPolicy, RetryPolicy,
    WorkspaceClient, parse_workspace_url,
};
use uc_operator::secret::SecretString;

const ME: &str = "/api/2.0/preview/scim/v2/Me";

async fn start(scenario: Scenario) -> Simulator {
    Simulator::start(scenario).await.expect("simulator starts")
}

fn settings(sim: &Simulator) -> ClientSettings {
    ClientSettings {
        ca_bundle_pem: Some(sim.ca_pem()),
        retry: RetryPolicy {
            total_budget: Duration::from_secs(30),
            per_request_timeout: Duration::from_secs(10),
            base_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        },
        poll: PollPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            give_up_after: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(10),
        },
        observer: None,
    }
}

fn warehouse() -> Compute {
    Compute::Warehouse {
        id: WAREHOUSE_ID.into(),
    }
}

fn config(sim: &Simulator, compute: Compute, auth: AuthConfig) -> ConnectionConfig {
    let (host, port) = parse_workspace_url(&sim.workspace("main").host, 443).unwrap();
    ConnectionConfig {
        host,
        port,
        compute,
        auth,
    }
}

fn client(sim: &Simulator, auth: AuthConfig) -> WorkspaceClient {
    WorkspaceClient::new(config(sim, warehouse(), auth), &settings(sim)).unwrap()
}

fn token(t: &str) -> AuthConfig {
    AuthConfig::Token(SecretString::from(t))
}

fn oauth_secret(secret: &str, token_url: Option<String>) -> AuthConfig {
    AuthConfig::OAuthSecret {
        client_id: SP_CLIENT_ID.into(),
        client_secret: SecretString::from(secret),
        token_url,
        scope: "all-apis".into(),
    }
}

fn token_requests(sim: &Simulator) -> usize {
    sim.requests()
        .iter()
        .filter(|r| r.path.ends_with("/token"))
        .count()
}

fn entra_url(sim: &Simulator) -> String {
    // No scheme: `https://` is assumed, as for a configured authorityUrl.
    format!("{}/tenant-1/oauth2/v2.0/token", sim.workspace("main").host)
}

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
    let assignment = c
        .current_metastore_assignment()
        .await
        .unwrap()
        .expect("assigned");
    assert_eq!(assignment.metastore_id, databricks_sim::METASTORE_ID);
    assert_eq!(assignment.workspace_id, 1001);
    assert_eq!(c.workspace_id(), Some(1001));
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
    assert!(
        !paths
            .iter()
            .any(|p| p.starts_with("/api/2.0/sql/statements"))
    );
    assert!(c.compute_state().await.unwrap().is_running());

    let err = c
        .execute("SELECT * FROM nowhere.nothing.none")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Sql { .. }), "{err:?}");
}

#[tokio::test]
async fn oauth_secret_with_discovery() {
    let sim = start(Scenario::default_for_tests()).await;
    let c = client(&sim, oauth_secret(SP_CLIENT_SECRET, None));
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    c.me().await.unwrap();
    let paths: Vec<String> = sim.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths.contains(&"/oidc/.well-known/oauth-authorization-server".to_owned()),
        "{paths:?}"
    );
    assert!(paths.contains(&"/oidc/v1/token".to_owned()));
    assert_eq!(token_requests(&sim), 1, "the token is cached");
}

#[tokio::test]
async fn oauth_secret_with_an_explicit_authority_url() {
    let sim = start(Scenario::default_for_tests()).await;
    let url = format!("https://{}/oidc/v1/token", sim.workspace("main").host);
    let c = client(&sim, oauth_secret(SP_CLIENT_SECRET, Some(url)));
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    assert!(
        !sim.requests().iter().any(|r| r.path.contains("well-known")),
        "no discovery"
    );

    // An Entra endpoint takes the secret in the form and an Azure scope.
    let c = client(&sim, oauth_secret(SP_CLIENT_SECRET, Some(entra_url(&sim))));
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    assert!(
        sim.requests()
            .iter()
            .any(|r| r.path == "/tenant-1/oauth2/v2.0/token" && r.status == 200)
    );
}

#[tokio::test]
async fn wrong_client_secret_is_a_typed_oauth_error() {
    let sim = start(Scenario::default_for_tests()).await;
    let err = client(&sim, oauth_secret("not-the-secret", None))
        .me()
        .await
        .unwrap_err();
    match &err {
        Error::OAuth {
            error, endpoint, ..
        } => {
            assert_eq!(error, "invalid_client");
            assert!(endpoint.ends_with("/oidc/v1/token"));
        }
        other => panic!("expected an OAuth error, got {other:?}"),
    }
    assert_eq!(err.reason(), "OAuthError");
    assert!(!err.is_retryable());

    let err = client(&sim, oauth_secret("not-the-secret", Some(entra_url(&sim))))
        .me()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::OAuth { error, .. } if error == "invalid_client"),
        "{err:?}"
    );
}

fn certificate_auth(sim: &Simulator, thumbprint_hex: &str, key_pem: &str) -> AuthConfig {
    AuthConfig::OAuthCertificate {
        client_id: SP_CLIENT_ID.into(),
        thumbprint_hex: thumbprint_hex.into(),
        private_key_pem: SecretString::from(key_pem),
        token_url: entra_url(sim),
        scope: "all-apis".into(),
    }
}

#[tokio::test]
async fn entra_certificate_assertions() {
    let sim = start(Scenario::default_for_tests()).await;
    let cert = testcert::client_certificate("uc-operator-client");
    sim.set_client_certificate(SP_CLIENT_ID, &cert.cert_pem);

    // PS256 with x5t#S256.
    let c = client(
        &sim,
        certificate_auth(&sim, &cert.sha256_thumbprint_hex, &cert.key_pem),
    );
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    // RS256 with x5t, for a SHA-1 thumbprint.
    let c = client(
        &sim,
        certificate_auth(&sim, &cert.sha1_thumbprint_hex, &cert.key_pem),
    );
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    assert_eq!(token_requests(&sim), 2);

    // A key that does not belong to the registered certificate.
    let other = testcert::client_certificate("someone-else");
    let c = client(
        &sim,
        certificate_auth(&sim, &cert.sha256_thumbprint_hex, &other.key_pem),
    );
    let err = c.me().await.unwrap_err();
    match &err {
        Error::OAuth {
            error, description, ..
        } => {
            assert_eq!(error, "invalid_client");
            assert!(description.contains("AADSTS700027"), "{description}");
        }
        other => panic!("expected an OAuth error, got {other:?}"),
    }
    // A thumbprint of another certificate.
    let c = client(
        &sim,
        certificate_auth(&sim, &other.sha256_thumbprint_hex, &other.key_pem),
    );
    assert!(matches!(c.me().await.unwrap_err(), Error::OAuth { .. }));

    // Configuration problems are found before any request.
    let bad = WorkspaceClient::new(
        config(
            &sim,
            warehouse(),
            certificate_auth(&sim, "abcd", &cert.key_pem),
        ),
        &settings(&sim),
    )
    .unwrap_err();
    assert_eq!(bad.reason(), "InvalidConfiguration");
    let bad = WorkspaceClient::new(
        config(
            &sim,
            warehouse(),
            certificate_auth(&sim, &cert.sha1_thumbprint_hex, "not a key"),
        ),
        &settings(&sim),
    )
    .unwrap_err();
    assert!(bad.to_string().contains("invalid private key"), "{bad}");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once() {
    let sim = start(Scenario::default_for_tests().with_token_lifetime(1)).await;
    let c = client(&sim, oauth_secret(SP_CLIENT_SECRET, None));
    c.me().await.unwrap();
    assert_eq!(token_requests(&sim), 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    c.me().await.unwrap();
    assert_eq!(token_requests(&sim), 2, "refreshed once, before use");
    assert!(
        sim.requests().iter().all(|r| r.status != 401),
        "never sent an expired token"
    );
}

#[tokio::test]
async fn a_401_forces_one_refresh_and_one_retry() {
    let sim = start(Scenario::default_for_tests()).await;
    let c = client(&sim, oauth_secret(SP_CLIENT_SECRET, None));
    c.me().await.unwrap();
    sim.inject(
        "main",
        FaultRule::new(
            ME,
            FaultKind::Status {
                status: 401,
                retry_after: None,
                error_code: "UNAUTHENTICATED".into(),
                message: "Token expired".into(),
            },
        )
        .times(1),
    );
    c.me().await.unwrap();
    assert_eq!(token_requests(&sim), 2);

    // A personal access token cannot be refreshed: the 401 is the answer.
    sim.inject(
        "main",
        FaultRule::new(
            ME,
            FaultKind::Status {
                status: 401,
                retry_after: None,
                error_code: "UNAUTHENTICATED".into(),
                message: "no".into(),
            },
        )
        .times(1),
    );
    let err = client(&sim, token(SP_TOKEN)).me().await.unwrap_err();
    assert!(
        matches!(err, Error::Unauthenticated { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.inject(
        "main",
        FaultRule::new("/oidc/v1/token", FaultKind::Latency { millis: 300 }),
    );
    let c = client(&sim, oauth_secret(SP_CLIENT_SECRET, None));
    let calls = (0..8).map(|_| {
        let c = c.clone();
        tokio::spawn(async move { c.me().await })
    });
    for call in futures::future::join_all(calls).await {
        call.unwrap().unwrap();
    }
    assert_eq!(token_requests(&sim), 1);
}

#[tokio::test]
async fn retry_after_is_waited_out() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.inject("main", FaultRule::too_many_requests(ME, 2).times(1));
    let c = client(&sim, token(SP_TOKEN));
    let started = Instant::now();
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
    let statuses: Vec<u16> = sim
        .requests()
        .iter()
        .filter(|r| r.path == ME)
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, vec![429, 200]);
}

#[tokio::test]
async fn dropped_connections_and_503s_are_retried() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.inject(
        "main",
        FaultRule::new(ME, FaultKind::DropConnection).times(1),
    );
    sim.inject("main", FaultRule::unavailable(ME).times(1));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let mut s = settings(&sim);
    s.observer = Some(Arc::new(
        move |e: &uc_operator::databricks::RequestEvent| {
            sink.lock()
                .unwrap()
                .push((e.endpoint, e.status, e.outcome.as_str()));
        },
    ));
    let c = WorkspaceClient::new(config(&sim, warehouse(), token(SP_TOKEN)), &s).unwrap();
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|(endpoint, ..)| *endpoint == ME));
    assert_eq!(events.last().unwrap(), &(ME, Some(200), "success"));
}

#[tokio::test]
async fn a_spent_retry_budget_says_so() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.inject("main", FaultRule::unavailable(ME));
    let mut s = settings(&sim);
    s.retry.total_budget = Duration::from_millis(1500);
    s.retry.base_backoff = Duration::from_millis(200);
    s.retry.max_backoff = Duration::from_millis(400);
    let c = WorkspaceClient::new(config(&sim, warehouse(), token(SP_TOKEN)), &s).unwrap();
    let err = c.me().await.unwrap_err();
    let Error::RetryBudgetExhausted {
        attempts,
        elapsed,
        last,
    } = &err
    else {
        panic!("expected RetryBudgetExhausted, got {err:?}");
    };
    assert!(*attempts >= 3, "{attempts}");
    assert!(*elapsed <= Duration::from_millis(1500));
    assert!(
        last.contains("503") && last.contains("TEMPORARILY_UNAVAILABLE"),
        "{last}"
    );
    let text = err.to_string();
    assert!(text.starts_with("retry budget ran out after"), "{text}");
    assert_eq!(err.reason(), "RetryBudgetExhausted");
    assert!(err.is_retryable());
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
        Error::Sql {
            sql_state, message, ..
        } => {
            assert_eq!(sql_state.as_deref(), Some("42P01"), "{err}");
            assert!(message.contains("TABLE_OR_VIEW_NOT_FOUND"), "{message}");
        }
        other => panic!("expected a SQL error, got {other:?}"),
    }
    assert!(err.to_string().contains("SQLSTATE 42P01"));
    let err = c.execute("SELEC 1").await.unwrap_err();
    assert!(
        matches!(&err, Error::Sql { sql_state: Some(s), .. } if s == "42601"),
        "{err:?}"
    );
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
    assert!(
        matches!(&err, Error::Sql { sql_state: Some(s), .. } if s == "42P01"),
        "{err:?}"
    );
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
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(matches!(
        c.compute_state().await.unwrap_err(),
        Error::NotFound { .. }
    ));
}

#[tokio::test]
async fn compute_state_never_starts_a_stopped_warehouse() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.set_warehouse_state("main", WAREHOUSE_ID, "STOPPED");
    let c = client(&sim, token(SP_TOKEN));
    let state = c.compute_state().await.unwrap();
    assert_eq!(state.state, "STOPPED");
    assert!(!state.is_running());
    assert_eq!(sim.warehouse_starts(WAREHOUSE_ID), 0);
}

#[tokio::test]
async fn a_missing_metastore_is_none() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.set_metastore_assigned("main", false);
    let c = client(&sim, token(SP_TOKEN));
    assert_eq!(c.current_metastore_assignment().await.unwrap(), None);
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    let sim = start(Scenario::default_for_tests()).await;
    let err = client(&sim, token("dapi-unknown")).me().await.unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("authentication failed with the personal access token"),
        "{err}"
    );
    assert_eq!(err.reason(), "Unauthenticated");
}

#[tokio::test]
async fn catalogs_are_listed_across_pages() {
    let mut scenario = Scenario::default_for_tests();
    // Catalogs the principal cannot see come first, so the first pages are empty.
    for i in 0..120 {
        scenario = scenario.with_catalog(CatalogSpec::new(
            &format!("a{i:03}"),
            databricks_sim::ADMIN_USER,
        ));
    }
    for i in 0..130 {
        scenario = scenario.with_catalog(CatalogSpec::new(&format!("b{i:03}"), SP_APP_ID));
    }
    let sim = start(scenario).await;
    let c = client(&sim, token(SP_TOKEN));
    let catalogs = c.list_catalogs(false).await.unwrap();
    assert_eq!(catalogs.len(), 130);
    assert!(catalogs.iter().all(|c| c.name.starts_with('b')));
    let pages = sim
        .requests()
        .iter()
        .filter(|r| r.path == "/api/2.1/unity-catalog/catalogs")
        .count();
    assert!(pages >= 3, "{pages} pages");
    let admin = client(&sim, token(ADMIN_TOKEN));
    assert_eq!(admin.list_catalogs(true).await.unwrap().len(), 250);
}

#[tokio::test]
async fn unity_catalog_reads() {
    let scenario = Scenario::default_for_tests().with_catalog(
        CatalogSpec::new("sales", SP_APP_ID)
            .with_tag("uc_operator_integration", "ns/one")
            .with_grant("account users", &["USE_CATALOG"])
            .isolated(&[1001]),
    );
    let sim = start(scenario).await;
    let c = client(&sim, token(SP_TOKEN));
    let info = c.get_catalog("sales").await.unwrap().expect("exists");
    assert_eq!(info.owner.as_deref(), Some(SP_APP_ID));
    assert!(info.is_isolated());
    assert_eq!(c.get_catalog("absent").await.unwrap(), None);
    assert_eq!(
        c.get_catalog_tag("sales", "uc_operator_integration")
            .await
            .unwrap()
            .as_deref(),
        Some("ns/one")
    );
    assert_eq!(c.get_catalog_tag("sales", "other").await.unwrap(), None);
    let bindings = c.catalog_bindings("sales").await.unwrap();
    assert_eq!(
        bindings.iter().map(|b| b.workspace_id).collect::<Vec<_>>(),
        vec![1001]
    );
    let grants = c.get_permissions("catalog", "sales").await.unwrap();
    assert!(
        grants
            .iter()
            .any(|g| g.principal == "account users" && g.privileges == ["USE_CATALOG"]),
        "{grants:?}"
    );
    let effective = c
        .effective_permissions("catalog", "sales", "account users")
        .await
        .unwrap();
    assert!(
        effective
            .iter()
            .any(|a| a.privileges.iter().any(|p| p.privilege == "USE_CATALOG")),
        "{effective:?}"
    );
    c.execute("CREATE SCHEMA IF NOT EXISTS sales.inner")
        .await
        .unwrap();
    let schemas = c.list_schemas("sales").await.unwrap();
    assert!(schemas.iter().any(|s| s.name == "inner"), "{schemas:?}");
    c.delete_catalog("sales", true).await.unwrap();
    assert_eq!(c.get_catalog("sales").await.unwrap(), None);
    c.delete_catalog("sales", true).await.unwrap();
}

/// A `tracing` writer that appends to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Captures the client's logs at every level. A process-wide subscriber, because a scoped one
/// misses events whose callsites other test threads registered first; scoped only when another
/// test already installed a global one.
fn capture_logs() -> (Capture, Option<tracing::subscriber::DefaultGuard>) {
    static GLOBAL: std::sync::OnceLock<Option<Capture>> = std::sync::OnceLock::new();
    let make = |capture: Capture| {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "uc_operator=trace,reqwest=trace,hyper=trace,hyper_util=trace,h2=trace",
            ))
            .with_writer(capture)
            .with_ansi(false)
            .finish()
    };
    let global = GLOBAL.get_or_init(|| {
        let capture = Capture::default();
        tracing::subscriber::set_global_default(make(capture.clone()))
            .ok()
            .map(|_| capture)
    });
    match global {
        Some(capture) => (capture.clone(), None),
        None => {
            let capture = Capture::default();
            let guard = tracing::subscriber::set_default(make(capture.clone()));
            (capture, Some(guard))
        }
    }
}

#[tokio::test]
async fn no_secret_reaches_an_error_or_a_log_line() {
    let (capture, _guard) = capture_logs();

    let mut scenario = Scenario::default_for_tests().with_token_lifetime(1);
    let cert = testcert::client_certificate("uc-operator-leak-test");
    let wrong = testcert::client_certificate("uc-operator-leak-test-wrong");
    scenario
        .principal_mut(SP_APP_ID)
        .oauth
        .as_mut()
        .unwrap()
        .certificate_pem = Some(cert.cert_pem.clone());
    let sim = start(scenario).await;

    let wrong_secret = "wrong-secret-Zq81";
    let wrong_token = "dapi-wrong-token-Zq82";
    let secrets = [
        SP_TOKEN,
        SP_CLIENT_SECRET,
        wrong_secret,
        wrong_token,
        &cert.key_pem,
        &wrong.key_pem,
    ];
    let mut rendered: Vec<String> = Vec::new();
    fn render(out: &mut Vec<String>, e: Error) {
        out.push(format!("{e}"));
        out.push(format!("{e:?}"));
    }

    // Authentication failures of every kind.
    render(
        &mut rendered,
        client(&sim, token(wrong_token)).me().await.unwrap_err(),
    );
    render(
        &mut rendered,
        client(&sim, oauth_secret(wrong_secret, None))
            .me()
            .await
            .unwrap_err(),
    );
    render(
        &mut rendered,
        client(&sim, oauth_secret(wrong_secret, Some(entra_url(&sim))))
            .me()
            .await
            .unwrap_err(),
    );
    render(
        &mut rendered,
        client(
            &sim,
            certificate_auth(&sim, &cert.sha256_thumbprint_hex, &wrong.key_pem),
        )
        .me()
        .await
        .unwrap_err(),
    );
    render(
        &mut rendered,
        client(
            &sim,
            certificate_auth(&sim, &wrong.sha1_thumbprint_hex, &wrong.key_pem),
        )
        .me()
        .await
        .unwrap_err(),
    );
    // Broken configuration.
    let bad_key =
        format!("-----BEGIN PRIVATE KEY-----\n{wrong_secret}\n-----END PRIVATE KEY-----\n");
    render(
        &mut rendered,
        WorkspaceClient::new(
            config(
                &sim,
                warehouse(),
                certificate_auth(&sim, &cert.sha1_thumbprint_hex, &bad_key),
            ),
            &settings(&sim),
        )
        .unwrap_err(),
    );
    // Faults: retries, a spent budget, a 401 forcing a refresh, SQL errors, not found.
    let good = [
        token(SP_TOKEN),
        oauth_secret(SP_CLIENT_SECRET, None),
        certificate_auth(&sim, &cert.sha256_thumbprint_hex, &cert.key_pem),
    ];
    for auth in good {
        let mut s = settings(&sim);
        s.retry.total_budget = Duration::from_millis(600);
        let c = WorkspaceClient::new(config(&sim, warehouse(), auth.clone()), &s).unwrap();
        sim.inject("main", FaultRule::unavailable(ME));
        render(&mut rendered, c.me().await.unwrap_err());
        sim.clear_faults();
        sim.inject(
            "main",
            FaultRule::new(ME, FaultKind::DropConnection).times(1),
        );
        c.me().await.unwrap();
        sim.inject(
            "main",
            FaultRule::new(
                ME,
                FaultKind::Status {
                    status: 401,
                    retry_after: None,
                    error_code: "UNAUTHENTICATED".into(),
                    message: "expired".into(),
                },
            )
            .times(2),
        );
        if let Err(e) = c.me().await {
            render(&mut rendered, e);
        }
        sim.clear_faults();
        render(
            &mut rendered,
            c.execute("SELECT * FROM nowhere.nothing.none")
                .await
                .unwrap_err(),
        );
        render(
            &mut rendered,
            c.get_permissions("catalog", "absent").await.unwrap_err(),
        );
        // Let the short-lived OAuth token expire so the next client refreshes.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        c.me().await.unwrap();
        let other = Compute::Cluster {
            org_id: "1".into(),
            cluster_id: "no-such-cluster".into(),
        };
        let c = WorkspaceClient::new(config(&sim, other, auth.clone()), &s).unwrap();
        render(&mut rendered, c.execute("SELECT 1").await.unwrap_err());
        rendered.push(format!("{c:?}"));
        rendered.push(format!("{:?}", config(&sim, warehouse(), auth)));
    }
    // An unreachable workspace.
    let mut unreachable = config(&sim, warehouse(), token(SP_TOKEN));
    unreachable.port = 1;
    let mut s = settings(&sim);
    s.retry.total_budget = Duration::from_millis(300);
    render(
        &mut rendered,
        WorkspaceClient::new(unreachable, &s)
            .unwrap()
            .me()
            .await
            .unwrap_err(),
    );

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrying Databricks request"),
        "the capture saw the client's logs"
    );
    assert!(rendered.len() > 20);
    for secret in secrets {
        // Any line of a PEM key, not just the whole key.
        let needles: Vec<&str> = if secret.contains("-----BEGIN") {
            secret
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 16)
                .collect()
        } else {
            vec![secret]
        };
        for needle in needles {
            for text in &rendered {
                assert!(
                    !text.contains(needle),
                    "a secret leaked into an error: {text}"
                );
            }
            assert!(!logs.contains(needle), "a secret leaked into the logs");
        }
    }
}
