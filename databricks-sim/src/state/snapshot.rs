//! The serializable copy of the world that tests and `/_sim/state` read.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::World;
use crate::catalog::{Catalog, Grants};

impl World {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            metastore_id: self.has_metastore.then(|| self.metastore.id.clone()),
            metastore_owner: self.metastore.owner.clone(),
            metastore_storage_root: self.metastore.storage_root.clone(),
            metastore_grants: self.metastore.grants.clone(),
            catalogs: self.metastore.catalogs.clone(),
            workspaces: self
                .workspaces
                .iter()
                .map(|(n, w)| {
                    (
                        n.clone(),
                        WorkspaceSnapshot {
                            workspace_id: w.workspace_id,
                            metastore_assigned: self.assigned(n),
                            warehouses: w
                                .warehouses
                                .iter()
                                .map(|(k, v)| (k.clone(), v.state.clone()))
                                .collect(),
                            clusters: w
                                .clusters
                                .iter()
                                .map(|(k, v)| (k.clone(), v.state.clone()))
                                .collect(),
                        },
                    )
                })
                .collect(),
            warehouse_starts: self.warehouse_starts.clone(),
            cluster_starts: self.cluster_starts.clone(),
            principals: self
                .principals
                .iter()
                .map(|p| p.application_id.clone())
                .collect(),
            federated: self.federated.clone(),
        }
    }
}

/// A serializable copy of the simulator's state, for assertions and `/_sim/state`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Snapshot {
    /// `None` when the scenario has no metastore.
    pub metastore_id: Option<String>,
    /// The metastore owner (its members are metastore admins).
    pub metastore_owner: String,
    /// The metastore's root storage, if it has one.
    pub metastore_storage_root: Option<String>,
    /// Direct grants on the metastore (e.g. CREATE_CATALOG).
    pub metastore_grants: Grants,
    /// Catalogs by name, with owners, grants, tags, bindings, schemas, tables and views.
    pub catalogs: BTreeMap<String, Catalog>,
    pub workspaces: BTreeMap<String, WorkspaceSnapshot>,
    /// Starts per warehouse id.
    pub warehouse_starts: BTreeMap<String, u64>,
    /// Starts per cluster id.
    pub cluster_starts: BTreeMap<String, u64>,
    /// Application ids of all principals.
    pub principals: Vec<String>,
    /// Every federated token accepted (token exchange or Entra client assertion), in order.
    #[serde(default)]
    pub federated: Vec<FederatedExchange>,
}

/// A workload identity token the simulator accepted, and how it was presented.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct FederatedExchange {
    /// `token-exchange` (Databricks) or `client-assertion` (Entra).
    pub grant: String,
    pub client_id: String,
    pub issuer: String,
    pub subject: String,
    pub audiences: Vec<String>,
    /// The `kid` of the issuer's key that verified the signature.
    pub key_id: Option<String>,
    /// Whether the request also carried a client secret (it should not).
    pub client_secret_sent: bool,
    /// The token itself, so that tests can look for it where it must never appear.
    pub token: String,
}

/// One workspace in a [`Snapshot`].
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkspaceSnapshot {
    pub workspace_id: i64,
    pub metastore_assigned: bool,
    /// id → state
    pub warehouses: BTreeMap<String, String>,
    /// id → state
    pub clusters: BTreeMap<String, String>,
}
