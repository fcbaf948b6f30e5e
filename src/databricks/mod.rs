//! The Databricks client: everything the operator says to a workspace. It knows nothing of
//! Kubernetes; the controller builds a [`ConnectionConfig`] from a spec and its Secrets.

mod auth;
mod connection;
mod error;
mod http;
mod kind;
mod sql;
mod unity;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use reqwest::Method;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

pub use connection::{
    AZURE_DATABRICKS_SCOPE, AuthConfig, Compute, ConfigError, ConnectionConfig, DEFAULT_SCOPE,
    is_entra_token_url, normalize_token_url, parse_http_path, parse_workspace_url,
};
pub use error::Error;
pub use http::{ClientSettings, Observer, Outcome, PollPolicy, RequestEvent, RetryPolicy};
pub use kind::ErrorKind;
pub use sql::QueryResult;
pub use unity::{
    CatalogBinding, CatalogInfo, ComputeState, EffectivePrivilege, EffectivePrivilegeAssignment,
    MetastoreAssignment, PrivilegeAssignment, SchemaInfo, ScimUser,
};

use auth::TokenProvider;
use http::{Body, Request, Transport};

/// A client for one workspace with one set of credentials. Cheap to clone: clones share the
/// HTTP connection pool and the cached OAuth token.
#[derive(Clone)]
pub struct WorkspaceClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ConnectionConfig,
    base_url: String,
    transport: Transport,
    auth: TokenProvider,
    poll: PollPolicy,
    workspace_id: OnceLock<i64>,
}

impl std::fmt::Debug for WorkspaceClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkspaceClient")
            .field("host", &self.inner.config.display_host())
            .field("compute", &self.inner.config.compute)
            .field("auth", &self.inner.config.auth.kind())
            .finish()
    }
}

/// Percent-encodes one path segment (RFC 3986 unreserved characters stay as they are).
pub(crate) fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl WorkspaceClient {
    pub fn new(config: ConnectionConfig, settings: &ClientSettings) -> Result<Self, Error> {
        let transport = Transport::new(settings)?;
        let base_url = config.base_url();
        let auth = TokenProvider::new(&config.auth, &base_url)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                base_url,
                transport,
                auth,
                poll: settings.poll,
                workspace_id: OnceLock::new(),
            }),
        })
    }

    /// `host` or `host:port`, for messages.
    pub fn host(&self) -> String {
        self.inner.config.display_host()
    }

    /// The workspace id, once a metastore assignment lookup has revealed it.
    pub fn workspace_id(&self) -> Option<i64> {
        self.inner.workspace_id.get().copied()
    }

    /// Sends an authenticated request and returns the body of a 2xx response. A 401 with an
    /// OAuth token forces one token refresh and one retry.
    async fn call(
        &self,
        method: Method,
        endpoint: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
        body: Option<serde_json::Value>,
    ) -> Result<Vec<u8>, Error> {
        let inner = &self.inner;
        let mut refreshed = false;
        loop {
            let token = inner.auth.token(&inner.transport).await?;
            let mut req = Request::new(
                method.clone(),
                endpoint,
                format!("{}{path}", inner.base_url),
            );
            req.query = query.clone();
            req.body = body.clone().map_or(Body::None, Body::Json);
            req.bearer = Some(token.clone());
            let started = Instant::now();
            let resp = inner.transport.send(&req).await?;
            tracing::trace!(
                endpoint,
                status = resp.status,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "Databricks request"
            );
            if resp.is_success() {
                return Ok(resp.body);
            }
            if resp.status == 401 && !refreshed && inner.auth.is_refreshable() {
                refreshed = true;
                inner.auth.invalidate(&token).await;
                continue;
            }
            return Err(Error::from_response(
                resp.status,
                &resp.body,
                resp.request_id(),
                inner.config.auth.kind(),
            ));
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
        body: Option<serde_json::Value>,
    ) -> Result<T, Error> {
        let bytes = self.call(method, endpoint, path, query, body).await?;
        // An empty body (some DELETEs and cancels) reads as `{}`.
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        serde_json::from_slice(bytes).map_err(|e| Error::Protocol {
            endpoint,
            message: format!("could not read the response: {e}"),
        })
    }
}

/// A fingerprint of everything in a [`ConnectionConfig`], secret values included, so that a
/// rotated secret gives a new client. Never printed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

impl Fingerprint {
    pub fn of(config: &ConnectionConfig) -> Self {
        let mut h = Sha256::new();
        // Length-prefixed fields, so that no two configurations hash the same input.
        let mut field = |s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field(&config.host);
        field(&config.port.to_string());
        match &config.compute {
            Compute::Warehouse { id } => {
                field("warehouse");
                field(id);
            }
            Compute::Cluster { org_id, cluster_id } => {
                field("cluster");
                field(org_id);
                field(cluster_id);
            }
        }
        match &config.auth {
            AuthConfig::Token(token) => {
                field("token");
                field(token.expose());
            }
            AuthConfig::OAuthSecret {
                client_id,
                client_secret,
                token_url,
                scope,
            } => {
                field("oauth-secret");
                field(client_id);
                field(client_secret.expose());
                field(token_url.as_deref().unwrap_or("\0discovery"));
                field(scope);
            }
            AuthConfig::OAuthCertificate {
                client_id,
                thumbprint_hex,
                private_key_pem,
                token_url,
                scope,
            } => {
                field("oauth-certificate");
                field(client_id);
                field(thumbprint_hex);
                field(private_key_pem.expose());
                field(token_url);
                field(scope);
            }
        }
        Fingerprint(h.finalize().into())
    }
}

/// Clients by connection fingerprint: repeated reconciles with the same credentials reuse one
/// client (and its cached OAuth token); changed credentials get a new one.
pub struct Clients {
    settings: ClientSettings,
    max_entries: usize,
    entries: Mutex<HashMap<Fingerprint, (WorkspaceClient, Instant)>>,
}

impl Clients {
    pub fn new(settings: ClientSettings) -> Self {
        Self {
            settings,
            max_entries: 256,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, config: ConnectionConfig) -> Result<WorkspaceClient, Error> {
        let key = Fingerprint::of(&config);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((client, used)) = entries.get_mut(&key) {
            *used = Instant::now();
            return Ok(client.clone());
        }
        let client = WorkspaceClient::new(config, &self.settings)?;
        if entries.len() >= self.max_entries {
            // Rotated credentials leave stale clients behind; drop the least recently used.
            if let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            {
                entries.remove(&oldest);
            }
        }
        entries.insert(key, (client.clone(), Instant::now()));
        Ok(client)
    }

    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;

    fn config(token: &str) -> ConnectionConfig {
        ConnectionConfig {
            host: "localhost".into(),
            port: 8443,
            compute: Compute::Warehouse { id: "wh1".into() },
            auth: AuthConfig::Token(SecretString::from(token)),
        }
    }

    #[test]
    fn clients_are_reused_until_the_secret_changes() {
        let clients = Clients::new(ClientSettings::default());
        let a = clients.get(config("one")).unwrap();
        let b = clients.get(config("one")).unwrap();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
        let c = clients.get(config("two")).unwrap();
        assert!(!Arc::ptr_eq(&a.inner, &c.inner));
        assert_eq!(clients.len(), 2);
        assert_eq!(
            format!("{:?}", Fingerprint::of(&config("one"))),
            "Fingerprint(..)"
        );
        assert!(!format!("{a:?}").contains("one"));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("a b/c`d"), "a%20b%2Fc%60d");
        assert_eq!(encode_segment("cat.schema_1"), "cat.schema_1");
    }
}
