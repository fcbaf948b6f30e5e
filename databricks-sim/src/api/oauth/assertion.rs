//! Entra client assertions: a JWT signed with the registered certificate's key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha1::Digest as _;

#[derive(Deserialize)]
struct AssertionClaims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    iat: Option<i64>,
    exp: i64,
}

/// Checks a client assertion like Entra: signature against the registered certificate, its
/// thumbprint header, audience, issuer, subject, lifetime and jti.
// Long: each assertion check has its own AADSTS code, in Entra's order.
pub(super) fn verify_assertion(
    assertion: &str,
    client_id: &str,
    certificate_pem: Option<&str>,
    audiences: &[String],
) -> Result<(), (&'static str, String)> {
    let bad_sig = || {
        (
            "AADSTS700027",
            "Client assertion failed signature validation.".to_string(),
        )
    };
    let Some(cert_pem) = certificate_pem else {
        return Err((
            "AADSTS700027",
            format!(
                "The certificate used to sign the client assertion is not registered on application {client_id}."
            ),
        ));
    };
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
        (
            "AADSTS50027",
            "Invalid JWT token. The token is malformed.".to_string(),
        )
    })?;
    use jsonwebtoken::Algorithm;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err((
            "AADSTS5002738",
            format!(
                "Invalid JWT token. '{:?}' is not a supported signature algorithm.",
                header.alg
            ),
        ));
    }
    let der = rustls_pemfile::certs(&mut cert_pem.as_bytes())
        .next()
        .and_then(Result::ok)
        .ok_or_else(bad_sig)?;
    let sha1 = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(der.as_ref()));
    let sha256 = URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(der.as_ref()));
    let thumbprint_ok = match (&header.x5t_s256, &header.x5t) {
        (Some(t), _) => *t == sha256,
        (None, Some(t)) => *t == sha1,
        (None, None) => false,
    };
    if !thumbprint_ok {
        return Err((
            "AADSTS700027",
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application {client_id}."
            ),
        ));
    }
    let key =
        jsonwebtoken::DecodingKey::from_rsa_pem(cert_pem.as_bytes()).map_err(|_| bad_sig())?;
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(audiences);
    v.set_issuer(&[client_id]);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.validate_nbf = true;
    v.leeway = 0;
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::InvalidSignature => bad_sig(),
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => (
                "AADSTS700024",
                "Client assertion is not within its valid time range.".to_string(),
            ),
            ErrorKind::InvalidAudience => (
                "AADSTS700021",
                "Client assertion audience claim does not match Realm issuer.".to_string(),
            ),
            ErrorKind::InvalidIssuer => (
                "AADSTS700023",
                "Client assertion issuer claim does not match the client id.".to_string(),
            ),
            _ => ("AADSTS50027", format!("Invalid JWT token. {e}")),
        }
    })?;
    let c = data.claims;
    if c.sub.as_deref() != Some(client_id) {
        return Err((
            "AADSTS700023",
            "Client assertion subject claim does not match the client id.".into(),
        ));
    }
    if c.jti.as_deref().is_none_or(str::is_empty) {
        return Err(("AADSTS50027", "Invalid JWT token. No jti claim.".into()));
    }
    let start = c.nbf.or(c.iat).unwrap_or(c.exp);
    if c.exp - start > 600 {
        return Err((
            "AADSTS700024",
            "Client assertion contains an invalid lifetime: more than 10 minutes.".into(),
        ));
    }
    Ok(())
}
