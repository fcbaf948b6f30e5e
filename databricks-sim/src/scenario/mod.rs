//! What a simulated Databricks account looks like at start: workspaces, principals, catalogs.
//!
//! Loadable from YAML (every field but names has a default), or built in code:
//!
//! ```yaml
//! metastore_id: 8f4b5a1e-0c2d-4e6f-9a8b-7c6d5e4f3a2b   # omit for "no metastore anywhere"
//! metastore_storage_root: s3://bucket/root   # null: no root storage (Default Storage accounts)
//! metastore_grants: {"account users": [CREATE_CATALOG]}   # grants to groups
//! metastore_owner: metastore-admins          # omit: the only metastore_admin, else this group
//! token_lifetime_secs: 3600
//! cluster_start_polls: 3                     # clusters/get polls a PENDING cluster needs
//! statement_polls_past_wait: 0               # polls a statement stays RUNNING after its wait
//! result_chunk_rows: 10000                   # rows per result chunk
//! generated_workspaces: {count: 1000}        # ws-0001.. each with wh1 and its own principal
//! statement_polls_before_done: 1
//! warehouse_start_polls: 1
//! workspaces:
//!   - name: main
//!     workspace_id: 1001
//!     metastore_assigned: true
//!     warehouses: [{id: wh1, state: RUNNING}]
//!     clusters: [{id: 0000-00000-abc123, state: TERMINATED}]
//!     default_storage: false              # true: serverless, catalogs need no location
//! principals:
//!   - application_id: 6b2c...            # SCIM userName: a UUID, or an email for users
//!     display_name: uc-operator
//!     tokens: [dapi-sp-token]
//!     oauth: {client_id: sp-client, client_secret: sp-secret, certificate_pem: null}
//!     metastore_admin: false
//!     metastore_privileges: [CREATE_CATALOG]
//!     groups: [data-engineers]            # account groups (grants and ownership may name them)
//!     system_tables_access: true
//!     workspaces: [main]                  # omit for all workspaces
//! catalogs:
//!   - name: sales
//!     owner: admin@example.com
//!     isolation_mode: ISOLATED
//!     bound_workspace_ids: [1002]
//!     tags: {team: finance}
//!     grants: {"account users": [USE_CATALOG]}
//! faults:
//!   - {workspace: main, path_prefix: /api/2.0/sql/statements, kind: {latency: {millis: 200}}}
//! ```

use serde::{Deserialize, Serialize};

use crate::faults::FaultRule;

mod generated;
mod specs;

pub use generated::GeneratedWorkspaces;
pub use specs::*;

/// Fixed metastore id of [`Scenario::default_for_tests`].
pub const METASTORE_ID: &str = "8f4b5a1e-0c2d-4e6f-9a8b-7c6d5e4f3a2b";
/// Application id (SCIM userName) of the default service principal.
pub const SP_APP_ID: &str = "6b2c4d8e-1f3a-4b5c-9d7e-0a1b2c3d4e5f";
/// Display name of the default service principal.
pub const SP_NAME: &str = "uc-operator-sp";
/// Personal access token of the default service principal.
pub const SP_TOKEN: &str = "dapi-sp-token";
/// OAuth client id of the default service principal.
pub const SP_CLIENT_ID: &str = "sp-client";
/// OAuth client secret of the default service principal.
pub const SP_CLIENT_SECRET: &str = "sp-secret";
/// The default metastore admin user.
pub const ADMIN_USER: &str = "admin@example.com";
/// Personal access token of [`ADMIN_USER`].
pub const ADMIN_TOKEN: &str = "dapi-admin-token";
/// Id of the default workspace "main".
pub const MAIN_WORKSPACE_ID: i64 = 1001;
/// Id of the default warehouse.
pub const WAREHOUSE_ID: &str = "wh1";
/// Id of the default cluster.
pub const CLUSTER_ID: &str = "0000-00000-abc123";
/// Root storage of the metastore unless the scenario says otherwise.
pub const DEFAULT_STORAGE_ROOT: &str = "s3://databricks-sim-metastore/root";
/// What the governance tool's service principal needs on a catalog it governs: `USE CATALOG` and
/// `MANAGE` on the catalog itself, `USE SCHEMA`, `SELECT` and `MODIFY` effective on it.
pub const GOVERNANCE_PRIVILEGES: [&str; 5] =
    ["USE_CATALOG", "MANAGE", "USE_SCHEMA", "SELECT", "MODIFY"];
