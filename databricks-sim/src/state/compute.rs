//! Warehouses and clusters: starting them and advancing a start poll by poll.

use super::{Target, World};

impl World {
    /// Advances a STARTING warehouse (or PENDING cluster) by one poll.
    pub fn tick_compute(&mut self, ws: &str, target: &Target) {
        let Some(w) = self.workspaces.get_mut(ws) else {
            return;
        };
        let c = match target {
            Target::Warehouse(id) => w.warehouses.get_mut(id),
            Target::Cluster(id) => w.clusters.get_mut(id),
        };
        if let Some(c) = c
            && (c.state == "STARTING" || c.state == "PENDING")
        {
            if c.start_polls_left == 0 {
                c.state = "RUNNING".into();
            } else {
                c.start_polls_left -= 1;
                if c.start_polls_left == 0 {
                    c.state = "RUNNING".into();
                }
            }
        }
    }

    /// `POST /api/2.0/clusters/start`: a TERMINATED cluster goes PENDING (then RUNNING after
    /// `cluster_start_polls` polls) and the start is counted; any other state is refused with
    /// INVALID_STATE "Cluster <id> is in unexpected state <State>." (databricks/cli#1372 and
    /// #6288, databricks-sdk-py#283). `None` when the cluster does not exist.
    pub fn start_cluster(&mut self, ws: &str, id: &str) -> Option<Result<(), String>> {
        let polls = self.cluster_start_polls;
        let c = self.workspaces.get_mut(ws)?.clusters.get_mut(id)?;
        if c.state != "TERMINATED" {
            let mut state = c.state.to_lowercase();
            if let Some(first) = state.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            return Some(Err(format!("Cluster {id} is in unexpected state {state}.")));
        }
        *self.cluster_starts.entry(id.to_string()).or_default() += 1;
        c.state = if polls == 0 { "RUNNING" } else { "PENDING" }.into();
        c.start_polls_left = polls;
        Some(Ok(()))
    }

    /// Starts stopped compute (counting the start); returns its state afterwards.
    pub fn ensure_started(&mut self, ws: &str, target: &Target) -> Option<String> {
        let polls = self.warehouse_start_polls;
        let w = self.workspaces.get_mut(ws)?;
        let (c, starts, id) = match target {
            Target::Warehouse(id) => (w.warehouses.get_mut(id)?, &mut self.warehouse_starts, id),
            Target::Cluster(id) => (w.clusters.get_mut(id)?, &mut self.cluster_starts, id),
        };
        let stopped = matches!(
            c.state.as_str(),
            "STOPPED" | "STOPPING" | "TERMINATED" | "TERMINATING"
        );
        if stopped {
            *starts.entry(id.clone()).or_default() += 1;
            c.state = match target {
                Target::Warehouse(_) => "STARTING".into(),
                Target::Cluster(_) => "PENDING".into(),
            };
            c.start_polls_left = polls;
            if polls == 0 {
                c.state = "RUNNING".into();
            }
        }
        Some(c.state.clone())
    }

    pub fn compute_state(&self, ws: &str, target: &Target) -> Option<String> {
        let w = self.workspaces.get(ws)?;
        match target {
            Target::Warehouse(id) => w.warehouses.get(id).map(|c| c.state.clone()),
            Target::Cluster(id) => w.clusters.get(id).map(|c| c.state.clone()),
        }
    }
}
