//! Fault injection: rules matched against each request before routing.

use serde::{Deserialize, Serialize};

/// A fault applied to requests whose path starts with `path_prefix` ("" = any) and, when set,
/// whose method matches; `times: None` keeps it until cleared.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaultRule {
    #[serde(default)]
    pub path_prefix: String,
    #[serde(default)]
    pub method: Option<String>,
    pub kind: FaultKind,
    #[serde(default)]
    pub times: Option<u32>,
}

/// What happens to a matching request.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay, then serve normally.
    Latency { millis: u64 },
    /// Answer with this status, a `Retry-After` header when set, and a Databricks error body.
    Status {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
        #[serde(default)]
        error_code: String,
        #[serde(default)]
        message: String,
    },
    /// Close the connection without answering.
    DropConnection,
    /// Answer with this status and raw JSON body, e.g. the 1.2 API's legacy
    /// `{"error": "...ClusterNotReadyException..."}`, for message-matched transient errors.
    Body {
        status: u16,
        #[serde(default)]
        retry_after: Option<String>,
        body: serde_json::Value,
    },
    /// Answer 200 with `body` in which the string `"PAD"` stands for a JSON array of `item`
    /// repeated until the whole body is about `bytes` long: a large answer that is small to
    /// describe (millions of `[]` rows, a page of millions of `{}` items).
    Padded {
        body: serde_json::Value,
        item: serde_json::Value,
        bytes: usize,
    },
    /// Only on statement submissions (`POST /api/2.0/sql/statements`): the statement is
    /// accepted and ends `FAILED` with this `status.error.error_code` (codes of
    /// databricks-sdk-go `service/sql/model.go` `ServiceErrorCode`; the SDKs do not resubmit
    /// FAILED statements, the operator does for those that name a passing condition).
    StatementFailed {
        error_code: String,
        #[serde(default)]
        message: String,
    },
}

impl FaultKind {
    /// Whether this kind of fault can apply to the request at all.
    fn applies(&self, method: &str, path: &str) -> bool {
        match self {
            FaultKind::StatementFailed { .. } => {
                method.eq_ignore_ascii_case("POST")
                    && matches!(path, "/api/2.0/sql/statements" | "/api/2.0/sql/statements/")
            }
            _ => true,
        }
    }
}

impl FaultRule {
    /// A rule for any path and method, active until cleared.
    pub fn new(path_prefix: &str, kind: FaultKind) -> Self {
        FaultRule {
            path_prefix: path_prefix.into(),
            method: None,
            kind,
            times: None,
        }
    }
    /// Limits the rule to `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.times = Some(n);
        self
    }
    /// Limits the rule to one HTTP method.
    pub fn method(mut self, method: &str) -> Self {
        self.method = Some(method.to_uppercase());
        self
    }
    /// `429 REQUEST_LIMIT_EXCEEDED` with `Retry-After: secs`.
    pub fn too_many_requests(path_prefix: &str, retry_after_secs: u64) -> Self {
        FaultRule::new(
            path_prefix,
            FaultKind::Status {
                status: 429,
                retry_after: Some(retry_after_secs.to_string()),
                error_code: "REQUEST_LIMIT_EXCEEDED".into(),
                message: "Too many requests. Please wait a moment and try again.".into(),
            },
        )
    }
    /// `503 TEMPORARILY_UNAVAILABLE` with `Retry-After: secs`.
    pub fn unavailable_retry_after(path_prefix: &str, retry_after_secs: u64) -> Self {
        let mut r = FaultRule::unavailable(path_prefix);
        if let FaultKind::Status { retry_after, .. } = &mut r.kind {
            *retry_after = Some(retry_after_secs.to_string());
        }
        r
    }
    /// A Databricks error body whose message the SDKs match as transient (for example
    /// `ClusterNotReadyException`, `Timed out after `, `deadline exceeded`:
    /// databricks-sdk-go apierr/errors.go `transientErrorStringMatches`).
    pub fn transient_message(path_prefix: &str, status: u16, message: &str) -> Self {
        FaultRule::new(
            path_prefix,
            FaultKind::Status {
                status,
                retry_after: None,
                error_code: String::new(),
                message: message.into(),
            },
        )
    }
    /// Statements submitted end FAILED with `error_code` (see [`FaultKind::StatementFailed`]).
    pub fn statement_failed(error_code: &str) -> Self {
        FaultRule::new(
            "/api/2.0/sql/statements",
            FaultKind::StatementFailed {
                error_code: error_code.into(),
                message: format!(
                    "{error_code}: the service is temporarily unable to run the statement. Please retry."
                ),
            },
        )
    }
    /// Statements submitted end FAILED with `ABORTED`: a concurrent change to the same
    /// securable won (databricks-sdk-go `service/sql/model.go` `ServiceErrorCodeAborted`;
    /// `apierr/error_mapping.go`: "aborted, typically due to a concurrency issue"). The message
    /// is the simulator's.
    pub fn statement_conflict() -> Self {
        FaultRule::new(
            "/api/2.0/sql/statements",
            FaultKind::StatementFailed {
                error_code: "ABORTED".into(),
                message: "ABORTED: the statement conflicted with a concurrent change to the same \
                          securable."
                    .into(),
            },
        )
    }
    /// `409 ABORTED`: a REST change that lost to a concurrent one (databricks-sdk-go
    /// `apierr/error_mapping.go` maps `ABORTED` under 409 Conflict). The message is the
    /// simulator's.
    pub fn conflict(path_prefix: &str) -> Self {
        FaultRule::new(
            path_prefix,
            FaultKind::Status {
                status: 409,
                retry_after: None,
                error_code: "ABORTED".into(),
                message: "The operation was aborted because of a concurrent change.".into(),
            },
        )
    }
    /// `503 TEMPORARILY_UNAVAILABLE`.
    pub fn unavailable(path_prefix: &str) -> Self {
        FaultRule::new(
            path_prefix,
            FaultKind::Status {
                status: 503,
                retry_after: None,
                error_code: "TEMPORARILY_UNAVAILABLE".into(),
                message: "The service is temporarily unavailable.".into(),
            },
        )
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        path.starts_with(&self.path_prefix)
            && self.kind.applies(method, path)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && self.times != Some(0)
    }
}

/// Finds the first matching rule, consuming one of its `times`.
pub(crate) fn take_fault(
    rules: &mut Vec<FaultRule>,
    method: &str,
    path: &str,
) -> Option<FaultKind> {
    let i = rules.iter().position(|r| r.matches(method, path))?;
    let rule = &mut rules[i];
    let kind = rule.kind.clone();
    if let Some(n) = rule.times.as_mut() {
        *n -= 1;
        if *n == 0 {
            rules.remove(i);
        }
    }
    Some(kind)
}