/// The group that owns the metastore when no single admin principal does.
pub const METASTORE_ADMINS_GROUP: &str = "metastore-admins";

/// The whole simulated account.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default)]
pub struct Scenario {
    pub workspaces: Vec<WorkspaceSpec>,
    pub principals: Vec<PrincipalSpec>,
    pub catalogs: Vec<CatalogSpec>,
    /// `None` = no metastore assigned anywhere.
    pub metastore_id: Option<String>,
    /// Cloud and region, as `current_metastore()` reports them (`cloud:region:uuid`).
    pub cloud: String,
    pub region: String,
    /// The metastore's root storage; `None` = none (CREATE CATALOG then needs MANAGED LOCATION).
    pub metastore_storage_root: Option<String>,
    /// Metastore grants to any grantee (a group, `account users`), REST spelling; a principal's
    /// own are its `metastore_privileges`.
    pub metastore_grants: std::collections::BTreeMap<String, Vec<String>>,
    /// The metastore owner (user, service principal or group): its members are metastore admins.
    /// `None`: the only principal with `metastore_admin`, else [`METASTORE_ADMINS_GROUP`].
    pub metastore_owner: Option<String>,
    /// OAuth access token lifetime.
    pub token_lifetime_secs: u64,
    /// How many GETs a statement stays PENDING/RUNNING.
    pub statement_polls_before_done: u32,
    /// Polls a STARTING warehouse needs before it runs.
    pub warehouse_start_polls: u32,
    /// `clusters/get` polls a PENDING cluster (after `clusters/start`) needs before it runs.
    pub cluster_start_polls: u32,
    /// GETs a statement submitted with a `wait_timeout` stays RUNNING after the wait ran out
    /// (0: it finishes within the wait).
    pub statement_polls_past_wait: u32,
    /// Rows per result chunk; larger results come in several (`next_chunk_index`).
    pub result_chunk_rows: usize,
    /// Many generated workspaces (`ws-0001`...), for benchmarks.
    pub generated_workspaces: Option<GeneratedWorkspaces>,
    /// Faults active from the start.
    pub faults: Vec<ScenarioFault>,
    /// Extra PEM CA certificates trusted when fetching a federation issuer's keys (in tests:
    /// the Kubernetes API server's own certificate).
    pub issuer_ca_pem: Option<String>,
    /// Seconds added to the clock that checks federated tokens' `exp` and `nbf`, so that tests
    /// can present a token that has expired (positive) or is not yet valid (negative).
    pub clock_offset_secs: i64,
}

/// A fault rule from the scenario file; `workspace: None` applies it to every workspace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioFault {
    #[serde(default)]
    pub workspace: Option<String>,
    #[serde(flatten)]
    pub rule: FaultRule,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            workspaces: Vec::new(),
            principals: Vec::new(),
            catalogs: Vec::new(),
            metastore_id: None,
            cloud: "aws".into(),
            region: "us-west-2".into(),
            metastore_storage_root: Some(DEFAULT_STORAGE_ROOT.into()),
            metastore_grants: Default::default(),
            metastore_owner: None,
            token_lifetime_secs: 3600,
            statement_polls_before_done: 1,
            warehouse_start_polls: 1,
            cluster_start_polls: 3,
            statement_polls_past_wait: 0,
            result_chunk_rows: 10_000,
            generated_workspaces: None,
            faults: Vec::new(),
            issuer_ca_pem: None,
            clock_offset_secs: 0,
        }
    }
}

impl Scenario {
    /// One workspace "main" (id 1001, warehouse "wh1" and cluster "0000-00000-abc123" running),
    /// the service principal [`SP_APP_ID`] (CREATE_CATALOG, system tables) and the metastore
    /// admin [`ADMIN_USER`].
    pub fn default_for_tests() -> Scenario {
        Scenario {
            workspaces: vec![
                WorkspaceSpec::new("main", MAIN_WORKSPACE_ID)
                    .with_warehouse(WAREHOUSE_ID, "RUNNING")
                    .with_cluster(CLUSTER_ID, "RUNNING"),
            ],
            principals: vec![
                PrincipalSpec::service_principal(SP_APP_ID, SP_NAME)
                    .with_token(SP_TOKEN)
                    .with_client_secret(SP_CLIENT_ID, SP_CLIENT_SECRET)
                    .with_metastore_privilege("CREATE_CATALOG")
                    .with_system_tables_access(),
                PrincipalSpec::user(ADMIN_USER)
                    .with_token(ADMIN_TOKEN)
                    .metastore_admin(),
            ],
            metastore_id: Some(METASTORE_ID.into()),
            ..Scenario::default()
        }
    }

