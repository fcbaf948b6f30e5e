//! SQL on an all-purpose cluster through the Command Execution API 1.2 (camelCase fields):
//! an execution context, one command polled to its end, the context destroyed.

mod results;

use std::time::Instant;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::WorkspaceClient;
use super::error::Error;
use super::sql::QueryResult;
use results::{CommandStatus, command_result};

#[derive(Deserialize)]
struct Id {
    id: String,
}

const CONTEXT_CREATE: &str = "/api/1.2/contexts/create";
const CONTEXT_STATUS: &str = "/api/1.2/contexts/status";
const CONTEXT_DESTROY: &str = "/api/1.2/contexts/destroy";
const COMMAND_EXECUTE: &str = "/api/1.2/commands/execute";
const COMMAND_STATUS: &str = "/api/1.2/commands/status";
const COMMAND_CANCEL: &str = "/api/1.2/commands/cancel";

/// An execution context not yet given back: dropped armed (the command's future was cancelled),
/// it destroys the context in a task of its own.
struct ContextGuard {
    client: Option<WorkspaceClient>,
    cluster_id: String,
    context_id: String,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (cluster_id, context_id) = (self.cluster_id.clone(), self.context_id.clone());
            runtime.spawn(async move { client.destroy_context(&cluster_id, &context_id).await });
        }
    }
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
        // Contexts are limited per cluster: always give ours back, whatever happened — also
        // when this future is dropped half way (a reconcile past its deadline).
        let mut context = ContextGuard {
            client: Some(self.clone()),
            cluster_id: cluster_id.to_owned(),
            context_id: created.id.clone(),
        };
        let result = self.run_in_context(cluster_id, &created.id, sql).await;
        if let Some(client) = context.client.take() {
            client.destroy_context(cluster_id, &created.id).await;
        }
        result
    }

    async fn destroy_context(&self, cluster_id: &str, context_id: &str) {
        let destroy = json!({"clusterId": cluster_id, "contextId": context_id});
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
