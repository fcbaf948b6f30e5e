//! Grants (`/permissions`), effective permissions and workspace bindings.

use std::collections::BTreeSet;

use axum::Extension;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Q, Resp, page, tryr, world};
use crate::api::{Authed, JsonBody, bad_request, error, parse_body, respond, uc_error};
use crate::catalog::{Caller, Catalog, Grants, UcError, normalize_privilege};
use crate::server::Ctx;
use crate::state::World;

pub(super) fn router() -> Router {
    Router::new()
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
            get(get_workspace_bindings).patch(update_workspace_bindings),
        )
}

/// Securable type from the path, in either case (`CATALOG` or `catalog`). A view's grants are a
/// table's: `view` is no securable type (databricks-sdk-go `service/catalog/model.go`
/// `SecurableType`: CATALOG, FUNCTION, METASTORE, SCHEMA, TABLE, VOLUME, … — no VIEW).
fn kind(k: &str) -> Result<String, Resp> {
    let k = k.to_lowercase();
    match k.as_str() {
        "metastore" | "catalog" | "schema" | "table" | "function" => Ok(k),
        _ => Err(bad_request(&format!("Invalid securable type '{k}'."))),
    }
}

/// Grants pages hold whole assignments, so `max_results` between 1 and 149 is an invalid
/// parameter (databricks-sdk-go `GetGrantRequest` / `GetEffectiveRequest`: "lesser than 150 but
/// greater than 0: invalid parameter error"); 0 is the server's page length.
fn check_grants_page(q: &std::collections::HashMap<String, String>) -> Result<(), Resp> {
    match q.get("max_results").and_then(|m| m.parse::<i64>().ok()) {
        Some(n) if (1..150).contains(&n) => Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            "max_results must be 0 or at least 150 for grants.",
        )),
        _ => Ok(()),
    }
}

/// Adds `next_page_token` when there is one.
fn with_token(mut body: Value, next: Option<String>) -> Value {
    if let Some(n) = next {
        body["next_page_token"] = json!(n);
    }
    body
}

/// Direct grants, one assignment per grantee; paged with `max_results`/`page_token`
/// (databricks-sdk-go catalog GetGrantRequest; the SDK docs announce unpaginated calls will
/// be deprecated).
/// A deleted principal's grants are listed with an empty `principal` and its `principal_id`
/// ("For deleted principals, `principal` is empty while `principal_id` is populated",
/// databricks-sdk-go `service/catalog/model.go` `PrivilegeAssignment`).
fn assignments(w: &World, grants: &Grants, q: &std::collections::HashMap<String, String>) -> Resp {
    let principal = q.get("principal");
    let all: Vec<(&String, &BTreeSet<String>)> = grants
        .iter()
        .filter(|(p, privs)| {
            !privs.is_empty() && principal.is_none_or(|x| x.eq_ignore_ascii_case(p))
        })
        .collect();
    let (items, next) = tryr!(page(all, q, |_| true));
    let list: Vec<Value> = items
        .iter()
        .map(|(p, privs)| {
            match w
                .deleted_principals
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(p))
                .map(|(_, id)| id)
            {
                Some(id) => json!({"principal": "", "principal_id": id, "privileges": privs}),
                None => json!({"principal": p, "privileges": privs}),
            }
        })
        .collect();
    respond(
        StatusCode::OK,
        with_token(json!({ "privilege_assignments": list }), next),
    )
}

async fn get_permissions(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path((k, name)): Path<(String, String)>,
    Query(q): Q,
) -> Resp {
    let k = tryr!(kind(&k));
    tryr!(check_grants_page(&q));
    let w = tryr!(world(&ctx));
    match w
        .metastore
        .grants_of(&auth.caller, &k, &name.to_lowercase())
    {
        Ok(g) => assignments(&w, g, &q),
        Err(e) => uc_error(e),
    }
}

#[derive(Deserialize)]
struct Changes {
    #[serde(default)]
    changes: Vec<Change>,
}

/// "Only one of principal or principal_id should be specified, never both at the same time"
/// (databricks-sdk-go `PermissionsChange`).
#[derive(Deserialize)]
struct Change {
    #[serde(default)]
    principal: Option<String>,
    #[serde(default)]
    principal_id: Option<Value>,
    #[serde(default)]
    add: Vec<String>,
    #[serde(default)]
    remove: Vec<String>,
}

