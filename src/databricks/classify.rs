//! Error responses to [`Error`], the way the official SDKs classify them: by the body's
//! `error_code` first, then by the HTTP status.

use super::error::{ApiError, Error, strip_query};
use super::error_text::ErrorBody;

impl Error {
    /// Classifies an HTTP error response of `endpoint` (a route template). `credential` names
    /// the credential kind for authentication failures.
    pub(crate) fn from_response(
        endpoint: &str,
        status: u16,
        body: &[u8],
        header_request_id: Option<String>,
        credential: &'static str,
    ) -> Error {
        let parsed = ErrorBody::parse(body);
        let transient = parsed.is_transient();
        let has_code = parsed.code.is_some();
        let api = ApiError {
            status,
            code: parsed
                .code
                .unwrap_or_else(|| default_code(status).to_owned()),
            message: parsed.message.unwrap_or_else(|| format!("HTTP {status}")),
            request_id: parsed.request_id.or(header_request_id),
            coded: has_code,
        };
        let code = api.code.as_str();
        // Real workspaces answer an unknown or revoked token with 403 and an integer code.
        let invalid_token = code == "403" || api.message.contains("Invalid access token");
        if code == "UNAUTHENTICATED" || invalid_token || status == 401 {
            return Error::Unauthenticated { credential, api };
        }
        // `ABORTED` (HTTP 409, databricks-sdk-go `apierr/error_mapping.go`): a concurrent change,
        // retried like an outage — never "already exists", which 409 otherwise means.
        if transient || matches!(status, 429 | 503) {
            return Error::Unavailable(api);
        }
        if is_missing_cluster(endpoint, status, &api) {
            return Error::NotFound(api);
        }
        let by_code = |c: &str| has_code && code == c;
        if by_code("PERMISSION_DENIED") {
            return Error::PermissionDenied(api);
        }
        if has_code && (code.ends_with("DOES_NOT_EXIST") || code.ends_with("NOT_FOUND")) {
            return Error::NotFound(api);
        }
        if has_code && code.ends_with("ALREADY_EXISTS") {
            return Error::AlreadyExists(api);
        }
        if by_code("INVALID_PARAMETER_VALUE")
            || by_code("BAD_REQUEST")
            || by_code("MALFORMED_REQUEST")
        {
            return Error::InvalidRequest(api);
        }
        match status {
            403 => Error::PermissionDenied(api),
            404 => Error::NotFound(api),
            409 => Error::AlreadyExists(api),
            400 => Error::InvalidRequest(api),
            _ => Error::Api(api),
        }
    }

    /// Classifies a failed token-endpoint response (`{error, error_description}`).
    pub(crate) fn from_oauth_response(endpoint: &str, status: u16, body: &[u8]) -> Error {
        let parsed = ErrorBody::parse(body);
        Error::OAuth {
            endpoint: strip_query(endpoint),
            status,
            error: parsed.code.unwrap_or_else(|| format!("HTTP {status}")),
            description: parsed
                .message
                .unwrap_or_else(|| "no description".to_owned()),
            request_id: parsed.request_id,
        }
    }
}

