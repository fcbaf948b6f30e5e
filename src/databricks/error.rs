//! The client's one error type and its kinds (`classify.rs` reads error responses into it).
//!
//! No variant carries a request body, a header or a URL with a query string, so no secret value
//! can reach a rendered error.

use std::fmt;
use std::time::Duration;

use super::connection::ConfigError;
use super::error_text::is_transient;

/// What a Databricks error response said: the part every HTTP error variant shares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
    /// Whether the body carried an `error_code` (else `code` is the HTTP status's default).
    pub coded: bool,
}

impl ApiError {
    /// "This API is not served here", not "the object is absent": `ENDPOINT_NOT_FOUND` ("No
    /// API found for …") or a 404 without a Databricks error code (a gateway's, a legacy
    /// `{"error": …}` body). Only a code such as `CATALOG_DOES_NOT_EXIST` says an object is
    /// absent (../shared/reference/databricks-api.md, "An API that is not served").
    pub fn endpoint_not_served(&self) -> bool {
        self.code == "ENDPOINT_NOT_FOUND" || (self.status == 404 && !self.coded)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(HTTP {}, {}): {}", self.status, self.code, self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// What kind of failure an `Error` is, for the domain to map into reasons once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    InvalidRequest,
    /// 429/503, transport, timeouts, transient codes, a spent retry budget
    Unavailable,
    Sql,
    HostNotAllowed,
    UnexpectedResponse,
    Configuration,
    Other,
}

fn sql_state_text(sql_state: &Option<String>) -> String {
    sql_state
        .as_deref()
        .map(|s| format!(" [SQLSTATE {s}]"))
        .unwrap_or_default()
}

fn request_id_text(request_id: &Option<String>) -> String {
    request_id
        .as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("authentication failed with the {credential} {api}")]
    Unauthenticated {
        credential: &'static str,
        api: ApiError,
    },
    #[error("permission denied {0}")]
    PermissionDenied(ApiError),
    #[error("not found {0}")]
    NotFound(ApiError),
    #[error("already exists {0}")]
    AlreadyExists(ApiError),
    #[error("invalid request {0}")]
    InvalidRequest(ApiError),
    /// Rate limits, 503s and the codes and messages the SDKs treat as transient.
    #[error("service unavailable {0}")]
    Unavailable(ApiError),
    #[error("request failed {0}")]
    Api(ApiError),
    #[error(
        "retry budget ran out after {attempts} attempts over {}: last failure: {last}",
        humantime::format_duration(*elapsed)
    )]
    RetryBudgetExhausted {
        attempts: u32,
        elapsed: Duration,
        last: String,
    },
    #[error("SQL statement failed{}: {message}", sql_state_text(sql_state))]
    Sql {
        sql_state: Option<String>,
        error_code: Option<String>,
        message: String,
    },
    #[error(
        "OAuth token request to {endpoint} failed (HTTP {status}): {error}: {description}{}",
        request_id_text(request_id)
    )]
    OAuth {
        endpoint: String,
        status: u16,
        error: String,
        description: String,
        request_id: Option<String>,
    },
    #[error("{what} did not finish within {}", humantime::format_duration(*elapsed))]
    Timeout { what: String, elapsed: Duration },
    #[error("connection failed: {message}")]
    Transport { message: String },
    #[error(
        "refusing to send credentials to {host}: the host is not allowed by --allowed-hosts \
         ({})",
        super::hosts::hint(host)
    )]
    HostNotAllowed { host: String },
    #[error(
        "refusing to send credentials to {host}: the annotation uc-operator.dev/allowed-hosts of \
         {by} does not allow it"
    )]
    HostNotAllowedBy { host: String, by: String },
    #[error("the response from {endpoint} is larger than {limit} bytes")]
    BodyTooLarge {
        endpoint: &'static str,
        limit: usize,
    },
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The workload identity's own token could not be had (before anything was sent).
    #[error("workload identity: {0}")]
    SubjectToken(#[from] super::connection::SubjectTokenError),
    #[error("unexpected response from {endpoint}: {message}")]
    Protocol {
        endpoint: &'static str,
        message: String,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Unauthenticated { .. } => ErrorKind::Unauthenticated,
            Error::OAuth { status, .. } if *status == 429 || *status >= 500 => {
                ErrorKind::Unavailable
            }
            Error::OAuth { .. } => ErrorKind::Unauthenticated,
            Error::PermissionDenied(_) => ErrorKind::PermissionDenied,
            Error::NotFound(_) => ErrorKind::NotFound,
            Error::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Error::InvalidRequest(_) => ErrorKind::InvalidRequest,
            Error::Unavailable(_)
            | Error::RetryBudgetExhausted { .. }
            | Error::Timeout { .. }
            | Error::Transport { .. } => ErrorKind::Unavailable,
            // Gateways and overloaded back ends answer 5xx; the request itself was fine.
            Error::Api(api) if api.status >= 500 => ErrorKind::Unavailable,
            Error::Api(_) => ErrorKind::Other,
            Error::Sql {
                error_code,
                message,
                ..
            } if is_transient(error_code.as_deref(), message) => ErrorKind::Unavailable,
            Error::Sql { .. } => ErrorKind::Sql,
            Error::HostNotAllowed { .. } | Error::HostNotAllowedBy { .. } => {
                ErrorKind::HostNotAllowed
            }
            Error::BodyTooLarge { .. } | Error::Protocol { .. } => ErrorKind::UnexpectedResponse,
            Error::Config(_) => ErrorKind::Configuration,
            Error::SubjectToken(e) if e.permanent => ErrorKind::Configuration,
            Error::SubjectToken(_) => ErrorKind::Unavailable,
        }
    }

    /// Whether the same request may succeed later without anyone changing anything.
    pub fn is_retryable(&self) -> bool {
        self.kind() == ErrorKind::Unavailable
    }

    /// The SQLSTATE of a failed statement (`42501` insufficient privileges, `42P01` not found).
    pub fn sql_state(&self) -> Option<&str> {
        match self {
            Error::Sql { sql_state, .. } => sql_state.as_deref(),
            _ => None,
        }
    }
}

