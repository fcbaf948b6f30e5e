//! `Basic Connection Test`: `SELECT 1` through `httpPath`, unless the compute is stopped and may
//! not be started.

use serde_json::Value;

use super::{BASIC_CONNECTION_TEST, ComputePolicy, Findings};
use crate::databricks::{Compute, WorkspaceClient};

pub(super) fn compute_name(c: &Compute) -> String {
    match c {
        Compute::Warehouse { id } => format!("SQL warehouse {id}"),
        Compute::Cluster { cluster_id, .. } => format!("cluster {cluster_id}"),
    }
}

pub(super) async fn basic_connection(
    main: &WorkspaceClient,
    policy: ComputePolicy,
    f: &mut Findings,
) {
    if policy == ComputePolicy::OnlyIfRunning {
        match main.compute_state().await {
            Ok(state) if state.is_running() => {}
            Ok(state) => {
                let message = format!(
                    "{} is {}: not started (this check may not start compute)",
                    compute_name(&state.compute),
                    state.state
                );
                f.skipped(BASIC_CONNECTION_TEST, message);
                return;
            }
            Err(e) => {
                f.failed_call(
                    BASIC_CONNECTION_TEST,
                    "could not read the compute state",
                    &e,
                );
                return;
            }
        }
    }
    // Command Execution 1.2 never starts a cluster; a statement does start a warehouse, so a
    // warehouse needs no call here. A cluster is started and the reconcile comes back for it
    // (clusters take minutes; the SDK waits up to 20): no worker is held meanwhile.
    let cluster = matches!(main.compute(), Compute::Cluster { .. });
    if policy == ComputePolicy::MayStart && cluster {
        match main.start_if_stopped().await {
            Ok(state) if state.is_running() => {}
            Ok(state) => {
                let message = format!(
                    "{} is {}: starting; checked again shortly",
                    compute_name(&state.compute),
                    state.state
                );
                f.skipped(BASIC_CONNECTION_TEST, message.clone());
                f.compute_starting = Some(message);
                return;
            }
            Err(e) => {
                f.failed_call(BASIC_CONNECTION_TEST, "could not start the compute", &e);
                return;
            }
        }
    }
    f.compute_available = true;
    match main.execute("SELECT 1").await {
        Ok(result) => {
            let rows: Vec<Value> = result.to_objects().into_iter().map(Value::Object).collect();
            f.passed(BASIC_CONNECTION_TEST, None, Some(Value::Array(rows)));
        }
        Err(e) => f.failed_call(BASIC_CONNECTION_TEST, "SELECT 1 failed", &e),
    }
}
