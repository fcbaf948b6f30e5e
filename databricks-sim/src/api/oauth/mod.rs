//! OAuth M2M: Databricks' own token endpoint (client secret over HTTP Basic) and an
//! Entra-style v2.0 endpoint (client secret or a certificate-signed JWT client assertion).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Extension;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{HeaderMap, Response, StatusCode, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::respond;
use crate::scenario::PrincipalSpec;
use crate::server::Ctx;

mod assertion;
mod federation;
use assertion::verify_assertion;

const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// The AzureDatabricks first-party application id: the resource Entra tokens must be for
/// (learn.microsoft.com azure/databricks/dev-tools/auth/oauth-m2m and .../aad/service-prin-aad-token).
const AZURE_DATABRICKS_RESOURCE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";

pub(super) async fn discovery(Extension(ctx): Extension<Ctx>) -> Response<Body> {
    let base = format!("https://localhost:{}/oidc", ctx.port);
    respond(
        StatusCode::OK,
        json!({
            "issuer": base,
            "authorization_endpoint": format!("{base}/v1/authorize"),
            "token_endpoint": format!("{base}/v1/token"),
            "jwks_uri": format!("{base}/jwks.json"),
            "grant_types_supported": ["client_credentials", "authorization_code", "refresh_token"],
            "response_types_supported": ["code", "id_token"],
            "scopes_supported": SCOPES_SUPPORTED,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        }),
    )
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    respond(
        status,
        json!({"error": error, "error_description": description}),
    )
}

fn form(body: &[u8]) -> HashMap<String, String> {
    // Lenient: a malformed body reads as empty and fails the checks below like Entra would.
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

fn issue(ctx: &Ctx, principal: &PrincipalSpec) -> (String, u64) {
    let mut world = ctx.world();
    let token = format!("dsim-oauth-{}", uuid::Uuid::new_v4().simple());
    let lifetime = world.token_lifetime_secs;
    world.oauth_tokens.insert(
        token.clone(),
        (
            principal.application_id.clone(),
            Instant::now() + Duration::from_secs(lifetime),
        ),
    );
    (token, lifetime)
}

fn find_client(ctx: &Ctx, client_id: &str) -> Option<PrincipalSpec> {
    let world = ctx.world();
    world
        .principals
        .iter()
        .find(|p| p.oauth.as_ref().is_some_and(|o| o.client_id == client_id))
        .cloned()
}

/// `POST /oidc/v1/token`: client credentials via HTTP Basic (or the form).
pub(super) async fn token(
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response<Body> {
    let f = form(&body);
    if f.get("grant_type").map(String::as_str) == Some(TOKEN_EXCHANGE_GRANT) {
        return exchange(&ctx, &f).await;
    }
    if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Only grant_type=client_credentials is supported for service principals",
        );
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|h| h.strip_prefix("Basic "))
        .and_then(|b| STANDARD.decode(b.trim()).ok())
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            s.split_once(':')
                .map(|(a, b)| (a.to_string(), b.to_string()))
        });
    let (client_id, secret) = match basic {
        Some(pair) => pair,
        None => match (f.get("client_id"), f.get("client_secret")) {
            (Some(a), Some(b)) => (a.clone(), b.clone()),
            _ => {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "Client authentication failed",
                );
            }
        },
    };
    let principal = find_client(&ctx, &client_id);
    let ok = principal.as_ref().is_some_and(|p| {
        p.oauth
            .as_ref()
            .and_then(|o| o.client_secret.as_deref())
            .is_some_and(|s| s == secret)
    });
    let Some(principal) = principal.filter(|_| ok) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    };
    let scope = f.get("scope").cloned().unwrap_or_else(|| "all-apis".into());
    if let Err(refused) = check_scope(&scope) {
        return refused;
    }
    let (token, lifetime) = issue(&ctx, &principal);
    respond(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}),
    )
}

/// The token-exchange grant of workload identity federation (`federation.rs`).
async fn exchange(ctx: &Ctx, f: &HashMap<String, String>) -> Response<Body> {
    let bad =
        |error: &str, description: &str| oauth_error(StatusCode::BAD_REQUEST, error, description);
    if f.get("subject_token_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:token-type:jwt")
    {
        return bad(
            "invalid_request",
            "subject_token_type must be urn:ietf:params:oauth:token-type:jwt",
        );
    }
    let Some(subject_token) = f.get("subject_token") else {
        return bad("invalid_request", "subject_token is required");
    };
    // Account-wide federation (no client_id) maps a token to a user; only service principal
    // policies are simulated.
    let Some(client_id) = f.get("client_id") else {
        return bad(
            "invalid_request",
            "client_id is required: only service principal federation policies are simulated",
        );
    };
    let Some(principal) = find_client(ctx, client_id) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    };
    let policies = principal
        .oauth
        .as_ref()
        .map(|o| o.federation_policies.clone())
        .unwrap_or_default();
    let secret_sent = f.contains_key("client_secret");
    if let Err(r) =
        federation::verify(ctx, subject_token, client_id, secret_sent, &policies, false).await
    {
        return bad(r.error, &r.description);
    }
    let scope = f.get("scope").cloned().unwrap_or_else(|| "all-apis".into());
    if let Err(refusal) = check_scope(&scope) {
        return refusal;
    }
    let (token, lifetime) = issue(ctx, &principal);
    respond(
        StatusCode::OK,
        json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime, "scope": scope}),
    )
}

