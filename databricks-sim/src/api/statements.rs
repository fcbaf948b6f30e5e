//! Statement Execution API 2.0 and warehouse state.

use axum::body::Body;
use axum::extract::Path;
use axum::http::{Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

use axum::Extension;

use super::results::render;
use super::{Authed, JsonBody, bad_request, error, respond};
use crate::server::{Ctx, InjectedFailure};
use crate::sql::{ExecContext, SqlError, SqlStatement, execute, parse_with_params};
use crate::state::{Job, Outcome, Target, World, now_millis};

#[derive(Deserialize)]
pub(super) struct Submit {
    warehouse_id: Option<String>,
    statement: Option<String>,
    wait_timeout: Option<String>,
    on_wait_timeout: Option<String>,
    catalog: Option<String>,
    schema: Option<String>,
    #[serde(default)]
    parameters: Vec<Param>,
    format: Option<String>,
    disposition: Option<String>,
}

#[derive(Deserialize)]
struct Param {
    name: String,
    value: Option<String>,
}

fn wait_secs(w: Option<&str>) -> Result<u64, String> {
    let Some(w) = w else { return Ok(10) };
    let n = w
        .strip_suffix('s')
        .and_then(|n| n.parse::<u64>().ok())
        .ok_or_else(|| format!("wait_timeout must be of the form '<n>s', got '{w}'"))?;
    if n == 0 || (5..=50).contains(&n) {
        Ok(n)
    } else {
        Err(
            "wait_timeout must be 0 seconds (disables wait), or between 5 seconds and 50 seconds."
                .into(),
        )
    }
}

/// `POST /api/2.0/sql/statements`. The wait is not slept: a statement finishes within it
/// unless the scenario's `statement_polls_past_wait` keeps it RUNNING past it (then
/// `on_wait_timeout: CANCEL` cancels it, as Databricks does).
// Long: the API's request checks, in the order Databricks applies them, then the wait.
pub(super) async fn submit(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    injected: Option<Extension<InjectedFailure>>,
    JsonBody(req): JsonBody<Submit>,
) -> Response<Body> {
    let Some(warehouse) = req.warehouse_id.filter(|w| !w.is_empty()) else {
        return bad_request("warehouse_id is required.");
    };
    let Some(sql) = req.statement else {
        return bad_request("statement is required.");
    };
    let wait = match wait_secs(req.wait_timeout.as_deref()) {
        Ok(w) => w,
        Err(m) => return bad_request(&m),
    };
    if req.format.as_deref().is_some_and(|f| f != "JSON_ARRAY") {
        return bad_request("Only format JSON_ARRAY is supported by databricks-sim.");
    }
    if req.disposition.as_deref().is_some_and(|d| d != "INLINE") {
        return bad_request("Only disposition INLINE is supported by databricks-sim.");
    }
    auth.note_sql(Some(&sql));
    let mut world = ctx.world();
    let target = Target::Warehouse(warehouse.clone());
    if world.ensure_started(&ctx.workspace, &target).is_none() {
        return error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!("Warehouse {warehouse} does not exist."),
        );
    }
    let id = new_statement_id();
    let polls = world.statement_polls;
    world.jobs.insert(
        id.clone(),
        Job {
            workspace: ctx.workspace.clone(),
            target,
            sql,
            params: req
                .parameters
                .into_iter()
                .map(|p| (p.name, p.value))
                .collect(),
            catalog: req.catalog.map(|c| c.to_lowercase()),
            schema: req.schema.map(|s| s.to_lowercase()),
            caller: auth.caller,
            polls_left: polls,
            polled: false,
            outcome: injected.map(|Extension(f)| {
                Outcome::Failed(SqlError {
                    error_code: f.error_code,
                    message: f.message,
                    sql_state: String::new(),
                })
            }),
        },
    );
    let past_wait = world.statement_polls_past_wait;
    if wait > 0 && past_wait > 0 {
        let job = world.jobs.get_mut(&id).expect("inserted");
        if job.outcome.is_none() {
            job.polls_left = past_wait;
            job.polled = true;
            if req.on_wait_timeout.as_deref() == Some("CANCEL") {
                job.outcome = Some(Outcome::Canceled);
            }
        }
    } else if wait > 0 {
        // Within the wait the statement finishes: advance it until terminal (bounded).
        for _ in 0..(world.warehouse_start_polls + polls + 2) {
            if advance(&mut world, &id) {
                break;
            }
        }
        let job = &world.jobs[&id];
        if job.outcome.is_none() && req.on_wait_timeout.as_deref() == Some("CANCEL") {
            world.jobs.get_mut(&id).expect("exists").outcome = Some(Outcome::Canceled);
        }
    } else if polls == 0 {
        advance(&mut world, &id);
    }
    respond(StatusCode::OK, render(&world, &id))
}

