//! The transport: one reqwest client (connection pool, rustls with extra trusted CAs) shared by
//! every workspace, the allowed-hosts check before each request, bodies read with a size cap,
//! and the retry loop the official SDKs use (429/503 and the transient codes and messages,
//! connection errors and timeouts; `Retry-After`; capped, jittered backoff inside a budget).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::Method;
use reqwest::header::HeaderMap;

use super::connection::ConfigError;
use super::error::Error;
use super::error_text::{ErrorBody, describe_reqwest, is_retryable_transport};
use super::hosts::{AllowedHosts, HostRestriction};
use super::retry::{RetryPolicy, retry_after};
use super::settings::{ClientSettings, Observer, Outcome, RequestEvent};
use super::tls::tls_config;
use crate::secret::SecretString;

/// The most a response body may hold, by endpoint kind; a larger one is an error, never read
/// to the end.
const TOKEN_LIMIT: usize = 64 * 1024;
const JSON_LIMIT: usize = 4 * 1024 * 1024;
/// Inline SQL results: the operator's queries return a row or two, and ask for no more
/// (`row_limit`, `byte_limit` in `sql.rs`).
const SQL_LIMIT: usize = 1024 * 1024;
/// Error bodies are cut here instead: only their first message matters.
const ERROR_LIMIT: usize = 64 * 1024;

/// Response bytes the whole process may hold at once, in KiB: the per-response caps bound one
/// response, this bounds all of them together, whatever `--concurrency` and however many
/// workspaces answer large at the same moment (docs/security.md). A reader that finds it spent
/// waits for others to finish, up to [`BUDGET_WAIT`].
const RESPONSE_BUDGET_KIB: usize = 32 * 1024;
static RESPONSE_BUDGET: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(RESPONSE_BUDGET_KIB);
const BUDGET_WAIT: Duration = Duration::from_secs(20);

/// A response body and its share of the process-wide budget, given back when it is dropped.
pub(crate) struct ResponseBody {
    bytes: Vec<u8>,
    _share: Option<tokio::sync::SemaphorePermit<'static>>,
}

impl ResponseBody {
    #[cfg(test)]
    pub(crate) fn unbudgeted(bytes: Vec<u8>) -> Self {
        ResponseBody {
            bytes,
            _share: None,
        }
    }
}

impl std::ops::Deref for ResponseBody {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// The size cap of `endpoint`'s responses.
fn body_limit(endpoint: &str) -> usize {
    if endpoint == "oauth_token" || endpoint.starts_with("/oidc/") {
        TOKEN_LIMIT
    } else if endpoint.starts_with("/api/2.0/sql/statements") || endpoint.starts_with("/api/1.2/") {
        SQL_LIMIT
    } else {
        JSON_LIMIT
    }
}

/// A request body. Form values are secrets (client secrets, assertions) until sent.
#[derive(Debug, Clone)]
pub(crate) enum Body {
    None,
    Json(serde_json::Value),
    Form(Vec<(&'static str, SecretString)>),
}

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub endpoint: &'static str,
    pub url: String,
    pub query: Vec<(&'static str, String)>,
    pub body: Body,
    pub bearer: Option<SecretString>,
    pub basic: Option<(String, SecretString)>,
}

impl Request {
    pub fn new(method: Method, endpoint: &'static str, url: String) -> Self {
        Self {
            method,
            endpoint,
            url,
            query: Vec::new(),
            body: Body::None,
            bearer: None,
            basic: None,
        }
    }
}

/// A response read whole (within its cap). No `Debug` of the body: it can hold a token.
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: ResponseBody,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn request_id(&self) -> Option<String> {
        ["x-request-id", "x-databricks-request-id"]
            .iter()
            .find_map(|h| {
                let id = self.headers.get(*h)?.to_str().ok()?;
                Some(super::error_text::truncate(id, 100))
            })
    }
}

/// Why an attempt got no usable response.
enum AttemptError {
    Http(reqwest::Error),
    TooLarge(usize),
    /// The process-wide response budget stayed spent for [`BUDGET_WAIT`].
    Budget,
}

/// Cheap to clone: clones share the connection pool.
#[derive(Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    retry: RetryPolicy,
    observer: Option<Observer>,
    allowed: Arc<AllowedHosts>,
    /// The credential's own narrower lists (empty: `--allowed-hosts` alone decides).
    restrictions: Arc<Vec<HostRestriction>>,
}

impl Transport {
    pub fn new(settings: &ClientSettings) -> Result<Self, ConfigError> {
        let tls = tls_config(settings.ca_bundle_pem.as_deref())?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(10))
            // One idle connection per workspace for 2 s: enough for the requests of one reconcile
            // (and a statement's first poll, 1 s after it was submitted), while the connections
            // of the reconciles just finished (a few hundred at 1,000 workspaces, tens of KiB
            // each) are gone in seconds instead of holding memory between checks.
            .pool_max_idle_per_host(1)
            .pool_idle_timeout(Duration::from_secs(2))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("uc-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::CaBundle(describe_reqwest(&e)))?;
        Ok(Self {
            client,
            retry: settings.retry,
            observer: settings.observer.clone(),
            allowed: Arc::new(settings.allowed_hosts.clone()),
            restrictions: Arc::default(),
        })
    }

