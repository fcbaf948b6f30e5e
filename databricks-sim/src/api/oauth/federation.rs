//! Workload identity federation: a JWT from a trusted OIDC issuer in place of a client secret.
//!
//! - Databricks OAuth token federation: `POST /oidc/v1/token` with the RFC 8693 token-exchange
//!   grant (`subject_token`, `subject_token_type=urn:ietf:params:oauth:token-type:jwt`,
//!   `client_id` of the service principal), checked against the service principal's federation
//!   policies: issuer, audiences (any one), subject (docs.databricks.com
//!   dev-tools/auth/oauth-federation-policy; the form as databricks-sdk-go
//!   `config/experimental/auth/oidc/tokensource.go` sends it).
//! - Entra workload identity federation: the JWT as the `client_assertion` of a
//!   client-credentials request, checked against the app's federated credentials, refusals with
//!   Entra's AADSTS codes (learn.microsoft.com entra/identity-platform/reference-error-codes).
//!
//! As both services do, the signature is verified with the keys the issuer publishes: its
//! `/.well-known/openid-configuration` names `jwks_uri` (in tests the Kubernetes API server's
//! `/openid/v1/jwks`). The descriptions of Databricks' refusals are ours; their shape
//! (`error`, `error_description`) is OAuth's.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::JwkSet;
use serde::Deserialize;

use crate::scenario::FederationPolicySpec;
use crate::server::Ctx;
use crate::state::FederatedExchange;

/// Why a federated JWT was refused: an OAuth `error` and a description naming the cause.
pub(super) struct Refusal {
    pub error: &'static str,
    pub description: String,
}

fn refuse(error: &'static str, description: String) -> Refusal {
    Refusal { error, description }
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: Audience,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    fn all(&self) -> Vec<String> {
        match self {
            Audience::One(a) => vec![a.clone()],
            Audience::Many(a) => a.clone(),
        }
    }
}

/// The issuer a JWT claims, read before anything is verified (to pick the policy and keys).
pub(super) fn unverified_issuer(jwt: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Iss {
        iss: String,
    }
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice::<Iss>(&bytes).ok().map(|c| c.iss)
}

