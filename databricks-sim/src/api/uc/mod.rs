//! Unity Catalog REST 2.1: metastore, catalogs, schemas, tables, grants, bindings and tags.

mod grants;
mod schemas;
mod tables;
mod tags;

use std::collections::{BTreeMap, HashMap};

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{Response, StatusCode};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Authed, JsonBody, error, respond, uc_error};
use crate::catalog::{Caller, Catalog, Metastore, UcError};
use crate::server::Ctx;
use crate::state::{World, now_millis};

type Q = Query<HashMap<String, String>>;
type Resp = Response<Body>;

pub(super) fn router() -> Router {
    Router::new()
        .route("/current-metastore-assignment", get(assignment))
        .route("/metastore_summary", get(summary))
        .route("/catalogs", get(list_catalogs).post(create_catalog))
        .route(
            "/catalogs/{name}",
            get(get_catalog)
                .patch(update_catalog)
                .delete(delete_catalog),
        )
        .merge(schemas::router())
        .merge(tables::router())
        .merge(grants::router())
        .merge(tags::router())
}

/// Locks the world after checking the workspace has a metastore.
fn world<'a>(ctx: &'a Ctx) -> Result<std::sync::MutexGuard<'a, World>, Resp> {
    let w = ctx.world();
    if !w.assigned(&ctx.workspace) {
        return Err(error(
            StatusCode::NOT_FOUND,
            "METASTORE_DOES_NOT_EXIST",
            "No metastore assigned for the current workspace.",
        ));
    }
    Ok(w)
}

macro_rules! tryr {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(r) => return r,
        }
    };
}
use tryr;

async fn assignment(Extension(ctx): Extension<Ctx>, auth: Authed) -> Resp {
    let w = tryr!(world(&ctx));
    respond(
        StatusCode::OK,
        json!({"metastore_id": w.workspaces.get(&ctx.workspace).and_then(|ws| ws.other_metastore_id.clone()).unwrap_or_else(|| w.metastore.id.clone()), "workspace_id": auth.caller.workspace_id, "default_catalog_name": "main"}),
    )
}

async fn summary(Extension(ctx): Extension<Ctx>, _auth: Authed) -> Resp {
    let w = tryr!(world(&ctx));
    let m = &w.metastore;
    let id = w
        .workspaces
        .get(&ctx.workspace)
        .and_then(|ws| ws.other_metastore_id.clone())
        .unwrap_or_else(|| m.id.clone());
    let mut v = json!({
        "metastore_id": id,
        "name": m.name,
        "owner": m.owner,
        "cloud": m.cloud,
        "region": m.region,
        "global_metastore_id": format!("{}:{}:{}", m.cloud, m.region, id),
        "delta_sharing_scope": "INTERNAL",
        "privilege_model_version": "1.0",
    });
    // Absent, not null, on a metastore without root storage (databricks/cli#5695).
    if let Some(root) = &m.storage_root {
        v["storage_root"] = json!(root);
    }
    respond(StatusCode::OK, v)
}

fn catalog_info(m: &Metastore, c: &Catalog, browse_only: bool) -> Value {
    let mut v = json!({
        "name": c.name,
        "full_name": c.name,
        "owner": c.owner,
        "properties": c.properties,
        "isolation_mode": c.isolation_mode,
        "catalog_type": "MANAGED_CATALOG",
        "securable_type": "CATALOG",
        "securable_kind": "CATALOG_STANDARD",
        "metastore_id": m.id,
        "created_at": c.created_at,
        "created_by": c.created_by,
        "updated_at": c.created_at,
        "updated_by": c.created_by,
        "browse_only": browse_only,
    });
    if let Some(comment) = &c.comment {
        v["comment"] = json!(comment);
    }
    // storage_root is the managed location given at creation; storage_location is where the
    // data goes, under the metastore root otherwise (databricks-sdk-go catalog CatalogInfo).
    if let Some(root) = &c.storage_root {
        v["storage_root"] = json!(root);
        v["storage_location"] = json!(format!("{root}/__unitystorage/catalogs/{}", c.name));
    } else if let Some(root) = &m.storage_root {
        v["storage_location"] = json!(format!("{root}/__unitystorage/catalogs/{}", c.name));
    }
    v
}

/// Pages over `items` by offset; a page may be empty after filtering, with a token still.
pub(super) fn page<T>(
    items: Vec<T>,
    q: &HashMap<String, String>,
    keep: impl Fn(&T) -> bool,
) -> Result<(Vec<T>, Option<String>), Resp> {
    let start: usize = match q.get("page_token").filter(|t| !t.is_empty()) {
        Some(t) => match t.parse() {
            Ok(n) => n,
            Err(_) => return Err(super::bad_request("Invalid page_token.")),
        },
        None => 0,
    };
    let max: Option<usize> = match q.get("max_results") {
        Some(m) => match m.parse::<i64>() {
            Ok(n) if n < 0 => return Err(super::bad_request("max_results must be non-negative.")),
            Ok(0) => Some(50),
            Ok(n) => Some(n as usize),
            Err(_) => return Err(super::bad_request("Invalid max_results.")),
        },
        None => None,
    };
    let total = items.len();
    let end = max.map_or(total, |m| (start + m).min(total));
    let next = (end < total).then(|| end.to_string());
    let page = items
        .into_iter()
        .skip(start)
        .take(end.saturating_sub(start))
        .filter(|i| keep(i))
        .collect();
    Ok((page, next))
}

