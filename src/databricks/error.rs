//! The client's one error type, classified the way the official SDKs do: by the body's
//! `error_code` first, then by the HTTP status.
//!
//! No variant carries a request body, a header or a URL with a query string, so no secret value
//! can reach a rendered error.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::connection::ConfigError;

/// `" (request id …)"` when one is known, for the end of a message.
fn rid(request_id: &Option<String>) -> String {
    request_id
        .as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

fn state(sql_state: &Option<String>) -> String {
    sql_state
        .as_deref()
        .map(|s| format!(" [SQLSTATE {s}]"))
        .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "authentication failed with the {credential} (HTTP {status}): {message}{}",
        rid(request_id)
    )]
    Unauthenticated {
        credential: &'static str,
        status: u16,
        message: String,
        request_id: Option<String>,
    },
    #[error("permission denied ({code}): {message}{}", rid(request_id))]
    PermissionDenied {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("not found ({code}): {message}{}", rid(request_id))]
    NotFound {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("already exists ({code}): {message}{}", rid(request_id))]
    AlreadyExists {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("invalid request ({code}): {message}{}", rid(request_id))]
    InvalidParameter {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("rate limited ({code}): {message}{}", rid(request_id))]
    RateLimited {
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error(
        "service unavailable (HTTP {status}, {code}): {message}{}",
        rid(request_id)
    )]
    Unavailable {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error("request failed (HTTP {status}, {code}): {message}{}", rid(request_id))]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: Option<String>,
    },
    #[error(
        "retry budget ran out after {attempts} attempts over {}: last failure: {last}",
        humantime::format_duration(*elapsed)
    )]
    RetryBudgetExhausted {
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    #[error("SQL statement failed{}: {message}", state(sql_state))]
    Sql {
        sql_state: Option<String>,
        error_code: Option<String>,
        message: String,
    },
    #[error(
        "OAuth token request to {endpoint} failed: {error}: {description}{}",
        rid(request_id)
    )]
    OAuth {
        endpoint: String,
        error: String,
        description: String,
        request_id: Option<String>,
    },
    #[error("{what} did not finish within {}", humantime::format_duration(*elapsed))]
    Timeout { what: String, elapsed: Duration },
    #[error("connection failed: {message}")]
    Transport { message: String },
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("unexpected response from {endpoint}: {message}")]
    Protocol {
        endpoint: &'static str,
        message: String,
    },
}

