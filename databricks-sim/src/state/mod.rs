//! The mutable world behind every workspace port, and its serializable snapshot.

mod compute;
mod snapshot;

pub use snapshot::{FederatedExchange, Snapshot, WorkspaceSnapshot};

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::catalog::{Caller, Catalog, Grants, Metastore, Schema};
use crate::faults::FaultRule;
use crate::scenario::{PrincipalSpec, Scenario};

/// A warehouse or cluster and how many polls its start still needs.
#[derive(Clone, Debug)]
pub(crate) struct Compute {
    pub name: String,
    pub state: String,
    pub start_polls_left: u32,
    /// A cluster's Databricks Runtime (`spark_version`); empty for warehouses.
    pub spark_version: String,
}

/// Per-workspace state.
#[derive(Clone, Debug)]
pub(crate) struct Workspace {
    pub workspace_id: i64,
    pub metastore_assigned: bool,
    /// Serverless with Default Storage: catalogs need no location.
    pub default_storage: bool,
    /// Whether the entity tag assignments API is served.
    pub entity_tags_api: bool,
    /// The id its `metastore_summary` reports when it is on another metastore.
    pub other_metastore_id: Option<String>,
    pub warehouses: BTreeMap<String, Compute>,
    pub clusters: BTreeMap<String, Compute>,
    pub faults: Vec<FaultRule>,
}

/// Where a statement or command runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Warehouse(String),
    Cluster(String),
}

/// A submitted statement (Statement Execution API) or command (Command Execution API).
#[derive(Clone, Debug)]
pub(crate) struct Job {
    pub workspace: String,
    pub target: Target,
    pub sql: String,
    pub params: HashMap<String, Option<String>>,
    pub catalog: Option<String>,
    pub schema: Option<String>,
    pub caller: Caller,
    pub polls_left: u32,
    pub polled: bool,
    pub outcome: Option<Outcome>,
}

/// How a job ended.
#[derive(Clone, Debug)]
pub(crate) enum Outcome {
    Succeeded(crate::sql::QueryResult),
    Failed(crate::sql::SqlError),
    Canceled,
}

/// One request as the simulator saw it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestRecord {
    pub workspace: String,
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// 0 when the connection was dropped without an answer.
    pub status: u16,
    /// The authenticated principal, when authentication succeeded.
    pub principal: Option<String>,
    /// The SQL of a statement or command submission (so a test can tell reads from writes).
    #[serde(default)]
    pub sql: Option<String>,
    /// When the request arrived and when its answer was ready (ms since the epoch; injected
    /// latency included), so a client's critical path can be read off the log.
    #[serde(default)]
    pub start_ms: i64,
    #[serde(default)]
    pub finish_ms: i64,
}

/// Everything mutable.
pub(crate) struct World {
    pub token_lifetime_secs: u64,
    pub statement_polls: u32,
    pub warehouse_start_polls: u32,
    pub cluster_start_polls: u32,
    pub statement_polls_past_wait: u32,
    pub result_chunk_rows: usize,
    pub has_metastore: bool,
    pub metastore: Metastore,
    pub principals: Vec<PrincipalSpec>,
    pub revoked: HashSet<String>,
    /// Principals deleted from the account, name (as grants spell it) → id: their grants stay, shown
    /// with an empty `principal` and this `principal_id`.
    pub deleted_principals: BTreeMap<String, String>,
    /// access token → (principal application id, expiry)
    pub oauth_tokens: HashMap<String, (String, Instant)>,
    pub workspaces: BTreeMap<String, Workspace>,
    pub warehouse_starts: BTreeMap<String, u64>,
    pub cluster_starts: BTreeMap<String, u64>,
    pub jobs: HashMap<String, Job>,
    pub contexts: HashMap<String, String>,
    pub requests: Vec<RequestRecord>,
    pub issuer_ca_pem: Option<String>,
    pub clock_offset_secs: i64,
    pub federated: Vec<snapshot::FederatedExchange>,
}

