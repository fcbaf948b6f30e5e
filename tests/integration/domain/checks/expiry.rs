//! Credential expiry: a token's from the workspace's token list, a certificate's from `tls.crt`;
//! a `warning` only within the window, and the expiry recorded for the status either way.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use uc_operator::databricks::{AuthConfig, Compute, ConnectionConfig};

use super::*;
use crate::support::databricks::settings;
use databricks_sim::testcert;

const DAY_MS: i64 = 86_400_000;

fn now_ms() -> i64 {
    Timestamp::now().as_millisecond()
}

fn expiry_test(f: &Findings) -> Option<&checks::Finding> {
    f.tests
        .iter()
        .find(|t| t.name.starts_with("Credential expiry: "))
}

#[tokio::test]
async fn a_token_expiring_within_the_window_warns_and_one_far_away_does_not() {
    let sim = start(Scenario::default_for_tests()).await;
    let id = id();
    let soon = now_ms() + 10 * DAY_MS;
    // Another token of the principal that never expires, and one that lasts longer.
    sim.set_token_expiry(SP_TOKEN, soon);
    // A new resource's first validation does not list tokens (one request fewer for a setup).
    let f = run(&sim, &integration(&id), ComputePolicy::MayStart).await;
    assert!(expiry_test(&f).is_none() && f.main().credential_expires_at.is_none());
    assert!(
        !sim.requests()
            .iter()
            .any(|r| r.path == "/api/2.0/token/list")
    );
    let later = Integration {
        after_setup: true,
        ..integration(&id)
    };
    let f = run(&sim, &later, ComputePolicy::MayStart).await;
    let test = expiry_test(&f).expect("a credential expiry test");
    let Outcome::Warning(message) = &test.outcome else {
        panic!("{test:?}")
    };
    assert!(
        message.contains("earliest") && message.contains("in 10 days"),
        "{message}"
    );
    assert!(!message.contains(SP_TOKEN), "{message}");
    assert_eq!(
        f.main().credential_expires_at.map(|t| t.as_millisecond()),
        Some(soon)
    );

    let year = now_ms() + 365 * DAY_MS;
    sim.set_token_expiry(SP_TOKEN, year);
    let f = run(&sim, &later, ComputePolicy::MayStart).await;
    assert!(expiry_test(&f).is_none(), "{:?}", f.tests);
    assert_eq!(
        f.main().credential_expires_at.map(|t| t.as_millisecond()),
        Some(year)
    );

    // A narrower window (`--credential-warning 5d`) does not warn for 10 days either.
    sim.set_token_expiry(SP_TOKEN, soon);
    let narrow = Integration {
        credential_warning: Duration::from_secs(5 * 86_400),
        ..later
    };
    let f = run(&sim, &narrow, ComputePolicy::MayStart).await;
    assert!(expiry_test(&f).is_none(), "{:?}", f.tests);
}

/// A certificate for the registered key whose `notAfter` is `days` from now.
fn certificate_expiring_in(days: i64) -> (String, String, String) {
    let base = testcert::client_certificate("uc-operator-expiry");
    let key = rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(&base.key_pem, &rcgen::PKCS_RSA_SHA256)
        .unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    let not_after = Timestamp::now().as_second() + days * 86_400;
    params.not_after = rcgen::date_time_ymd(1970, 1, 1) + Duration::from_secs(not_after as u64);
    let cert = params.self_signed(&key).unwrap();
    let thumbprint = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(cert.der()))
    };
    (cert.pem(), base.key_pem, thumbprint)
}

#[tokio::test]
async fn a_certificate_close_to_not_after_warns() {
    let sim = start(Scenario::default_for_tests()).await;
    let id = id();
    for (days, warns) in [(5, true), (365, false)] {
        let (cert_pem, key_pem, thumbprint) = certificate_expiring_in(days);
        sim.set_client_certificate(databricks_sim::SP_CLIENT_ID, &cert_pem);
        let config = ConnectionConfig {
            host: "localhost".into(),
            port: sim.workspace("main").port,
            compute: Compute::Warehouse {
                id: WAREHOUSE_ID.into(),
            },
            auth: AuthConfig::OAuthCertificate {
                client_id: databricks_sim::SP_CLIENT_ID.into(),
                thumbprint_hex: thumbprint,
                private_key_pem: key_pem.as_str().into(),
                token_url: format!(
                    "https://{}/tenant-1/oauth2/v2.0/token",
                    sim.workspace("main").host
                ),
                scope: "all-apis".into(),
                certificate_pem: Some(cert_pem),
            },
        };
        let client = WorkspaceClient::new(config, &settings(&sim)).unwrap();
        let f = checks::run(&client, &[], &integration(&id), ComputePolicy::MayStart).await;
        assert!(f.failure().is_none(), "{days} days: {:?}", f.failure());
        let expires = f.main().credential_expires_at.expect("notAfter read");
        let left = expires.as_second() - Timestamp::now().as_second();
        assert!((left - days * 86_400).abs() < 120, "{days} days: {expires}");
        match expiry_test(&f) {
            Some(t) if warns => assert!(
                matches!(&t.outcome, Outcome::Warning(m) if m.contains("tls.crt")),
                "{t:?}"
            ),
            None if !warns => {}
            other => panic!("{days} days: {other:?}"),
        }
        // No token list for a certificate.
        assert!(
            !sim.requests()
                .iter()
                .any(|r| r.path == "/api/2.0/token/list")
        );
    }
}
