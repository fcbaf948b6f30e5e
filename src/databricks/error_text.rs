//! The texts of failures: error bodies read, transport errors described, and which failures
//! the official SDKs treat as transient.

use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;

/// Error codes that name a condition that passes by itself, retried on HTTP errors and FAILED
/// statements. The SDKs retry 429/`REQUEST_LIMIT_EXCEEDED` and 503 (databricks-sdk-go
/// `apierr/errors.go` `IsRetriable`); they do **not** resubmit FAILED statements. Resubmitting
/// one with a code of `service/sql/model.go` `ServiceErrorCode` that names a passing condition
/// is this operator's choice (every statement it sends is idempotent). `ABORTED` is "the
/// operation was aborted, typically due to a concurrency issue such as a sequencer check
/// failure" (databricks-sdk-go `apierr/error_mapping.go`, a 409 conflict): a concurrent change
/// to the same securable, which the next attempt does not meet.
const TRANSIENT_CODES: &[&str] = &[
    "ABORTED",
    "TEMPORARILY_UNAVAILABLE",
    "WORKSPACE_TEMPORARILY_UNAVAILABLE",
    "SERVICE_UNDER_MAINTENANCE",
    "RESOURCE_EXHAUSTED",
    "DEADLINE_EXCEEDED",
    "REQUEST_LIMIT_EXCEEDED",
];

/// Message fragments retried whatever the code: databricks-sdk-go `apierr/error_overrides.go`
/// `allTransientErrors` and databricks-sdk-py `_base_client.py` `_is_retryable` (its catch-all
/// "Unexpected error" is left out: it also names failures that repeat).
const TRANSIENT_MESSAGES: &[&str] = &[
    "com.databricks.backend.manager.util.UnknownWorkerEnvironmentException",
    "does not have any associated worker environments",
    "There is no worker environment with id",
    "Unknown worker environment",
    "ClusterNotReadyException",
    "Timed out after ",
    "deadline exceeded",
    "Please try again later or try a faster operation.",
    "RPC token bucket limit has been exceeded",
];

/// Whether an error code or message names a condition that passes by itself.
pub(crate) fn is_transient(code: Option<&str>, message: &str) -> bool {
    code.is_some_and(|c| TRANSIENT_CODES.contains(&c))
        || TRANSIENT_MESSAGES.iter().any(|m| message.contains(m))
        || worker_env_not_found(message)
}

/// The Go SDK's `worker env .* not found`.
fn worker_env_not_found(message: &str) -> bool {
    message
        .find("worker env ")
        .is_some_and(|i| message[i..].contains(" not found"))
}

/// The longest message kept from an error body.
const MAX_MESSAGE: usize = 1000;

/// `s` cut to at most `max` bytes on a character boundary, with `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// A reqwest error's kind without its URL (its query could carry ids), followed by the causes
/// that say what went wrong (refused, reset, TLS, timeout).
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
    truncate(&message, MAX_MESSAGE)
}

/// Connection failures, resets and timeouts are retried; builder, redirect and decode errors
/// are ours and would fail the same way again.
pub(crate) fn is_retryable_transport(err: &reqwest::Error) -> bool {
    !(err.is_builder() || err.is_redirect() || err.is_decode() || err.is_status())
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
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            // Proxies answer with HTML; its text says little and can be long.
            let message =
                (!text.is_empty() && !text.starts_with('<')).then(|| truncate(text, MAX_MESSAGE));
            return ErrorBody {
                message,
                ..Default::default()
            };
        };
        let request_id = raw.details.iter().find_map(|d| {
            d.get("request_id")
                .and_then(Value::as_str)
                .map(|id| truncate(id, 100))
        });
        let (code, message) = if let Some(code) = raw.error_code.as_ref().and_then(value_text) {
            let message = raw.message.or(raw.error.as_ref().and_then(value_text));
            (Some(code), message)
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
            code: code.map(|c| truncate(&c, 100)),
            message: message.map(|m| truncate(&m, MAX_MESSAGE)),
            request_id,
        }
    }

    /// Whether the body names a condition the SDKs retry.
    pub(crate) fn is_transient(&self) -> bool {
        is_transient(self.code.as_deref(), self.message.as_deref().unwrap_or(""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_conditions() {
        assert!(is_transient(Some("TEMPORARILY_UNAVAILABLE"), ""));
        assert!(is_transient(
            None,
            "Cluster 1 does not have any associated worker environments"
        ));
        assert!(is_transient(None, "worker env abc-1 not found"));
        assert!(!is_transient(None, "table not found; worker env abc-1"));
        assert!(!is_transient(
            Some("PERMISSION_DENIED"),
            "User lacks USE CATALOG"
        ));
        assert!(!is_transient(None, "not found"));
    }

    #[test]
    fn truncation_respects_characters() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcd", 3), "abc…");
        assert_eq!(truncate("aé", 2), "a…");
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = format!(r#"{{"error_code":"X","message":"{}"}}"#, "m".repeat(5000));
        let parsed = ErrorBody::parse(body.as_bytes());
        assert!(parsed.message.unwrap().len() <= MAX_MESSAGE + '…'.len_utf8());
        assert_eq!(ErrorBody::parse(b"<html>x</html>").message, None);
        assert_eq!(
            ErrorBody::parse(b"plain text").message.as_deref(),
            Some("plain text")
        );
    }
}