fn new_statement_id() -> String {
    let u = uuid::Uuid::new_v4().to_string();
    // Databricks statement ids look like 01ef...-...; a UUID with a fixed prefix is close enough.
    format!("01ef{}", &u[4..])
}

/// One poll: start compute, count down, then execute. Returns whether the job is terminal.
pub(crate) fn advance(world: &mut World, id: &str) -> bool {
    let Some(job) = world.jobs.get(id) else {
        return true;
    };
    if job.outcome.is_some() {
        return true;
    }
    let (ws, target) = (job.workspace.clone(), job.target.clone());
    let running = world
        .compute_state(&ws, &target)
        .is_some_and(|s| super::commands::runs_commands(&s));
    if !running {
        world.tick_compute(&ws, &target);
        return false;
    }
    let job = world.jobs.get_mut(id).expect("exists");
    if job.polls_left > 0 {
        job.polls_left -= 1;
        job.polled = true;
        return false;
    }
    let job = job.clone();
    let outcome = run(world, &job);
    world.jobs.get_mut(id).expect("exists").outcome = Some(outcome);
    true
}

/// Parses and executes a job's SQL (a single statement) against the model.
pub(crate) fn run(world: &mut World, job: &Job) -> Outcome {
    let stmts = match parse_with_params(&job.sql, &job.params) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::Failed(SqlError {
                error_code: "BAD_REQUEST".into(),
                message: e.message,
                sql_state: e.sql_state,
            });
        }
    };
    let stmt = match stmts.as_slice() {
        [one] => one,
        [] => {
            return Outcome::Failed(SqlError {
                error_code: "BAD_REQUEST".into(),
                message: "[PARSE_EMPTY_STATEMENT] Syntax error, unexpected empty statement. SQLSTATE: 42617".into(),
                sql_state: "42617".into(),
            });
        }
        _ => {
            return Outcome::Failed(SqlError {
                error_code: "BAD_REQUEST".into(),
                message: "[PARSE_SYNTAX_ERROR] Syntax error at or near ';'. Only a single statement is supported per request. SQLSTATE: 42601".into(),
                sql_state: "42601".into(),
            });
        }
    };
    if let Some(e) = runtime_refusal(world, job, stmt) {
        return Outcome::Failed(e);
    }
    let assigned = world.assigned(&job.workspace);
    let pure =
        matches!(stmt, SqlStatement::Query(q) if !q.to_string().to_uppercase().contains(" FROM "));
    if !assigned && !pure {
        return Outcome::Failed(SqlError {
            error_code: "BAD_REQUEST".into(),
            message:
                "[UC_NOT_ENABLED] Unity Catalog is not enabled on this workspace. SQLSTATE: 56038"
                    .into(),
            sql_state: "56038".into(),
        });
    }
    // Live principal settings (admin, groups, system tables) may have changed since submission.
    let mut caller = job.caller.clone();
    if let Some(p) = world.principal(&caller.principal).cloned() {
        caller = world.caller(&p, &job.workspace);
    }
    let principals = world.principal_names();
    let mut ctx = ExecContext {
        caller,
        metastore: &mut world.metastore,
        principals: &principals,
        catalog: job.catalog.clone(),
        schema: job.schema.clone(),
        now: now_millis(),
    };
    match execute(stmt, &mut ctx) {
        Ok(r) => Outcome::Succeeded(r),
        Err(e) => Outcome::Failed(e),
    }
}

