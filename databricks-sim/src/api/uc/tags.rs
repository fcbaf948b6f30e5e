//! Entity tag assignments on catalogs.

use axum::Extension;
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::json;

use super::{Resp, tryr, visible, world};
use crate::api::{Authed, error, respond};
use crate::catalog::{Caller, Catalog};
use crate::server::Ctx;
use crate::state::World;

pub(super) fn router() -> Router {
    Router::new()
        .route("/entity-tag-assignments/{kind}/{name}/tags", get(list_tags))
        .route(
            "/entity-tag-assignments/{kind}/{name}/tags/{key}",
            get(get_tag),
        )
}

/// Where the API is not served, 404 `ENDPOINT_NOT_FOUND` "No API found for …": the answer
/// Databricks gives to a path it does not route (databricks-sdk-go CHANGELOG, v0.90-era fix for
/// tag keys with `/`: "resolving to no endpoint (`404` / `ENDPOINT_NOT_FOUND`)"). The message
/// text is the simulator's.
fn tag_catalog<'a>(
    w: &'a World,
    ctx: &Ctx,
    caller: &Caller,
    k: &str,
    name: &str,
) -> Result<&'a Catalog, Resp> {
    if w.workspaces
        .get(&ctx.workspace)
        .is_some_and(|ws| !ws.entity_tags_api)
    {
        return Err(error(
            StatusCode::NOT_FOUND,
            "ENDPOINT_NOT_FOUND",
            &format!(
                "No API found for 'GET /unity-catalog/entity-tag-assignments/{k}/{name}/tags'"
            ),
        ));
    }
    if !matches!(k, "catalogs" | "catalog") {
        return Err(crate::api::bad_request(&format!(
            "Unsupported entity type '{k}'."
        )));
    }
    visible(&w.metastore, caller, &name.to_lowercase())
}

async fn list_tags(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path((k, name)): Path<(String, String)>,
) -> Resp {
    let w = tryr!(world(&ctx));
    let c = tryr!(tag_catalog(&w, &ctx, &auth.caller, &k, &name));
    respond(
        StatusCode::OK,
        json!({"tag_assignments": c.tags.iter().map(|(key, v)| json!({
            "entity_name": c.name, "entity_type": "catalogs", "tag_key": key, "tag_value": v,
        })).collect::<Vec<_>>()}),
    )
}

async fn get_tag(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path((k, name, key)): Path<(String, String, String)>,
) -> Resp {
    let w = tryr!(world(&ctx));
    let c = tryr!(tag_catalog(&w, &ctx, &auth.caller, &k, &name));
    // A missing tag: 404 RESOURCE_DOES_NOT_EXIST. Assumed (no public source gives the exact
    // answer); the operator reads any Databricks not-found code here as "tag absent".
    match c.tags.get(&key) {
        Some(v) => respond(
            StatusCode::OK,
            json!({"entity_name": c.name, "entity_type": "catalogs", "tag_key": key, "tag_value": v}),
        ),
        None => error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!(
                "Tag assignment with key '{key}' does not exist on catalogs '{}'.",
                c.name
            ),
        ),
    }
}
