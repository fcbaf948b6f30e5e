//! Credential expiry: when each connection's credential stops working, and a `warning` test
//! result when that is within the warning window (`--credential-warning`).
//!
//! A token's expiry is the earliest among the service principal's own unexpired tokens (the list
//! cannot say which one is in use); a certificate's is the `notAfter` of `tls.crt`. A client
//! secret or workload identity has none the operator can read. Failing to read an expiry never
//! fails validation: the credential worked, only the warning is lost.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tracing::debug;

use super::Findings;
use crate::databricks::WorkspaceClient;

/// The test that warns; it is listed only when a credential is within the window.
pub fn expiry_test(host: &str) -> String {
    format!("Credential expiry: {host}")
}

/// Where an expiry came from, for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Token,
    Certificate,
}

/// Reads the expiry of each connection's credential (index 0 is the main one) into
/// `f.workspaces` and warns for those within `window` of `now`. `list_tokens`: whether a token's
/// expiry may be read (one request per token connection); a certificate's costs none.
pub async fn check(
    clients: &[&WorkspaceClient],
    now: Timestamp,
    window: Duration,
    list_tokens: bool,
    f: &mut Findings,
) {
    for (i, client) in clients.iter().enumerate() {
        let Some((source, at)) = expiry_of(client, now, list_tokens).await else {
            continue;
        };
        if let Some(ws) = f.workspaces.get_mut(i) {
            ws.credential_expires_at = Some(at);
        }
        if let Some(message) = judge(source, at, now, window) {
            f.warned(&expiry_test(&client.host()), message);
        }
    }
}

async fn expiry_of(
    client: &WorkspaceClient,
    now: Timestamp,
    list_tokens: bool,
) -> Option<(Source, Timestamp)> {
    if client.uses_token() {
        if !list_tokens {
            return None;
        }
        return match client.earliest_token_expiry(now).await {
            Ok(at) => at.map(|at| (Source::Token, at)),
            Err(e) => {
                // Token listing may be disabled for the principal: no expiry, no failure.
                debug!(host = %client.host(), error = %e, "could not list the principal's tokens");
                None
            }
        };
    }
    let at = certificate_not_after(client.certificate_pem()?)?;
    Some((Source::Certificate, at))
}

/// The message of a credential expiring at `at`, when that is within `window` of `now`.
pub fn judge(source: Source, at: Timestamp, now: Timestamp, window: Duration) -> Option<String> {
    let left = at.duration_since(now);
    let window = k8s_openapi::jiff::SignedDuration::try_from(window).ok()?;
    if left > window {
        return None;
    }
    // Rounded: a token created for 10 days reads "in 10 days" a moment later.
    let days = (left.as_secs() + 43_200) / 86_400;
    let what = match source {
        Source::Token => {
            "the earliest-expiring personal access token of the service principal expires"
        }
        Source::Certificate => "the client certificate (tls.crt) expires",
    };
    Some(if left.is_negative() {
        format!("{what} at {at}: it has expired; rotate the credential")
    } else {
        format!("{what} at {at} (in {days} days); rotate the credential before then")
    })
}

/// `notAfter` of the first certificate in a PEM bundle; `None` when there is none to parse.
pub fn certificate_not_after(pem: &str) -> Option<Timestamp> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
    let cert = pem.parse_x509().ok()?;
    Timestamp::from_second(cert.validity().not_after.timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;
    const WINDOW: Duration = Duration::from_secs(14 * DAY as u64);

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    #[test]
    fn within_the_window_warns_beyond_it_does_not() {
        let now = at(1_700_000_000);
        let soon = judge(Source::Token, at(1_700_000_000 + 10 * DAY), now, WINDOW).unwrap();
        assert!(soon.contains("in 10 days"), "{soon}");
        assert!(soon.contains("earliest"), "{soon}");
        assert_eq!(
            judge(Source::Token, at(1_700_000_000 + 365 * DAY), now, WINDOW),
            None
        );
        let gone = judge(Source::Certificate, at(1_700_000_000 - DAY), now, WINDOW).unwrap();
        assert!(
            gone.contains("has expired") && gone.contains("tls.crt"),
            "{gone}"
        );
    }

    #[test]
    fn a_certificates_not_after_is_read() {
        let mut params = rcgen::CertificateParams::new(vec!["sp.example.com".into()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 3, 4);
        let key = rcgen::KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        assert_eq!(
            certificate_not_after(&pem).map(|t| t.to_string()),
            Some("2031-03-04T00:00:00Z".into())
        );
        assert_eq!(certificate_not_after("not a certificate"), None);
        assert_eq!(certificate_not_after(&key.serialize_pem()), None);
    }
}