impl Error {
    /// A CamelCase name for the kind of failure: a Kubernetes event reason and a metric label.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Unauthenticated { .. } => "Unauthenticated",
            Error::PermissionDenied { .. } => "PermissionDenied",
            Error::NotFound { .. } => "NotFound",
            Error::AlreadyExists { .. } => "AlreadyExists",
            Error::InvalidParameter { .. } => "InvalidParameter",
            Error::RateLimited { .. } => "RateLimited",
            Error::Unavailable { .. } => "Unavailable",
            Error::Api { .. } => "ApiError",
            Error::RetryBudgetExhausted { .. } => "RetryBudgetExhausted",
            Error::Sql { .. } => "SqlError",
            Error::OAuth { .. } => "OAuthError",
            Error::Timeout { .. } => "Timeout",
            Error::Transport { .. } => "ConnectionFailed",
            Error::Config(_) => "InvalidConfiguration",
            Error::Protocol { .. } => "UnexpectedResponse",
        }
    }

    /// Whether the same request may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::RateLimited { .. }
            | Error::Unavailable { .. }
            | Error::RetryBudgetExhausted { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. } => true,
            Error::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// The request id the workspace gave, when it gave one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Error::Unauthenticated { request_id, .. }
            | Error::PermissionDenied { request_id, .. }
            | Error::NotFound { request_id, .. }
            | Error::AlreadyExists { request_id, .. }
            | Error::InvalidParameter { request_id, .. }
            | Error::RateLimited { request_id, .. }
            | Error::Unavailable { request_id, .. }
            | Error::Api { request_id, .. }
            | Error::OAuth { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Classifies an HTTP error response. `credential` names the credential kind for
    /// authentication failures.
    pub(crate) fn from_response(
        status: u16,
        body: &[u8],
        header_request_id: Option<String>,
        credential: &'static str,
    ) -> Error {
        let parsed = ErrorBody::parse(body);
        let request_id = parsed.request_id.clone().or(header_request_id);
        let code = parsed
            .code
            .clone()
            .unwrap_or_else(|| default_code(status).to_owned());
        let message = parsed.message.unwrap_or_else(|| format!("HTTP {status}"));
        let has_code = parsed.code.is_some();
        let invalid_token = code == "403" || message.contains("Invalid access token");

        if code == "UNAUTHENTICATED" || invalid_token || status == 401 {
            return Error::Unauthenticated {
                credential,
                status,
                message,
                request_id,
            };
        }
        let by_code = |c: &str| has_code && code == c;
        if by_code("PERMISSION_DENIED") {
            return Error::PermissionDenied {
                code,
                message,
                request_id,
            };
        }
        if has_code && (code.ends_with("DOES_NOT_EXIST") || code.ends_with("NOT_FOUND")) {
            return Error::NotFound {
                code,
                message,
                request_id,
            };
        }
        if has_code && code.ends_with("ALREADY_EXISTS") {
            return Error::AlreadyExists {
                code,
                message,
                request_id,
            };
        }
        if by_code("REQUEST_LIMIT_EXCEEDED") || by_code("RESOURCE_EXHAUSTED") {
            return Error::RateLimited {
                code,
                message,
                request_id,
            };
        }
        if by_code("TEMPORARILY_UNAVAILABLE") {
            return Error::Unavailable {
                status,
                code,
                message,
                request_id,
            };
        }
        if by_code("INVALID_PARAMETER_VALUE")
            || by_code("BAD_REQUEST")
            || by_code("MALFORMED_REQUEST")
        {
            return Error::InvalidParameter {
                code,
                message,
                request_id,
            };
        }
        match status {
            403 => Error::PermissionDenied {
                code,
                message,
                request_id,
            },
            404 => Error::NotFound {
                code,
                message,
                request_id,
            },
            409 => Error::AlreadyExists {
                code,
                message,
                request_id,
            },
            429 => Error::RateLimited {
                code,
                message,
                request_id,
            },
            503 => Error::Unavailable {
                status,
                code,
                message,
                request_id,
            },
            400 => Error::InvalidParameter {
                code,
                message,
                request_id,
            },
            _ => Error::Api {
                status,
                code,
                message,
                request_id,
            },
        }
    }

    /// Classifies a failed token-endpoint response (`{error, error_description}`).
    pub(crate) fn from_oauth_response(endpoint: &str, status: u16, body: &[u8]) -> Error {
        let parsed = ErrorBody::parse(body);
        Error::OAuth {
            endpoint: strip_query(endpoint),
            error: parsed.code.unwrap_or_else(|| format!("HTTP {status}")),
            description: parsed
                .message
                .unwrap_or_else(|| "no description".to_owned()),
            request_id: parsed.request_id,
        }
    }

    /// A transport failure, rendered without the URL (its query could carry ids) and with the
    /// causes that say what went wrong (refused, reset, TLS, timeout).
    pub(crate) fn transport(err: &reqwest::Error) -> Error {
        Error::Transport {
            message: describe_reqwest(err),
        }
    }
}

/// `error` text of a reqwest error without its URL, followed by its causes.
pub(crate) fn describe_reqwest(err: &reqwest::Error) -> String {
    let mut message = if err.is_timeout() {
        "request timed out".to_owned()
    } else if err.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(err);
    let mut last = String::new();
    while let Some(cause) = source {
        let text = cause.to_string();
        // Nested errors often repeat their cause's text; print each once.
        if !text.is_empty() && text != last && !message.contains(&text) {
            let _ = write!(message, ": {text}");
        }
        last = text;
        source = cause.source();
    }
    message
}

fn strip_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

fn default_code(status: u16) -> &'static str {
    match status {
        400 => "BAD_REQUEST",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        409 => "ALREADY_EXISTS",
        429 => "REQUEST_LIMIT_EXCEEDED",
        503 => "TEMPORARILY_UNAVAILABLE",
        s if s >= 500 => "INTERNAL_ERROR",
        _ => "UNKNOWN",
    }
}

/// The error body shapes Databricks endpoints use: `{error_code, message, details}`, legacy
/// `{error}`, SCIM `{detail, status}`, OAuth `{error, error_description}`.
#[derive(Default)]
pub(crate) struct ErrorBody {
    pub code: Option<String>,
    pub message: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Deserialize)]
struct RawErrorBody {
    error_code: Option<Value>,
    message: Option<String>,
    error: Option<Value>,
    error_description: Option<String>,
    detail: Option<String>,
    #[serde(rename = "scimType")]
    scim_type: Option<String>,
    #[serde(default)]
    details: Vec<Value>,
}

const MAX_MESSAGE: usize = 1000;

