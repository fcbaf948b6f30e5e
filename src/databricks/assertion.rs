//! Entra ID certificate credentials: a JWT client assertion signed with the private key, its
//! header naming the certificate by thumbprint.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::connection::ConfigError;
use super::error::Error;
use crate::secret::SecretString;

pub(crate) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a client assertion is valid; Entra accepts up to 10 minutes.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Serialize)]
struct AssertionClaims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: u64,
    iat: u64,
    exp: u64,
}

/// The JWT header for a certificate thumbprint: 40 hex digits is SHA-1 (`RS256`, `x5t`), 64 is
/// SHA-256 (`PS256`, `x5t#S256`).
pub(crate) fn assertion_header(thumbprint_hex: &str) -> Result<Header, ConfigError> {
    let cleaned: String = thumbprint_hex
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let bytes = hex::decode(&cleaned).map_err(|_| ConfigError::Thumbprint)?;
    let encoded = URL_SAFE_NO_PAD.encode(&bytes);
    let mut header = match bytes.len() {
        20 => {
            let mut h = Header::new(Algorithm::RS256);
            h.x5t = Some(encoded);
            h
        }
        32 => {
            let mut h = Header::new(Algorithm::PS256);
            h.x5t_s256 = Some(encoded);
            h
        }
        _ => return Err(ConfigError::Thumbprint),
    };
    header.typ = Some("JWT".into());
    Ok(header)
}

/// A signed client assertion for `audience` (the token URL), valid a few minutes.
pub(crate) fn client_assertion(
    client_id: &str,
    audience: &str,
    key: &EncodingKey,
    header: &Header,
) -> Result<SecretString, Error> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = AssertionClaims {
        aud: audience,
        iss: client_id,
        sub: client_id,
        jti: uuid::Uuid::new_v4().to_string(),
        nbf: now,
        iat: now,
        exp: now.saturating_add(ASSERTION_LIFETIME.as_secs()),
    };
    jsonwebtoken::encode(header, &claims, key)
        .map(SecretString::from)
        .map_err(|e| Error::Config(ConfigError::PrivateKey(e.to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_picks_the_algorithm() {
        let sha1 = "a".repeat(40);
        let h = assertion_header(&sha1).unwrap();
        assert_eq!(h.alg, Algorithm::RS256);
        assert_eq!(
            h.x5t.as_deref(),
            Some(URL_SAFE_NO_PAD.encode([0xaa; 20]).as_str())
        );
        assert!(h.x5t_s256.is_none());
        let h = assertion_header(&"0B".repeat(32)).unwrap();
        assert_eq!(h.alg, Algorithm::PS256);
        assert!(h.x5t_s256.is_some() && h.x5t.is_none());
        assert!(assertion_header("abc").is_err());
        assert!(assertion_header(&"z".repeat(40)).is_err());
    }
}
