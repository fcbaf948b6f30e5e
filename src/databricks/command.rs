//! SQL on an all-purpose cluster through the Command Execution API 1.2 (camelCase fields):
//! an execution context, one command polled to its end, the context destroyed.

use std::time::Instant;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::WorkspaceClient;
use super::error::Error;
use super::sql::QueryResult;

const CONTEXT_CREATE: &str = "/api/1.2/contexts/create";
const CONTEXT_STATUS: &str = "/api/1.2/contexts/status";
const CONTEXT_DESTROY: &str = "/api/1.2/contexts/destroy";
const COMMAND_EXECUTE: &str = "/api/1.2/commands/execute";
const COMMAND_STATUS: &str = "/api/1.2/commands/status";
const COMMAND_CANCEL: &str = "/api/1.2/commands/cancel";

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

impl WorkspaceClient {
    pub(super) async fn execute_on_cluster(
        &self,
        cluster_id: &str,
        sql: &str,
    ) -> Result<QueryResult, Error> {
        let body = json!({"clusterId": cluster_id, "language": "sql"});
        let created: Id = self
            .call_json(
                Method::POST,
                CONTEXT_CREATE,
                CONTEXT_CREATE,
                vec![],
                Some(body),
            )
            .await?;
        let result = self.run_in_context(cluster_id, &created.id, sql).await;
        // Contexts are limited per cluster: always give ours back, whatever happened.
        let destroy = json!({"clusterId": cluster_id, "contextId": created.id});
        if let Err(err) = self
            .call(
                Method::POST,
                CONTEXT_DESTROY,
                CONTEXT_DESTROY,
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
        let started = Instant::now();
        let ids = vec![
            ("clusterId", cluster_id.to_owned()),
            ("contextId", context_id.to_owned()),
        ];
        self.wait_for_context(&ids, started).await?;
        let body = json!({
            "clusterId": cluster_id,
            "contextId": context_id,
            "language": "sql",
            "command": sql,
        });
        let command: Id = self
            .call_json(
                Method::POST,
                COMMAND_EXECUTE,
                COMMAND_EXECUTE,
                vec![],
                Some(body),
            )
            .await?;
        let mut query = ids;
        query.push(("commandId", command.id.clone()));
        let status = self.wait_for_command(&query, &command.id, started).await?;
        command_result(status)
    }

    async fn wait_for_context(
        &self,
        ids: &[(&'static str, String)],
        started: Instant,
    ) -> Result<(), Error> {
        #[derive(Deserialize)]
        struct Status {
            status: String,
        }
        let mut polls: u32 = 0;
        loop {
            let s: Status = self
                .call_json(
                    Method::GET,
                    CONTEXT_STATUS,
                    CONTEXT_STATUS,
                    ids.to_vec(),
                    None,
                )
                .await?;
            match s.status.as_str() {
                "Running" => return Ok(()),
                "Pending" => {}
                other => {
                    return Err(Error::Protocol {
                        endpoint: CONTEXT_STATUS,
                        message: format!("the execution context is {other}"),
                    });
                }
            }
            if started.elapsed() >= self.inner.poll.give_up_after {
                return Err(Error::Timeout {
                    what: "execution context".into(),
                    elapsed: started.elapsed(),
                });
            }
            polls = polls.saturating_add(1);
            tokio::time::sleep(self.inner.poll.delay(polls)).await;
        }
    }

    /// Polls the command until it ends, cancelling it after the poll policy's `give_up_after`.
    async fn wait_for_command(
        &self,
        query: &[(&'static str, String)],
        command_id: &str,
        started: Instant,
    ) -> Result<CommandStatus, Error> {
        let mut polls: u32 = 0;
        loop {
            let status: CommandStatus = self
                .call_json(
                    Method::GET,
                    COMMAND_STATUS,
                    COMMAND_STATUS,
                    query.to_vec(),
                    None,
                )
                .await?;
            if matches!(status.status.as_str(), "Finished" | "Error" | "Cancelled") {
                return Ok(status);
            }
            if started.elapsed() >= self.inner.poll.give_up_after {
                let mut cancel = serde_json::Map::new();
                for (k, v) in query {
                    cancel.insert((*k).to_owned(), Value::String(v.clone()));
                }
                if let Err(err) = self
                    .call(
                        Method::POST,
                        COMMAND_CANCEL,
                        COMMAND_CANCEL,
                        vec![],
                        Some(Value::Object(cancel)),
                    )
                    .await
                {
                    tracing::debug!(error = %err, "cancelling a command failed");
                }
                return Err(Error::Timeout {
                    what: format!("command {command_id}"),
                    elapsed: started.elapsed(),
                });
            }
            polls = polls.saturating_add(1);
            tokio::time::sleep(self.inner.poll.delay(polls)).await;
        }
    }
}

/// A 1.2 error `summary` without its HTML: tags removed, entities decoded, as databricks-sdk-go
/// does (`service/compute/ext_results.go` `Results.Error`: `<[^>]*>` removed, then
/// `html.UnescapeString`), so no markup reaches a status message.
fn plain_text(summary: &str) -> String {
    let mut text = String::with_capacity(summary.len());
    let mut rest = summary;
    while let Some(open) = rest.find('<') {
        text.push_str(&rest[..open]);
        match rest[open..].find('>') {
            Some(close) => rest = &rest[open + close + 1..],
            None => {
                // Not a tag: a lone `<` stays.
                text.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    text.push_str(rest);
    unescape(&text)
}

/// HTML character references: the named ones a summary carries, and numeric ones.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let decoded = tail.find(';').filter(|end| *end <= 10).and_then(|end| {
            let name = &tail[1..end];
            let c = match name {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some(' '),
                _ => name
                    .strip_prefix("#x")
                    .or_else(|| name.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The rows of a finished command, or its error as [`Error::Sql`].
fn command_result(status: CommandStatus) -> Result<QueryResult, Error> {
    let results = status.results;
    let result_type = results
        .as_ref()
        .and_then(|r| r.result_type.clone())
        .unwrap_or_default();
    if status.status != "Finished" || result_type == "error" {
        let (summary, cause) = results.map(|r| (r.summary, r.cause)).unwrap_or_default();
        let summary = summary.map(|s| plain_text(&s));
        let message = summary
            .or(cause.clone())
            .unwrap_or_else(|| format!("the command ended {}", status.status));
        let sql_state = sql_state_in(&message).or_else(|| cause.as_deref().and_then(sql_state_in));
        // The cause carries the exception name the transient checks look for.
        let message = match cause {
            Some(cause) if !message.contains(&cause) => {
                format!("{message} ({})", super::truncate(&cause, 500))
            }
            _ => message,
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sql_state_from_text() {
        assert_eq!(
            sql_state_in("[TABLE_OR_VIEW_NOT_FOUND] x. SQLSTATE: 42P01"),
            Some("42P01".into())
        );
        assert_eq!(sql_state_in("no state"), None);
    }

    /// databricks-sdk-go `service/compute/ext_results_test.go`: "<b>NotFoundException: Things
    /// are going wrong…</b>" loses its tags.
    #[test]
    fn summaries_lose_their_markup() {
        assert_eq!(
            plain_text("<b>NotFoundException: Things are going wrong</b>"),
            "NotFoundException: Things are going wrong"
        );
        assert_eq!(
            plain_text(
                "<div class=\"ansiout\"><span class=\"ansi-red-fg\">AnalysisException</span>: [X] 'a' &lt; b &amp; c&#39;s &#x41;</div>"
            ),
            "AnalysisException: [X] 'a' < b & c's A"
        );
        assert_eq!(plain_text("a < b &unknown; & c"), "a < b &unknown; & c");
        let status: CommandStatus = serde_json::from_value(json!({
            "status": "Error",
            "results": {"resultType": "error", "summary": "<span>AnalysisException</span>: [PARSE_SYNTAX_ERROR] no. SQLSTATE: 42601", "cause": "x"}
        }))
        .unwrap();
        let err = command_result(status).unwrap_err().to_string();
        assert!(
            !err.contains('<') && err.contains("AnalysisException: [PARSE_SYNTAX_ERROR]"),
            "{err}"
        );
    }

    #[test]
    fn errors_keep_their_cause() {
        let status: CommandStatus = serde_json::from_value(json!({
            "status": "Finished",
            "results": {"resultType": "error", "summary": "failed", "cause": "ClusterNotReadyException: x"}
        }))
        .unwrap();
        let err = command_result(status).unwrap_err();
        assert!(err.is_retryable(), "{err}");
    }
}
