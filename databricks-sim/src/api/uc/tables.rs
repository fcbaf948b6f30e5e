//! Tables and views (`/tables`): list, get and owner changes, so ownership can be read and
//! repaired without compute. A view is a table with `table_type: VIEW`, as in Unity Catalog.

use axum::Extension;
use axum::Router;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Q, Resp, page, tryr, world};
use crate::api::{Authed, JsonBody, bad_request, respond, uc_error};
use crate::catalog::{Metastore, Table, UcError};
use crate::server::Ctx;

pub(super) fn router() -> Router {
    Router::new()
        .route("/tables", get(list_tables))
        .route("/tables/{full}", get(get_table).patch(update_table))
}

fn table_info(m: &Metastore, c: &str, s: &str, t: &Table, view: bool) -> Value {
    let columns: Vec<Value> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, (n, ty))| json!({"name": n, "type_text": ty.to_lowercase(), "type_name": ty.split('(').next().unwrap_or(ty).to_uppercase(), "position": i, "nullable": true}))
        .collect();
    let mut v = json!({
        "name": t.name,
        "catalog_name": c,
        "schema_name": s,
        "full_name": format!("{c}.{s}.{}", t.name),
        "owner": t.owner,
        "metastore_id": m.id,
        "table_type": if view { "VIEW" } else { "MANAGED" },
        "securable_type": "TABLE",
        "columns": columns,
    });
    if view {
        v["view_definition"] = json!(t.view_definition);
    } else {
        v["data_source_format"] = json!("DELTA");
    }
    v
}

fn split_table(full: &str) -> Result<(String, String, String), Resp> {
    let parts: Vec<&str> = full.split('.').collect();
    match parts.as_slice() {
        [c, s, t] => Ok((c.to_lowercase(), s.to_lowercase(), t.to_lowercase())),
        _ => Err(bad_request(&format!("Invalid table full name '{full}'."))),
    }
}

/// `GET /tables?catalog_name=&schema_name=` (both required), paged like every UC list.
async fn list_tables(Extension(ctx): Extension<Ctx>, auth: Authed, Query(q): Q) -> Resp {
    let w = tryr!(world(&ctx));
    let m = &w.metastore;
    let (Some(c), Some(s)) = (q.get("catalog_name"), q.get("schema_name")) else {
        return bad_request("catalog_name and schema_name are required.");
    };
    let (c, s) = (c.to_lowercase(), s.to_lowercase());
    let sch = match m.schema(&auth.caller, &c, &s) {
        Ok(sch) => sch,
        Err(e) => return uc_error(e),
    };
    let all: Vec<(&Table, bool)> = sch
        .tables
        .values()
        .map(|t| (t, false))
        .chain(sch.views.values().map(|t| (t, true)))
        .collect();
    let (items, next) = tryr!(page(all, &q, |_| true));
    let infos: Vec<Value> = items
        .iter()
        .map(|(t, view)| table_info(m, &c, &s, t, *view))
        .collect();
    let mut body = json!({ "tables": infos });
    if let Some(n) = next {
        body["next_page_token"] = json!(n);
    }
    respond(StatusCode::OK, body)
}

fn lookup(m: &Metastore, auth: &Authed, c: &str, s: &str, t: &str) -> Result<Value, UcError> {
    let sch = m.schema(&auth.caller, c, s)?;
    let full = format!("{c}.{s}.{t}");
    match (sch.tables.get(t), sch.views.get(t)) {
        (Some(x), _) => Ok(table_info(m, c, s, x, false)),
        (_, Some(x)) => Ok(table_info(m, c, s, x, true)),
        _ => Err(UcError::no_table(&full)),
    }
}

async fn get_table(Extension(ctx): Extension<Ctx>, auth: Authed, Path(full): Path<String>) -> Resp {
    let w = tryr!(world(&ctx));
    let (c, s, t) = tryr!(split_table(&full));
    match lookup(&w.metastore, &auth, &c, &s, &t) {
        Ok(v) => respond(StatusCode::OK, v),
        Err(e) => uc_error(e),
    }
}

#[derive(Deserialize)]
struct UpdateTable {
    owner: Option<String>,
}

/// `PATCH /tables/{full} {owner}` (see [`Metastore::set_object_owner`] for who may).
async fn update_table(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(full): Path<String>,
    JsonBody(req): JsonBody<UpdateTable>,
) -> Resp {
    let mut w = tryr!(world(&ctx));
    let (c, s, t) = tryr!(split_table(&full));
    if let Some(owner) = &req.owner {
        if !w.principal_names().contains(&owner.to_lowercase()) {
            return uc_error(UcError::no_principal(owner));
        }
        if let Err(e) = w
            .metastore
            .set_object_owner(&auth.caller, None, &c, &s, &t, owner)
        {
            return uc_error(e);
        }
    }
    match lookup(&w.metastore, &auth, &c, &s, &t) {
        Ok(v) => respond(StatusCode::OK, v),
        Err(e) => uc_error(e),
    }
}