impl World {
    // Long: one pass from the scenario to the whole world, field by field.
    pub fn new(s: &Scenario) -> World {
        let now = now_millis();
        let mut metastore = Metastore {
            id: s.metastore_id.clone().unwrap_or_default(),
            name: "metastore".into(),
            cloud: s.cloud.clone(),
            region: s.region.clone(),
            owner: metastore_owner(s),
            storage_root: s.metastore_storage_root.clone(),
            grants: Grants::new(),
            catalogs: BTreeMap::new(),
            system: crate::catalog::system_catalog(),
        };
        for p in s.principals.iter().filter(|p| p.system_tables_access) {
            crate::catalog::grant_read_access(&mut metastore.system, &p.application_id);
        }
        for p in &s.principals {
            for privilege in &p.metastore_privileges {
                metastore
                    .grants
                    .entry(p.application_id.clone())
                    .or_default()
                    .insert(crate::catalog::normalize_privilege(privilege));
            }
        }
        for (grantee, privileges) in &s.metastore_grants {
            let granted = metastore.grants.entry(grantee.clone()).or_default();
            granted.extend(
                privileges
                    .iter()
                    .map(|p| crate::catalog::normalize_privilege(p)),
            );
        }
        for c in &s.catalogs {
            let mut cat = Catalog::new(&c.name.to_lowercase(), &c.owner, now);
            cat.comment = c.comment.clone();
            cat.isolation_mode = c.isolation_mode.to_uppercase();
            for id in &c.bound_workspace_ids {
                cat.bindings.insert(*id, "BINDING_TYPE_READ_WRITE".into());
            }
            for id in &c.read_only_workspace_ids {
                cat.bindings.insert(*id, "BINDING_TYPE_READ_ONLY".into());
            }
            cat.tags = c.tags.clone();
            for (p, privs) in &c.grants {
                cat.grants.insert(
                    p.clone(),
                    privs
                        .iter()
                        .map(|x| crate::catalog::normalize_privilege(x))
                        .collect(),
                );
            }
            for sch in &c.schemas {
                cat.schemas.insert(
                    sch.to_lowercase(),
                    Schema::new(&sch.to_lowercase(), &c.owner),
                );
            }
            metastore.catalogs.insert(cat.name.clone(), cat);
        }
        let compute = |id: &str, name: &Option<String>, state: &str| Compute {
            name: name.clone().unwrap_or_else(|| id.to_string()),
            state: state.to_uppercase(),
            start_polls_left: 0,
            spark_version: String::new(),
        };
        let workspaces = s
            .workspaces
            .iter()
            .map(|w| {
                let faults = s
                    .faults
                    .iter()
                    .filter(|f| f.workspace.as_deref().is_none_or(|n| n == w.name))
                    .map(|f| f.rule.clone())
                    .collect();
                (
                    w.name.clone(),
                    Workspace {
                        workspace_id: w.workspace_id,
                        metastore_assigned: w.metastore_assigned,
                        default_storage: w.default_storage,
                        entity_tags_api: w.entity_tags_api,
                        other_metastore_id: w.other_metastore_id.clone(),
                        warehouses: w
                            .warehouses
                            .iter()
                            .map(|x| (x.id.clone(), compute(&x.id, &x.name, &x.state)))
                            .collect(),
                        clusters: w
                            .clusters
                            .iter()
                            .map(|x| {
                                let mut c = compute(&x.id, &x.name, &x.state);
                                c.spark_version = x.spark_version.clone();
                                (x.id.clone(), c)
                            })
                            .collect(),
                        faults,
                    },
                )
            })
            .collect();
        World {
            token_lifetime_secs: s.token_lifetime_secs,
            statement_polls: s.statement_polls_before_done,
            warehouse_start_polls: s.warehouse_start_polls,
            cluster_start_polls: s.cluster_start_polls,
            statement_polls_past_wait: s.statement_polls_past_wait,
            result_chunk_rows: s.result_chunk_rows.max(1),
            has_metastore: s.metastore_id.is_some(),
            metastore,
            principals: s.principals.clone(),
            revoked: HashSet::new(),
            deleted_principals: BTreeMap::new(),
            oauth_tokens: HashMap::new(),
            workspaces,
            warehouse_starts: BTreeMap::new(),
            cluster_starts: BTreeMap::new(),
            jobs: HashMap::new(),
            contexts: HashMap::new(),
            requests: Vec::new(),
            issuer_ca_pem: s.issuer_ca_pem.clone(),
            clock_offset_secs: s.clock_offset_secs,
            federated: Vec::new(),
        }
    }

