//! No secret reaches an error, its `Debug`, or a log line at any level, whatever fails.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use databricks_sim::{
    FaultKind, FaultRule, SP_APP_ID, SP_CLIENT_SECRET, SP_TOKEN, Scenario, testcert,
};
use uc_operator::databricks::{Compute, Error, WorkspaceClient};

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
