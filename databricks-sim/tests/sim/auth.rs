//! Authentication: PATs, OAuth M2M tokens and Entra JWT assertions.

use std::time::Duration;

use base64::Engine as _;
use sha2::Digest as _;

use crate::common::start;
use databricks_sim::*;
use serde_json::{Value, json};

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

/// The token endpoint issues only the scopes its discovery document offers; another is
/// `invalid_scope` (RFC 6749 §5.2), and none is `all-apis`.
#[tokio::test]
async fn oauth_scopes_are_checked() {
    let t = start(Scenario::default_for_tests()).await;
    let (_, d) = t
        .get("", "/oidc/.well-known/oauth-authorization-server")
        .await;
    assert!(
        d["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("all-apis"))
    );
    let endpoint = d["token_endpoint"].as_str().unwrap().to_string();
    let token = |form: Vec<(&'static str, &'static str)>| {
        t.http
            .post(&endpoint)
            .basic_auth(SP_CLIENT_ID, Some(SP_CLIENT_SECRET))
            .form(&form)
            .send()
    };
    let r = token(vec![
        ("grant_type", "client_credentials"),
        ("scope", "everything"),
    ])
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let v: Value = token(vec![
        ("grant_type", "client_credentials"),
        ("scope", "all-apis offline_access"),
    ])
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(v["scope"], "all-apis offline_access");
    let v: Value = token(vec![("grant_type", "client_credentials")])
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["scope"], "all-apis");
}
