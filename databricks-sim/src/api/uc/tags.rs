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

fn tag_catalog<'a>(
    w: &'a World,
    caller: &Caller,
    k: &str,
    name: &str,
) -> Result<&'a Catalog, Resp> {
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
    let c = tryr!(tag_catalog(&w, &auth.caller, &k, &name));
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
    let c = tryr!(tag_catalog(&w, &auth.caller, &k, &name));
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
