use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU32, Ordering};

use super::*;

/// Hands out numbered tokens that live `TOKEN_LIFETIME` from the fake clock's now.
struct Fake {
    calls: AtomicU32,
    now: Arc<StdMutex<SystemTime>>,
}

impl RequestToken for Fake {
    fn request(&self) -> BoxFuture<'_, Result<(SecretString, SystemTime), SubjectTokenError>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let expires = *self.now.lock().unwrap() + TOKEN_LIFETIME;
        async move { Ok((SecretString::new(format!("sa-token-{n}")), expires)) }.boxed()
    }
}

#[tokio::test]
async fn a_token_within_a_minute_of_expiry_is_requested_again() {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let now = Arc::new(StdMutex::new(start));
    let clock_now = now.clone();
    let clock: Clock = Arc::new(move || *clock_now.lock().unwrap());
    let fake = Fake {
        calls: AtomicU32::new(0),
        now: now.clone(),
    };
    let tokens = ServiceAccountTokens::new("ns/sa".into(), fake, clock);
    let first = tokens.token().await.unwrap();
    assert_eq!(first.expose(), "sa-token-1");
    // Cached while more than a minute is left.
    *now.lock().unwrap() = start + TOKEN_LIFETIME - RENEW_BEFORE - Duration::from_secs(1);
    assert_eq!(tokens.token().await.unwrap().expose(), "sa-token-1");
    assert_eq!(tokens.requester.calls.load(Ordering::SeqCst), 1);
    // Within a minute of expiry: a new TokenRequest.
    *now.lock().unwrap() = start + TOKEN_LIFETIME - RENEW_BEFORE + Duration::from_secs(1);
    assert_eq!(tokens.token().await.unwrap().expose(), "sa-token-2");
    assert_eq!(tokens.requester.calls.load(Ordering::SeqCst), 2);
}

#[test]
fn the_api_servers_own_names_are_refused() {
    for a in [
        "https://kubernetes.default.svc",
        "https://kubernetes.default.svc.cluster.local/",
        "kubernetes.default.svc:443",
        "KUBERNETES",
    ] {
        assert!(is_kubernetes_name(a), "{a}");
    }
    for a in [
        "databricks",
        "api://AzureADTokenExchange",
        "https://kubernetes.example.com",
    ] {
        assert!(!is_kubernetes_name(a), "{a}");
    }
    assert!(same("https://127.0.0.1:6443/", "https://127.0.0.1:6443"));
}

#[test]
fn a_tokens_audiences_are_read_from_its_claims() {
    use base64::Engine as _;
    let enc = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let jwt = |claims: &str| format!("{}.{}.sig", enc("{}"), enc(claims));
    assert_eq!(
        jwt_audiences(&jwt(r#"{"aud":["https://kubernetes.default.svc","k3s"]}"#)),
        Some(vec!["https://kubernetes.default.svc".into(), "k3s".into()])
    );
    assert_eq!(
        jwt_audiences(&jwt(r#"{"aud":"one"}"#)),
        Some(vec!["one".into()])
    );
    assert_eq!(jwt_audiences("not a jwt"), None);
}
