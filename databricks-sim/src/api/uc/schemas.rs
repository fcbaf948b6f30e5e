//! Schemas (`/schemas`): list, create, get, owner and comment changes, delete.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Q, Resp, page, tryr, visible, world};
use crate::api::{Authed, JsonBody, respond, uc_error};
use crate::catalog::{Metastore, UcError};
use crate::server::Ctx;

pub(super) fn router() -> Router {
    Router::new()
        .route("/schemas", get(list_schemas).post(create_schema))
        .route(
            "/schemas/{full}",
            get(get_schema).patch(update_schema).delete(delete_schema),
        )
}

pub(super) fn schema_info(m: &Metastore, catalog: &str, s: &crate::catalog::Schema) -> Value {
    let mut v = json!({
        "name": s.name,
        "catalog_name": catalog,
        "full_name": format!("{catalog}.{}", s.name),
        "owner": s.owner,
        "metastore_id": m.id,
        "catalog_type": "MANAGED_CATALOG",
        "securable_type": "SCHEMA",
        "properties": {},
    });
    if let Some(c) = &s.comment {
        v["comment"] = json!(c);
    }
    v
}

async fn list_schemas(Extension(ctx): Extension<Ctx>, auth: Authed, Query(q): Q) -> Resp {
    let w = tryr!(world(&ctx));
    let m = &w.metastore;
    let Some(cat) = q.get("catalog_name").map(|c| c.to_lowercase()) else {
        return crate::api::bad_request("catalog_name is required.");
    };
    let c = tryr!(visible(m, &auth.caller, &cat));
    let all: Vec<_> = c.schemas.values().collect();
    let (items, next) = tryr!(page(all, &q, |_| true));
    let mut body =
        json!({"schemas": items.iter().map(|s| schema_info(m, &cat, s)).collect::<Vec<_>>()});
    if let Some(n) = next {
        body["next_page_token"] = json!(n);
    }
    respond(StatusCode::OK, body)
}

#[derive(Deserialize)]
struct CreateSchema {
    name: String,
    catalog_name: String,
    comment: Option<String>,
}

async fn create_schema(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    JsonBody(req): JsonBody<CreateSchema>,
) -> Resp {
    let mut w = tryr!(world(&ctx));
    let (cat, name) = (req.catalog_name.to_lowercase(), req.name.to_lowercase());
    if let Err(e) = w
        .metastore
        .create_schema(&auth.caller, &cat, &name, req.comment, false)
    {
        return uc_error(e);
    }
    let m = &w.metastore;
    respond(
        StatusCode::OK,
        schema_info(m, &cat, &m.catalogs[&cat].schemas[&name]),
    )
}

pub(super) fn split_schema(full: &str) -> Result<(String, String), Resp> {
    match full.to_lowercase().split_once('.') {
        Some((c, s)) if !s.contains('.') => Ok((c.into(), s.into())),
        _ => Err(crate::api::bad_request(&format!(
            "Invalid schema full name '{full}'."
        ))),
    }
}

async fn get_schema(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(full): Path<String>,
) -> Resp {
    let w = tryr!(world(&ctx));
    let (c, s) = tryr!(split_schema(&full));
    match w.metastore.schema(&auth.caller, &c, &s) {
        Ok(sch) => respond(StatusCode::OK, schema_info(&w.metastore, &c, sch)),
        Err(e) => uc_error(e),
    }
}

async fn delete_schema(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(full): Path<String>,
    Query(q): Q,
) -> Resp {
    let mut w = tryr!(world(&ctx));
    let (c, s) = tryr!(split_schema(&full));
    let force = q.get("force").is_some_and(|f| f == "true");
    match w.metastore.drop_schema(&auth.caller, &c, &s, false, force) {
        Ok(()) => respond(StatusCode::OK, json!({})),
        Err(e) => uc_error(e),
    }
}

#[derive(Deserialize)]
struct UpdateSchema {
    owner: Option<String>,
    comment: Option<String>,
}

/// `PATCH /schemas/{full} {owner?, comment?}`: owner changes by the schema's or catalog's
/// owner, a MANAGE holder or a metastore admin (docs.databricks.com
/// data-governance/unity-catalog/manage-privileges/ownership).
async fn update_schema(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(full): Path<String>,
    JsonBody(req): JsonBody<UpdateSchema>,
) -> Resp {
    let mut w = tryr!(world(&ctx));
    let (c, s) = tryr!(split_schema(&full));
    let known = w.principal_names();
    let caller = &auth.caller;
    let m = &mut w.metastore;
    if let Some(owner) = &req.owner {
        if !known.contains(&owner.to_lowercase()) {
            return uc_error(UcError::no_principal(owner));
        }
        if let Err(e) = m.set_schema_owner(caller, &c, &s, owner) {
            return uc_error(e);
        }
    }
    if let Some(comment) = &req.comment
        && let Err(e) = m.set_schema_comment(caller, &c, &s, comment)
    {
        return uc_error(e);
    }
    match m.schema(caller, &c, &s) {
        Ok(sch) => respond(StatusCode::OK, schema_info(m, &c, sch)),
        Err(e) => uc_error(e),
    }
}
