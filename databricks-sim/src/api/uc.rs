//! Unity Catalog REST 2.1: metastore, catalogs, schemas, grants, bindings and tags.

use std::collections::{BTreeMap, HashMap};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{Response, StatusCode};
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Authed, error, parse_body, respond, uc_error};
use crate::catalog::{Caller, Catalog, Metastore, UcError};
use crate::server::Ctx;
use crate::state::{World, now_millis};

type Q = Query<HashMap<String, String>>;
type Resp = Response<Body>;

pub(super) fn router() -> Router<Ctx> {
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
        .route("/schemas", get(list_schemas).post(create_schema))
        .route("/schemas/{full}", get(get_schema).delete(delete_schema))
        .route(
            "/permissions/{kind}/{name}",
            get(get_permissions).patch(update_permissions),
        )
        .route("/effective-permissions/{kind}/{name}", get(effective))
        .route(
            "/bindings/catalog/{name}",
            get(get_bindings).patch(update_bindings),
        )
        .route(
            "/bindings/CATALOG/{name}",
            get(get_bindings).patch(update_bindings),
        )
        .route(
            "/workspace-bindings/catalogs/{name}",
            get(get_workspace_bindings),
        )
        .route("/entity-tag-assignments/{kind}/{name}/tags", get(list_tags))
        .route(
            "/entity-tag-assignments/{kind}/{name}/tags/{key}",
            get(get_tag),
        )
}

/// Locks the world after checking the workspace has a metastore.
fn world<'a>(ctx: &'a Ctx) -> Result<std::sync::MutexGuard<'a, World>, Resp> {
    let w = ctx.shared.world.lock().expect("world lock");
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

async fn assignment(State(ctx): State<Ctx>, auth: Authed) -> Resp {
    let w = tryr!(world(&ctx));
    respond(
        StatusCode::OK,
        json!({"metastore_id": w.metastore.id, "workspace_id": auth.caller.workspace_id, "default_catalog_name": "main"}),
    )
}

async fn summary(State(ctx): State<Ctx>, _auth: Authed) -> Resp {
    let w = tryr!(world(&ctx));
    let m = &w.metastore;
    respond(
        StatusCode::OK,
        json!({
            "metastore_id": m.id,
            "name": m.name,
            "owner": m.owner,
            "cloud": m.cloud,
            "region": m.region,
            "global_metastore_id": format!("{}:{}:{}", m.cloud, m.region, m.id),
            "delta_sharing_scope": "INTERNAL",
            "privilege_model_version": "1.0",
        }),
    )
}

fn catalog_info(m: &Metastore, c: &Catalog) -> Value {
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
        "browse_only": false,
    });
    if let Some(comment) = &c.comment {
        v["comment"] = json!(comment);
    }
    if let Some(root) = &c.storage_root {
        v["storage_root"] = json!(root);
    }
    v
}

/// Pages over `items` by offset; a page may be empty after filtering, with a token still.
fn page<T>(
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

async fn list_catalogs(State(ctx): State<Ctx>, auth: Authed, Query(q): Q) -> Resp {
    let w = tryr!(world(&ctx));
    let m = &w.metastore;
    let include_unbound = q.get("include_unbound").is_some_and(|v| v == "true");
    let caller = &auth.caller;
    let all: Vec<&Catalog> = m.catalogs.values().collect();
    let (items, next) = tryr!(page(all, &q, |c| {
        (include_unbound || c.accessible_from(caller.workspace_id)) && m.can_browse(caller, c)
    }));
    let mut body =
        json!({"catalogs": items.iter().map(|c| catalog_info(m, c)).collect::<Vec<_>>()});
    if let Some(n) = next {
        body["next_page_token"] = json!(n);
    }
    respond(StatusCode::OK, body)
}

fn visible<'a>(m: &'a Metastore, caller: &Caller, name: &str) -> Result<&'a Catalog, Resp> {
    let c = m.catalog(caller, name).map_err(uc_error)?;
    if !m.can_browse(caller, c) {
        return Err(uc_error(UcError::denied(format!(
            "User does not have USE CATALOG on Catalog '{name}'."
        ))));
    }
    Ok(c)
}

async fn get_catalog(State(ctx): State<Ctx>, auth: Authed, Path(name): Path<String>) -> Resp {
    let w = tryr!(world(&ctx));
    let c = tryr!(visible(&w.metastore, &auth.caller, &name.to_lowercase()));
    respond(StatusCode::OK, catalog_info(&w.metastore, c))
}

#[derive(Deserialize)]
struct CreateCatalog {
    name: String,
    comment: Option<String>,
    storage_root: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, String>,
}

async fn create_catalog(State(ctx): State<Ctx>, auth: Authed, body: Bytes) -> Resp {
    let req: CreateCatalog = tryr!(parse_body(&body));
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
    respond(StatusCode::OK, catalog_info(m, &m.catalogs[&name]))
}

