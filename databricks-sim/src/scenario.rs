//! What a simulated Databricks account looks like at start: workspaces, principals, catalogs.
//!
//! Loadable from YAML (every field but names has a default), or built in code:
//!
//! ```yaml
//! metastore_id: 8f4b5a1e-0c2d-4e6f-9a8b-7c6d5e4f3a2b   # omit for "no metastore anywhere"
//! metastore_storage_root: s3://bucket/root   # null: no root storage (Default Storage accounts)
//! metastore_owner: metastore-admins          # omit: the only metastore_admin, else this group
//! token_lifetime_secs: 3600
//! cluster_start_polls: 1                     # clusters/get polls a PENDING cluster needs
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

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::faults::FaultRule;

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
}

/// A fault rule from the scenario file; `workspace: None` applies it to every workspace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ScenarioFault {
    #[serde(default)]
    pub workspace: Option<String>,
    #[serde(flatten)]
    pub rule: FaultRule,
}

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

/// One workspace: its own HTTPS port and id, sharing the metastore.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkspaceSpec {
    pub name: String,
    pub workspace_id: i64,
    #[serde(default = "yes")]
    pub metastore_assigned: bool,
    #[serde(default)]
    pub warehouses: Vec<WarehouseSpec>,
    #[serde(default)]
    pub clusters: Vec<ClusterSpec>,
}

/// A SQL warehouse; `state` is `RUNNING`, `STOPPED`, ...
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WarehouseSpec {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "running")]
    pub state: String,
}

/// An all-purpose cluster; `state` is `RUNNING`, `TERMINATED`, ...
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClusterSpec {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default = "running")]
    pub state: String,
}

/// A user or service principal.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PrincipalSpec {
    /// SCIM userName: a UUID for service principals, an email for users. Grants name it.
    pub application_id: String,
    pub display_name: String,
    /// Personal access tokens.
    pub tokens: Vec<String>,
    pub oauth: Option<OAuthClientSpec>,
    pub metastore_admin: bool,
    /// Metastore privileges in REST spelling, e.g. `CREATE_CATALOG`.
    pub metastore_privileges: Vec<String>,
    pub system_tables_access: bool,
    /// Workspace names it may use; `None` = all.
    pub workspaces: Option<Vec<String>>,
    /// Account groups it belongs to (besides `account users`).
    pub groups: Vec<String>,
}

/// OAuth M2M credentials of a principal: a secret, a certificate (Entra JWT assertion), or both.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthClientSpec {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub certificate_pem: Option<String>,
}

/// A catalog that exists at start.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CatalogSpec {
    pub name: String,
    pub owner: String,
    #[serde(default)]
    pub comment: Option<String>,
    /// `OPEN` or `ISOLATED`.
    #[serde(default = "open")]
    pub isolation_mode: String,
    #[serde(default)]
    pub bound_workspace_ids: Vec<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// principal → REST privilege names.
    #[serde(default)]
    pub grants: BTreeMap<String, Vec<String>>,
    /// Extra schemas (besides `default` and `information_schema`).
    #[serde(default)]
    pub schemas: Vec<String>,
}

