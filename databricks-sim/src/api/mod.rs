//! HTTP routes: authentication, error bodies and the endpoint modules.

// Handlers return early with a ready response; boxing it would only add noise.
#![allow(clippy::result_large_err)]

pub(crate) mod admin;
mod commands;
mod oauth;
mod results;
mod statements;
mod uc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::catalog::{Caller, UcError};
use crate::scenario::PrincipalSpec;
use crate::server::{Ctx, PrincipalSlot};

pub(crate) fn router() -> Router {
    Router::new()
        .route(
            "/oidc/.well-known/oauth-authorization-server",
            get(oauth::discovery),
        )
        .route("/oidc/v1/token", post(oauth::token))
        .route("/{tenant}/oauth2/v2.0/token", post(oauth::entra_token))
        .route("/{tenant}/oauth2/token", post(oauth::entra_v1_token))
        .route("/api/2.0/preview/scim/v2/Me", get(me))
        .route("/api/2.0/token/list", get(list_tokens))
        .route("/api/2.0/sql/statements", post(statements::submit))
        .route("/api/2.0/sql/statements/", post(statements::submit))
        .route("/api/2.0/sql/statements/{id}", get(statements::get))
        .route(
            "/api/2.0/sql/statements/{id}/cancel",
            post(statements::cancel),
        )
        .route(
            "/api/2.0/sql/statements/{id}/result/chunks/{index}",
            get(results::get_chunk),
        )
        .route("/api/2.0/sql/warehouses/{id}", get(statements::warehouse))
        .route("/api/2.0/clusters/get", get(commands::cluster))
        .route("/api/2.0/clusters/start", post(commands::start))
        .route("/api/1.2/contexts/create", post(commands::create_context))
        .route("/api/1.2/contexts/status", get(commands::context_status))
        .route("/api/1.2/contexts/destroy", post(commands::destroy_context))
        .route("/api/1.2/commands/execute", post(commands::execute))
        .route("/api/1.2/commands/status", get(commands::status))
        .route("/api/1.2/commands/cancel", post(commands::cancel))
        .nest("/api/2.1/unity-catalog", uc::router())
        .merge(admin::router())
        .fallback(|| async {
            error(
                StatusCode::NOT_FOUND,
                "ENDPOINT_NOT_FOUND",
                "No API found for this path.",
            )
        })
}

/// A JSON response.
pub(crate) fn respond(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

/// A Databricks error body with a RequestInfo detail.
pub(crate) fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    respond(
        status,
        json!({
            "error_code": code,
            "message": message,
            "details": [{
                "@type": "type.googleapis.com/google.rpc.RequestInfo",
                "request_id": uuid::Uuid::new_v4().to_string(),
                "serving_data": "",
            }],
        }),
    )
}

pub(crate) fn uc_error(e: UcError) -> Response<Body> {
    error(
        StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST),
        e.error_code,
        &e.message,
    )
}

pub(crate) fn bad_request(message: &str) -> Response<Body> {
    error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", message)
}

/// Parses a JSON body; a malformed one is a 400 as Databricks answers it.
pub(crate) fn parse_body<T: DeserializeOwned>(body: &Bytes) -> Result<T, Response<Body>> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_REQUEST",
            &format!("Invalid JSON given in the body of the request - {e}"),
        )
    })
}

/// A JSON body parsed by [`parse_body`], for handlers that read it before anything else.
pub(crate) struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response<Body>;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        parse_body(&body).map(JsonBody)
    }
}

/// An authenticated caller.
pub(crate) struct Authed {
    pub principal: PrincipalSpec,
    pub caller: Caller,
    notes: Option<PrincipalSlot>,
}

