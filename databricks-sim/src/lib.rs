//! `databricks-sim`: a local stand-in for Databricks workspaces sharing one Unity Catalog
//! metastore, speaking the wire formats of the real REST APIs over HTTPS.
//!
//! Start one with [`Simulator::start`] and a [`Scenario`]; each workspace gets its own port on
//! 127.0.0.1 with a certificate from a CA generated at start ([`Simulator::ca_pem`]).
//!
//! Admin endpoints (no authentication, on every port, for tests and demo scripts):
//! - `GET /_sim/state` → [`Snapshot`] as JSON
//! - `GET /_sim/requests` → `[RequestRecord]`; `DELETE /_sim/requests` clears the log
//! - `POST /_sim/faults` body [`FaultRule`] (JSON) → adds it to this port's workspace
//!   (`?workspace=NAME` for another one); `DELETE /_sim/faults` clears all faults
//! - `GET /_sim/requests/counts` → `{"<workspace> <METHOD> <path>": n}`
//! - `POST /_sim/warehouses/{id}/state` body `{"state": "STOPPED"}` → sets a warehouse's state
//! - `POST /_sim/clusters/{id}/state` body `{"state": "TERMINATED"}` → sets a cluster's state
//!
//! `/_sim/state` carries `warehouse_starts` and `cluster_starts` (successful
//! `clusters/start` calls) per id. The strictness rules and their sources are listed in
//! `docs/simulator.md`.

mod api;
pub mod catalog;
pub mod faults;
pub mod scenario;
mod server;
pub mod sql;
mod state;
pub mod testcert;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use catalog::{Catalog, Grants, Schema, Table};
pub use faults::{FaultKind, FaultRule};
pub use scenario::*;
pub use state::{FederatedExchange, RequestRecord, Snapshot, WorkspaceSnapshot};

/// Where a workspace listens.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct WorkspaceInfo {
    pub name: String,
    pub workspace_id: i64,
    pub port: u16,
    /// `localhost:PORT`
    pub host: String,
    /// `https://localhost:PORT`
    pub url: String,
}

/// State shared by all listeners.
pub(crate) struct Shared {
    pub world: Mutex<state::World>,
}

struct Handle {
    shared: Arc<Shared>,
    workspaces: Vec<WorkspaceInfo>,
    ca_pem: String,
    ca_path: PathBuf,
    /// A temp dir the simulator created and removes on drop.
    owned_dir: Option<PathBuf>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(dir) = &self.owned_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A running simulator; clones share it, and it shuts down when the last clone is dropped.
#[derive(Clone)]
pub struct Simulator {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulator")
            .field("workspaces", &self.handle.workspaces)
            .finish()
    }
}

impl Simulator {
    /// Starts one HTTPS listener per workspace on 127.0.0.1:0; the CA goes to a temp dir.
    pub async fn start(scenario: Scenario) -> anyhow::Result<Simulator> {
        let dir = std::env::temp_dir().join(format!("databricks-sim-{}", uuid::Uuid::new_v4()));
        Self::start_inner(scenario, &dir, true).await
    }

    /// Like [`Simulator::start`], writing `ca.pem` into `dir` (kept after shutdown).
    pub async fn start_in(scenario: Scenario, dir: &Path) -> anyhow::Result<Simulator> {
        Self::start_inner(scenario, dir, false).await
    }

