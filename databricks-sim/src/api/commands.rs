//! Command Execution API 1.2 (camelCase) and cluster state, for all-purpose clusters.

use axum::Extension;
use axum::body::Body;
use axum::extract::Query;
use axum::http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::statements::advance;
use super::{Authed, JsonBody, respond};
use crate::server::Ctx;
use crate::state::{Job, Outcome, Target};

/// The 1.2 API's legacy error shape.
fn legacy_error(status: StatusCode, message: &str) -> Response<Body> {
    respond(status, json!({"error": message}))
}

/// Whether a cluster in `state` runs commands: RUNNING and RESIZING do
/// (terraform-provider-databricks#218: "A cluster can execute commands while it is resizing").
pub(crate) fn runs_commands(state: &str) -> bool {
    matches!(state, "RUNNING" | "RESIZING")
}

/// Command Execution 1.2 never starts a cluster: on one that is not running it answers 500
/// naming `ClusterNotReadyException` (terraform-provider-databricks#217; the SDKs retry on that
/// name: databricks-sdk-go apierr/errors.go, databricks-sdk-py _base_client.py).
fn not_ready(ctx: &Ctx, cluster: &str) -> Option<Response<Body>> {
    let world = ctx.world();
    let state = world.compute_state(&ctx.workspace, &Target::Cluster(cluster.into()))?;
    if runs_commands(&state) {
        return None;
    }
    Some(legacy_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!(
            "com.databricks.backend.manager.util.ClusterNotReadyException: Cluster {cluster} \
             is not running (state {state}); start it with /api/2.0/clusters/start first."
        ),
    ))
}

fn no_cluster(id: &str) -> Response<Body> {
    // The SDKs map exactly this (400, INVALID_PARAMETER_VALUE, "Cluster .* does not exist") to
    // not-found: databricks-sdk-go apierr/error_overrides.go.
    super::error(
        StatusCode::BAD_REQUEST,
        "INVALID_PARAMETER_VALUE",
        &format!("Cluster {id} does not exist"),
    )
}

#[derive(Deserialize)]
pub(super) struct StartCluster {
    cluster_id: Option<String>,
}