#[derive(Deserialize)]
struct UpdateCatalog {
    owner: Option<String>,
    isolation_mode: Option<String>,
    comment: Option<String>,
    properties: Option<BTreeMap<String, String>>,
}

async fn update_catalog(
    State(ctx): State<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
    body: Bytes,
) -> Resp {
    let req: UpdateCatalog = tryr!(parse_body(&body));
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
    respond(StatusCode::OK, catalog_info(m, &m.catalogs[&name]))
}

async fn delete_catalog(
    State(ctx): State<Ctx>,
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

fn schema_info(m: &Metastore, catalog: &str, s: &crate::catalog::Schema) -> Value {
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

async fn list_schemas(State(ctx): State<Ctx>, auth: Authed, Query(q): Q) -> Resp {
    let w = tryr!(world(&ctx));
    let m = &w.metastore;
    let Some(cat) = q.get("catalog_name").map(|c| c.to_lowercase()) else {
        return super::bad_request("catalog_name is required.");
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

async fn create_schema(State(ctx): State<Ctx>, auth: Authed, body: Bytes) -> Resp {
    let req: CreateSchema = tryr!(parse_body(&body));
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

fn split_schema(full: &str) -> Result<(String, String), Resp> {
    match full.to_lowercase().split_once('.') {
        Some((c, s)) if !s.contains('.') => Ok((c.into(), s.into())),
        _ => Err(super::bad_request(&format!(
            "Invalid schema full name '{full}'."
        ))),
    }
}

async fn get_schema(State(ctx): State<Ctx>, auth: Authed, Path(full): Path<String>) -> Resp {
    let w = tryr!(world(&ctx));
    let (c, s) = tryr!(split_schema(&full));
    match w.metastore.schema(&auth.caller, &c, &s) {
        Ok(sch) => respond(StatusCode::OK, schema_info(&w.metastore, &c, sch)),
        Err(e) => uc_error(e),
    }
}

async fn delete_schema(
    State(ctx): State<Ctx>,
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

/// Securable type from the path, in either case (`CATALOG` or `catalog`).
fn kind(k: &str) -> Result<String, Resp> {
    let k = k.to_lowercase();
    match k.as_str() {
        "metastore" | "catalog" | "schema" | "table" | "view" | "function" => Ok(k),
        _ => Err(super::bad_request(&format!(
            "Invalid securable type '{k}'."
        ))),
    }
}

fn assignments(grants: &crate::catalog::Grants, principal: Option<&String>) -> Value {
    json!({
        "privilege_assignments": grants
            .iter()
            .filter(|(p, privs)| !privs.is_empty() && principal.is_none_or(|x| x.eq_ignore_ascii_case(p)))
            .map(|(p, privs)| json!({"principal": p, "privileges": privs}))
            .collect::<Vec<_>>()
    })
}

async fn get_permissions(
    State(ctx): State<Ctx>,
    auth: Authed,
    Path((k, name)): Path<(String, String)>,
    Query(q): Q,
) -> Resp {
    let k = tryr!(kind(&k));
    let w = tryr!(world(&ctx));
    match w
        .metastore
        .grants_of(&auth.caller, &k, &name.to_lowercase())
    {
        Ok(g) => respond(StatusCode::OK, assignments(g, q.get("principal"))),
        Err(e) => uc_error(e),
    }
}

#[derive(Deserialize)]
struct Changes {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    principal: String,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

async fn update_permissions(
    State(ctx): State<Ctx>,
    auth: Authed,
    Path((k, name)): Path<(String, String)>,
    body: Bytes,
) -> Resp {
    let k = tryr!(kind(&k));
    let req: Changes = tryr!(parse_body(&body));
    let mut w = tryr!(world(&ctx));
    let known = w.principal_names();
    let name = name.to_lowercase();
    for ch in &req.changes {
        if ch.principal != crate::catalog::ACCOUNT_USERS
            && !known.contains(&ch.principal.to_lowercase())
        {
            return uc_error(UcError::no_principal(&ch.principal));
        }
        let norm = |v: &Vec<String>| {
            v.iter()
                .map(|p| crate::catalog::normalize_privilege(p))
                .collect::<Vec<_>>()
        };
        if let Err(e) = w.metastore.update_grants(
            &auth.caller,
            &k,
            &name,
            &ch.principal,
            &norm(&ch.add),
            &norm(&ch.remove),
        ) {
            return uc_error(e);
        }
    }
    match w.metastore.grants_of(&auth.caller, &k, &name) {
        Ok(g) => respond(StatusCode::OK, assignments(g, None)),
        Err(e) => uc_error(e),
    }
}

async fn effective(
    State(ctx): State<Ctx>,
    auth: Authed,
    Path((k, name)): Path<(String, String)>,
    Query(q): Q,
) -> Resp {
    let k = tryr!(kind(&k));
    let w = tryr!(world(&ctx));
    let principal = q
        .get("principal")
        .cloned()
        .unwrap_or_else(|| auth.caller.principal.clone());
    let mut out = Vec::new();
    for who in [principal.clone(), crate::catalog::ACCOUNT_USERS.to_string()] {
        let privs = match w
            .metastore
            .effective(&auth.caller, &k, &name.to_lowercase(), &who)
        {
            Ok(p) => p,
            Err(e) => return uc_error(e),
        };
        if !privs.is_empty() {
            out.push(json!({
                "principal": who,
                "privileges": privs.iter().map(|(p, from)| match from {
                    Some((t, n)) => json!({"privilege": p, "inherited_from_type": t, "inherited_from_name": n}),
                    None => json!({"privilege": p}),
                }).collect::<Vec<_>>(),
            }));
        }
        if who == crate::catalog::ACCOUNT_USERS {
            break;
        }
    }
    respond(StatusCode::OK, json!({"privilege_assignments": out}))
}

/// Bindings are readable without the workspace being bound (that is how one finds out).
fn bound_catalog<'a>(w: &'a World, caller: &Caller, name: &str) -> Result<&'a Catalog, Resp> {
    let m = &w.metastore;
    let c = m.catalogs.get(name).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "CATALOG_DOES_NOT_EXIST",
            &format!("Catalog '{name}' does not exist."),
        )
    })?;
    if !m.can_browse(caller, c) {
        return Err(uc_error(UcError::denied(format!(
            "User does not have USE CATALOG on Catalog '{name}'."
        ))));
    }
    Ok(c)
}

fn bindings_body(c: &Catalog) -> Value {
    json!({"bindings": c.bindings.iter().map(|(id, t)| json!({"workspace_id": id, "binding_type": t})).collect::<Vec<_>>()})
}

async fn get_bindings(State(ctx): State<Ctx>, auth: Authed, Path(name): Path<String>) -> Resp {
    let w = tryr!(world(&ctx));
    let c = tryr!(bound_catalog(&w, &auth.caller, &name.to_lowercase()));
    respond(StatusCode::OK, bindings_body(c))
}

#[derive(Deserialize)]
struct Binding {
    workspace_id: i64,
    binding_type: Option<String>,
}

#[derive(Deserialize)]
struct BindingChanges {
    #[serde(default)]
    add: Vec<Binding>,
    #[serde(default)]
    remove: Vec<Binding>,
}

async fn update_bindings(
    State(ctx): State<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
    body: Bytes,
) -> Resp {
    let req: BindingChanges = tryr!(parse_body(&body));
    let mut w = tryr!(world(&ctx));
    let name = name.to_lowercase();
    tryr!(bound_catalog(&w, &auth.caller, &name));
    let add: Vec<(i64, String)> = req
        .add
        .iter()
        .map(|b| {
            (
                b.workspace_id,
                b.binding_type
                    .clone()
                    .unwrap_or_else(|| "BINDING_TYPE_READ_WRITE".into()),
            )
        })
        .collect();
    let remove: Vec<i64> = req.remove.iter().map(|b| b.workspace_id).collect();
    // Owners may rebind even from a workspace the catalog is not bound to.
    let mut caller = auth.caller.clone();
    if let Some(c) = w.metastore.catalogs.get(&name)
        && c.owner.eq_ignore_ascii_case(&caller.principal)
    {
        caller.metastore_admin = true;
    }
    let m = &mut w.metastore;
    let was_open = m.catalogs[&name].isolation_mode != "ISOLATED";
    let result = if caller.metastore_admin {
        let c = m.catalogs.get_mut(&name).expect("exists");
        for (id, t) in &add {
            c.bindings.insert(*id, t.clone());
        }
        for id in &remove {
            c.bindings.remove(id);
        }
        Ok(())
    } else {
        m.update_bindings(&caller, &name, &add, &remove)
    };
    let _ = was_open;
    match result {
        Ok(()) => respond(StatusCode::OK, bindings_body(&m.catalogs[&name])),
        Err(e) => uc_error(e),
    }
}

async fn get_workspace_bindings(
    State(ctx): State<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
) -> Resp {
    let w = tryr!(world(&ctx));
    let c = tryr!(bound_catalog(&w, &auth.caller, &name.to_lowercase()));
    respond(
        StatusCode::OK,
        json!({"workspaces": c.bindings.keys().collect::<Vec<_>>()}),
    )
}

fn tag_catalog<'a>(
    w: &'a World,
    caller: &Caller,
    k: &str,
    name: &str,
) -> Result<&'a Catalog, Resp> {
    if !matches!(k, "catalogs" | "catalog") {
        return Err(super::bad_request(&format!(
            "Unsupported entity type '{k}'."
        )));
    }
    visible(&w.metastore, caller, &name.to_lowercase())
}

async fn list_tags(
    State(ctx): State<Ctx>,
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
    State(ctx): State<Ctx>,
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