/// `PATCH /permissions/{type}/{name} {changes}`: only an owner, a MANAGE holder or a metastore
/// admin may change grants (docs.databricks.com manage-privileges: "who can manage
/// privileges"); every change is checked before any is applied.
async fn update_permissions(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path((k, name)): Path<(String, String)>,
    body: Bytes,
) -> Resp {
    let k = tryr!(kind(&k));
    let req: Changes = tryr!(parse_body(&body));
    let mut w = tryr!(world(&ctx));
    let known = w.principal_names();
    let name = name.to_lowercase();
    let norm = |v: &[String]| v.iter().map(|p| normalize_privilege(p)).collect::<Vec<_>>();
    let mut grantees = Vec::new();
    for ch in &req.changes {
        let grantee = match (&ch.principal, &ch.principal_id) {
            (Some(p), None) if !p.is_empty() => {
                if !known.contains(&p.to_lowercase()) {
                    return uc_error(UcError::no_principal(p));
                }
                p.clone()
            }
            (None, Some(id)) => {
                let id = match id {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let deleted = w.deleted_principals.iter().find(|(_, d)| **d == id);
                match deleted {
                    Some((name, _)) => name.clone(),
                    None => return uc_error(UcError::no_principal(&id)),
                }
            }
            _ => {
                return bad_request("Exactly one of principal and principal_id must be specified.");
            }
        };
        grantees.push(grantee);
    }
    // Validate everything on a copy first so a refused change leaves nothing half-applied.
    let mut trial = w.metastore.clone();
    for (ch, grantee) in req.changes.iter().zip(&grantees) {
        if let Err(e) = trial.update_grants(
            &auth.caller,
            &k,
            &name,
            grantee,
            &norm(&ch.add),
            &norm(&ch.remove),
        ) {
            return uc_error(e);
        }
    }
    w.metastore = trial;
    match w.metastore.grants_of(&auth.caller, &k, &name) {
        Ok(g) => assignments(&w, g, &Default::default()),
        Err(e) => uc_error(e),
    }
}

/// Everyone holding a direct grant on the securable or one of its parents.
fn grantees(w: &World, caller: &Caller, k: &str, name: &str) -> Result<Vec<String>, UcError> {
    let mut who = BTreeSet::new();
    if k == "metastore" {
        who.extend(w.metastore.grants.keys().cloned());
    } else {
        let parts: Vec<&str> = name.split('.').collect();
        for i in 1..=parts.len() {
            let level = match i {
                1 => "catalog",
                2 => "schema",
                _ => k,
            };
            let g = w
                .metastore
                .grants_of(caller, level, &parts[..i].join("."))?;
            who.extend(g.keys().cloned());
        }
    }
    Ok(who.into_iter().collect())
}

/// `GET /effective-permissions/{type}/{name}[?principal=]`. With `principal`, only that
/// principal's own entry: assignments are keyed by grantee, so what a user holds through a
/// group appears under the group's entry, not the user's (docs.databricks.com
/// api/workspace/grants/geteffective: "If provided, only the effective permissions for the
/// specified principal (user or group) are returned"; `inherited_from_*` name securables).
async fn effective(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path((k, name)): Path<(String, String)>,
    Query(q): Q,
) -> Resp {
    let k = tryr!(kind(&k));
    tryr!(check_grants_page(&q));
    let name = name.to_lowercase();
    let w = tryr!(world(&ctx));
    let who = match q.get("principal") {
        Some(p) => vec![p.clone()],
        None => match grantees(&w, &auth.caller, &k, &name) {
            Ok(v) => v,
            Err(e) => return uc_error(e),
        },
    };
    let mut out = Vec::new();
    for p in who {
        let privs = match w.metastore.effective(&auth.caller, &k, &name, &p) {
            Ok(v) => v,
            Err(e) => return uc_error(e),
        };
        if privs.is_empty() {
            continue;
        }
        let list: Vec<Value> = privs
            .iter()
            .map(|(pr, from)| match from {
                Some((t, n)) => {
                    json!({"privilege": pr, "inherited_from_type": t, "inherited_from_name": n})
                }
                None => json!({"privilege": pr}),
            })
            .collect();
        out.push(json!({"principal": p, "privileges": list}));
    }
    let (items, next) = tryr!(page(out, &q, |_| true));
    respond(
        StatusCode::OK,
        with_token(json!({ "privilege_assignments": items }), next),
    )
}

/// A catalog whose bindings the caller may read or change: its owner (or a member of the
/// owning group) or a metastore admin, from any workspace (databricks-sdk-go catalog
/// WorkspaceBindingsAPI: "The caller must be a metastore admin or an owner of the catalog").
fn owned_catalog<'a>(w: &'a World, caller: &Caller, name: &str) -> Result<&'a Catalog, Resp> {
    let c = w.metastore.catalogs.get(name).ok_or_else(|| {
        error(
            StatusCode::NOT_FOUND,
            "CATALOG_DOES_NOT_EXIST",
            &format!("Catalog '{name}' does not exist."),
        )
    })?;
    if !(caller.metastore_admin || caller.is(&c.owner)) {
        return Err(uc_error(UcError::denied(format!(
            "User is not an owner of Catalog '{name}' nor a metastore admin: only they may \
             read or change its workspace bindings."
        ))));
    }
    Ok(c)
}

