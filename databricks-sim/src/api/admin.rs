//! Unauthenticated `/_sim/` endpoints for tests and demo scripts (see the crate docs).

use std::collections::HashMap;

use axum::Extension;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query};
use axum::http::{Response, StatusCode};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::{JsonBody, respond};
use crate::faults::FaultRule;
use crate::server::Ctx;
use crate::state::{Compute, World};

pub(super) fn router() -> Router {
    Router::new()
        .route("/_sim/state", get(state))
        .route("/_sim/requests", get(requests).delete(clear_requests))
        .route("/_sim/faults", post(add_fault).delete(clear_faults))
        .route("/_sim/warehouses/{id}/state", post(warehouse_state))
        .route("/_sim/clusters/{id}/state", post(cluster_state))
        .route("/_sim/requests/counts", get(request_counts))
}

/// Sets (or creates) a cluster in a state (e.g. `TERMINATED`, `RESIZING`).
pub(crate) fn set_cluster_state(world: &mut World, workspace: &str, id: &str, state: &str) {
    if let Some(ws) = world.workspaces.get_mut(workspace) {
        let c = ws.clusters.entry(id.into()).or_insert_with(|| Compute {
            name: id.into(),
            state: String::new(),
            start_polls_left: 0,
            spark_version: crate::scenario::CURRENT_RUNTIME.into(),
        });
        c.state = state.to_uppercase();
        c.start_polls_left = 0;
    }
}

/// Requests counted by `"<workspace> <METHOD> <path>"`.
pub(crate) fn count_requests(world: &World) -> std::collections::BTreeMap<String, u64> {
    let mut out = std::collections::BTreeMap::new();
    for r in &world.requests {
        *out.entry(format!("{} {} {}", r.workspace, r.method, r.path))
            .or_insert(0) += 1;
    }
    out
}

async fn request_counts(Extension(ctx): Extension<Ctx>) -> Response<Body> {
    let counts = count_requests(&ctx.world());
    respond(StatusCode::OK, json!(counts))
}

async fn cluster_state(
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<SetState>,
) -> Response<Body> {
    let mut world = ctx.world();
    set_cluster_state(&mut world, &ctx.workspace, &id, &req.state);
    respond(StatusCode::OK, json!({}))
}

/// Sets (or creates) a warehouse in a state.
pub(crate) fn set_warehouse_state(world: &mut World, workspace: &str, id: &str, state: &str) {
    if let Some(ws) = world.workspaces.get_mut(workspace) {
        let w = ws.warehouses.entry(id.into()).or_insert_with(|| Compute {
            name: id.into(),
            state: String::new(),
            start_polls_left: 0,
            spark_version: String::new(),
        });
        w.state = state.to_uppercase();
        w.start_polls_left = 0;
    }
}

async fn state(Extension(ctx): Extension<Ctx>) -> Response<Body> {
    let snap = ctx.world().snapshot();
    respond(
        StatusCode::OK,
        serde_json::to_value(snap).unwrap_or_default(),
    )
}

async fn requests(Extension(ctx): Extension<Ctx>) -> Response<Body> {
    let r = ctx
        .shared
        .world
        .lock()
        .expect("world lock")
        .requests
        .clone();
    respond(StatusCode::OK, serde_json::to_value(r).unwrap_or_default())
}

async fn clear_requests(Extension(ctx): Extension<Ctx>) -> Response<Body> {
    ctx.shared
        .world
        .lock()
        .expect("world lock")
        .requests
        .clear();
    respond(StatusCode::OK, json!({}))
}

async fn add_fault(
    Extension(ctx): Extension<Ctx>,
    Query(q): Query<HashMap<String, String>>,
    JsonBody(rule): JsonBody<FaultRule>,
) -> Response<Body> {
    let ws = q.get("workspace").cloned().unwrap_or(ctx.workspace.clone());
    let mut world = ctx.world();
    match world.workspaces.get_mut(&ws) {
        Some(w) => {
            w.faults.push(rule);
            respond(StatusCode::OK, json!({}))
        }
        None => super::bad_request(&format!("No workspace named {ws}.")),
    }
}

async fn clear_faults(Extension(ctx): Extension<Ctx>) -> Response<Body> {
    for w in ctx
        .shared
        .world
        .lock()
        .expect("world lock")
        .workspaces
        .values_mut()
    {
        w.faults.clear();
    }
    respond(StatusCode::OK, json!({}))
}

#[derive(Deserialize)]
struct SetState {
    state: String,
}

async fn warehouse_state(
    Extension(ctx): Extension<Ctx>,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<SetState>,
) -> Response<Body> {
    let mut world = ctx.world();
    set_warehouse_state(&mut world, &ctx.workspace, &id, &req.state);
    respond(StatusCode::OK, json!({}))
}
