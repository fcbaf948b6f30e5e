//! Statement responses: status, manifest and results in chunks (`result.next_chunk_index`,
//! `GET /api/2.0/sql/statements/{id}/result/chunks/{i}`), as the Statement Execution API
//! returns them (databricks-sdk-go service/sql model.go: ResultManifest, ResultData).

use axum::Extension;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{Response, StatusCode};
use serde_json::{Value, json};

use super::statements::no_statement;
use super::{Authed, error, respond};
use crate::server::Ctx;
use crate::sql::QueryResult;
use crate::state::{Outcome, Target, World};

/// The statement response body for the job's current state.
pub(super) fn render(world: &World, id: &str) -> Value {
    let Some(job) = world.jobs.get(id) else {
        return json!({});
    };
    match &job.outcome {
        None => {
            let state = if job.polled { "RUNNING" } else { "PENDING" };
            json!({"statement_id": id, "status": {"state": state}})
        }
        Some(Outcome::Canceled) => json!({"statement_id": id, "status": {"state": "CANCELED"}}),
        Some(Outcome::Failed(e)) => {
            let mut status = json!({
                "state": "FAILED",
                "error": {"error_code": e.error_code, "message": e.message},
            });
            if !e.sql_state.is_empty() {
                status["sql_state"] = json!(e.sql_state);
            }
            json!({"statement_id": id, "status": status})
        }
        Some(Outcome::Succeeded(r)) => succeeded(id, r, world.result_chunk_rows),
    }
}

/// Rows as the API sends them: strings or null.
fn rows(r: &QueryResult) -> Vec<Vec<Option<String>>> {
    r.rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| match v {
                    Value::Null => None,
                    Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
                .collect()
        })
        .collect()
}

/// Chunk `i` of `n` rows cut `per` at a time: (row_offset, row_count).
fn bounds(i: usize, n: usize, per: usize) -> (usize, usize) {
    let start = (i * per).min(n);
    (start, (n - start).min(per))
}

fn chunk_count(n: usize, per: usize) -> usize {
    n.div_ceil(per).max(1)
}

/// One chunk's `ResultData`, with the link to the next while there is one.
fn chunk(id: &str, r: &QueryResult, i: usize, per: usize) -> Value {
    let all = rows(r);
    let (offset, count) = bounds(i, all.len(), per);
    let mut v = json!({"chunk_index": i, "row_offset": offset, "row_count": count});
    // Databricks leaves data_array out of empty results.
    if count > 0 {
        v["data_array"] = json!(all[offset..offset + count]);
    }
    if i + 1 < chunk_count(all.len(), per) {
        v["next_chunk_index"] = json!(i + 1);
        v["next_chunk_internal_link"] = json!(format!(
            "/api/2.0/sql/statements/{id}/result/chunks/{}",
            i + 1
        ));
    }
    v
}

fn succeeded(id: &str, r: &QueryResult, per: usize) -> Value {
    let columns: Vec<Value> = r
        .columns
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| {
            let type_name = ty.split('(').next().unwrap_or(ty).to_uppercase();
            let type_name = if type_name == "VOID" { "NULL".to_string() } else { type_name };
            json!({"name": name, "position": i, "type_name": type_name, "type_text": ty.to_uppercase()})
        })
        .collect();
    let n = r.rows.len();
    let total = chunk_count(n, per);
    let chunks: Vec<Value> = (0..total)
        .map(|i| {
            let (offset, count) = bounds(i, n, per);
            json!({"chunk_index": i, "row_offset": offset, "row_count": count})
        })
        .collect();
    json!({
        "statement_id": id,
        "status": {"state": "SUCCEEDED"},
        "manifest": {
            "format": "JSON_ARRAY",
            "schema": {"column_count": columns.len(), "columns": columns},
            "total_chunk_count": total,
            "chunks": chunks,
            "total_row_count": n,
            "truncated": false,
        },
        "result": chunk(id, r, 0, per),
    })
}

/// `GET /api/2.0/sql/statements/{id}/result/chunks/{i}`: by the statement's principal only.
pub(super) async fn get_chunk(
    Extension(ctx): Extension<Ctx>,
    auth: Authed,
    Path((id, i)): Path<(String, String)>,
) -> Response<Body> {
    let world = ctx.world();
    let Some(job) = world.jobs.get(&id).filter(|j| {
        j.caller.principal == auth.caller.principal && matches!(j.target, Target::Warehouse(_))
    }) else {
        return no_statement(&id);
    };
    let Some(Outcome::Succeeded(r)) = &job.outcome else {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_STATE",
            &format!("Statement {id} has no result: it has not succeeded."),
        );
    };
    let per = world.result_chunk_rows;
    match i.parse::<usize>() {
        Ok(i) if i < chunk_count(r.rows.len(), per) => {
            respond(StatusCode::OK, chunk(&id, r, i, per))
        }
        _ => error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            &format!("Invalid chunk index {i} for statement {id}."),
        ),
    }
}