async fn get_bindings(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
    Query(q): Q,
) -> Resp {
    let w = tryr!(world(&ctx));
    let c = tryr!(owned_catalog(&w, &auth.caller, &name.to_lowercase()));
    let all: Vec<Value> = c
        .bindings
        .iter()
        .map(|(id, t)| json!({"workspace_id": id, "binding_type": t}))
        .collect();
    let (items, next) = tryr!(page(all, &q, |_| true));
    respond(
        StatusCode::OK,
        with_token(json!({ "bindings": items }), next),
    )
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

/// Applies binding changes for an owner or metastore admin; returns the new bindings.
fn change_bindings(
    ctx: &Ctx,
    auth: &Authed,
    name: &str,
    add: Vec<(i64, String)>,
    remove: Vec<i64>,
) -> Resp {
    let mut w = tryr!(world(ctx));
    let name = name.to_lowercase();
    tryr!(owned_catalog(&w, &auth.caller, &name));
    let c = w.metastore.catalogs.get_mut(&name).expect("checked");
    for (id, t) in add {
        c.bindings.insert(id, t);
    }
    for id in remove {
        c.bindings.remove(&id);
    }
    let list: Vec<Value> = c
        .bindings
        .iter()
        .map(|(id, t)| json!({"workspace_id": id, "binding_type": t}))
        .collect();
    respond(StatusCode::OK, json!({ "bindings": list }))
}

async fn update_bindings(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<BindingChanges>,
) -> Resp {
    let add = req
        .add
        .into_iter()
        .map(|b| {
            let t = b
                .binding_type
                .unwrap_or_else(|| "BINDING_TYPE_READ_WRITE".into());
            (b.workspace_id, t)
        })
        .collect();
    let remove = req.remove.iter().map(|b| b.workspace_id).collect();
    change_bindings(&ctx, &auth, &name, add, remove)
}

/// The deprecated form: `GET /workspace-bindings/catalogs/{name}` → `{workspaces: [ids]}`.
async fn get_workspace_bindings(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
) -> Resp {
    let w = tryr!(world(&ctx));
    let c = tryr!(owned_catalog(&w, &auth.caller, &name.to_lowercase()));
    respond(
        StatusCode::OK,
        json!({"workspaces": c.bindings.keys().collect::<Vec<_>>()}),
    )
}

#[derive(Deserialize)]
struct WorkspaceChanges {
    #[serde(default)]
    assign_workspaces: Vec<i64>,
    #[serde(default)]
    unassign_workspaces: Vec<i64>,
}

async fn update_workspace_bindings(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(name): Path<String>,
    JsonBody(req): JsonBody<WorkspaceChanges>,
) -> Resp {
    let add = req
        .assign_workspaces
        .into_iter()
        .map(|id| (id, "BINDING_TYPE_READ_WRITE".to_string()))
        .collect();
    let resp = change_bindings(&ctx, &auth, &name, add, req.unassign_workspaces);
    if resp.status() != StatusCode::OK {
        return resp;
    }
    let w = tryr!(world(&ctx));
    let ids: Vec<i64> = w.metastore.catalogs[&name.to_lowercase()]
        .bindings
        .keys()
        .copied()
        .collect();
    respond(StatusCode::OK, json!({ "workspaces": ids }))
}
