//! The caller's own personal access tokens, for when the credential expires.
//!
//! `GET /api/2.0/token/list` lists "all the valid tokens for a user-workspace pair" — the
//! caller's own, no admin right needed (databricks-sdk-go `service/settings/api.go`,
//! `TokensAPI.List`). Its body is `{"token_infos": [{"token_id", "creation_time", "expiry_time",
//! "comment"}]}`, times in epoch milliseconds and `expiry_time` -1 when the token never expires
//! (databricks-sdk-go `service/settings/model.go`, `ListTokensResponse` and `PublicTokenInfo`).
//! The list never says which token made the call, so the operator reports the earliest expiry.

use k8s_openapi::jiff::Timestamp;
use reqwest::Method;
use serde::Deserialize;

use super::{AuthConfig, Error, WorkspaceClient};

#[derive(Debug, Default, Deserialize)]
struct ListTokensResponse {
    #[serde(default)]
    token_infos: Vec<TokenInfo>,
}

/// Only the expiry is read: ids and comments are not needed and stay out of memory and logs.
#[derive(Debug, Deserialize)]
struct TokenInfo {
    #[serde(default)]
    expiry_time: Option<i64>,
}

impl WorkspaceClient {
    /// The earliest expiry among the caller's tokens that have not expired at `now`; `None` when
    /// none of them expires.
    pub async fn earliest_token_expiry(&self, now: Timestamp) -> Result<Option<Timestamp>, Error> {
        let endpoint = "/api/2.0/token/list";
        let list: ListTokensResponse = self
            .call_json(Method::GET, endpoint, endpoint, vec![], None)
            .await?;
        Ok(earliest(&list, now))
    }

    /// Whether this client authenticates with a personal access token.
    pub fn uses_token(&self) -> bool {
        matches!(self.inner.config.auth, AuthConfig::Token(_))
    }

    /// The client certificate (`tls.crt`, public) that goes with the private key, when given.
    pub fn certificate_pem(&self) -> Option<&str> {
        match &self.inner.config.auth {
            AuthConfig::OAuthCertificate {
                certificate_pem, ..
            } => certificate_pem.as_deref(),
            _ => None,
        }
    }
}

fn earliest(list: &ListTokensResponse, now: Timestamp) -> Option<Timestamp> {
    list.token_infos
        .iter()
        .filter_map(|t| t.expiry_time)
        // -1 (or 0, an omitted field) means the token does not expire.
        .filter(|ms| *ms > 0)
        .filter_map(|ms| Timestamp::from_millisecond(ms).ok())
        .filter(|at| *at > now)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(json: &str) -> ListTokensResponse {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn the_earliest_unexpired_expiry_counts() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let l = list(
            r#"{"token_infos": [
                {"token_id": "a", "creation_time": 1, "expiry_time": -1, "comment": "forever"},
                {"token_id": "b", "creation_time": 1, "expiry_time": 999000000},
                {"token_id": "c", "creation_time": 1, "expiry_time": 3000000000},
                {"token_id": "d", "creation_time": 1, "expiry_time": 2000000000},
                {"token_id": "e", "creation_time": 1}
            ]}"#,
        );
        assert_eq!(
            earliest(&l, now),
            Some(Timestamp::from_second(2_000_000).unwrap())
        );
        assert_eq!(earliest(&list("{}"), now), None);
        assert_eq!(
            earliest(&list(r#"{"token_infos": [{"expiry_time": -1}]}"#), now),
            None
        );
    }
}