/// Lists the catalogs the caller may see from this workspace; BROWSE-only ones only with
/// `include_browse=true` and ones not bound here only with `include_unbound=true`
/// (docs.databricks.com api/workspace/catalogs/list; open-metadata/OpenMetadata#33505).
async fn list_catalogs(Extension(ctx): Extension<Ctx>, auth: Authed, Query(q): Q) -> Resp {
    let w = tryr!(world(&ctx));
    let m = &w.metastore;
    let flag = |k: &str| q.get(k).is_some_and(|v| v == "true");
    let (include_unbound, include_browse) = (flag("include_unbound"), flag("include_browse"));
    let caller = &auth.caller;
    let all: Vec<&Catalog> = m.catalogs.values().collect();
    let (items, next) = tryr!(page(all, &q, |c| {
        (include_unbound || c.accessible_from(caller.workspace_id))
            && m.can_browse(caller, c)
            && (include_browse || !m.browse_only(caller, c))
    }));
    let infos: Vec<Value> = items
        .iter()
        .map(|c| catalog_info(m, c, m.browse_only(caller, c)))
        .collect();
    let mut body = json!({ "catalogs": infos });
    if let Some(n) = next {
        body["next_page_token"] = json!(n);
    }
    respond(StatusCode::OK, body)
}

/// A catalog the caller may see from this workspace: an unbound ISOLATED one is refused
/// (403, "not accessible in current workspace"), one without USE CATALOG/BROWSE/ownership too
/// (403 PERMISSION_DENIED "User does not have USE CATALOG on Catalog 'x'.", dbdemos#74).
pub(super) fn visible<'a>(
    m: &'a Metastore,
    caller: &Caller,
    name: &str,
) -> Result<&'a Catalog, Resp> {
    let c = m.catalog(caller, name).map_err(uc_error)?;
    if !m.can_browse(caller, c) {
        return Err(uc_error(UcError::denied(format!(
            "User does not have USE CATALOG on Catalog '{name}'."
        ))));
    }
    Ok(c)
}

async fn get_catalog(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
) -> Resp {
    let w = tryr!(world(&ctx));
    let m = &w.metastore;
    let c = tryr!(visible(m, &auth.caller, &name.to_lowercase()));
    respond(
        StatusCode::OK,
        catalog_info(m, c, m.browse_only(&auth.caller, c)),
    )
}

#[derive(Deserialize)]
struct CreateCatalog {
    name: String,
    comment: Option<String>,
    storage_root: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

async fn create_catalog(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    JsonBody(req): JsonBody<CreateCatalog>,
) -> Resp {
    let mut w = tryr!(world(&ctx));
    let name = req.name.to_lowercase();
    if let Err(e) = w.metastore.create_catalog(
        &auth.caller,
        &name,
        req.comment,
        req.storage_root,
        false,
        now_millis(),
    ) {
        return uc_error(e);
    }
    let m = &mut w.metastore;
    m.catalogs.get_mut(&name).expect("created").properties = req.properties;
    respond(StatusCode::OK, catalog_info(m, &m.catalogs[&name], false))
}

#[derive(Deserialize)]
struct UpdateCatalog {
    owner: Option<String>,
    isolation_mode: Option<String>,
    comment: Option<String>,
    properties: Option<BTreeMap<String, String>>,
}

async fn update_catalog(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<UpdateCatalog>,
) -> Resp {
    let mut w = tryr!(world(&ctx));
    let name = name.to_lowercase();
    let known = w.principal_names();
    let caller = &auth.caller;
    let m = &mut w.metastore;
    let result = (|| {
        if let Some(owner) = &req.owner {
            if owner != crate::catalog::ACCOUNT_USERS && !known.contains(&owner.to_lowercase()) {
                return Err(UcError::no_principal(owner));
            }
            m.set_catalog_owner(caller, &name, owner)?;
        }
        if let Some(mode) = &req.isolation_mode {
            m.set_isolation_mode(caller, &name, mode)?;
        }
        if let Some(comment) = &req.comment {
            m.set_catalog_comment(caller, &name, Some(comment.clone()))?;
        }
        if let Some(props) = &req.properties {
            m.set_catalog_comment(
                caller,
                &name,
                m.catalogs.get(&name).and_then(|c| c.comment.clone()),
            )?;
            m.catalogs.get_mut(&name).expect("checked").properties = props.clone();
        }
        m.catalog(caller, &name).map(|_| ())
    })();
    if let Err(e) = result {
        return uc_error(e);
    }
    respond(StatusCode::OK, catalog_info(m, &m.catalogs[&name], false))
}

async fn delete_catalog(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
    Query(q): Q,
) -> Resp {
    let mut w = tryr!(world(&ctx));
    let force = q.get("force").is_some_and(|f| f == "true");
    match w
        .metastore
        .drop_catalog(&auth.caller, &name.to_lowercase(), false, force)
    {
        Ok(()) => respond(StatusCode::OK, json!({})),
        Err(e) => uc_error(e),
    }
}
