//! Credentials to bearer tokens: a personal access token as is, or an OAuth M2M access token
//! (client secret or Entra certificate assertion) cached and refreshed before it expires.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use tokio::sync::{Mutex, OnceCell};

use super::connection::{
    AuthConfig, ConfigError, entra_scope, is_entra_token_url, normalize_token_url,
};
use super::error::Error;
use super::http::{Body, Request, Transport};
use crate::secret::SecretString;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a client assertion is valid; Entra accepts up to 10 minutes.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

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
}

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

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

/// Entra v1 endpoints send `expires_in` as a string.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum N {
        Num(u64),
        Str(String),
    }
    Ok(match Option::<N>::deserialize(d)? {
        Some(N::Num(n)) => Some(n),
        Some(N::Str(s)) => s.parse().ok(),
        None => None,
    })
}

/// When to refresh a token that lives `lifetime`: 60 s before it expires, or at 80% of its life
/// for short-lived tokens.
pub(crate) fn refresh_after(lifetime: Duration) -> Duration {
    let early = lifetime.saturating_sub(Duration::from_secs(60));
    let fraction = lifetime.mul_f64(0.8);
    early.max(fraction)
}

/// The JWT header for a certificate thumbprint: 40 hex digits is SHA-1 (`RS256`, `x5t`), 64 is
/// SHA-256 (`PS256`, `x5t#S256`).
pub(crate) fn assertion_header(thumbprint_hex: &str) -> Result<Header, ConfigError> {
    let cleaned: String = thumbprint_hex
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let bytes = hex::decode(&cleaned).map_err(|_| ConfigError::Thumbprint)?;
    let encoded = URL_SAFE_NO_PAD.encode(&bytes);
    let mut header = match bytes.len() {
        20 => {
            let mut h = Header::new(Algorithm::RS256);
            h.x5t = Some(encoded);
            h
        }
        32 => {
            let mut h = Header::new(Algorithm::PS256);
            h.x5t_s256 = Some(encoded);
            h
        }
        _ => return Err(ConfigError::Thumbprint),
    };
    header.typ = Some("JWT".into());
    Ok(header)
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
        let lifetime = Duration::from_secs(response.expires_in.unwrap_or(3600));
        let token = response.access_token;
        *cache = Some(CachedToken {
            token: token.clone(),
            refresh_at: fetched_at + refresh_after(lifetime),
        });
        Ok(token)
    }

    async fn token_url(&self, transport: &Transport) -> &str {
        self.resolved_url
            .get_or_init(|| async {
                if let Some(url) = &self.configured_url {
                    return url.clone();
                }
                let fallback = format!("{}/oidc/v1/token", self.workspace_base);
                let url = format!("{}/oidc/.well-known/oauth-authorization-server", self.workspace_base);
                let req = Request::new(Method::GET, "/oidc/.well-known/oauth-authorization-server", url);
                match transport.send_once(&req).await {
                    Ok(resp) if resp.is_success() => serde_json::from_slice::<Discovery>(&resp.body)
                        .ok()
                        .and_then(|d| d.token_endpoint)
                        .filter(|u| u.starts_with("https://"))
                        .unwrap_or(fallback),
                    Ok(resp) => {
                        tracing::debug!(status = resp.status, "OIDC discovery failed; using the default token endpoint");
                        fallback
                    }
                    Err(err) => {
                        tracing::debug!(error = %err, "OIDC discovery failed; using the default token endpoint");
                        fallback
                    }
                }
            })
            .await
    }

    async fn fetch(&self, transport: &Transport) -> Result<TokenResponse, Error> {
        let url = self.token_url(transport).await.to_owned();
        let entra = is_entra_token_url(&url);
        let mut req = Request::new(Method::POST, "oauth_token", url.clone());
        let mut form: Vec<(&'static str, SecretString)> =
            vec![("grant_type", "client_credentials".into())];
        let scope = if entra {
            entra_scope(&self.scope)
        } else {
            &self.scope
        };
        form.push(("scope", scope.into()));
        match &self.credential {
            ClientCredential::Secret(secret) if entra => {
                form.push(("client_id", self.client_id.as_str().into()));
                form.push(("client_secret", secret.clone()));
            }
            ClientCredential::Secret(secret) => {
                req.basic = Some((self.client_id.clone(), secret.clone()));
            }
            ClientCredential::Certificate { key, header } => {
                form.push(("client_id", self.client_id.as_str().into()));
                form.push(("client_assertion_type", ASSERTION_TYPE.into()));
                form.push(("client_assertion", self.assertion(&url, key, header)?));
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

    fn assertion(
        &self,
        audience: &str,
        key: &EncodingKey,
        header: &Header,
    ) -> Result<SecretString, Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let claims = AssertionClaims {
            aud: audience,
            iss: &self.client_id,
            sub: &self.client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now,
            iat: now,
            exp: now + ASSERTION_LIFETIME.as_secs(),
        };
        jsonwebtoken::encode(header, &claims, key)
            .map(SecretString::from)
            .map_err(|e| Error::Config(ConfigError::PrivateKey(e.to_string())))
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
    fn thumbprint_picks_the_algorithm() {
        let sha1 = "a".repeat(40);
        let h = assertion_header(&sha1).unwrap();
        assert_eq!(h.alg, Algorithm::RS256);
        assert_eq!(
            h.x5t.as_deref(),
            Some(URL_SAFE_NO_PAD.encode([0xaa; 20]).as_str())
        );
        assert!(h.x5t_s256.is_none());
        let h = assertion_header(&"0B".repeat(32)).unwrap();
        assert_eq!(h.alg, Algorithm::PS256);
        assert!(h.x5t_s256.is_some() && h.x5t.is_none());
        assert!(assertion_header("abc").is_err());
        assert!(assertion_header(&"z".repeat(40)).is_err());
    }
}
