//! Running SQL: on a warehouse through the Statement Execution API 2.0 (here), on an
//! all-purpose cluster through the Command Execution API 1.2 (`command.rs`). A statement that
//! fails with a transient error is submitted again, a bounded number of times: the operator's
//! own choice (the SDKs return a FAILED statement as it is), safe because every statement it
//! sends is idempotent.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::bounded::Bounded;
use super::connection::Compute;
use super::error::Error;
use super::{WorkspaceClient, encode_segment};

/// How many times a statement that failed transiently is submitted again.
const MAX_RESUBMITS: u32 = 3;
/// The most result chunks, and result bytes, one statement may return: the operator's
/// queries return a row or two.
const MAX_CHUNKS: u64 = 64;
const MAX_RESULT_BYTES: usize = 1024 * 1024;
/// The most rows and columns a result may have, counted while decoded (the rest is never
/// built): the operator's queries are `SELECT 1` and `SELECT 1 … LIMIT 1`. Statements ask for
/// no more rows than this (`row_limit`), so only a hostile answer goes past it.
pub(crate) const MAX_ROWS: usize = 100;
pub(crate) const MAX_COLUMNS: usize = 64;

/// Result rows as decoded: bounded in both directions.
pub(crate) type Rows<T> = Bounded<Bounded<T, MAX_COLUMNS>, MAX_ROWS>;

/// Rows of a query, cells as JSON values (numbers for numeric columns).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl QueryResult {
    /// One JSON object per row, keyed by column name: `SELECT 1` gives `[{"1": 1}]`.
    pub fn to_objects(&self) -> Vec<Map<String, Value>> {
        self.rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .cloned()
                    .zip(row.iter().cloned())
                    .collect::<Map<String, Value>>()
            })
            .collect()
    }
}

#[derive(Deserialize)]
struct StatementResponse {
    statement_id: String,
    status: StatementStatus,
    manifest: Option<Manifest>,
    result: Option<ResultData>,
}

#[derive(Deserialize)]
struct StatementStatus {
    state: String,
    error: Option<ServiceError>,
    sql_state: Option<String>,
}

#[derive(Deserialize)]
struct ServiceError {
    error_code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Manifest {
    schema: Option<ManifestSchema>,
}

#[derive(Deserialize)]
struct ManifestSchema {
    #[serde(default)]
    columns: Vec<Column>,
}

#[derive(Deserialize)]
struct Column {
    name: String,
    type_name: Option<String>,
}

#[derive(Deserialize, Default)]
struct ResultData {
    #[serde(default)]
    data_array: Rows<Option<String>>,
    next_chunk_index: Option<u64>,
}

/// Converts a Statement Execution cell (always a string) to the JSON value its type means.
fn convert_cell(cell: Option<String>, type_name: Option<&str>) -> Value {
    let Some(text) = cell else { return Value::Null };
    match type_name.unwrap_or_default() {
        "BYTE" | "SHORT" | "INT" | "LONG" => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or(Value::String(text)),
        "FLOAT" | "DOUBLE" | "DECIMAL" => {
            if let Ok(i) = text.parse::<i64>() {
                Value::from(i)
            } else {
                text.parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64)
                    .map(Value::Number)
                    .unwrap_or(Value::String(text))
            }
        }
        "BOOLEAN" => match text.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        _ => Value::String(text),
    }
}

/// The API takes `0s` or `5s`…`50s`.
fn wait_timeout(wait: Duration) -> String {
    let secs = wait.as_secs();
    if secs == 0 {
        "0s".into()
    } else {
        format!("{}s", secs.clamp(5, 50))
    }
}

/// A statement that ended in any state but `SUCCEEDED` as [`Error::Sql`].
fn check_succeeded(status: &StatementStatus) -> Result<(), Error> {
    match status.state.as_str() {
        "SUCCEEDED" => Ok(()),
        "FAILED" => {
            let error = status.error.as_ref();
            Err(Error::Sql {
                sql_state: status.sql_state.as_deref().map(|s| super::truncate(s, 10)),
                error_code: error
                    .and_then(|e| e.error_code.as_deref())
                    .map(|c| super::truncate(c, 100)),
                // A server's text: cut before it reaches a status, event or log line.
                message: error.and_then(|e| e.message.as_deref()).map_or_else(
                    || "the statement failed".into(),
                    |m| super::truncate(m, 1000),
                ),
            })
        }
        other => {
            let other = super::truncate(other, 100);
            Err(Error::Sql {
                sql_state: None,
                error_code: Some(other.clone()),
                message: format!("the statement ended in state {other}"),
            })
        }
    }
}

