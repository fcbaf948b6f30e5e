//! Issue 9's "Must show" list: the setups where real Databricks is stricter than the old
//! simulator (root-less metastores, terminated clusters, other teams' ISOLATED catalogs,
//! metastore admins, transient failures, the manual script run by a non-admin), driven through
//! the in-process reconcile against the real API server and the strict simulator
//! (`docs/simulator.md` lists each rule and its source).

use crate::support::in_process as fixtures;

mod access;
mod compute;
mod manual;
mod storage;
mod transient;

use databricks_sim::{Simulator, WAREHOUSE_ID};
use uc_operator::api::{DatabricksIntegration, ValidationTest};
use uc_operator::databricks::{AuthConfig, Compute, ConnectionConfig, WorkspaceClient};

/// The `name` validation test of the last validation.
fn test_of<'a>(dbi: &'a DatabricksIntegration, name: &str) -> &'a ValidationTest {
    let results = dbi
        .status
        .as_ref()
        .and_then(|s| s.validation_results.as_ref());
    let tests = results
        .map(|v| v.validation_tests.as_slice())
        .unwrap_or_default();
    tests
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no test {name:?} in {:?}", dbi.status))
}

/// The SQL of every statement and command submitted, in order (the simulator's request log).
fn submitted_sql(sim: &Simulator) -> Vec<String> {
    sim.requests().into_iter().filter_map(|r| r.sql).collect()
}

/// Whether any submitted statement creates a catalog.
fn creates_a_catalog(sql: &[String]) -> bool {
    sql.iter()
        .any(|s| s.to_ascii_uppercase().contains("CREATE CATALOG"))
}

/// A token connection to `main`'s warehouse.
fn connection(sim: &Simulator, token: &str) -> ConnectionConfig {
    ConnectionConfig {
        host: "localhost".into(),
        port: sim.workspace("main").port,
        compute: Compute::Warehouse {
            id: WAREHOUSE_ID.into(),
        },
        auth: AuthConfig::Token(token.into()),
    }
}

/// A person at a SQL editor on `main`'s warehouse, signed in with `token`.
fn sql_editor(sim: &Simulator, token: &str) -> WorkspaceClient {
    WorkspaceClient::new(connection(sim, token), &crate::domain::checks::settings(sim)).unwrap()
}

/// Runs a published script statement by statement, as that person would.
async fn run_script(client: &WorkspaceClient, script: &str) -> usize {
    let statements = uc_operator::setup::statements_of(script);
    for statement in &statements {
        client
            .execute(statement)
            .await
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    statements.len()
}
