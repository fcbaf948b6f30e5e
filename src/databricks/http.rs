//! The transport: one reqwest client per connection, rustls with extra trusted CAs, and the
//! retry loop the official SDKs use (429/503 and their error codes, connection errors and
//! timeouts; `Retry-After`; capped, jittered backoff inside a total budget).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng as _;
use reqwest::Method;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use rustls::pki_types::CertificateDer;

use super::connection::ConfigError;
use super::error::{Error, ErrorBody, describe_reqwest};
use crate::secret::SecretString;

/// How requests are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// No retry starts once it would end after this long since the first attempt.
    pub total_budget: Duration,
    pub per_request_timeout: Duration,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            total_budget: Duration::from_secs(300),
            per_request_timeout: Duration::from_secs(60),
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
        }
    }
}

/// How a running SQL statement or command is polled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    /// First delay between polls; it grows by this much each poll up to `max`.
    pub base: Duration,
    pub max: Duration,
    /// The statement is cancelled and an error returned after this long.
    pub give_up_after: Duration,
    /// How long the Statement Execution API holds the first request open before answering
    /// with a running statement: zero, or 5 s to 50 s.
    pub wait_timeout: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            max: Duration::from_secs(10),
            give_up_after: Duration::from_secs(600),
            wait_timeout: Duration::from_secs(10),
        }
    }
}

/// What happened to one HTTP attempt, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx response.
    Success,
    /// A non-retryable error response.
    Error,
    /// A response or failure that is retried (or would be, inside the budget).
    Retryable,
    /// No response: connection failure or timeout.
    TransportError,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Error => "error",
            Outcome::Retryable => "retryable",
            Outcome::TransportError => "transport_error",
        }
    }
}

/// One HTTP attempt. `endpoint` is a route template, never a concrete path with ids or secrets.
#[derive(Debug, Clone)]
pub struct RequestEvent {
    pub endpoint: &'static str,
    pub method: &'static str,
    pub status: Option<u16>,
    pub duration: Duration,
    pub outcome: Outcome,
}

pub type Observer = Arc<dyn Fn(&RequestEvent) + Send + Sync>;

/// Settings shared by all clients the operator builds.
#[derive(Clone, Default)]
pub struct ClientSettings {
    /// Extra trusted CA certificates (PEM), the operator's `--ca-bundle`.
    pub ca_bundle_pem: Option<String>,
    pub retry: RetryPolicy,
    pub poll: PollPolicy,
    pub observer: Option<Observer>,
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("ca_bundle_pem", &self.ca_bundle_pem.as_ref().map(|_| "…"))
            .field("retry", &self.retry)
            .field("poll", &self.poll)
            .field("observer", &self.observer.is_some())
            .finish()
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

#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn request_id(&self) -> Option<String> {
        ["x-request-id", "x-databricks-request-id"]
            .iter()
            .find_map(|h| self.headers.get(*h)?.to_str().ok().map(str::to_owned))
    }
}

#[derive(Clone)]
pub(crate) struct Transport {
    client: reqwest::Client,
    retry: RetryPolicy,
    observer: Option<Observer>,
}

