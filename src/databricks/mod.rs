//! The Databricks client: everything the operator says to a workspace. It knows nothing of
//! Kubernetes; the controller builds a [`ConnectionConfig`] from a spec and its Secrets.

mod assertion;
mod auth;
mod bounded;
mod classify;
mod clients;
mod command;
mod compute;
mod connection;
mod error;
mod error_text;
mod hosts;
mod http;
mod paging;
mod retry;
mod settings;
mod sql;
mod tls;
mod tokens;
mod unity;

use std::sync::{Arc, OnceLock};

use reqwest::Method;
use serde::de::DeserializeOwned;

pub use clients::Clients;
pub use compute::ComputeState;
pub use connection::{
    AuthConfig, Compute, ConfigError, ConnectionConfig, SubjectTokenError, SubjectTokenSource,
    SubjectTokens, entra_authority, parse_http_path, parse_workspace_url,
};
pub use error::{ApiError, Error, ErrorKind};
pub use error_text::truncate;
pub use hosts::{AllowedHosts, HostRestriction};
pub use retry::{PollPolicy, RetryPolicy};
pub use settings::{ClientSettings, Observer, Outcome, RequestEvent};
pub use sql::QueryResult;
pub use unity::{
    CatalogBinding, CatalogInfo, CatalogTag, EffectivePrivilege, EffectivePrivilegeAssignment,
    Grantee, MetastoreSummary, PermissionsChange, PrivilegeAssignment, SchemaInfo, ScimUser,
    TableInfo,
};

use auth::TokenProvider;
use http::{Body, Request, Transport};

/// A client for one workspace with one set of credentials. Cheap to clone: clones share the
/// cached OAuth token, and every client from one [`Clients`] shares one connection pool. All
/// methods take `&self` and hold no lock across a request, so independent reads can run at
/// once.
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
    /// A client with a connection pool of its own; [`Clients::get`] shares one instead.
    pub fn new(config: ConnectionConfig, settings: &ClientSettings) -> Result<Self, Error> {
        let transport = Transport::new(settings)?;
        Self::with_transport(config, transport, settings.poll)
    }

    fn with_transport(
        config: ConnectionConfig,
        transport: Transport,
        poll: PollPolicy,
    ) -> Result<Self, Error> {
        let base_url = config.base_url();
        let auth = TokenProvider::new(&config.auth, &base_url)?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                base_url,
                transport,
                auth,
                poll,
                workspace_id: OnceLock::new(),
            }),
        })
    }

    /// `host` or `host:port`, for messages.
    pub fn host(&self) -> String {
        self.inner.config.display_host()
    }

    /// The compute `httpPath` names.
    pub fn compute(&self) -> &Compute {
        &self.inner.config.compute
    }

    /// The workspace id, once a SCIM `Me` lookup has revealed it.
    pub fn workspace_id(&self) -> Option<i64> {
        self.inner.workspace_id.get().copied()
    }

    /// Sends an authenticated request and returns the body of a 2xx response.
    async fn call(
        &self,
        method: Method,
        endpoint: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
        body: Option<serde_json::Value>,
    ) -> Result<http::ResponseBody, Error> {
        let resp = self.call_response(method, endpoint, path, query, body);
        Ok(resp.await?.body)
    }

    /// Sends an authenticated request and returns a 2xx response whole (its headers too). A 401
    /// with an OAuth token forces one token refresh and one retry.
    async fn call_response(
        &self,
        method: Method,
        endpoint: &'static str,
        path: &str,
        query: Vec<(&'static str, String)>,
        body: Option<serde_json::Value>,
    ) -> Result<http::Response, Error> {
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
            let resp = inner.transport.send(&req).await?;
            tracing::trace!(endpoint, status = resp.status, "Databricks request");
            if resp.is_success() {
                return Ok(resp);
            }
            if resp.status == 401 && !refreshed && inner.auth.is_refreshable() {
                refreshed = true;
                inner.auth.invalidate(&token).await;
                continue;
            }
            return Err(Error::from_response(
                endpoint,
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
        parse_json(endpoint, &bytes)
    }
}

/// A response body as `T`; an empty body (some DELETEs and cancels) reads as `{}`.
fn parse_json<T: DeserializeOwned>(endpoint: &'static str, bytes: &[u8]) -> Result<T, Error> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| Error::Protocol {
        endpoint,
        message: format!(
            "could not read the response: {}",
            truncate(&e.to_string(), 200)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("a b/c`d"), "a%20b%2Fc%60d");
        assert_eq!(encode_segment("cat.schema_1"), "cat.schema_1");
    }
}