    /// The same transport (and connection pool) for a credential that narrows where it goes.
    pub fn restricted(&self, restrictions: Vec<HostRestriction>) -> Self {
        Self {
            restrictions: Arc::new(restrictions),
            ..self.clone()
        }
    }

    /// Credentials go only where `--allowed-hosts` and every restriction allow.
    fn check_url(&self, url: &str) -> Result<(), Error> {
        self.allowed.check_url(url)?;
        self.restrictions.iter().try_for_each(|r| r.check_url(url))
    }

    fn observe(&self, req: &Request, status: Option<u16>, started: Instant, outcome: Outcome) {
        if let Some(observer) = &self.observer {
            observer(&RequestEvent {
                endpoint: req.endpoint,
                method: method_str(&req.method),
                status,
                duration: started.elapsed(),
                outcome,
            });
        }
    }

    async fn attempt(&self, req: &Request, timeout: Duration) -> Result<Response, AttemptError> {
        let mut builder = self
            .client
            .request(req.method.clone(), &req.url)
            .timeout(timeout);
        if !req.query.is_empty() {
            builder = builder.query(&req.query);
        }
        if let Some(token) = &req.bearer {
            builder = builder.bearer_auth(token.expose());
        }
        if let Some((user, password)) = &req.basic {
            builder = builder.basic_auth(user, Some(password.expose()));
        }
        builder = match &req.body {
            Body::None => builder,
            Body::Json(value) => builder.json(value),
            Body::Form(fields) => {
                let exposed: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.expose())).collect();
                builder.form(&exposed)
            }
        };
        let response = builder.send().await.map_err(AttemptError::Http)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let success = (200..300).contains(&status);
        let body = read_capped(response, body_limit(req.endpoint), success).await?;
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Sends once, without retries (discovery, best-effort cancels).
    pub async fn send_once(&self, req: &Request) -> Result<Response, Error> {
        self.check_url(&req.url)?;
        let started = Instant::now();
        match self.attempt(req, self.retry.per_request_timeout).await {
            Ok(resp) => {
                self.observe(req, Some(resp.status), started, response_outcome(&resp));
                Ok(resp)
            }
            Err(err) => {
                self.observe(req, None, started, Outcome::TransportError);
                Err(attempt_error(req, err))
            }
        }
    }

    /// Sends with retries. Returns any response that is not retryable, success or not; the
    /// caller classifies error responses.
    pub async fn send(&self, req: &Request) -> Result<Response, Error> {
        self.check_url(&req.url)?;
        let first = Instant::now();
        let mut attempts: u32 = 0;
        loop {
            attempts = attempts.saturating_add(1);
            let remaining = self.retry.total_budget.saturating_sub(first.elapsed());
            let timeout = self
                .retry
                .per_request_timeout
                .min(remaining.max(Duration::from_secs(1)));
            let started = Instant::now();
            let (failure, wait) = match self.attempt(req, timeout).await {
                Ok(resp) => match retryable_failure(&resp) {
                    None => {
                        self.observe(req, Some(resp.status), started, response_outcome(&resp));
                        return Ok(resp);
                    }
                    Some(failure) => {
                        self.observe(req, Some(resp.status), started, Outcome::Retryable);
                        let hint = retry_after(&resp.headers, SystemTime::now());
                        (failure, self.retry.wait(attempts, hint))
                    }
                },
                Err(AttemptError::Http(err)) if is_retryable_transport(&err) => {
                    self.observe(req, None, started, Outcome::TransportError);
                    (describe_reqwest(&err), self.retry.wait(attempts, None))
                }
                Err(err) => {
                    self.observe(req, None, started, Outcome::TransportError);
                    return Err(attempt_error(req, err));
                }
            };
            let elapsed = first.elapsed();
            if elapsed.saturating_add(wait) > self.retry.total_budget {
                return Err(Error::RetryBudgetExhausted {
                    attempts,
                    elapsed,
                    last: failure,
                });
            }
            tracing::debug!(
                endpoint = req.endpoint,
                attempt = attempts,
                wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                failure = %failure,
                "retrying Databricks request"
            );
            tokio::time::sleep(wait).await;
        }
    }
}