    /// Parses a scenario from YAML.
    pub fn from_yaml(text: &str) -> anyhow::Result<Scenario> {
        Ok(serde_yaml::from_str(text)?)
    }

    /// Adds a workspace.
    pub fn with_workspace(mut self, w: WorkspaceSpec) -> Self {
        self.workspaces.push(w);
        self
    }
    /// Adds a principal.
    pub fn with_principal(mut self, p: PrincipalSpec) -> Self {
        self.principals.push(p);
        self
    }
    /// Adds a pre-existing catalog.
    pub fn with_catalog(mut self, c: CatalogSpec) -> Self {
        self.catalogs.push(c);
        self
    }
    /// Sets the OAuth token lifetime.
    pub fn with_token_lifetime(mut self, secs: u64) -> Self {
        self.token_lifetime_secs = secs;
        self
    }
    /// Sets how many polls statements stay non-terminal.
    pub fn with_statement_polls(mut self, polls: u32) -> Self {
        self.statement_polls_before_done = polls;
        self
    }
    /// Removes the metastore (no workspace has one).
    pub fn without_metastore(mut self) -> Self {
        self.metastore_id = None;
        self
    }
    /// A metastore without root storage: catalogs need a managed location.
    pub fn without_storage_root(mut self) -> Self {
        self.metastore_storage_root = None;
        self
    }
    /// Grants metastore privileges (REST spelling) to a grantee: a group, `account users`.
    pub fn with_metastore_grant(mut self, grantee: &str, privileges: &[&str]) -> Self {
        let granted = self.metastore_grants.entry(grantee.into()).or_default();
        granted.extend(privileges.iter().map(|p| p.to_string()));
        self
    }
    /// Sets the metastore owner (a user, service principal or group).
    pub fn with_metastore_owner(mut self, owner: &str) -> Self {
        self.metastore_owner = Some(owner.into());
        self
    }
    /// Sets how many `clusters/get` polls a started cluster stays PENDING.
    pub fn with_cluster_start_polls(mut self, polls: u32) -> Self {
        self.cluster_start_polls = polls;
        self
    }
    /// Makes statements stay RUNNING for `polls` GETs after their `wait_timeout`.
    pub fn with_statement_polls_past_wait(mut self, polls: u32) -> Self {
        self.statement_polls_past_wait = polls;
        self
    }
    /// Sets the rows per result chunk.
    pub fn with_result_chunk_rows(mut self, rows: usize) -> Self {
        self.result_chunk_rows = rows.max(1);
        self
    }
    /// Adds `count` generated workspaces (see [`GeneratedWorkspaces`]).
    pub fn with_generated_workspaces(mut self, count: usize) -> Self {
        self.generated_workspaces = Some(GeneratedWorkspaces {
            count,
            ..Default::default()
        });
        self
    }
    /// The scenario with generated workspaces and principals written out.
    pub fn expanded(&self) -> Scenario {
        let mut s = self.clone();
        let Some(g) = s.generated_workspaces.take() else {
            return s;
        };
        s.workspaces.reserve(g.count);
        for i in 1..=g.count {
            let name = g.name(i);
            s.workspaces.push(
                WorkspaceSpec::new(&name, g.first_workspace_id + i as i64 - 1)
                    .with_warehouse(&g.warehouse_id, &g.warehouse_state),
            );
            if g.principal_per_workspace {
                s.principals.push(
                    PrincipalSpec::service_principal(
                        &GeneratedWorkspaces::application_id(i),
                        &format!("sp-{name}"),
                    )
                    .with_token(&format!("dapi-{name}"))
                    .with_metastore_privilege("CREATE_CATALOG")
                    .only_in(&[&name]),
                );
            }
        }
        s
    }
    /// Mutable access to a principal by application id (panics when absent: a test bug).
    pub fn principal_mut(&mut self, application_id: &str) -> &mut PrincipalSpec {
        self.principals
            .iter_mut()
            .find(|p| p.application_id == application_id)
            .expect("unknown principal in scenario")
    }
    /// Mutable access to a workspace by name (panics when absent: a test bug).
    pub fn workspace_mut(&mut self, name: &str) -> &mut WorkspaceSpec {
        self.workspaces
            .iter_mut()
            .find(|w| w.name == name)
            .expect("unknown workspace in scenario")
    }
}
