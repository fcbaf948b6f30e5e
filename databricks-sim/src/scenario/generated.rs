//! Many generated workspaces, for benchmarks.

use serde::{Deserialize, Serialize};

use super::WAREHOUSE_ID;

/// `count` workspaces named `{name_prefix}0001`..., ids from `first_workspace_id`, each with a
/// warehouse and (unless `principal_per_workspace` is false) a service principal of its own:
/// application id `00000000-0000-4000-8000-<12-digit index>`, token `dapi-<workspace name>`,
/// `CREATE_CATALOG` on the metastore, usable only in its workspace.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneratedWorkspaces {
    pub count: usize,
    pub name_prefix: String,
    pub first_workspace_id: i64,
    pub warehouse_id: String,
    pub warehouse_state: String,
    pub principal_per_workspace: bool,
}

impl Default for GeneratedWorkspaces {
    fn default() -> Self {
        GeneratedWorkspaces {
            count: 0,
            name_prefix: "ws-".into(),
            first_workspace_id: 100_001,
            warehouse_id: WAREHOUSE_ID.into(),
            warehouse_state: "RUNNING".into(),
            principal_per_workspace: true,
        }
    }
}

impl GeneratedWorkspaces {
    /// The name of the `i`th (from 1) generated workspace.
    pub fn name(&self, i: usize) -> String {
        let width = self.count.to_string().len().max(4);
        format!("{}{i:0width$}", self.name_prefix)
    }
    /// The application id of the `i`th generated principal.
    pub fn application_id(i: usize) -> String {
        format!("00000000-0000-4000-8000-{i:012}")
    }
}
