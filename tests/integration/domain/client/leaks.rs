//! No secret reaches an error, its `Debug`, or a log line at any level, whatever fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use databricks_sim::testcert::{self, ClientCert};
use databricks_sim::{
    FaultKind, FaultRule, SP_APP_ID, SP_CLIENT_SECRET, SP_TOKEN, Scenario, Simulator,
};
use uc_operator::databricks::{AuthConfig, Compute, Error, WorkspaceClient};

use super::*;

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

fn render(e: Error) -> [String; 2] {
    [format!("{e}"), format!("{e:?}")]
}

const WRONG_SECRET: &str = "wrong-secret-Zq81";
const WRONG_TOKEN: &str = "dapi-wrong-token-Zq82";

/// Authentication failures of every kind, and broken configuration.
async fn auth_failures(sim: &Simulator, cert: &ClientCert, wrong: &ClientCert) -> Vec<String> {
    let attempts = [
        token(WRONG_TOKEN),
        oauth_secret(WRONG_SECRET, None),
        oauth_secret(WRONG_SECRET, Some(entra_url(sim))),
        certificate_auth(sim, &cert.sha256_thumbprint_hex, &wrong.key_pem),
        certificate_auth(sim, &wrong.sha1_thumbprint_hex, &wrong.key_pem),
        // A secret in an authority URL's query, on a refused host.
        oauth_secret(
            WRONG_SECRET,
            Some(format!("https://127.0.0.1:1/token?secret={WRONG_SECRET}")),
        ),
    ];
    let mut rendered = Vec::new();
    for auth in attempts {
        rendered.extend(render(client(sim, auth).me().await.unwrap_err()));
    }
    let bad_key =
        format!("-----BEGIN PRIVATE KEY-----\n{WRONG_SECRET}\n-----END PRIVATE KEY-----\n");
    let auth = certificate_auth(sim, &cert.sha1_thumbprint_hex, &bad_key);
    let err = WorkspaceClient::new(config(sim, warehouse(), auth), &settings(sim)).unwrap_err();
    rendered.extend(render(err));
    rendered
}

/// Faults with working credentials: retries, a spent budget, a 401 forcing a refresh, SQL
/// errors, not found, an unknown cluster.
async fn fault_errors(sim: &Simulator, auth: AuthConfig) -> Vec<String> {
    let mut rendered = Vec::new();
    let mut s = settings(sim);
    s.retry.total_budget = Duration::from_millis(600);
    let c = WorkspaceClient::new(config(sim, warehouse(), auth.clone()), &s).unwrap();
    sim.inject("main", FaultRule::unavailable(ME));
    rendered.extend(render(c.me().await.unwrap_err()));
    sim.clear_faults();
    sim.inject(
        "main",
        FaultRule::new(ME, FaultKind::DropConnection).times(1),
    );
    c.me().await.unwrap();
    let expired = FaultKind::Status {
        status: 401,
        retry_after: None,
        error_code: "UNAUTHENTICATED".into(),
        message: "expired".into(),
    };
    sim.inject("main", FaultRule::new(ME, expired).times(2));
    if let Err(e) = c.me().await {
        rendered.extend(render(e));
    }
    sim.clear_faults();
    let sql = c.execute("SELECT * FROM nowhere.nothing.none").await;
    rendered.extend(render(sql.unwrap_err()));
    let grants = c.get_permissions("catalog", "absent").await;
    rendered.extend(render(grants.unwrap_err()));
    // Let the short-lived OAuth token expire so the next request refreshes it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    c.me().await.unwrap();
    let other = Compute::Cluster {
        org_id: "1".into(),
        cluster_id: "no-such-cluster".into(),
    };
    let c = WorkspaceClient::new(config(sim, other, auth.clone()), &s).unwrap();
    rendered.extend(render(c.execute("SELECT 1").await.unwrap_err()));
    rendered.push(format!("{c:?}"));
    rendered.push(format!("{:?}", config(sim, warehouse(), auth)));
    rendered
}

/// No secret, nor any line of a PEM key, in any rendered error or the logs.
fn assert_no_secret(secrets: &[&str], rendered: &[String], logs: &str) {
    for secret in secrets {
        let needles: Vec<&str> = if secret.contains("-----BEGIN") {
            secret
                .lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 16)
                .collect()
        } else {
            vec![secret]
        };
        for needle in needles {
            for text in rendered {
                assert!(
                    !text.contains(needle),
                    "a secret leaked into an error: {text}"
                );
            }
            assert!(!logs.contains(needle), "a secret leaked into the logs");
        }
    }
}

#[tokio::test]
async fn no_secret_reaches_an_error_or_a_log_line() {
    let (capture, _guard) = capture_logs();
    let mut scenario = Scenario::default_for_tests().with_token_lifetime(1);
    let cert = testcert::client_certificate("uc-operator-leak-test");
    let wrong = testcert::client_certificate("uc-operator-leak-test-wrong");
    let oauth = scenario.principal_mut(SP_APP_ID).oauth.as_mut().unwrap();
    oauth.certificate_pem = Some(cert.cert_pem.clone());
    let sim = start(scenario).await;

    let mut rendered = auth_failures(&sim, &cert, &wrong).await;
    let good = [
        token(SP_TOKEN),
        oauth_secret(SP_CLIENT_SECRET, None),
        certificate_auth(&sim, &cert.sha256_thumbprint_hex, &cert.key_pem),
    ];
    for auth in good {
        rendered.extend(fault_errors(&sim, auth).await);
    }
    // An unreachable workspace.
    let mut unreachable = config(&sim, warehouse(), token(SP_TOKEN));
    unreachable.port = 1;
    let mut s = settings(&sim);
    s.retry.total_budget = Duration::from_millis(300);
    let c = WorkspaceClient::new(unreachable, &s).unwrap();
    rendered.extend(render(c.me().await.unwrap_err()));

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("retrying Databricks request"),
        "the capture saw the client's logs"
    );
    assert!(rendered.len() > 20);
    let secrets = [
        SP_TOKEN,
        SP_CLIENT_SECRET,
        WRONG_SECRET,
        WRONG_TOKEN,
        &cert.key_pem,
        &wrong.key_pem,
    ];
    assert_no_secret(&secrets, &rendered, &logs);
}