pub(crate) fn strip_query(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_of_the_other_variants() {
        let e = Error::RetryBudgetExhausted {
            attempts: 3,
            elapsed: Duration::from_secs(4),
            last: "HTTP 503 TEMPORARILY_UNAVAILABLE".into(),
        };
        assert_eq!(
            e.to_string(),
            "retry budget ran out after 3 attempts over 4s: last failure: HTTP 503 TEMPORARILY_UNAVAILABLE"
        );
        assert!(e.is_retryable());
        let sql = |code: &str, message: &str| Error::Sql {
            sql_state: Some("42501".into()),
            error_code: Some(code.into()),
            message: message.into(),
        };
        let e = sql("PERMISSION_DENIED", "no");
        assert_eq!((e.kind(), e.sql_state()), (ErrorKind::Sql, Some("42501")));
        assert_eq!(
            sql("TEMPORARILY_UNAVAILABLE", "x").kind(),
            ErrorKind::Unavailable
        );
        assert_eq!(
            sql("UNKNOWN", "deadline exceeded").kind(),
            ErrorKind::Unavailable
        );
        let e = Error::HostNotAllowed {
            host: "evil.example.com".into(),
        };
        assert_eq!(e.kind(), ErrorKind::HostNotAllowed);
        assert!(
            e.to_string().contains("evil.example.com") && e.to_string().contains("--allowed-hosts")
        );
        let e = Error::BodyTooLarge {
            endpoint: "oauth_token",
            limit: 10,
        };
        assert_eq!(e.kind(), ErrorKind::UnexpectedResponse);
        assert_eq!(
            Error::Config(ConfigError::Thumbprint).kind(),
            ErrorKind::Configuration
        );
    }
}