fn yes() -> bool {
    true
}
fn running() -> String {
    "RUNNING".into()
}
fn open() -> String {
    "OPEN".into()
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
            metastore_owner: None,
            token_lifetime_secs: 3600,
            statement_polls_before_done: 1,
            warehouse_start_polls: 1,
            cluster_start_polls: 1,
            statement_polls_past_wait: 0,
            result_chunk_rows: 10_000,
            generated_workspaces: None,
            faults: Vec::new(),
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

impl WorkspaceSpec {
    /// A workspace with a metastore and no compute.
    pub fn new(name: &str, workspace_id: i64) -> Self {
        WorkspaceSpec {
            name: name.into(),
            workspace_id,
            metastore_assigned: true,
            warehouses: Vec::new(),
            clusters: Vec::new(),
        }
    }
    /// Adds a warehouse in `state`.
    pub fn with_warehouse(mut self, id: &str, state: &str) -> Self {
        self.warehouses.push(WarehouseSpec {
            id: id.into(),
            name: None,
            state: state.into(),
        });
        self
    }
    /// Adds a cluster in `state`.
    pub fn with_cluster(mut self, id: &str, state: &str) -> Self {
        self.clusters.push(ClusterSpec {
            id: id.into(),
            name: None,
            state: state.into(),
        });
        self
    }
    /// Sets whether the workspace has the metastore assigned.
    pub fn with_metastore_assigned(mut self, assigned: bool) -> Self {
        self.metastore_assigned = assigned;
        self
    }
}

impl PrincipalSpec {
    /// A service principal named by its application id.
    pub fn service_principal(application_id: &str, display_name: &str) -> Self {
        PrincipalSpec {
            application_id: application_id.into(),
            display_name: display_name.into(),
            ..Default::default()
        }
    }
    /// A user named by email.
    pub fn user(email: &str) -> Self {
        PrincipalSpec {
            application_id: email.into(),
            display_name: email.split('@').next().unwrap_or(email).into(),
            ..Default::default()
        }
    }
    /// Adds a personal access token.
    pub fn with_token(mut self, token: &str) -> Self {
        self.tokens.push(token.into());
        self
    }
    /// Sets OAuth client-secret credentials.
    pub fn with_client_secret(mut self, client_id: &str, secret: &str) -> Self {
        let o = self.oauth.get_or_insert_with(Default::default);
        o.client_id = client_id.into();
        o.client_secret = Some(secret.into());
        self
    }
    /// Registers a certificate (PEM) for JWT client assertions.
    pub fn with_certificate(mut self, client_id: &str, certificate_pem: &str) -> Self {
        let o = self.oauth.get_or_insert_with(Default::default);
        o.client_id = client_id.into();
        o.certificate_pem = Some(certificate_pem.into());
        self
    }
    /// Makes it a metastore admin.
    pub fn metastore_admin(mut self) -> Self {
        self.metastore_admin = true;
        self
    }
    /// Grants a metastore privilege (REST spelling).
    pub fn with_metastore_privilege(mut self, privilege: &str) -> Self {
        self.metastore_privileges.push(privilege.into());
        self
    }
    /// Gives read access to the system tables.
    pub fn with_system_tables_access(mut self) -> Self {
        self.system_tables_access = true;
        self
    }
    /// Adds it to an account group.
    pub fn in_group(mut self, group: &str) -> Self {
        self.groups.push(group.into());
        self
    }
    /// Restricts it to the named workspaces.
    pub fn only_in(mut self, workspaces: &[&str]) -> Self {
        self.workspaces = Some(workspaces.iter().map(|s| s.to_string()).collect());
        self
    }
}

impl CatalogSpec {
    /// An OPEN catalog with no grants.
    pub fn new(name: &str, owner: &str) -> Self {
        CatalogSpec {
            name: name.into(),
            owner: owner.into(),
            comment: None,
            isolation_mode: "OPEN".into(),
            bound_workspace_ids: Vec::new(),
            tags: BTreeMap::new(),
            grants: BTreeMap::new(),
            schemas: Vec::new(),
        }
    }
    /// Makes it ISOLATED and bound to the given workspaces.
    pub fn isolated(mut self, workspace_ids: &[i64]) -> Self {
        self.isolation_mode = "ISOLATED".into();
        self.bound_workspace_ids = workspace_ids.to_vec();
        self
    }
    /// Adds a tag.
    pub fn with_tag(mut self, key: &str, value: &str) -> Self {
        self.tags.insert(key.into(), value.into());
        self
    }
    /// Grants privileges (REST spelling) to a principal.
    pub fn with_grant(mut self, principal: &str, privileges: &[&str]) -> Self {
        self.grants
            .entry(principal.into())
            .or_default()
            .extend(privileges.iter().map(|s| s.to_string()));
        self
    }
}