/// `POST /api/2.0/clusters/start {cluster_id}` (see [`crate::state::World::start_cluster`]).
pub(super) async fn start(
    Extension(ctx): Extension<Ctx>,
    _auth: Authed,
    JsonBody(req): JsonBody<StartCluster>,
) -> Response<Body> {
    let Some(id) = req.cluster_id.filter(|c| !c.is_empty()) else {
        return super::bad_request("Missing required field: cluster_id");
    };
    let mut world = ctx.world();
    match world.start_cluster(&ctx.workspace, &id) {
        None => no_cluster(&id),
        Some(Err(m)) => super::error(StatusCode::BAD_REQUEST, "INVALID_STATE", &m),
        Some(Ok(())) => respond(StatusCode::OK, json!({})),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Ids {
    cluster_id: Option<String>,
    context_id: Option<String>,
    command_id: Option<String>,
    language: Option<String>,
    command: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ClusterQuery {
    cluster_id: String,
}

pub(super) async fn cluster(
    Extension(ctx): Extension<Ctx>,
    _auth: Authed,
    Query(q): Query<ClusterQuery>,
) -> Response<Body> {
    let mut world = ctx.world();
    world.tick_compute(&ctx.workspace, &Target::Cluster(q.cluster_id.clone()));
    match world
        .workspaces
        .get(&ctx.workspace)
        .and_then(|w| w.clusters.get(&q.cluster_id))
    {
        Some(c) => respond(
            StatusCode::OK,
            json!({
                "cluster_id": q.cluster_id,
                "cluster_name": c.name,
                "state": c.state,
                "spark_version": c.spark_version,
                "data_security_mode": "USER_ISOLATION",
            }),
        ),
        None => no_cluster(&q.cluster_id),
    }
}

fn cluster_known(ctx: &Ctx, id: &str) -> bool {
    let world = ctx.world();
    world
        .workspaces
        .get(&ctx.workspace)
        .is_some_and(|w| w.clusters.contains_key(id))
}

pub(super) async fn create_context(
    Extension(ctx): Extension<Ctx>,
    _auth: Authed,
    JsonBody(ids): JsonBody<Ids>,
) -> Response<Body> {
    let Some(cluster) = ids.cluster_id.filter(|c| cluster_known(&ctx, c)) else {
        return legacy_error(
            StatusCode::BAD_REQUEST,
            "Cluster not found or not specified",
        );
    };
    if let Some(refusal) = not_ready(&ctx, &cluster) {
        return refusal;
    }
    let mut world = ctx.world();
    let id = (rand::random::<u64>() >> 2).to_string();
    world.contexts.insert(id.clone(), cluster);
    respond(StatusCode::OK, json!({"id": id}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StatusQuery {
    cluster_id: Option<String>,
    context_id: Option<String>,
    command_id: Option<String>,
}

pub(super) async fn context_status(
    Extension(ctx): Extension<Ctx>,
    _auth: Authed,
    Query(q): Query<StatusQuery>,
) -> Response<Body> {
    let mut world = ctx.world();
    let Some(cluster) = q
        .context_id
        .as_ref()
        .and_then(|c| world.contexts.get(c))
        .cloned()
    else {
        return legacy_error(StatusCode::BAD_REQUEST, "Context not found");
    };
    let target = Target::Cluster(cluster);
    world.tick_compute(&ctx.workspace, &target);
    let status = match world.compute_state(&ctx.workspace, &target) {
        Some(s) if runs_commands(&s) => "Running",
        Some(s) if s == "PENDING" => "Pending",
        _ => "Error",
    };
    respond(
        StatusCode::OK,
        json!({"id": q.context_id, "status": status}),
    )
}

pub(super) async fn destroy_context(
    Extension(ctx): Extension<Ctx>,
    _auth: Authed,
    JsonBody(ids): JsonBody<Ids>,
) -> Response<Body> {
    let mut world = ctx.world();
    let id = ids.context_id.unwrap_or_default();
    world.contexts.remove(&id);
    respond(StatusCode::OK, json!({"id": id}))
}

pub(super) async fn execute(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    JsonBody(ids): JsonBody<Ids>,
) -> Response<Body> {
    if ids
        .language
        .as_deref()
        .is_some_and(|l| !l.eq_ignore_ascii_case("sql"))
    {
        return legacy_error(
            StatusCode::BAD_REQUEST,
            "databricks-sim only runs language sql",
        );
    }
    let cluster = {
        let world = ctx.world();
        ids.context_id
            .as_ref()
            .and_then(|c| world.contexts.get(c))
            .cloned()
    };
    let Some(cluster) = cluster else {
        return legacy_error(StatusCode::BAD_REQUEST, "Context not found");
    };
    if ids.cluster_id.as_deref().is_some_and(|c| c != cluster) {
        return legacy_error(
            StatusCode::BAD_REQUEST,
            "Context does not belong to this cluster",
        );
    }
    if let Some(refusal) = not_ready(&ctx, &cluster) {
        return refusal;
    }
    auth.note_sql(ids.command.as_deref());
    let mut world = ctx.world();
    let target = Target::Cluster(cluster);
    let id = uuid::Uuid::new_v4().simple().to_string();
    let polls = world.statement_polls;
    world.jobs.insert(
        id.clone(),
        Job {
            workspace: ctx.workspace.clone(),
            target,
            sql: ids.command.unwrap_or_default(),
            params: Default::default(),
            catalog: None,
            schema: None,
            caller: auth.caller,
            polls_left: polls,
            polled: false,
            outcome: None,
        },
    );
    respond(StatusCode::OK, json!({"id": id}))
}

fn spark_type(ty: &str) -> &'static str {
    match ty.to_uppercase().as_str() {
        "INT" => "\"integer\"",
        "BIGINT" => "\"long\"",
        "BOOLEAN" => "\"boolean\"",
        "VOID" => "\"void\"",
        t if t.starts_with("DECIMAL") => "\"decimal(10,0)\"",
        _ => "\"string\"",
    }
}

pub(super) async fn status(
    Extension(ctx): Extension<Ctx>,
    _auth: Authed,
    Query(q): Query<StatusQuery>,
) -> Response<Body> {
    let mut world = ctx.world();
    let id = q.command_id.unwrap_or_default();
    if !world
        .jobs
        .get(&id)
        .is_some_and(|j| matches!(j.target, Target::Cluster(_)))
    {
        return legacy_error(StatusCode::BAD_REQUEST, "Command not found");
    }
    let _ = (&q.cluster_id, &q.context_id);
    advance(&mut world, &id);
    let job = &world.jobs[&id];
    let body: Value = match &job.outcome {
        None => json!({
            "id": id,
            "status": if job.polled { "Running" } else { "Queued" },
            "results": null,
        }),
        Some(Outcome::Canceled) => json!({"id": id, "status": "Cancelled", "results": null}),
        Some(Outcome::Failed(e)) => json!({
            "id": id,
            "status": "Error",
            "results": {
                "resultType": "error",
                "summary": html_summary(&e.message),
                "cause": e.message,
            },
        }),
        Some(Outcome::Succeeded(r)) => json!({
            "id": id,
            "status": "Finished",
            "results": {
                "resultType": "table",
                "data": r.rows,
                "schema": r.columns.iter().map(|(n, t)| json!({"name": n, "type": spark_type(t), "metadata": "{}"})).collect::<Vec<_>>(),
                "truncated": false,
                "isJsonSchema": true,
            },
        }),
    };
    respond(StatusCode::OK, body)
}

pub(super) async fn cancel(
    Extension(ctx): Extension<Ctx>,
    _auth: Authed,
    JsonBody(ids): JsonBody<Ids>,
) -> Response<Body> {
    let mut world = ctx.world();
    let id = ids.command_id.unwrap_or_default();
    if let Some(job) = world.jobs.get_mut(&id)
        && job.outcome.is_none()
    {
        job.outcome = Some(Outcome::Canceled);
    }
    respond(StatusCode::OK, json!({"id": id}))
}

/// A failed command's `summary` as the notebook renders it: HTML, the message escaped. The
/// official SDK strips tags and decodes entities before showing it (databricks-sdk-go
/// `service/compute/ext_results.go`, whose test summary is `<b>NotFoundException: …</b>`); the
/// exact markup here is the simulator's.
fn html_summary(message: &str) -> String {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;");
    format!(
        "<div class=\"ansiout\"><span class=\"ansi-red-fg\">Error in SQL statement: AnalysisException</span>: {escaped}</div>"
    )
}