/// `ALTER … SET TAGS` on a cluster older than Databricks Runtime 13.3 does not parse ("Applies
/// to: Databricks SQL, Databricks Runtime 13.3 LTS and above", docs.databricks.com
/// sql/language-manual sql-ref-syntax-ddl-alter-catalog). The message is the simulator's, in the
/// form of Spark's parse errors.
fn runtime_refusal(world: &World, job: &Job, stmt: &SqlStatement) -> Option<SqlError> {
    let Target::Cluster(id) = &job.target else {
        return None;
    };
    let version = &world
        .workspaces
        .get(&job.workspace)?
        .clusters
        .get(id)?
        .spark_version;
    let sets_tags = matches!(stmt, SqlStatement::SetCatalogTags { .. })
        || job.sql.to_uppercase().contains(" SET TAGS");
    (sets_tags && runtime_below(version, (13, 3))).then(|| SqlError {
        error_code: "BAD_REQUEST".into(),
        message: "[PARSE_SYNTAX_ERROR] Syntax error at or near 'TAGS'. SQLSTATE: 42601".into(),
        sql_state: "42601".into(),
    })
}

/// Whether `12.2.x-scala2.12` is below (13, 3); an unreadable version is not.
fn runtime_below(spark_version: &str, min: (u32, u32)) -> bool {
    let mut parts = spark_version.split('.');
    let major = parts.next().and_then(|p| p.parse::<u32>().ok());
    let minor = parts.next().and_then(|p| p.parse::<u32>().ok());
    match (major, minor) {
        (Some(major), Some(minor)) => (major, minor) < min,
        _ => false,
    }
}

pub(super) fn no_statement(id: &str) -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        &format!("Statement {id} does not exist."),
    )
}

pub(super) async fn get(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(id): Path<String>,
) -> Response<Body> {
    let mut world = ctx.world();
    match world.jobs.get(&id) {
        Some(j)
            if j.caller.principal == auth.caller.principal
                && matches!(j.target, Target::Warehouse(_)) => {}
        _ => return no_statement(&id),
    }
    advance(&mut world, &id);
    respond(StatusCode::OK, render(&world, &id))
}

/// `POST /api/2.0/sql/statements/{id}/cancel`: only by the principal that ran it; others get
/// 403 PERMISSION_DENIED (docs.databricks.com api/workspace/statementexecution: statements are
/// visible to and cancellable by their submitter).
pub(super) async fn cancel(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path(id): Path<String>,
) -> Response<Body> {
    let mut world = ctx.world();
    let Some(job) = world.jobs.get_mut(&id) else {
        return no_statement(&id);
    };
    if !job
        .caller
        .principal
        .eq_ignore_ascii_case(&auth.caller.principal)
    {
        return error(
            StatusCode::FORBIDDEN,
            "PERMISSION_DENIED",
            &format!(
                "User {} does not have permission to cancel statement {id}.",
                auth.caller.principal
            ),
        );
    }
    if job.outcome.is_none() {
        job.outcome = Some(Outcome::Canceled);
    }
    respond(StatusCode::OK, json!({}))
}

pub(super) async fn warehouse(
    Extension(ctx): Extension<Ctx>,
    _auth: Authed,
    Path(id): Path<String>,
) -> Response<Body> {
    let mut world = ctx.world();
    let target = Target::Warehouse(id.clone());
    world.tick_compute(&ctx.workspace, &target);
    let Some(w) = world
        .workspaces
        .get(&ctx.workspace)
        .and_then(|w| w.warehouses.get(&id))
    else {
        return error(
            StatusCode::NOT_FOUND,
            "RESOURCE_DOES_NOT_EXIST",
            &format!("Warehouse {id} does not exist."),
        );
    };
    let health = if w.state == "RUNNING" {
        "HEALTHY"
    } else {
        "STATUS_UNSPECIFIED"
    };
    respond(
        StatusCode::OK,
        json!({
            "id": id,
            "name": w.name,
            "state": w.state,
            "cluster_size": "2X-Small",
            "min_num_clusters": 1,
            "max_num_clusters": 1,
            "auto_stop_mins": 10,
            "num_clusters": if w.state == "RUNNING" { 1 } else { 0 },
            "warehouse_type": "PRO",
            "enable_serverless_compute": false,
            "creator_name": "admin@example.com",
            "health": {"status": health},
            "odbc_params": {
                "hostname": format!("localhost:{}", ctx.port),
                "path": format!("/sql/1.0/warehouses/{id}"),
                "protocol": "https",
                "port": ctx.port,
            },
        }),
    )
}