fn response_outcome(resp: &Response) -> Outcome {
    if resp.is_success() {
        Outcome::Success
    } else {
        Outcome::Error
    }
}

/// `HTTP 503 TEMPORARILY_UNAVAILABLE: message` when the response is one the SDKs retry.
fn retryable_failure(resp: &Response) -> Option<String> {
    if resp.is_success() {
        return None;
    }
    let parsed = ErrorBody::parse(&resp.body);
    if !matches!(resp.status, 429 | 503) && !parsed.is_transient() {
        return None;
    }
    let mut failure = format!("HTTP {}", resp.status);
    if let Some(code) = &parsed.code {
        failure.push_str(&format!(" {code}"));
    }
    if let Some(message) = &parsed.message {
        failure.push_str(&format!(": {message}"));
    }
    Some(failure)
}

fn attempt_error(req: &Request, err: AttemptError) -> Error {
    match err {
        AttemptError::Http(err) => Error::Transport {
            message: describe_reqwest(&err),
        },
        AttemptError::TooLarge(limit) => Error::BodyTooLarge {
            endpoint: req.endpoint,
            limit,
        },
        AttemptError::Budget => Error::Transport {
            message: format!(
                "the operator already holds {} MiB of responses (its memory bound) and none finished within {}s; retried later",
                RESPONSE_BUDGET_KIB / 1024,
                BUDGET_WAIT.as_secs()
            ),
        },
    }
}

/// Reads a body chunk by chunk, never past `limit`: a success body over it is an error, an
/// error body is cut there.
async fn read_capped(
    mut response: reqwest::Response,
    limit: usize,
    success: bool,
) -> Result<ResponseBody, AttemptError> {
    let limit = if success { limit } else { ERROR_LIMIT };
    let announced = response
        .content_length()
        .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
    if success && announced > limit {
        return Err(AttemptError::TooLarge(limit));
    }
    let mut body = Vec::new();
    let mut share: Option<tokio::sync::SemaphorePermit<'static>> = None;
    while let Some(chunk) = response.chunk().await.map_err(AttemptError::Http)? {
        let room = limit - body.len();
        let take = if chunk.len() > room {
            if success {
                return Err(AttemptError::TooLarge(limit));
            }
            room
        } else {
            chunk.len()
        };
        // The buffer grows by doubling, never past the cap, and what it allocates is paid
        // for from the budget before it is allocated.
        let len = body.len() + take;
        let want = len
            .max(body.capacity().saturating_mul(2))
            .max(announced.min(limit))
            .min(limit.max(len));
        let held = share.as_ref().map_or(0, |s| s.num_permits());
        let needed = if len > body.capacity() {
            want.div_ceil(1024).saturating_sub(held)
        } else {
            0
        };
        if needed > 0 {
            let more = tokio::time::timeout(
                BUDGET_WAIT,
                RESPONSE_BUDGET.acquire_many(u32::try_from(needed).unwrap_or(u32::MAX)),
            )
            .await
            .map_err(|_| AttemptError::Budget)?
            .expect("the budget is never closed");
            match share.as_mut() {
                Some(s) => s.merge(more),
                None => share = Some(more),
            }
        }
        if len > body.capacity() {
            body.reserve_exact(want - body.len());
        }
        body.extend_from_slice(&chunk[..take]);
        if take < chunk.len() {
            break;
        }
    }
    Ok(ResponseBody {
        bytes: body,
        _share: share,
    })
}

fn method_str(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_by_endpoint_kind() {
        assert_eq!(body_limit("oauth_token"), TOKEN_LIMIT);
        assert_eq!(
            body_limit("/oidc/.well-known/oauth-authorization-server"),
            TOKEN_LIMIT
        );
        assert_eq!(body_limit("/api/2.0/sql/statements/{id}"), SQL_LIMIT);
        assert_eq!(body_limit("/api/2.1/unity-catalog/catalogs"), JSON_LIMIT);
    }

    #[test]
    fn responses_do_not_print_their_bodies() {
        let r = Response {
            status: 200,
            headers: HeaderMap::new(),
            body: ResponseBody::unbudgeted(b"{\"access_token\":\"secret-token\"}".to_vec()),
        };
        let text = format!("{r:?}");
        assert!(
            !text.contains("secret-token") && text.contains("200"),
            "{text}"
        );
    }
}