/// The scopes the workspace's authorization server offers (its discovery document's
/// `scopes_supported`); anything else is refused with RFC 6749 §5.2 `invalid_scope`
/// (docs.databricks.com dev-tools/auth/oauth-m2m: `scope=all-apis`). The description is the
/// simulator's.
fn check_scope(scope: &str) -> Result<(), Response<Body>> {
    match scope.split(' ').find(|s| !SCOPES_SUPPORTED.contains(s)) {
        Some(bad) => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("The requested scope {bad} is not supported."),
        )),
        None => Ok(()),
    }
}

const SCOPES_SUPPORTED: &[&str] = &[
    "all-apis",
    "sql",
    "offline_access",
    "openid",
    "profile",
    "email",
];

/// Entra v2 (`scope=<resource>/.default`) or v1 (`resource=<resource>`): only the
/// AzureDatabricks resource gets a token Databricks accepts. Refusals as Entra words them:
/// AADSTS1002012 (a client-credentials scope without `/.default`), AADSTS500011 (a resource
/// not in the tenant), AADSTS900144 (a required parameter missing) — learn.microsoft.com
/// entra/identity-platform/reference-error-codes.
fn check_resource(
    f: &HashMap<String, String>,
    v1: bool,
    tenant: &str,
) -> Result<(), Response<Body>> {
    let bad = |error: &str, msg: String| Err(oauth_error(StatusCode::BAD_REQUEST, error, &msg));
    let resource = if v1 {
        match f.get("resource") {
            Some(r) => r.clone(),
            None => {
                return bad(
                    "invalid_request",
                    "AADSTS900144: The request body must contain the following parameter: 'resource'.".into(),
                );
            }
        }
    } else {
        let scope = f.get("scope").cloned().unwrap_or_default();
        match scope.strip_suffix("/.default") {
            Some(r) if !r.contains(' ') => r.to_string(),
            _ => {
                return bad(
                    "invalid_scope",
                    format!(
                        "AADSTS1002012: The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                    ),
                );
            }
        }
    };
    let id = resource.trim_start_matches("api://").trim_end_matches('/');
    if id != AZURE_DATABRICKS_RESOURCE {
        return bad(
            "invalid_resource",
            format!(
                "AADSTS500011: The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        );
    }
    Ok(())
}

/// `POST /{tenant}/oauth2/v2.0/token`, as Microsoft Entra ID answers it.
pub(super) async fn entra_token(
    state: Extension<Ctx>,
    tenant: Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response<Body> {
    entra(state, tenant, headers, body, false).await
}

/// `POST /{tenant}/oauth2/token`: Entra's v1 endpoint, which takes `resource=` instead of
/// `scope=`.
pub(super) async fn entra_v1_token(
    state: Extension<Ctx>,
    tenant: Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response<Body> {
    entra(state, tenant, headers, body, true).await
}

// Long: one flow for both endpoint versions, checks in Entra's order, each refusal its own code.
async fn entra(
    Extension(ctx): Extension<Ctx>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
    v1: bool,
) -> Response<Body> {
    let f = form(&body);
    let invalid = |code: &str, msg: &str| {
        oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!("{code}: {msg}"),
        )
    };
    if f.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: The app requested an unsupported grant type.",
        );
    }
    let Some(client_id) = f.get("client_id").cloned() else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
        );
    };
    if let Err(refusal) = check_resource(&f, v1, &tenant) {
        return refusal;
    }
    let Some(principal) = find_client(&ctx, &client_id) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            &format!(
                "AADSTS700016: Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    };
    let oauth = principal.oauth.clone().unwrap_or_default();
    if let Some(secret) = f.get("client_secret") {
        if oauth.client_secret.as_deref() != Some(secret.as_str()) {
            return invalid(
                "AADSTS7000215",
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
    } else if let Some(assertion) = f.get("client_assertion") {
        if f.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "AADSTS700022: The provided value for the input parameter 'client_assertion_type' is not valid.",
            );
        }
        // A certificate assertion is issued by the client itself; anything else is a federated
        // workload identity token.
        if federation::unverified_issuer(assertion).is_some_and(|iss| iss != client_id) {
            let credentials = &oauth.federated_credentials;
            if let Err(r) =
                federation::verify(&ctx, assertion, &client_id, false, credentials, true).await
            {
                return oauth_error(StatusCode::UNAUTHORIZED, r.error, &r.description);
            }
            let (token, lifetime) = issue(&ctx, &principal);
            return respond(
                StatusCode::OK,
                json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}),
            );
        }
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost")
            .to_string();
        let path = if v1 {
            format!("/{tenant}/oauth2/token")
        } else {
            format!("/{tenant}/oauth2/v2.0/token")
        };
        let audiences = [
            format!("https://{host}{path}"),
            format!("https://localhost:{}{path}", ctx.port),
        ];
        if let Err((code, msg)) = verify_assertion(
            assertion,
            &client_id,
            oauth.certificate_pem.as_deref(),
            &audiences,
        ) {
            return invalid(code, &msg);
        }
    } else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let (token, lifetime) = issue(&ctx, &principal);
    if v1 {
        // v1 answers numbers as strings and names the resource.
        let now = crate::state::now_millis() / 1000;
        return respond(
            StatusCode::OK,
            json!({"token_type": "Bearer", "expires_in": lifetime.to_string(), "ext_expires_in": lifetime.to_string(), "expires_on": (now + lifetime as i64).to_string(), "not_before": now.to_string(), "resource": AZURE_DATABRICKS_RESOURCE, "access_token": token}),
        );
    }
    respond(
        StatusCode::OK,
        json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}),
    )
}
