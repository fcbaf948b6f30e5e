//! The warehouse or cluster behind `httpPath`: its state, and starting a terminated
//! all-purpose cluster (Command Execution 1.2 never starts one; a statement does start a
//! warehouse by itself).

use std::time::Instant;

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::connection::Compute;
use super::error::Error;
use super::{WorkspaceClient, encode_segment};

const CLUSTERS_GET: &str = "/api/2.0/clusters/get";
const CLUSTERS_START: &str = "/api/2.0/clusters/start";

/// The state of the connection's warehouse or cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeState {
    pub compute: Compute,
    /// The API's state name: `RUNNING`, `STOPPED`, `TERMINATED`, …
    pub state: String,
}

impl ComputeState {
    /// Whether SQL can run without starting (and paying for) the compute. A resizing cluster
    /// runs commands (databricks-sdk-go `compute/ext_utilities.go` `IsRunningOrResizing`).
    pub fn is_running(&self) -> bool {
        match self.compute {
            Compute::Warehouse { .. } => self.state == "RUNNING",
            Compute::Cluster { .. } => matches!(self.state.as_str(), "RUNNING" | "RESIZING"),
        }
    }
}

impl WorkspaceClient {
    /// The state of the warehouse or cluster behind `httpPath`; reading it never starts it.
    pub async fn compute_state(&self) -> Result<ComputeState, Error> {
        #[derive(Deserialize)]
        struct State {
            state: Option<String>,
        }
        let compute = self.inner.config.compute.clone();
        let state: State = match &compute {
            Compute::Warehouse { id } => {
                let path = format!("/api/2.0/sql/warehouses/{}", encode_segment(id));
                let endpoint = "/api/2.0/sql/warehouses/{id}";
                self.call_json(Method::GET, endpoint, &path, vec![], None)
                    .await?
            }
            Compute::Cluster { cluster_id, .. } => {
                let query = vec![("cluster_id", cluster_id.clone())];
                self.call_json(Method::GET, CLUSTERS_GET, CLUSTERS_GET, query, None)
                    .await?
            }
        };
        Ok(ComputeState {
            compute,
            state: state.state.unwrap_or_else(|| "UNKNOWN".into()),
        })
    }

    /// Makes the connection's all-purpose cluster run: starts it with `clusters/start` when it
    /// is terminated (after a terminating one has stopped) and waits for `RUNNING`, within the
    /// poll policy's `give_up_after`. Call it only when starting compute is allowed: it costs
    /// money. A warehouse is left alone and its state returned: a statement starts it.
    /// (databricks-sdk-go `compute/ext_utilities.go` `EnsureClusterIsRunning`.)
    pub async fn ensure_running(&self) -> Result<ComputeState, Error> {
        let Compute::Cluster { cluster_id, .. } = &self.inner.config.compute else {
            return self.compute_state().await;
        };
        let started = Instant::now();
        let poll = self.inner.poll;
        let mut start_sent = false;
        let mut polls: u32 = 0;
        loop {
            let state = self.compute_state().await?;
            if state.is_running() {
                return Ok(state);
            }
            match state.state.as_str() {
                "TERMINATED" if !start_sent => {
                    start_sent = true;
                    self.start_cluster(cluster_id).await?;
                }
                // Once started, a cluster that ends up terminated again failed to start.
                "TERMINATED" | "ERROR" | "UNKNOWN" if start_sent => {
                    return Err(not_started(cluster_id, &state.state));
                }
                "PENDING" | "RESTARTING" | "TERMINATING" | "TERMINATED" => {}
                other => return Err(not_started(cluster_id, other)),
            }
            if started.elapsed() >= poll.give_up_after {
                return Err(Error::Timeout {
                    what: format!("starting cluster {cluster_id}"),
                    elapsed: started.elapsed(),
                });
            }
            polls = polls.saturating_add(1);
            tokio::time::sleep(poll.delay(polls)).await;
        }
    }

    /// One step of making the connection's all-purpose cluster run, without waiting: a
    /// terminated cluster is started (`clusters/start`), a starting one left to start. Returns
    /// the state it was found in, `PENDING` once a start was sent; `is_running()` says whether
    /// SQL can go now. A warehouse's state is returned as is (a statement starts it). The
    /// caller comes back later rather than holding a worker through a start of minutes.
    pub async fn start_if_stopped(&self) -> Result<ComputeState, Error> {
        let Compute::Cluster { cluster_id, .. } = &self.inner.config.compute else {
            return self.compute_state().await;
        };
        let mut state = self.compute_state().await?;
        match state.state.as_str() {
            _ if state.is_running() => {}
            "TERMINATED" => {
                self.start_cluster(cluster_id).await?;
                state.state = "PENDING".into();
            }
            "PENDING" | "RESTARTING" | "TERMINATING" => {}
            other => return Err(not_started(cluster_id, other)),
        }
        Ok(state)
    }

    /// `clusters/start`; `INVALID_STATE` means someone else started it meanwhile, which is
    /// as good (the SDK retries on it too).
    async fn start_cluster(&self, cluster_id: &str) -> Result<(), Error> {
        let body = json!({ "cluster_id": cluster_id });
        match self
            .call(
                Method::POST,
                CLUSTERS_START,
                CLUSTERS_START,
                vec![],
                Some(body),
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(Error::InvalidRequest(api)) if api.code == "INVALID_STATE" => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn not_started(cluster_id: &str, state: &str) -> Error {
    Error::Protocol {
        endpoint: CLUSTERS_GET,
        message: format!("cluster {cluster_id} is {state} and cannot be used for SQL"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizing_clusters_run() {
        let cluster = |state: &str| ComputeState {
            compute: Compute::Cluster {
                org_id: "1".into(),
                cluster_id: "c".into(),
            },
            state: state.into(),
        };
        assert!(cluster("RUNNING").is_running() && cluster("RESIZING").is_running());
        assert!(!cluster("TERMINATED").is_running() && !cluster("PENDING").is_running());
        let warehouse = ComputeState {
            compute: Compute::Warehouse { id: "w".into() },
            state: "RESIZING".into(),
        };
        assert!(!warehouse.is_running());
    }
}
