//! Workload identity: short-lived tokens of a ServiceAccount of the resource's own namespace,
//! requested through the TokenRequest API for the audience the identity provider trusts (a
//! Databricks federation policy, an Entra federated credential), cached no longer than they
//! live. The Databricks side only sees a [`SubjectTokenSource`].
//!
//! Two rules keep this from being a way to borrow an identity: the ServiceAccount must opt in
//! (the credentials label, checked in `credentials.rs`), and the audience may never be one the
//! Kubernetes API server itself accepts, so no token minted here works against the cluster.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::FutureExt as _;
use futures::future::BoxFuture;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::api::{Api, PostParams};
use tokio::sync::{Mutex, OnceCell};

use crate::databricks::{SubjectTokenError, SubjectTokenSource, SubjectTokens};
use crate::secret::SecretString;

/// The shortest lifetime the API server grants (`expirationSeconds` minimum, 10 minutes): the
/// token only has to last one exchange.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(600);
/// A cached token is renewed when it has less than this left, so that an exchange never
/// presents a token that expires in flight.
pub const RENEW_BEFORE: Duration = Duration::from_secs(60);

/// Requests one token: the Kubernetes TokenRequest API, or a fake in tests.
pub trait RequestToken: Send + Sync {
    /// A token and when it expires.
    fn request(&self) -> BoxFuture<'_, Result<(SecretString, SystemTime), SubjectTokenError>>;
}

/// The clock, injectable so that renewal can be tested without waiting.
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A ServiceAccount's tokens for one audience, cached until a minute before they expire.
pub struct ServiceAccountTokens<R> {
    identity: String,
    requester: R,
    clock: Clock,
    cache: Mutex<Option<(SecretString, SystemTime)>>,
}

impl<R: RequestToken> ServiceAccountTokens<R> {
    pub fn new(identity: String, requester: R, clock: Clock) -> Self {
        Self {
            identity,
            requester,
            clock,
            cache: Mutex::new(None),
        }
    }

    async fn token(&self) -> Result<SecretString, SubjectTokenError> {
        // Holding the lock while requesting makes concurrent exchanges share one token.
        let mut cache = self.cache.lock().await;
        let now = (self.clock)();
        if let Some((token, expires)) = cache.as_ref()
            && now + RENEW_BEFORE < *expires
        {
            return Ok(token.clone());
        }
        let (token, expires) = self.requester.request().await?;
        *cache = Some((token.clone(), expires));
        Ok(token)
    }
}

impl<R: RequestToken> SubjectTokenSource for ServiceAccountTokens<R> {
    fn subject_token(&self) -> BoxFuture<'_, Result<SecretString, SubjectTokenError>> {
        self.token().boxed()
    }

    fn identity(&self) -> &str {
        &self.identity
    }
}

/// The TokenRequest API for one ServiceAccount and audience.
pub struct TokenRequester {
    api: Api<ServiceAccount>,
    namespace: String,
    name: String,
    audience: String,
}

impl RequestToken for TokenRequester {
    fn request(&self) -> BoxFuture<'_, Result<(SecretString, SystemTime), SubjectTokenError>> {
        async move {
            let request = TokenRequest {
                spec: TokenRequestSpec {
                    audiences: vec![self.audience.clone()],
                    expiration_seconds: Some(TOKEN_LIFETIME.as_secs() as i64),
                    bound_object_ref: None,
                },
                ..Default::default()
            };
            let who = format!("ServiceAccount {}/{}", self.namespace, self.name);
            let answer = self
                .api
                .create_token_request(&self.name, &PostParams::default(), &request)
                .await
                .map_err(|e| {
                    // kube's errors carry the API server's status message, never the token.
                    let permanent =
                        matches!(&e, kube::Error::Api(s) if s.code == 404 || s.code == 403);
                    SubjectTokenError {
                        message: format!("could not request a token for {who}: {e}"),
                        permanent,
                    }
                })?;
            let status = answer.status.ok_or_else(|| SubjectTokenError {
                message: format!(
                    "the API server answered the token request for {who} without a token"
                ),
                permanent: false,
            })?;
            let expires: SystemTime = status.expiration_timestamp.0.into();
            Ok((SecretString::new(status.token), expires))
        }
        .boxed()
    }
}

