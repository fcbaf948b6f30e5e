//! Running SQL: on a warehouse through the Statement Execution API 2.0, on an all-purpose
//! cluster through the Command Execution API 1.2.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::connection::Compute;
use super::error::Error;
use super::{WorkspaceClient, encode_segment};

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
    data_array: Vec<Vec<Option<String>>>,
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

/// The `SQLSTATE: 42501` that Databricks error texts carry, for the command API which has no
/// field for it.
fn sql_state_in(text: &str) -> Option<String> {
    let idx = text.find("SQLSTATE: ")? + "SQLSTATE: ".len();
    let state: String = text[idx..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect();
    (state.len() == 5).then_some(state)
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

const STATEMENTS: &str = "/api/2.0/sql/statements";
const STATEMENT: &str = "/api/2.0/sql/statements/{id}";
const STATEMENT_CANCEL: &str = "/api/2.0/sql/statements/{id}/cancel";
const STATEMENT_CHUNK: &str = "/api/2.0/sql/statements/{id}/result/chunks/{index}";

impl WorkspaceClient {
    /// Runs one SQL statement on the connection's compute and returns its rows.
    pub async fn execute(&self, sql: &str) -> Result<QueryResult, Error> {
        match &self.inner.config.compute {
            Compute::Warehouse { id } => self.execute_on_warehouse(id, sql).await,
            Compute::Cluster { cluster_id, .. } => self.execute_on_cluster(cluster_id, sql).await,
        }
    }

    /// Delay before poll number `n` (1-based): base × n, capped, with a little jitter.
    fn poll_delay(&self, n: u32) -> Duration {
        let poll = self.inner.poll;
        let capped = poll.base.saturating_mul(n).min(poll.max);
        let jitter_ms = (capped.as_millis() as u64) / 10;
        let jitter = if jitter_ms == 0 {
            0
        } else {
            rand::Rng::random_range(&mut rand::rng(), 0..=jitter_ms)
        };
        capped + Duration::from_millis(jitter)
    }

    async fn execute_on_warehouse(
        &self,
        warehouse_id: &str,
        sql: &str,
    ) -> Result<QueryResult, Error> {
        let started = Instant::now();
        let body = json!({
            "warehouse_id": warehouse_id,
            "statement": sql,
            "wait_timeout": wait_timeout(self.inner.poll.wait_timeout),
            "on_wait_timeout": "CONTINUE",
            "disposition": "INLINE",
            "format": "JSON_ARRAY",
        });
        let mut resp: StatementResponse = self
            .call_json(Method::POST, STATEMENTS, STATEMENTS, vec![], Some(body))
            .await?;
        let id = resp.statement_id.clone();
        let path = format!("{STATEMENTS}/{}", encode_segment(&id));
        let mut polls = 0;
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
                    what: format!("SQL statement {id}"),
                    elapsed: started.elapsed(),
                });
            }
            polls += 1;
            tokio::time::sleep(self.poll_delay(polls)).await;
            resp = self
                .call_json(Method::GET, STATEMENT, &path, vec![], None)
                .await?;
        }
        match resp.status.state.as_str() {
            "SUCCEEDED" => {}
            "FAILED" => {
                let (error_code, message) = resp
                    .status
                    .error
                    .map(|e| (e.error_code, e.message))
                    .unwrap_or_default();
                return Err(Error::Sql {
                    sql_state: resp.status.sql_state,
                    error_code,
                    message: message.unwrap_or_else(|| "the statement failed".into()),
                });
            }
            other => {
                return Err(Error::Sql {
                    sql_state: None,
                    error_code: Some(other.to_owned()),
                    message: format!("the statement ended in state {other}"),
                });
            }
        }
        let columns = resp
            .manifest
            .and_then(|m| m.schema)
            .map(|s| s.columns)
            .unwrap_or_default();
        let mut result = resp.result.unwrap_or_default();
        let mut raw_rows = std::mem::take(&mut result.data_array);
        let mut next = result.next_chunk_index;
        while let Some(index) = next {
            let chunk_path = format!("{path}/result/chunks/{index}");
            let chunk: ResultData = self
                .call_json(Method::GET, STATEMENT_CHUNK, &chunk_path, vec![], None)
                .await?;
            raw_rows.extend(chunk.data_array);
            next = chunk.next_chunk_index;
        }
        let rows = raw_rows
            .into_iter()
            .map(|row| {
                row.into_iter()
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

    async fn execute_on_cluster(&self, cluster_id: &str, sql: &str) -> Result<QueryResult, Error> {
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        let created: Id = self
            .call_json(
                Method::POST,
                "/api/1.2/contexts/create",
                "/api/1.2/contexts/create",
                vec![],
                Some(json!({"clusterId": cluster_id, "language": "sql"})),
            )
            .await?;
        let result = self.run_in_context(cluster_id, &created.id, sql).await;
        // Contexts are limited per cluster: always give ours back, whatever happened.
        let destroy = json!({"clusterId": cluster_id, "contextId": created.id});
        if let Err(err) = self
            .call(
                Method::POST,
                "/api/1.2/contexts/destroy",
                "/api/1.2/contexts/destroy",
                vec![],
                Some(destroy),
            )
            .await
        {
            tracing::debug!(error = %err, "destroying an execution context failed");
        }
        result
    }

    async fn run_in_context(
        &self,
        cluster_id: &str,
        context_id: &str,
        sql: &str,
    ) -> Result<QueryResult, Error> {
        #[derive(Deserialize)]
        struct Status {
            status: String,
        }
        #[derive(Deserialize)]
        struct Id {
            id: String,
        }
        #[derive(Deserialize)]
        struct CommandStatus {
            status: String,
            results: Option<CommandResults>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct CommandResults {
            result_type: Option<String>,
            data: Option<Value>,
            schema: Option<Vec<SchemaField>>,
            summary: Option<String>,
            cause: Option<String>,
        }
        #[derive(Deserialize)]
        struct SchemaField {
            name: String,
        }

        let started = Instant::now();
        let give_up = self.inner.poll.give_up_after;
        let ids = vec![
            ("clusterId", cluster_id.to_owned()),
            ("contextId", context_id.to_owned()),
        ];
        let mut polls = 0;
        loop {
            let s: Status = self
                .call_json(
                    Method::GET,
                    "/api/1.2/contexts/status",
                    "/api/1.2/contexts/status",
                    ids.clone(),
                    None,
                )
                .await?;
            match s.status.as_str() {
                "Running" => break,
                "Pending" => {}
                other => {
                    return Err(Error::Protocol {
                        endpoint: "/api/1.2/contexts/status",
                        message: format!("the execution context is {other}"),
                    });
                }
            }
            if started.elapsed() >= give_up {
                return Err(Error::Timeout {
                    what: "execution context".into(),
                    elapsed: started.elapsed(),
                });
            }
            polls += 1;
            tokio::time::sleep(self.poll_delay(polls)).await;
        }

        let body = json!({"clusterId": cluster_id, "contextId": context_id, "language": "sql", "command": sql});
        let command: Id = self
            .call_json(
                Method::POST,
                "/api/1.2/commands/execute",
                "/api/1.2/commands/execute",
                vec![],
                Some(body),
            )
            .await?;
        let mut query = ids.clone();
        query.push(("commandId", command.id.clone()));
        let mut polls = 0;
        let status = loop {
            let status: CommandStatus = self
                .call_json(
                    Method::GET,
                    "/api/1.2/commands/status",
                    "/api/1.2/commands/status",
                    query.clone(),
                    None,
                )
                .await?;
            if matches!(status.status.as_str(), "Finished" | "Error" | "Cancelled") {
                break status;
            }
            if started.elapsed() >= give_up {
                let cancel = json!({"clusterId": cluster_id, "contextId": context_id, "commandId": command.id});
                if let Err(err) = self
                    .call(
                        Method::POST,
                        "/api/1.2/commands/cancel",
                        "/api/1.2/commands/cancel",
                        vec![],
                        Some(cancel),
                    )
                    .await
                {
                    tracing::debug!(error = %err, "cancelling a command failed");
                }
                return Err(Error::Timeout {
                    what: format!("command {}", command.id),
                    elapsed: started.elapsed(),
                });
            }
            polls += 1;
            tokio::time::sleep(self.poll_delay(polls)).await;
        };

        let results = status.results;
        let result_type = results
            .as_ref()
            .and_then(|r| r.result_type.clone())
            .unwrap_or_default();
        if status.status != "Finished" || result_type == "error" {
            let (summary, cause) = results.map(|r| (r.summary, r.cause)).unwrap_or_default();
            let message = summary
                .or(cause.clone())
                .unwrap_or_else(|| format!("the command ended {}", status.status));
            let sql_state =
                sql_state_in(&message).or_else(|| cause.as_deref().and_then(sql_state_in));
            return Err(Error::Sql {
                sql_state,
                error_code: Some(status.status),
                message,
            });
        }
        let Some(results) = results else {
            return Ok(QueryResult::default());
        };
        let columns = results
            .schema
            .unwrap_or_default()
            .into_iter()
            .map(|f| f.name)
            .collect();
        let rows = match results.data {
            Some(Value::Array(rows)) => rows
                .into_iter()
                .map(|row| match row {
                    Value::Array(cells) => cells,
                    other => vec![other],
                })
                .collect(),
            Some(Value::Null) | None => Vec::new(),
            Some(other) => vec![vec![other]],
        };
        Ok(QueryResult { columns, rows })
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
    fn sql_state_from_text() {
        assert_eq!(
            sql_state_in("[TABLE_OR_VIEW_NOT_FOUND] x. SQLSTATE: 42P01"),
            Some("42P01".into())
        );
        assert_eq!(sql_state_in("no state"), None);
    }
}