const STATEMENTS: &str = "/api/2.0/sql/statements";
const STATEMENT: &str = "/api/2.0/sql/statements/{id}";
const STATEMENT_CANCEL: &str = "/api/2.0/sql/statements/{id}/cancel";
const STATEMENT_CHUNK: &str = "/api/2.0/sql/statements/{id}/result/chunks/{index}";

impl WorkspaceClient {
    /// Runs one SQL statement on the connection's compute and returns its rows. A statement
    /// that fails with a transient code or message (see `error_text.rs`) is submitted again.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult, Error> {
        let mut resubmits = 0;
        loop {
            let result = match &self.inner.config.compute {
                Compute::Warehouse { id } => self.execute_on_warehouse(id, sql).await,
                Compute::Cluster { cluster_id, .. } => {
                    self.execute_on_cluster(cluster_id, sql).await
                }
            };
            match result {
                Err(e @ Error::Sql { .. }) if e.is_retryable() && resubmits < MAX_RESUBMITS => {
                    resubmits += 1;
                    tracing::debug!(error = %e, resubmits, "statement failed transiently; resubmitting");
                    tokio::time::sleep(self.inner.poll.delay(resubmits)).await;
                }
                other => return other,
            }
        }
    }

    async fn execute_on_warehouse(
        &self,
        warehouse_id: &str,
        sql: &str,
    ) -> Result<QueryResult, Error> {
        let body = json!({
            "warehouse_id": warehouse_id,
            "statement": sql,
            "wait_timeout": wait_timeout(self.inner.poll.wait_timeout),
            "on_wait_timeout": "CONTINUE",
            "disposition": "INLINE",
            "format": "JSON_ARRAY",
            // What a check reads is a row; more is never needed (databricks-sdk-go
            // `ExecuteStatementRequest.RowLimit`, `ByteLimit`).
            "row_limit": MAX_ROWS,
            "byte_limit": MAX_RESULT_BYTES,
        });
        let resp: StatementResponse = self
            .call_json(Method::POST, STATEMENTS, STATEMENTS, vec![], Some(body))
            .await?;
        let path = format!("{STATEMENTS}/{}", encode_segment(&resp.statement_id));
        let resp = self.wait_for_statement(resp, &path).await?;
        check_succeeded(&resp.status)?;
        let columns = resp
            .manifest
            .and_then(|m| m.schema)
            .map(|s| s.columns)
            .unwrap_or_default();
        let raw_rows = self
            .all_chunks(resp.result.unwrap_or_default(), &path)
            .await?;
        let rows = raw_rows
            .into_iter()
            .map(|row| {
                row.0
                    .into_iter()
                    .enumerate()
                    .map(|(i, cell)| {
                        convert_cell(cell, columns.get(i).and_then(|c| c.type_name.as_deref()))
                    })
                    .collect()
            })
            .collect();
        Ok(QueryResult {
            columns: columns.into_iter().map(|c| c.name).collect(),
            rows,
        })
    }

    /// Polls a pending or running statement until it ends, cancelling it after the poll
    /// policy's `give_up_after`.
    async fn wait_for_statement(
        &self,
        mut resp: StatementResponse,
        path: &str,
    ) -> Result<StatementResponse, Error> {
        let started = Instant::now();
        let mut polls: u32 = 0;
        while matches!(resp.status.state.as_str(), "PENDING" | "RUNNING") {
            if started.elapsed() >= self.inner.poll.give_up_after {
                let cancel = format!("{path}/cancel");
                if let Err(err) = self
                    .call(Method::POST, STATEMENT_CANCEL, &cancel, vec![], None)
                    .await
                {
                    tracing::debug!(error = %err, "cancelling a statement failed");
                }
                return Err(Error::Timeout {
                    what: format!("SQL statement {}", resp.statement_id),
                    elapsed: started.elapsed(),
                });
            }
            polls = polls.saturating_add(1);
            tokio::time::sleep(self.inner.poll.delay(polls)).await;
            resp = self
                .call_json(Method::GET, STATEMENT, path, vec![], None)
                .await?;
        }
        Ok(resp)
    }

    /// The first chunk's rows and those of every further chunk, each index larger than the
    /// last, at most [`MAX_CHUNKS`] chunks and [`MAX_RESULT_BYTES`] in all.
    async fn all_chunks(
        &self,
        first: ResultData,
        path: &str,
    ) -> Result<Vec<Bounded<Option<String>, MAX_COLUMNS>>, Error> {
        let mut rows = first.data_array.0;
        let mut next = first.next_chunk_index;
        // The first chunk, index 0, came with the statement.
        let mut last = 0u64;
        let mut bytes = 0usize;
        while let Some(index) = next {
            if index <= last || index >= MAX_CHUNKS {
                return Err(Error::Protocol {
                    endpoint: STATEMENT_CHUNK,
                    message: format!(
                        "result chunk {index} announced after chunk {last}: the chunks do not end"
                    ),
                });
            }
            last = index;
            let chunk_path = format!("{path}/result/chunks/{index}");
            let body = self
                .call(Method::GET, STATEMENT_CHUNK, &chunk_path, vec![], None)
                .await?;
            bytes = bytes.saturating_add(body.len());
            if bytes > MAX_RESULT_BYTES {
                return Err(Error::BodyTooLarge {
                    endpoint: STATEMENT_CHUNK,
                    limit: MAX_RESULT_BYTES,
                });
            }
            let chunk: ResultData = serde_json::from_slice(&body).map_err(|_| Error::Protocol {
                endpoint: STATEMENT_CHUNK,
                message: "a result chunk that could not be read".into(),
            })?;
            rows.extend(chunk.data_array.0);
            if rows.len() > MAX_ROWS {
                return Err(Error::Protocol {
                    endpoint: STATEMENT_CHUNK,
                    message: format!("a result of more than {MAX_ROWS} rows"),
                });
            }
            next = chunk.next_chunk_index;
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_their_column_type() {
        assert_eq!(convert_cell(Some("1".into()), Some("INT")), json!(1));
        assert_eq!(convert_cell(Some("2.5".into()), Some("DOUBLE")), json!(2.5));
        assert_eq!(
            convert_cell(Some("true".into()), Some("BOOLEAN")),
            json!(true)
        );
        assert_eq!(convert_cell(Some("x".into()), Some("STRING")), json!("x"));
        assert_eq!(convert_cell(None, Some("INT")), Value::Null);
        assert_eq!(convert_cell(Some("abc".into()), Some("LONG")), json!("abc"));
    }

    #[test]
    fn objects_by_column() {
        let r = QueryResult {
            columns: vec!["1".into()],
            rows: vec![vec![json!(1)]],
        };
        assert_eq!(
            serde_json::to_value(r.to_objects()).unwrap(),
            json!([{"1": 1}])
        );
    }

    #[test]
    fn wait_timeouts_stay_in_range() {
        assert_eq!(wait_timeout(Duration::ZERO), "0s");
        assert_eq!(wait_timeout(Duration::from_secs(1)), "5s");
        assert_eq!(wait_timeout(Duration::from_secs(10)), "10s");
        assert_eq!(wait_timeout(Duration::from_secs(600)), "50s");
    }

    #[test]
    fn a_result_past_the_row_limit_is_refused_while_decoded() {
        let rows = |n: usize| format!(r#"{{"data_array": [{}]}}"#, vec!["[]"; n].join(","));
        let ok: ResultData = serde_json::from_str(&rows(MAX_ROWS)).unwrap();
        assert_eq!(ok.data_array.0.len(), MAX_ROWS);
        assert!(serde_json::from_str::<ResultData>(&rows(MAX_ROWS + 1)).is_err());
        let wide = format!(
            r#"{{"data_array": [[{}]]}}"#,
            vec!["null"; MAX_COLUMNS + 1].join(",")
        );
        assert!(serde_json::from_str::<ResultData>(&wide).is_err());
    }
}