/// The subject tokens of `name` in `namespace` for `audience`, from the API server.
pub fn service_account_tokens(
    client: kube::Client,
    namespace: &str,
    name: &str,
    audience: &str,
) -> SubjectTokens {
    let requester = TokenRequester {
        api: Api::namespaced(client, namespace),
        namespace: namespace.to_string(),
        name: name.to_string(),
        audience: audience.to_string(),
    };
    let identity = format!("ServiceAccount {namespace}/{name} for audience {audience}");
    SubjectTokens(Arc::new(ServiceAccountTokens::new(
        identity,
        requester,
        Arc::new(SystemTime::now),
    )))
}

/// The cluster's service account issuer (`/.well-known/openid-configuration`), read once per
/// process: tokens for it are accepted by the API server (its default `--api-audiences`).
static ISSUER: OnceCell<String> = OnceCell::const_new();

/// Refuses an audience the API server accepts: the well-known in-cluster names, the cluster's
/// issuer, and the audiences of the operator's own in-cluster token (exactly the API server's
/// `--api-audiences`). Fails closed when the issuer cannot be read.
pub async fn check_audience(client: &kube::Client, audience: &str) -> Result<(), String> {
    let refused = |why: &str| {
        Err(format!(
            "workloadIdentity.audience {audience:?} is refused: {why}, so a token for it would let its bearer act as the ServiceAccount in this cluster"
        ))
    };
    if is_kubernetes_name(audience) {
        return refused("every Kubernetes API server accepts it");
    }
    if own_token_audiences().iter().any(|a| same(a, audience)) {
        return refused("the Kubernetes API server accepts it (--api-audiences)");
    }
    let issuer = ISSUER
        .get_or_try_init(|| issuer(client))
        .await
        .map_err(|e| {
            format!(
                "could not read the cluster's service account issuer to make sure audience {audience:?} is not one the API server accepts: {e}"
            )
        })?;
    if same(issuer, audience) {
        return refused("it is the cluster's service account issuer, which the API server accepts");
    }
    Ok(())
}

/// The in-cluster names of the API server, as the CRD's `KUBERNETES_AUDIENCE_PATTERN` lists them
/// (the API server enforces that pattern; this is for `validate` and a bypassed schema).
fn is_kubernetes_name(audience: &str) -> bool {
    let a = audience.to_ascii_lowercase();
    let a = a
        .strip_prefix("https://")
        .unwrap_or(&a)
        .trim_end_matches('/');
    let a = a.strip_suffix(":443").unwrap_or(a);
    matches!(
        a,
        "kubernetes"
            | "kubernetes.default"
            | "kubernetes.default.svc"
            | "kubernetes.default.svc.cluster.local"
    )
}

/// Audiences compare as URLs do here: case-insensitively and with or without a trailing slash.
fn same(a: &str, b: &str) -> bool {
    a.trim_end_matches('/')
        .eq_ignore_ascii_case(b.trim_end_matches('/'))
}

async fn issuer(client: &kube::Client) -> Result<String, kube::Error> {
    #[derive(serde::Deserialize)]
    struct Discovery {
        issuer: String,
    }
    let request = http::Request::get("/.well-known/openid-configuration")
        .body(Vec::new())
        .expect("valid request");
    let d: Discovery = client.request(request).await?;
    Ok(d.issuer)
}

/// The `aud` claim of the token the operator itself runs with in a pod (no signature check: it
/// is only read, to learn what the API server accepts), read once per process: the API server's
/// audiences do not change under a running pod. Empty outside a pod.
fn own_token_audiences() -> &'static [String] {
    const TOKEN: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
    static AUDIENCES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    AUDIENCES.get_or_init(|| {
        std::fs::read_to_string(TOKEN)
            .ok()
            .and_then(|t| jwt_audiences(t.trim()))
            .unwrap_or_default()
    })
}

fn jwt_audiences(jwt: &str) -> Option<Vec<String>> {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    #[derive(serde::Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }
    #[derive(serde::Deserialize)]
    struct Claims {
        aud: Aud,
    }
    Some(match serde_json::from_slice::<Claims>(&bytes).ok()?.aud {
        Aud::One(a) => vec![a],
        Aud::Many(a) => a,
    })
}

#[cfg(test)]
mod tests;