impl Transport {
    pub fn new(settings: &ClientSettings) -> Result<Self, ConfigError> {
        let tls = tls_config(settings.ca_bundle_pem.as_deref())?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("uc-operator/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ConfigError::CaBundle(describe_reqwest(&e)))?;
        Ok(Self {
            client,
            retry: settings.retry,
            observer: settings.observer.clone(),
        })
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

    async fn attempt(&self, req: &Request, timeout: Duration) -> Result<Response, reqwest::Error> {
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
        let response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    /// Sends once, without retries (discovery, best-effort cancels).
    pub async fn send_once(&self, req: &Request) -> Result<Response, Error> {
        let started = Instant::now();
        match self.attempt(req, self.retry.per_request_timeout).await {
            Ok(resp) => {
                let outcome = if resp.is_success() {
                    Outcome::Success
                } else {
                    Outcome::Error
                };
                self.observe(req, Some(resp.status), started, outcome);
                Ok(resp)
            }
            Err(err) => {
                self.observe(req, None, started, Outcome::TransportError);
                Err(Error::transport(&err))
            }
        }
    }

    /// Sends with retries. Returns any response that is not retryable, success or not; the
    /// caller classifies error responses.
    pub async fn send(&self, req: &Request) -> Result<Response, Error> {
        let first = Instant::now();
        let mut attempts: u32 = 0;
        loop {
            attempts += 1;
            let remaining = self.retry.total_budget.saturating_sub(first.elapsed());
            let timeout = self
                .retry
                .per_request_timeout
                .min(remaining.max(Duration::from_secs(1)));
            let started = Instant::now();
            let (failure, wait) = match self.attempt(req, timeout).await {
                Ok(resp) => {
                    let parsed = (!resp.is_success()).then(|| ErrorBody::parse(&resp.body));
                    let retryable = matches!(resp.status, 429 | 503)
                        || parsed.as_ref().is_some_and(ErrorBody::is_retryable_code);
                    if !retryable {
                        let outcome = if resp.is_success() {
                            Outcome::Success
                        } else {
                            Outcome::Error
                        };
                        self.observe(req, Some(resp.status), started, outcome);
                        return Ok(resp);
                    }
                    self.observe(req, Some(resp.status), started, Outcome::Retryable);
                    let parsed = parsed.unwrap_or_default();
                    let mut failure = format!("HTTP {}", resp.status);
                    if let Some(code) = &parsed.code {
                        failure.push_str(&format!(" {code}"));
                    }
                    if let Some(message) = &parsed.message {
                        failure.push_str(&format!(": {message}"));
                    }
                    let wait = retry_after(&resp.headers, SystemTime::now())
                        .unwrap_or_else(|| self.backoff(attempts));
                    (failure, wait)
                }
                Err(err) if is_retryable_transport(&err) => {
                    self.observe(req, None, started, Outcome::TransportError);
                    (describe_reqwest(&err), self.backoff(attempts))
                }
                Err(err) => {
                    self.observe(req, None, started, Outcome::TransportError);
                    return Err(Error::transport(&err));
                }
            };
            let elapsed = first.elapsed();
            if elapsed + wait > self.retry.total_budget {
                return Err(Error::RetryBudgetExhausted {
                    attempts,
                    elapsed,
                    last: failure,
                });
            }
            tracing::debug!(
                endpoint = req.endpoint,
                attempt = attempts,
                wait_ms = wait.as_millis() as u64,
                failure = %failure,
                "retrying Databricks request"
            );
            tokio::time::sleep(wait).await;
        }
    }

    /// `base × attempt`, capped, plus up to a quarter of that as jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let capped = self
            .retry
            .base_backoff
            .saturating_mul(attempt)
            .min(self.retry.max_backoff);
        let jitter_ms = (capped.as_millis() as u64) / 4;
        let jitter = if jitter_ms == 0 {
            0
        } else {
            rand::rng().random_range(0..=jitter_ms)
        };
        capped + Duration::from_millis(jitter)
    }
}

fn is_retryable_transport(err: &reqwest::Error) -> bool {
    // Builder, redirect and decode errors are ours and would fail the same way again.
    !(err.is_builder() || err.is_redirect() || err.is_decode() || err.is_status())
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

/// `Retry-After` as delay seconds or an HTTP-date.
pub(crate) fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = parse_http_date(value)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the only HTTP-date form servers send today.
fn parse_http_date(value: &str) -> Option<SystemTime> {
    let parts: Vec<&str> = value.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: i64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as i64
        + 1;
    let year: i64 = year.parse().ok()?;
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + m * 60 + s;
    let secs = u64::try_from(secs).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// The system's trusted roots, loaded once per process.
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        if !loaded.errors.is_empty() {
            tracing::debug!(
                errors = loaded.errors.len(),
                "some system CA certificates could not be loaded"
            );
        }
        loaded.certs
    })
}

/// rustls with the ring provider, the system roots and the extra CA PEMs.
pub(crate) fn tls_config(ca_bundle_pem: Option<&str>) -> Result<rustls::ClientConfig, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(native_roots().iter().cloned());
    if let Some(pem) = ca_bundle_pem {
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
            let cert = cert.map_err(|e| ConfigError::CaBundle(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| ConfigError::CaBundle(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ConfigError::CaBundle("no PEM certificate found".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::CaBundle(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_770);
        headers.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(2)));
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT.
        headers.insert(
            RETRY_AFTER,
            "Sun, 06 Nov 1994 08:49:37 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(7)));
        headers.insert(RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let t = Transport::new(&ClientSettings::default()).unwrap();
        assert!(
            t.backoff(1) >= Duration::from_secs(1) && t.backoff(1) <= Duration::from_millis(1250)
        );
        assert!(t.backoff(3) >= Duration::from_secs(3));
        assert!(t.backoff(50) <= Duration::from_millis(12_500));
    }

    #[test]
    fn bad_ca_bundle_is_a_config_error() {
        assert!(matches!(
            tls_config(Some("not a pem")),
            Err(ConfigError::CaBundle(_))
        ));
    }
}