    /// Whether the workspace has a metastore.
    pub fn assigned(&self, ws: &str) -> bool {
        self.has_metastore
            && self
                .workspaces
                .get(ws)
                .is_some_and(|w| w.metastore_assigned)
    }

    pub fn principal(&self, id: &str) -> Option<&PrincipalSpec> {
        self.principals
            .iter()
            .find(|p| p.application_id.eq_ignore_ascii_case(id))
    }

    /// Lower-cased names grants and owners may name: principals and groups.
    pub fn principal_names(&self) -> BTreeSet<String> {
        let mut s: BTreeSet<String> = self
            .principals
            .iter()
            .map(|p| p.application_id.to_lowercase())
            .collect();
        for p in &self.principals {
            s.extend(p.groups.iter().map(|g| g.to_lowercase()));
            s.extend(p.nested_groups.iter().map(|g| g.to_lowercase()));
        }
        s.insert(self.metastore.owner.to_lowercase());
        s.insert(crate::catalog::ACCOUNT_USERS.into());
        s.insert("users".into());
        s.insert("admins".into());
        s
    }

    /// The principal's account groups; a `metastore_admin` principal is a member of the
    /// metastore's owning group (that is what makes it an admin).
    pub fn groups_of(&self, p: &PrincipalSpec) -> Vec<String> {
        let mut groups = p.groups.clone();
        groups.extend(p.nested_groups.iter().cloned());
        let owner = &self.metastore.owner;
        if p.metastore_admin
            && !owner.eq_ignore_ascii_case(&p.application_id)
            && self.principal(owner).is_none()
            && !groups.iter().any(|g| g.eq_ignore_ascii_case(owner))
        {
            groups.push(owner.clone());
        }
        groups
    }

    /// Metastore admin = the metastore owner, directly or through a group
    /// (docs.databricks.com data-governance/unity-catalog/manage-privileges/admin-privileges).
    pub fn caller(&self, p: &PrincipalSpec, ws: &str) -> Caller {
        let groups = self.groups_of(p);
        let owner = &self.metastore.owner;
        let metastore_admin = p.metastore_admin
            || owner.eq_ignore_ascii_case(&p.application_id)
            || groups.iter().any(|g| g.eq_ignore_ascii_case(owner));
        Caller {
            principal: p.application_id.clone(),
            groups,
            metastore_admin,
            system_tables_access: p.system_tables_access,
            workspace_id: self.workspaces.get(ws).map(|w| w.workspace_id).unwrap_or(0),
            default_storage: self.workspaces.get(ws).is_some_and(|w| w.default_storage),
        }
    }
}

/// The scenario's metastore owner, else its only admin principal, else the admins group.
fn metastore_owner(s: &Scenario) -> String {
    if let Some(o) = &s.metastore_owner {
        return o.clone();
    }
    let mut admins = s.principals.iter().filter(|p| p.metastore_admin);
    match (admins.next(), admins.next()) {
        (Some(only), None) => only.application_id.clone(),
        _ => crate::scenario::METASTORE_ADMINS_GROUP.into(),
    }
}

/// Milliseconds since the epoch.
pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