fn truncate(mut s: String) -> String {
    if s.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
    s
}

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl ErrorBody {
    pub(crate) fn parse(body: &[u8]) -> ErrorBody {
        let Ok(raw) = serde_json::from_slice::<RawErrorBody>(body) else {
            let text = String::from_utf8_lossy(body).trim().to_owned();
            // Proxies answer with HTML; its text says little and can be long.
            let message = (!text.is_empty() && !text.starts_with('<')).then(|| truncate(text));
            return ErrorBody {
                message,
                ..Default::default()
            };
        };
        let request_id = raw.details.iter().find_map(|d| {
            d.get("request_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let (code, message) = if let Some(code) = raw.error_code.as_ref().and_then(value_text) {
            (
                Some(code),
                raw.message.or(raw.error.as_ref().and_then(value_text)),
            )
        } else if let Some(desc) = raw.error_description {
            (raw.error.as_ref().and_then(value_text), Some(desc))
        } else if let Some(detail) = raw.detail {
            (raw.scim_type, Some(detail))
        } else if let Some(error) = raw.error.as_ref().and_then(value_text) {
            (None, Some(error))
        } else {
            (None, raw.message)
        };
        ErrorBody {
            code,
            message: message.map(truncate),
            request_id,
        }
    }

    /// Whether the body names a condition the SDKs retry.
    pub(crate) fn is_retryable_code(&self) -> bool {
        matches!(
            self.code.as_deref(),
            Some("REQUEST_LIMIT_EXCEEDED" | "RESOURCE_EXHAUSTED" | "TEMPORARILY_UNAVAILABLE")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(status: u16, body: &str) -> Error {
        Error::from_response(status, body.as_bytes(), None, "personal access token")
    }

    #[test]
    fn classification_prefers_the_error_code() {
        let e = classify(
            400,
            r#"{"error_code":"CATALOG_DOES_NOT_EXIST","message":"Catalog 'x' does not exist.","details":[{"@type":"type.googleapis.com/google.rpc.RequestInfo","request_id":"r-1"}]}"#,
        );
        assert!(
            matches!(&e, Error::NotFound { code, .. } if code == "CATALOG_DOES_NOT_EXIST"),
            "{e:?}"
        );
        assert_eq!(e.request_id(), Some("r-1"));
        assert_eq!(e.reason(), "NotFound");
        assert!(e.to_string().contains("request id r-1"));

        let e = classify(
            403,
            r#"{"error_code":403,"message":"Invalid access token."}"#,
        );
        assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("authentication failed with the personal access token")
        );

        let e = classify(
            401,
            r#"{"error_code":"UNAUTHENTICATED","message":"no token"}"#,
        );
        assert!(matches!(e, Error::Unauthenticated { status: 401, .. }));

        let e = classify(
            403,
            r#"{"error_code":"PERMISSION_DENIED","message":"nope"}"#,
        );
        assert!(matches!(e, Error::PermissionDenied { .. }));

        let e = classify(
            400,
            r#"{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}"#,
        );
        assert!(matches!(e, Error::RateLimited { .. }) && e.is_retryable());

        let e = classify(
            409,
            r#"{"error_code":"CATALOG_ALREADY_EXISTS","message":"x"}"#,
        );
        assert!(matches!(e, Error::AlreadyExists { .. }));
    }

    #[test]
    fn other_body_shapes() {
        let e = classify(404, r#"{"error":"Bad Target: /api/2.0/x"}"#);
        assert!(
            matches!(&e, Error::NotFound { message, .. } if message.contains("Bad Target")),
            "{e:?}"
        );
        let e = classify(
            404,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"User not found","status":"404"}"#,
        );
        assert!(matches!(&e, Error::NotFound { message, .. } if message == "User not found"));
        let e = classify(502, "<html>bad gateway</html>");
        assert!(matches!(e, Error::Api { status: 502, .. }) && e.is_retryable());
        let e = Error::from_oauth_response(
            "https://h/oidc/v1/token?x=1",
            401,
            br#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
        );
        assert_eq!(
            e.to_string(),
            "OAuth token request to https://h/oidc/v1/token failed: invalid_client: Client authentication failed"
        );
        assert_eq!(e.reason(), "OAuthError");
    }

    #[test]
    fn budget_message() {
        let e = Error::RetryBudgetExhausted {
            attempts: 3,
            elapsed: Duration::from_secs(4),
            last: "HTTP 503 TEMPORARILY_UNAVAILABLE".into(),
        };
        assert_eq!(
            e.to_string(),
            "retry budget ran out after 3 attempts over 4s: last failure: HTTP 503 TEMPORARILY_UNAVAILABLE"
        );
    }
}