/// Verifies `jwt` against `policies` (all of one principal): signature with the issuer's
/// published keys, then audience, subject and lifetime. `entra` picks the wording. What was
/// accepted is recorded (`Snapshot::federated`).
pub(super) async fn verify(
    ctx: &Ctx,
    jwt: &str,
    client_id: &str,
    client_secret_sent: bool,
    policies: &[FederationPolicySpec],
    entra: bool,
) -> Result<(), Refusal> {
    let malformed = || {
        if entra {
            refuse(
                "invalid_client",
                "AADSTS50027: JWT token is invalid or malformed.".into(),
            )
        } else {
            refuse("invalid_request", "subject_token is not a valid JWT".into())
        }
    };
    let issuer = unverified_issuer(jwt).ok_or_else(malformed)?;
    let matching: Vec<&FederationPolicySpec> =
        policies.iter().filter(|p| p.issuer == issuer).collect();
    if matching.is_empty() {
        return Err(if entra {
            refuse(
                "invalid_client",
                format!(
                    "AADSTS700211: No matching federated identity record found for presented assertion issuer '{issuer}'."
                ),
            )
        } else {
            refuse(
                "invalid_grant",
                format!(
                    "no federation policy of this service principal trusts the issuer {issuer}"
                ),
            )
        });
    }
    let (ca, offset) = {
        let world = ctx.world();
        (world.issuer_ca_pem.clone(), world.clock_offset_secs)
    };
    let header = jsonwebtoken::decode_header(jwt).map_err(|_| malformed())?;
    let keys = fetch_keys(&issuer, ca.as_deref()).await.map_err(|e| {
        refuse(
            if entra {
                "invalid_client"
            } else {
                "invalid_grant"
            },
            format!("could not fetch the signing keys of issuer {issuer}: {e}"),
        )
    })?;
    let bad_signature = || {
        if entra {
            refuse(
                "invalid_client",
                "AADSTS700027: Client assertion failed signature validation.".into(),
            )
        } else {
            refuse(
                "invalid_grant",
                format!("subject_token signature does not verify with the keys of issuer {issuer}"),
            )
        }
    };
    let jwk = match &header.kid {
        Some(kid) => keys.find(kid),
        None => keys.keys.first(),
    }
    .ok_or_else(bad_signature)?;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).map_err(|_| bad_signature())?;
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    // Audience, subject and lifetime are checked below, each with its own answer.
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Claims>(jwt, &key, &validation)
        .map_err(|_| bad_signature())?
        .claims;
    let now = crate::state::now_millis() / 1000 + offset;
    if claims.exp <= now || claims.nbf.is_some_and(|nbf| nbf > now) {
        return Err(if entra {
            refuse(
                "invalid_client",
                "AADSTS700024: Client assertion is not within its valid time range.".into(),
            )
        } else {
            refuse(
                "invalid_grant",
                format!(
                    "subject_token is expired or not yet valid (exp {}, nbf {:?}, now {now})",
                    claims.exp, claims.nbf
                ),
            )
        });
    }
    let audiences = claims.aud.all();
    let aud_ok = |p: &FederationPolicySpec| audiences.iter().any(|a| p.audiences.contains(a));
    if !matching.iter().any(|p| aud_ok(p)) {
        return Err(if entra {
            refuse(
                "invalid_client",
                format!(
                    "AADSTS700212: No matching federated identity record found for presented assertion audience '{}'.",
                    audiences.join(",")
                ),
            )
        } else {
            refuse(
                "invalid_grant",
                format!(
                    "subject_token audience {audiences:?} is not an audience of a federation policy for issuer {issuer}"
                ),
            )
        });
    }
    if !matching
        .iter()
        .any(|p| aud_ok(p) && p.subject == claims.sub)
    {
        return Err(if entra {
            refuse(
                "invalid_client",
                format!(
                    "AADSTS70021: No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{}'. Assertion Audience: '{}'.",
                    claims.sub,
                    audiences.join(",")
                ),
            )
        } else {
            refuse(
                "invalid_grant",
                format!(
                    "subject_token subject {:?} does not match the subject of a federation policy for issuer {issuer}",
                    claims.sub
                ),
            )
        });
    }
    ctx.world().federated.push(FederatedExchange {
        grant: if entra {
            "client-assertion"
        } else {
            "token-exchange"
        }
        .into(),
        client_id: client_id.into(),
        issuer: claims.iss,
        subject: claims.sub,
        audiences,
        key_id: header.kid,
        client_secret_sent,
        token: jwt.into(),
    });
    Ok(())
}

/// The issuer's JSON Web Key Set, through its OIDC discovery document.
async fn fetch_keys(issuer: &str, ca_pem: Option<&str>) -> Result<JwkSet, String> {
    #[derive(Deserialize)]
    struct Discovery {
        jwks_uri: String,
    }
    let client = http_client(ca_pem)?;
    let discovery = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let get = |url: String| {
        let client = client.clone();
        async move {
            let resp = client
                .get(&url)
                .send()
                .await
                .map_err(|e| format!("GET {url}: {e}"))?;
            if !resp.status().is_success() {
                return Err(format!("GET {url}: HTTP {}", resp.status()));
            }
            resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))
        }
    };
    let d: Discovery =
        serde_json::from_slice(&get(discovery).await?).map_err(|e| format!("discovery: {e}"))?;
    serde_json::from_slice(&get(d.jwks_uri).await?).map_err(|e| format!("JWKS: {e}"))
}

fn http_client(ca_pem: Option<&str>) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut ca_pem.unwrap_or_default().as_bytes()) {
        let cert = cert.map_err(|e| e.to_string())?;
        roots.add(cert).map_err(|e| e.to_string())?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
}
