//! Credentials to bearer tokens: a personal access token as is, or an OAuth M2M access token
//! (client secret or Entra certificate assertion) cached and refreshed before it expires.

use std::time::{Duration, Instant};

use jsonwebtoken::{EncodingKey, Header};
use reqwest::Method;
use serde::{Deserialize, Deserializer};
use tokio::sync::{Mutex, OnceCell};

use super::assertion::{ASSERTION_TYPE, assertion_header, client_assertion};
use super::connection::{
    AuthConfig, ConfigError, Entra, SubjectTokens, entra_endpoint, entra_resource, entra_scope,
    normalize_token_url,
};
use super::error::Error;
use super::http::{Body, Request, Transport};
use crate::secret::SecretString;

/// The longest a token is cached whatever `expires_in` says: Databricks tokens live an hour,
/// Entra's up to a day.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// When the response gives no lifetime.
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// Hands out bearer tokens for requests.
pub(crate) enum TokenProvider {
    Static(SecretString),
    OAuth(Box<OAuthSource>),
}

pub(crate) struct OAuthSource {
    client_id: String,
    credential: ClientCredential,
    /// The configured token endpoint; `None` means discovery on `workspace_base`.
    configured_url: Option<String>,
    workspace_base: String,
    scope: String,
    resolved_url: OnceCell<String>,
    /// Holding the lock while fetching makes concurrent callers share one token request.
    cache: Mutex<Option<CachedToken>>,
}

enum ClientCredential {
    Secret(SecretString),
    Certificate {
        key: Box<EncodingKey>,
        header: Box<Header>,
    },
    /// A workload identity's JWT: the subject of a token exchange, or an Entra client assertion.
    Federated(SubjectTokens),
}

/// RFC 8693 token exchange, as databricks-sdk-go sends it for workload identity federation
/// (`config/experimental/auth/oidc/tokensource.go`): the JWT as `subject_token`, `client_id` in
/// the form, no client secret.
const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

struct CachedToken {
    token: SecretString,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: SecretString,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct Discovery {
    token_endpoint: Option<String>,
}

/// Entra v1 endpoints send `expires_in` as a string; any number too large for a `u64` (or
/// fractional) still reads, saturated, so the lifetime cap decides.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let saturate = |f: f64| (f.is_finite() && f >= 0.0).then(|| f.min(u64::MAX as f64) as u64);
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_u64().or_else(|| n.as_f64().and_then(saturate)),
        Some(serde_json::Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .ok()
            .or_else(|| s.trim().parse::<f64>().ok().and_then(saturate)),
        _ => None,
    })
}

/// The cache lifetime of a token that says it lives `expires_in` seconds.
fn lifetime(expires_in: Option<u64>) -> Duration {
    expires_in
        .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs)
        .min(MAX_TOKEN_LIFETIME)
}

/// When to refresh a token that lives `lifetime`: 60 s before it expires, or at 80% of its life
/// for short-lived tokens.
pub(crate) fn refresh_after(lifetime: Duration) -> Duration {
    let early = lifetime.saturating_sub(Duration::from_secs(60));
    let fraction = lifetime - lifetime / 5;
    early.max(fraction)
}

impl TokenProvider {
    pub fn new(auth: &AuthConfig, workspace_base: &str) -> Result<Self, ConfigError> {
        let (client_id, credential, configured_url, scope) = match auth {
            AuthConfig::Token(token) => return Ok(TokenProvider::Static(token.clone())),
            AuthConfig::OAuthSecret {
                client_id,
                client_secret,
                token_url,
                scope,
            } => {
                let url = token_url.as_deref().map(normalize_token_url).transpose()?;
                (
                    client_id,
                    ClientCredential::Secret(client_secret.clone()),
                    url,
                    scope,
                )
            }
            AuthConfig::OAuthCertificate {
                client_id,
                thumbprint_hex,
                private_key_pem,
                token_url,
                scope,
                ..
            } => {
                let header = assertion_header(thumbprint_hex)?;
                // jsonwebtoken's messages name the PEM problem, never the key bytes.
                let key = EncodingKey::from_rsa_pem(private_key_pem.expose().as_bytes())
                    .map_err(|e| ConfigError::PrivateKey(e.to_string()))?;
                let credential = ClientCredential::Certificate {
                    key: Box::new(key),
                    header: Box::new(header),
                };
                (
                    client_id,
                    credential,
                    Some(normalize_token_url(token_url)?),
                    scope,
                )
            }
            AuthConfig::OAuthFederated {
                client_id,
                token_url,
                scope,
                subject,
            } => {
                let url = token_url.as_deref().map(normalize_token_url).transpose()?;
                (
                    client_id,
                    ClientCredential::Federated(subject.clone()),
                    url,
                    scope,
                )
            }
        };
        Ok(TokenProvider::OAuth(Box::new(OAuthSource {
            client_id: client_id.clone(),
            credential,
            configured_url,
            workspace_base: workspace_base.to_owned(),
            scope: scope.clone(),
            resolved_url: OnceCell::new(),
            cache: Mutex::new(None),
        })))
    }