    async fn start_inner(scenario: Scenario, dir: &Path, owned: bool) -> anyhow::Result<Simulator> {
        let scenario = scenario.expanded();
        anyhow::ensure!(
            !scenario.workspaces.is_empty(),
            "the scenario has no workspaces"
        );
        let tls = tls::generate()?;
        std::fs::create_dir_all(dir)?;
        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, &tls.ca_pem)?;
        let shared = Arc::new(Shared {
            world: Mutex::new(state::World::new(&scenario)),
        });
        let (tx, rx) = watch::channel(false);
        let mut workspaces = Vec::new();
        let mut tasks = Vec::new();
        // One router for every workspace (the request carries which one it is): a thousand
        // workspaces cost a thousand listeners, not a thousand route tables.
        let router = api::router();
        for w in &scenario.workspaces {
            let listener =
                tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
            let port = listener.local_addr()?.port();
            workspaces.push(WorkspaceInfo {
                name: w.name.clone(),
                workspace_id: w.workspace_id,
                port,
                host: format!("localhost:{port}"),
                url: format!("https://localhost:{port}"),
            });
            let ctx = server::Ctx {
                shared: shared.clone(),
                workspace: w.name.clone(),
                port,
            };
            tasks.push(tokio::spawn(server::serve(
                listener,
                ctx,
                router.clone(),
                tls.server_config.clone(),
                rx.clone(),
            )));
        }
        Ok(Simulator {
            handle: Arc::new(Handle {
                shared,
                workspaces,
                ca_pem: tls.ca_pem,
                ca_path,
                owned_dir: owned.then(|| dir.to_path_buf()),
                shutdown: tx,
                tasks: Mutex::new(tasks),
            }),
        })
    }

    fn world(&self) -> std::sync::MutexGuard<'_, state::World> {
        self.handle.shared.world.lock().expect("world lock")
    }

    /// The named workspace's address (panics on an unknown name: a test bug).
    pub fn workspace(&self, name: &str) -> WorkspaceInfo {
        self.handle
            .workspaces
            .iter()
            .find(|w| w.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no workspace named {name:?} in the scenario"))
    }

    /// All workspaces, in scenario order.
    pub fn workspaces(&self) -> Vec<WorkspaceInfo> {
        self.handle.workspaces.clone()
    }

    /// PEM of the simulator's CA.
    pub fn ca_pem(&self) -> String {
        self.handle.ca_pem.clone()
    }

    /// The CA written to a file.
    pub fn ca_path(&self) -> PathBuf {
        self.handle.ca_path.clone()
    }

    /// A copy of the current state.
    pub fn state(&self) -> Snapshot {
        self.world().snapshot()
    }

    /// The request log (admin endpoints excluded).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.world().requests.clone()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.world().requests.clear();
    }

    /// How often the warehouse was started by a statement.
    pub fn warehouse_starts(&self, warehouse_id: &str) -> u64 {
        self.world()
            .warehouse_starts
            .get(warehouse_id)
            .copied()
            .unwrap_or(0)
    }

    /// Requests counted by `"<workspace> <METHOD> <path>"` (admin endpoints excluded).
    pub fn request_counts(&self) -> std::collections::BTreeMap<String, u64> {
        api::admin::count_requests(&self.world())
    }

    /// Sets the metastore owner (user, service principal or group).
    pub fn set_metastore_owner(&self, owner: &str) {
        self.world().metastore.owner = owner.into();
    }

    /// Adds a principal to an account group.
    pub fn add_to_group(&self, principal: &str, group: &str) {
        if let Some(p) = self
            .world()
            .principals
            .iter_mut()
            .find(|p| p.application_id.eq_ignore_ascii_case(principal))
        {
            p.groups.push(group.into());
        }
    }

    /// How often the cluster was started with `clusters/start`.
    pub fn cluster_starts(&self, cluster_id: &str) -> u64 {
        self.world()
            .cluster_starts
            .get(cluster_id)
            .copied()
            .unwrap_or(0)
    }

    /// Sets a warehouse's state (e.g. `STOPPED`), creating the warehouse if needed.
    pub fn set_warehouse_state(&self, workspace: &str, id: &str, state: &str) {
        api::admin::set_warehouse_state(&mut self.world(), workspace, id, state);
    }

    /// Sets a cluster's state (e.g. `TERMINATED`, `RESIZING`), creating the cluster if needed.
    pub fn set_cluster_state(&self, workspace: &str, id: &str, state: &str) {
        api::admin::set_cluster_state(&mut self.world(), workspace, id, state);
    }

    /// Adds a fault rule to a workspace.
    pub fn inject(&self, workspace: &str, fault: FaultRule) {
        if let Some(w) = self.world().workspaces.get_mut(workspace) {
            w.faults.push(fault);
        }
    }

    /// Removes all fault rules everywhere.
    pub fn clear_faults(&self) {
        for w in self.world().workspaces.values_mut() {
            w.faults.clear();
        }
    }

    /// Revokes a personal access token or OAuth access token: it then gets 403.
    pub fn revoke_token(&self, token: &str) {
        self.world().revoked.insert(token.into());
    }

    /// Assigns or unassigns the metastore for a workspace.
    pub fn set_metastore_assigned(&self, workspace: &str, assigned: bool) {
        let mut w = self.world();
        if assigned && !w.has_metastore {
            w.has_metastore = true;
            if w.metastore.id.is_empty() {
                w.metastore.id = uuid::Uuid::new_v4().to_string();
            }
        }
        if let Some(ws) = w.workspaces.get_mut(workspace) {
            ws.metastore_assigned = assigned;
        }
    }

    /// Grants a metastore privilege (REST or SQL spelling) to a principal.
    pub fn grant_metastore_privilege(&self, principal: &str, privilege: &str) {
        self.world()
            .metastore
            .grants
            .entry(principal.into())
            .or_default()
            .insert(catalog::normalize_privilege(privilege));
    }

    /// Revokes a metastore privilege from a principal.
    pub fn revoke_metastore_privilege(&self, principal: &str, privilege: &str) {
        let mut w = self.world();
        if let Some(set) = w.metastore.grants.get_mut(principal) {
            set.remove(&catalog::normalize_privilege(privilege));
            if set.is_empty() {
                w.metastore.grants.remove(principal);
            }
        }
    }

    /// Sets when a personal access token expires (epoch milliseconds), as the token list shows.
    pub fn set_token_expiry(&self, token: &str, expiry_ms: i64) {
        for p in self.world().principals.iter_mut() {
            if p.tokens.iter().any(|t| t == token) {
                p.token_expiry_time.insert(token.into(), expiry_ms);
            }
        }
    }

    /// Deletes a principal from the account: it can no longer authenticate or be named, and
    /// its grants stay, listed by `principal_id` (databricks-sdk-go `PrivilegeAssignment`).
    /// Returns that id.
    pub fn delete_principal(&self, application_id: &str) -> String {
        let mut w = self.world();
        w.principals
            .retain(|x| !x.application_id.eq_ignore_ascii_case(application_id));
        let id = api::scim_id(application_id);
        w.deleted_principals
            .insert(application_id.to_string(), id.clone());
        id
    }

    /// Adds (or replaces) a principal.
    pub fn add_principal(&self, p: PrincipalSpec) {
        let mut w = self.world();
        for privilege in &p.metastore_privileges {
            w.metastore
                .grants
                .entry(p.application_id.clone())
                .or_default()
                .insert(catalog::normalize_privilege(privilege));
        }
        if p.system_tables_access {
            catalog::grant_read_access(&mut w.metastore.system, &p.application_id);
        }
        w.principals
            .retain(|x| x.application_id != p.application_id);
        w.principals.push(p);
    }

    /// Rotates an OAuth client secret; the old one stops working for new tokens.
    pub fn set_client_secret(&self, client_id: &str, secret: &str) {
        for p in self.world().principals.iter_mut() {
            if let Some(o) = p.oauth.as_mut()
                && o.client_id == client_id
            {
                o.client_secret = Some(secret.into());
            }
        }
    }

    /// Registers a certificate (PEM) for a client id's JWT assertions.
    pub fn set_client_certificate(&self, client_id: &str, certificate_pem: &str) {
        for p in self.world().principals.iter_mut() {
            if let Some(o) = p.oauth.as_mut()
                && o.client_id == client_id
            {
                o.certificate_pem = Some(certificate_pem.into());
            }
        }
    }

    /// Stops every listener and waits for them.
    pub async fn shutdown(self) {
        let _ = self.handle.shutdown.send(true);
        let tasks = std::mem::take(&mut *self.handle.tasks.lock().expect("tasks lock"));
        for t in tasks {
            let _ = t.await;
        }
    }
}