/// `clusters/get` answers an unknown cluster with 400 `INVALID_PARAMETER_VALUE` "Cluster … does
/// not exist" (databricks-sdk-go `apierr/error_overrides.go` maps it to ResourceDoesNotExist).
fn is_missing_cluster(endpoint: &str, status: u16, api: &ApiError) -> bool {
    endpoint.ends_with("/clusters/get")
        && status == 400
        && api.code == "INVALID_PARAMETER_VALUE"
        && api.message.contains("Cluster ")
        && api.message.contains(" does not exist")
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::databricks::ErrorKind;

    fn classify(status: u16, body: &str) -> Error {
        Error::from_response("/x", status, body.as_bytes(), None, "personal access token")
    }

    #[test]
    fn classification_prefers_the_error_code() {
        let e = classify(
            400,
            r#"{"error_code":"CATALOG_DOES_NOT_EXIST","message":"Catalog 'x' does not exist.","details":[{"@type":"type.googleapis.com/google.rpc.RequestInfo","request_id":"r-1"}]}"#,
        );
        assert!(
            matches!(&e, Error::NotFound(api) if api.code == "CATALOG_DOES_NOT_EXIST"),
            "{e:?}"
        );
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(
            e.to_string(),
            "not found (HTTP 400, CATALOG_DOES_NOT_EXIST): Catalog 'x' does not exist. (request id r-1)"
        );

        let e = classify(
            403,
            r#"{"error_code":403,"message":"Invalid access token."}"#,
        );
        assert_eq!(e.kind(), ErrorKind::Unauthenticated, "{e:?}");
        let e = classify(
            401,
            r#"{"error_code":"UNAUTHENTICATED","message":"no token"}"#,
        );
        assert!(matches!(&e, Error::Unauthenticated { api, .. } if api.status == 401));
        let e = classify(
            403,
            r#"{"error_code":"PERMISSION_DENIED","message":"nope"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::PermissionDenied);
        let e = classify(
            409,
            r#"{"error_code":"CATALOG_ALREADY_EXISTS","message":"x"}"#,
        );
        assert_eq!(e.kind(), ErrorKind::AlreadyExists);
        // A concurrency conflict is retried, never "already exists".
        let e = classify(409, r#"{"error_code":"ABORTED","message":"conflict"}"#);
        assert_eq!(e.kind(), ErrorKind::Unavailable, "{e:?}");
        assert!(e.is_retryable());
        let e = classify(400, r#"{"error_code":"INVALID_STATE","message":"no root"}"#);
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
        assert!(!e.is_retryable());
    }

    #[test]
    fn transient_codes_and_messages_are_unavailable() {
        for body in [
            r#"{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}"#,
            r#"{"error_code":"RESOURCE_EXHAUSTED","message":"x"}"#,
            r#"{"error_code":"WORKSPACE_TEMPORARILY_UNAVAILABLE","message":"x"}"#,
            r#"{"error_code":"SERVICE_UNDER_MAINTENANCE","message":"x"}"#,
            r#"{"error_code":"DEADLINE_EXCEEDED","message":"x"}"#,
            r#"{"error_code":"INTERNAL_ERROR","message":"com.databricks.ClusterNotReadyException: not ready"}"#,
            r#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Timed out after 60s"}"#,
        ] {
            let e = classify(400, body);
            assert!(matches!(e, Error::Unavailable(_)), "{body}: {e:?}");
            assert!(e.is_retryable());
        }
        assert!(classify(429, "").is_retryable());
        assert!(classify(503, "<html>busy</html>").is_retryable());
        let e = classify(502, "<html>bad gateway</html>");
        assert!(matches!(e, Error::Api(_)) && e.is_retryable(), "{e:?}");
    }

    #[test]
    fn a_missing_cluster_is_not_found_only_on_clusters_get() {
        let body = br#"{"error_code":"INVALID_PARAMETER_VALUE","message":"Cluster 0123-x does not exist"}"#;
        let e = Error::from_response("/api/2.0/clusters/get", 400, body, None, "t");
        assert_eq!(e.kind(), ErrorKind::NotFound);
        let e = Error::from_response("/api/2.0/clusters/start", 400, body, None, "t");
        assert_eq!(e.kind(), ErrorKind::InvalidRequest);
    }

    #[test]
    fn an_api_not_served_is_told_apart_from_an_absent_object() {
        let not_served = [
            (
                404,
                r#"{"error_code":"ENDPOINT_NOT_FOUND","message":"No API found for 'GET /x'"}"#,
            ),
            (404, "<html>Not Found</html>"),
            (404, r#"{"error":"Bad Target: /api/2.1/x"}"#),
        ];
        for (status, body) in not_served {
            let e = classify(status, body);
            assert!(
                matches!(&e, Error::NotFound(api) if api.endpoint_not_served()),
                "{body}: {e:?}"
            );
        }
        for body in [
            r#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no tag"}"#,
            r#"{"error_code":"NOT_FOUND","message":"no tag"}"#,
            r#"{"error_code":"CATALOG_DOES_NOT_EXIST","message":"no catalog"}"#,
        ] {
            let e = classify(404, body);
            assert!(
                matches!(&e, Error::NotFound(api) if !api.endpoint_not_served()),
                "{body}: {e:?}"
            );
        }
    }

    #[test]
    fn other_body_shapes() {
        let e = classify(404, r#"{"error":"Bad Target: /api/2.0/x"}"#);
        assert!(
            matches!(&e, Error::NotFound(api) if api.message.contains("Bad Target")),
            "{e:?}"
        );
        let e = classify(
            404,
            r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"User not found","status":"404"}"#,
        );
        assert!(matches!(&e, Error::NotFound(api) if api.message == "User not found"));
        let e = Error::from_oauth_response(
            "https://h/oidc/v1/token?x=1",
            401,
            br#"{"error":"invalid_client","error_description":"Client authentication failed"}"#,
        );
        assert_eq!(
            e.to_string(),
            "OAuth token request to https://h/oidc/v1/token failed (HTTP 401): invalid_client: Client authentication failed"
        );
        assert_eq!(e.kind(), ErrorKind::Unauthenticated);
        let e = Error::from_oauth_response("https://h/t", 502, b"");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
    }
}