    /// Whether a 401 can be cured by fetching a new token.
    pub fn is_refreshable(&self) -> bool {
        matches!(self, TokenProvider::OAuth(_))
    }

    pub async fn token(&self, transport: &Transport) -> Result<SecretString, Error> {
        match self {
            TokenProvider::Static(token) => Ok(token.clone()),
            TokenProvider::OAuth(source) => source.token(transport).await,
        }
    }

    /// Forgets `rejected` after the workspace refused it, unless another caller already
    /// replaced it.
    pub async fn invalidate(&self, rejected: &SecretString) {
        if let TokenProvider::OAuth(source) = self {
            let mut cache = source.cache.lock().await;
            if cache.as_ref().is_some_and(|c| &c.token == rejected) {
                *cache = None;
            }
        }
    }
}

impl OAuthSource {
    async fn token(&self, transport: &Transport) -> Result<SecretString, Error> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok(cached.token.clone());
        }
        let fetched_at = Instant::now();
        let response = self.fetch(transport).await?;
        let token = response.access_token;
        let refresh_in = refresh_after(lifetime(response.expires_in));
        *cache = Some(CachedToken {
            token: token.clone(),
            // Cannot overflow after the cap; a clock that could not add still refreshes at once.
            refresh_at: fetched_at.checked_add(refresh_in).unwrap_or(fetched_at),
        });
        Ok(token)
    }

    /// The configured token endpoint, or the one OIDC discovery names (falling back to
    /// `/oidc/v1/token`). A discovered endpoint is never trusted blindly: the transport checks
    /// its host against the allowed hosts like any other.
    async fn token_url(&self, transport: &Transport) -> Result<&str, Error> {
        let url = self
            .resolved_url
            .get_or_try_init(|| async {
                match &self.configured_url {
                    Some(url) => Ok(url.clone()),
                    None => self.discover(transport).await,
                }
            })
            .await?;
        Ok(url)
    }

    /// The workspace's token endpoint by OIDC discovery; a refused workspace host is an error,
    /// any other failure falls back to `/oidc/v1/token`.
    async fn discover(&self, transport: &Transport) -> Result<String, Error> {
        let fallback = format!("{}/oidc/v1/token", self.workspace_base);
        let endpoint = "/oidc/.well-known/oauth-authorization-server";
        let request = Request::new(
            Method::GET,
            endpoint,
            format!("{}{endpoint}", self.workspace_base),
        );
        let discovered = match transport.send_once(&request).await {
            Ok(resp) if resp.is_success() => serde_json::from_slice::<Discovery>(&resp.body)
                .ok()
                .and_then(|d| d.token_endpoint)
                .filter(|u| u.starts_with("https://")),
            Ok(resp) => {
                tracing::debug!(status = resp.status, "OIDC discovery failed");
                None
            }
            Err(err @ (Error::HostNotAllowed { .. } | Error::HostNotAllowedBy { .. })) => {
                return Err(err);
            }
            Err(err) => {
                tracing::debug!(error = %err, "OIDC discovery failed");
                None
            }
        };
        Ok(discovered.unwrap_or(fallback))
    }

    async fn fetch(&self, transport: &Transport) -> Result<TokenResponse, Error> {
        let url = self.token_url(transport).await?.to_owned();
        let entra = entra_endpoint(&url);
        let mut req = Request::new(Method::POST, "oauth_token", url.clone());
        let exchange = matches!(self.credential, ClientCredential::Federated(_)) && entra.is_none();
        let grant = if exchange {
            TOKEN_EXCHANGE_GRANT
        } else {
            "client_credentials"
        };
        let mut form: Vec<(&'static str, SecretString)> = vec![("grant_type", grant.into())];
        match entra {
            Some(Entra::V1) => form.push(("resource", entra_resource(&self.scope).into())),
            Some(Entra::V2) => form.push(("scope", entra_scope(&self.scope).into())),
            None => form.push(("scope", self.scope.as_str().into())),
        }
        match &self.credential {
            ClientCredential::Secret(secret) if entra.is_some() => {
                form.push(("client_id", self.client_id.as_str().into()));
                form.push(("client_secret", secret.clone()));
            }
            ClientCredential::Secret(secret) => {
                req.basic = Some((self.client_id.clone(), secret.clone()));
            }
            ClientCredential::Certificate { key, header } => {
                form.push(("client_id", self.client_id.as_str().into()));
                form.push(("client_assertion_type", ASSERTION_TYPE.into()));
                let assertion = client_assertion(&self.client_id, &url, key, header)?;
                form.push(("client_assertion", assertion));
            }
            // Entra workload identity: the ServiceAccount's JWT is the client assertion (what
            // AKS workload identity sends).
            ClientCredential::Federated(subject) if entra.is_some() => {
                form.push(("client_id", self.client_id.as_str().into()));
                form.push(("client_assertion_type", ASSERTION_TYPE.into()));
                form.push(("client_assertion", subject.0.subject_token().await?));
            }
            ClientCredential::Federated(subject) => {
                form.push(("client_id", self.client_id.as_str().into()));
                form.push(("subject_token_type", JWT_TOKEN_TYPE.into()));
                form.push(("subject_token", subject.0.subject_token().await?));
            }
        }
        req.body = Body::Form(form);
        let resp = transport.send(&req).await?;
        if !resp.is_success() {
            return Err(Error::from_oauth_response(&url, resp.status, &resp.body));
        }
        serde_json::from_slice::<TokenResponse>(&resp.body).map_err(|e| Error::Protocol {
            endpoint: "oauth_token",
            message: format!(
                "token response without a usable access_token ({})",
                e.classify_name()
            ),
        })
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    // serde_json's messages can quote the input; name only the category.
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "unexpected fields",
            serde_json::error::Category::Eof => "truncated",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_timing() {
        assert_eq!(
            refresh_after(Duration::from_secs(3600)),
            Duration::from_secs(3540)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(100)),
            Duration::from_secs(80)
        );
        assert_eq!(
            refresh_after(Duration::from_secs(1)),
            Duration::from_millis(800)
        );
    }

    #[test]
    fn lifetimes_are_capped_and_read_leniently() {
        #[derive(Deserialize)]
        struct T {
            #[serde(default, deserialize_with = "lenient_u64")]
            expires_in: Option<u64>,
        }
        let read = |json: &str| serde_json::from_str::<T>(json).unwrap().expires_in;
        assert_eq!(read(r#"{"expires_in": 3599}"#), Some(3599));
        assert_eq!(read(r#"{"expires_in": "3599"}"#), Some(3599));
        assert_eq!(
            read(r#"{"expires_in": 10000000000000000000}"#),
            Some(10u64.pow(19))
        );
        assert_eq!(read(r#"{"expires_in": 1e30}"#), Some(u64::MAX));
        assert_eq!(read(r#"{"expires_in": "1e30"}"#), Some(u64::MAX));
        assert_eq!(read(r#"{"expires_in": -5}"#), None);
        assert_eq!(read(r#"{"expires_in": null}"#), None);
        assert_eq!(read(r#"{}"#), None);
        assert_eq!(lifetime(Some(10u64.pow(19))), MAX_TOKEN_LIFETIME);
        assert_eq!(lifetime(Some(u64::MAX)), MAX_TOKEN_LIFETIME);
        assert_eq!(lifetime(None), DEFAULT_TOKEN_LIFETIME);
        // The refresh instant can always be computed.
        let now = Instant::now();
        assert!(
            now.checked_add(refresh_after(lifetime(Some(u64::MAX))))
                .is_some()
        );
    }
}
