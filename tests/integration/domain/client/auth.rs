//! Personal access tokens, OAuth M2M with discovery, explicit and Entra (v1 and v2.0)
//! endpoints, certificate assertions, token caching and refresh.

use std::time::Duration;

use databricks_sim::{
    FaultKind, FaultRule, SP_APP_ID, SP_CLIENT_SECRET, SP_TOKEN, Scenario, testcert,
};
use serde_json::json;
use uc_operator::databricks::{Error, ErrorKind, WorkspaceClient};

use super::*;
use crate::support::hostile::{Hostile, Reply};

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
async fn entra_v1_endpoints_get_the_resource_not_a_scope() {
    let server = Hostile::start(|seen| {
        if seen.path.ends_with("/oauth2/token") {
            Reply::json(
                200,
                json!({"access_token": "t", "token_type": "Bearer", "expires_in": "3599"}),
            )
        } else {
            scim_user()
        }
    });
    let url = format!("https://{}/tenant-1/oauth2/token", server.host());
    let config = config_at(
        &server.host(),
        warehouse(),
        oauth_secret("s3cret", Some(url)),
    );
    let c = WorkspaceClient::new(config, &settings_for(server.ca_pem())).unwrap();
    c.me().await.unwrap();
    let token = server
        .seen()
        .into_iter()
        .find(|s| s.path == "/tenant-1/oauth2/token")
        .expect("a token request");
    let form: Vec<(String, String)> = serde_urlencoded_pairs(&token.body);
    let has = |k: &str, v: &str| form.iter().any(|(a, b)| a == k && b == v);
    assert!(
        has("resource", "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d"),
        "{form:?}"
    );
    assert!(has("grant_type", "client_credentials") && has("client_id", SP_CLIENT_ID));
    assert!(has("client_secret", "s3cret"));
    assert!(!form.iter().any(|(k, _)| k == "scope"), "{form:?}");
}

/// `a=b&c=d` into pairs (the values the tests look at are not percent-encoded).
fn serde_urlencoded_pairs(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.replace("%2F", "/")))
        .collect()
}

#[tokio::test]
async fn an_absurd_token_lifetime_is_capped_not_a_panic() {
    for expires_in in [
        json!(10_000_000_000_000_000_000u64),
        json!(1e30),
        json!("1e300"),
    ] {
        let server = Hostile::start(move |seen| {
            if seen.path == "/oidc/v1/token" {
                Reply::json(
                    200,
                    json!({"access_token": "t", "expires_in": expires_in.clone()}),
                )
            } else {
                scim_user()
            }
        });
        let url = format!("https://{}/oidc/v1/token", server.host());
        let config = config_at(&server.host(), warehouse(), oauth_secret("s", Some(url)));
        let c = WorkspaceClient::new(config, &settings_for(server.ca_pem())).unwrap();
        c.me().await.unwrap();
        c.me().await.unwrap();
        assert_eq!(server.count("/oidc/v1/token"), 1, "cached");
        assert_eq!(server.count(ME), 2);
    }
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
    assert_eq!(err.kind(), ErrorKind::Unauthenticated);
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

#[tokio::test]
async fn entra_certificate_assertions() {
    let sim = start(Scenario::default_for_tests()).await;
    let cert = testcert::client_certificate("uc-operator-client");
    sim.set_client_certificate(SP_CLIENT_ID, &cert.cert_pem);

    // PS256 with x5t#S256, then RS256 with x5t for a SHA-1 thumbprint.
    for thumbprint in [&cert.sha256_thumbprint_hex, &cert.sha1_thumbprint_hex] {
        let c = client(&sim, certificate_auth(&sim, thumbprint, &cert.key_pem));
        assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    }
    assert_eq!(token_requests(&sim), 2);

    // A key that does not belong to the registered certificate.
    let other = testcert::client_certificate("someone-else");
    let c = client(
        &sim,
        certificate_auth(&sim, &cert.sha256_thumbprint_hex, &other.key_pem),
    );
    match c.me().await.unwrap_err() {
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
    let bad = |thumbprint: &str, key: &str| {
        let auth = certificate_auth(&sim, thumbprint, key);
        WorkspaceClient::new(config(&sim, warehouse(), auth), &settings(&sim)).unwrap_err()
    };
    assert_eq!(bad("abcd", &cert.key_pem).kind(), ErrorKind::Configuration);
    let err = bad(&cert.sha1_thumbprint_hex, "not a key");
    assert!(err.to_string().contains("invalid private key"), "{err}");
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

fn unauthenticated_once() -> FaultRule {
    FaultRule::new(
        ME,
        FaultKind::Status {
            status: 401,
            retry_after: None,
            error_code: "UNAUTHENTICATED".into(),
            message: "Token expired".into(),
        },
    )
    .times(1)
}

#[tokio::test]
async fn a_401_forces_one_refresh_and_one_retry() {
    let sim = start(Scenario::default_for_tests()).await;
    let c = client(&sim, oauth_secret(SP_CLIENT_SECRET, None));
    c.me().await.unwrap();
    sim.inject("main", unauthenticated_once());
    c.me().await.unwrap();
    assert_eq!(token_requests(&sim), 2);

    // A personal access token cannot be refreshed: the 401 is the answer.
    sim.inject("main", unauthenticated_once());
    let err = client(&sim, token(SP_TOKEN)).me().await.unwrap_err();
    assert!(
        matches!(&err, Error::Unauthenticated { api, .. } if api.status == 401),
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
async fn bad_tokens_are_unauthenticated() {
    let sim = start(Scenario::default_for_tests()).await;
    let err = client(&sim, token("dapi-unknown")).me().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthenticated, "{err:?}");
    assert!(
        err.to_string()
            .contains("authentication failed with the personal access token"),
        "{err}"
    );
}