impl Authed {
    /// Records the submitted SQL in this request's log entry.
    pub fn note_sql(&self, sql: Option<&str>) {
        if let (Some(n), Some(sql)) = (&self.notes, sql) {
            n.0.lock().expect("slot lock").sql = Some(sql.to_string());
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = Response<Body>;

    // Long: each way authentication fails has its own Databricks answer.
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ctx = parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .expect("the server adds the workspace context to every request");
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(error(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "Credential was not sent or was of an unsupported type for this API.",
            ));
        };
        let invalid = || {
            respond(
                StatusCode::FORBIDDEN,
                json!({"error_code": 403, "message": "Invalid access token."}),
            )
        };
        let world = ctx.world();
        if world.revoked.contains(token) {
            return Err(invalid());
        }
        let principal = if let Some(p) = world
            .principals
            .iter()
            .find(|p| p.tokens.iter().any(|t| t == token))
        {
            p.clone()
        } else if let Some((id, expiry)) = world.oauth_tokens.get(token) {
            if *expiry <= std::time::Instant::now() {
                return Err(error(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHENTICATED",
                    "Token is expired.",
                ));
            }
            match world.principal(id) {
                Some(p) => p.clone(),
                None => return Err(invalid()),
            }
        } else {
            return Err(invalid());
        };
        let notes = parts.extensions.get::<PrincipalSlot>().cloned();
        if let Some(slot) = &notes {
            slot.0.lock().expect("slot lock").principal = Some(principal.application_id.clone());
        }
        if let Some(allowed) = &principal.workspaces
            && !allowed.contains(&ctx.workspace)
        {
            return Err(error(
                StatusCode::FORBIDDEN,
                "PERMISSION_DENIED",
                &format!(
                    "{} is not authorized to access this workspace.",
                    principal.application_id
                ),
            ));
        }
        let caller = world.caller(&principal, &ctx.workspace);
        Ok(Authed {
            principal,
            caller,
            notes,
        })
    }
}

/// A stable numeric SCIM id derived from a name (FNV-1a).
pub(crate) fn scim_id(name: &str) -> String {
    let h = name.bytes().fold(1469598103934665603u64, |h, b| {
        (h ^ b as u64).wrapping_mul(1099511628211)
    });
    (h % 10_000_000_000_000_000).to_string()
}

/// SCIM `Me`, with the principal's groups as SCIM lists them (`display`, `value` = group id,
/// `$ref`, `type`): RFC 7643 section 4.1.2 and the Databricks SCIM API (`/preview/scim/v2/Me`).
/// The workspace id is in the `X-Databricks-Org-Id` response header, where databricks-sdk-go's
/// `CurrentWorkspaceID` (`workspace_functions.go`) reads it.
/// The caller's own valid tokens (databricks-sdk-go `TokensAPI.List`: "all the valid tokens for a
/// user-workspace pair"): `token_infos` with times in epoch milliseconds, `expiry_time` -1 for a
/// token that never expires; expired tokens are not listed. Never the token values.
async fn list_tokens(auth: Authed) -> Response<Body> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let p = &auth.principal;
    let infos: Vec<Value> = p
        .tokens
        .iter()
        .enumerate()
        .map(|(i, t)| (i, p.token_expiry_time.get(t).copied().unwrap_or(-1)))
        .filter(|(_, expiry)| *expiry == -1 || *expiry > now_ms)
        .map(|(i, expiry)| {
            json!({
                "token_id": format!("{:064x}", i + 1),
                "creation_time": 1_700_000_000_000_i64,
                "expiry_time": expiry,
                "comment": format!("token {}", i + 1),
            })
        })
        .collect();
    respond(StatusCode::OK, json!({"token_infos": infos}))
}

async fn me(auth: Authed) -> Response<Body> {
    let p = &auth.principal;
    let service_principal = !p.application_id.contains('@');
    let mut groups = vec![
        json!({"display": "users", "type": "direct", "value": scim_id("users"), "$ref": format!("Groups/{}", scim_id("users"))}),
    ];
    // The workspace lists direct memberships: a group held through another (nested) is not
    // there, though its grants apply (docs.databricks.com admin/users-groups/groups: nested
    // groups; RFC 7643 §4.1.2 `type` "direct"/"indirect").
    let direct = auth
        .caller
        .groups
        .iter()
        .filter(|g| !p.nested_groups.iter().any(|n| n.eq_ignore_ascii_case(g)));
    for g in direct {
        let id = scim_id(g);
        groups.push(
            json!({"display": g, "type": "direct", "value": id, "$ref": format!("Groups/{id}")}),
        );
    }
    let mut body = json!({
        "id": scim_id(&p.application_id),
        "userName": p.application_id,
        "displayName": p.display_name,
        "active": true,
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:workspace:2.0:User"
        ],
        "groups": groups,
    });
    if !service_principal {
        body["emails"] = json!([{"type": "work", "value": p.application_id, "primary": true}]);
    }
    let mut resp = respond(StatusCode::OK, body);
    resp.headers_mut().insert(
        "x-databricks-org-id",
        axum::http::HeaderValue::from(auth.caller.workspace_id),
    );
    resp
}
