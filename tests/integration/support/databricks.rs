//! Talking to the simulator as a person would: the client settings the tests use, a client per
//! workspace and token, and running SQL (a published script, or statements) as a metastore admin
//! or any other user at a SQL editor.

use std::time::Duration;

use databricks_sim::{ADMIN_TOKEN, Simulator, WAREHOUSE_ID};
use uc_operator::databricks::{
    AllowedHosts, AuthConfig, ClientSettings, Compute, ConnectionConfig, PollPolicy, RetryPolicy,
    WorkspaceClient,
};

/// Client settings trusting the simulator's CA, with short retries and polls.
pub fn settings(sim: &Simulator) -> ClientSettings {
    ClientSettings {
        ca_bundle_pem: Some(sim.ca_pem()),
        allowed_hosts: AllowedHosts::parse("localhost").unwrap(),
        retry: RetryPolicy {
            total_budget: Duration::from_secs(10),
            per_request_timeout: Duration::from_secs(10),
            base_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
            max_backoff: Duration::from_millis(100),
        },
        poll: PollPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            give_up_after: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(10),
        },
        ..ClientSettings::default()
    }
}

/// A token connection to a simulator workspace's warehouse `warehouse`.
pub fn connection(
    sim: &Simulator,
    workspace: &str,
    warehouse: &str,
    token: &str,
) -> ConnectionConfig {
    ConnectionConfig {
        host: "localhost".into(),
        port: sim.workspace(workspace).port,
        compute: Compute::Warehouse {
            id: warehouse.into(),
        },
        auth: AuthConfig::Token(token.into()),
    }
}

/// A token client for a simulator workspace, on its warehouse `warehouse`.
pub fn client(sim: &Simulator, workspace: &str, warehouse: &str, token: &str) -> WorkspaceClient {
    WorkspaceClient::new(connection(sim, workspace, warehouse, token), &settings(sim)).unwrap()
}

/// A person at a SQL editor on `main`'s warehouse, signed in with `token`.
pub fn sql_editor(sim: &Simulator, token: &str) -> WorkspaceClient {
    client(sim, "main", WAREHOUSE_ID, token)
}

/// Runs `statements` one by one; panics naming the one that failed.
pub async fn run_statements(client: &WorkspaceClient, statements: &[String]) {
    for statement in statements {
        client
            .execute(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// Runs a published script statement by statement, as a person would; how many it ran.
pub async fn run_script(client: &WorkspaceClient, script: &str) -> usize {
    let statements = uc_operator::setup::statements_of(script);
    run_statements(client, &statements).await;
    statements.len()
}

/// What a privileged user does in a SQL editor: the script, statement by statement, as the
/// metastore admin of the `main` workspace.
pub async fn run_as_admin(sim: &Simulator, script: &str) {
    run_script(&sql_editor(sim, ADMIN_TOKEN), script).await;
}

/// The SQL of every statement and command submitted, in order (the simulator's request log).
pub fn submitted_sql(sim: &Simulator) -> Vec<String> {
    sim.requests().into_iter().filter_map(|r| r.sql).collect()
}

/// Whether any submitted statement creates a catalog.
pub fn creates_a_catalog(sql: &[String]) -> bool {
    sql.iter()
        .any(|s| s.to_ascii_uppercase().contains("CREATE CATALOG"))
}

/// How many SQL statements were submitted to the Statement Execution API.
pub fn statements_sent(sim: &Simulator) -> usize {
    let requests = sim.requests();
    requests
        .iter()
        .filter(|r| r.path.starts_with("/api/2.0/sql/statements"))
        .count()
}
