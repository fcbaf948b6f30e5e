//! Workspaces, principals and catalogs of a scenario, with their builders.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// A serverless workspace on Databricks Default Storage: `CREATE CATALOG` without a location
    /// succeeds there even when the metastore has no root storage.
    #[serde(default)]
    pub default_storage: bool,
    /// Whether the workspace serves the entity tag assignments API (`false`: 404
    /// `ENDPOINT_NOT_FOUND`, as where an API is not served).
    #[serde(default = "yes")]
    pub entity_tags_api: bool,
    /// A workspace assigned to another metastore: its `metastore_summary` reports this id (the
    /// other metastore's catalogs are not modelled; every catalog is the main metastore's).
    #[serde(default)]
    pub other_metastore_id: Option<String>,
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
    /// Its Databricks Runtime (`clusters/get` `spark_version`); below 13.3 `SET TAGS` does not
    /// parse.
    #[serde(default = "current_runtime")]
    pub spark_version: String,
}

/// The runtime of clusters unless the scenario says otherwise.
pub const CURRENT_RUNTIME: &str = "15.4.x-scala2.12";

fn current_runtime() -> String {
    CURRENT_RUNTIME.into()
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
    /// `expiry_time` (epoch milliseconds) of those tokens that expire; the others never do.
    pub token_expiry_time: std::collections::BTreeMap<String, i64>,
    pub oauth: Option<OAuthClientSpec>,
    pub metastore_admin: bool,
    /// Metastore privileges in REST spelling, e.g. `CREATE_CATALOG`.
    pub metastore_privileges: Vec<String>,
    pub system_tables_access: bool,
    /// Workspace names it may use; `None` = all.
    pub workspaces: Option<Vec<String>>,
    /// Account groups it belongs to (besides `account users`).
    pub groups: Vec<String>,
    /// Groups it belongs to only through another group (nested): their grants and ownership
    /// apply to it, but SCIM `Me` does not list them.
    pub nested_groups: Vec<String>,
}

/// OAuth M2M credentials of a principal: a secret, a certificate (Entra JWT assertion), or both.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct OAuthClientSpec {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub certificate_pem: Option<String>,
    /// Databricks service principal federation policies: a JWT from one of these issuers, for
    /// one of its audiences and with its subject, is exchanged for a token at `/oidc/v1/token`
    /// (docs.databricks.com dev-tools/auth/oauth-federation-policy).
    pub federation_policies: Vec<FederationPolicySpec>,
    /// Entra federated identity credentials of the app registration: such a JWT is accepted as
    /// the client assertion (learn.microsoft.com entra/workload-id/workload-identity-federation).
    pub federated_credentials: Vec<FederationPolicySpec>,
}

/// Whose tokens are trusted: an OIDC issuer (its keys fetched from its discovery document), the
/// audiences a token may carry (any one matches) and the subject it must carry.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FederationPolicySpec {
    pub issuer: String,
    pub audiences: Vec<String>,
    pub subject: String,
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
    /// Workspaces it is bound to read-only (`BINDING_TYPE_READ_ONLY`).
    #[serde(default)]
    pub read_only_workspace_ids: Vec<i64>,
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

impl WorkspaceSpec {
    /// A workspace with a metastore and no compute.
    pub fn new(name: &str, workspace_id: i64) -> Self {
        WorkspaceSpec {
            name: name.into(),
            workspace_id,
            metastore_assigned: true,
            warehouses: Vec::new(),
            clusters: Vec::new(),
            default_storage: false,
            entity_tags_api: true,
            other_metastore_id: None,
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
            spark_version: current_runtime(),
        });
        self
    }
    /// Adds a cluster in `state` running Databricks Runtime `spark_version` (e.g.
    /// `12.2.x-scala2.12`).
    pub fn with_cluster_runtime(mut self, id: &str, state: &str, spark_version: &str) -> Self {
        self.clusters.push(ClusterSpec {
            id: id.into(),
            name: None,
            state: state.into(),
            spark_version: spark_version.into(),
        });
        self
    }
    /// A serverless workspace with Default Storage (catalogs need no location).
    pub fn with_default_storage(mut self) -> Self {
        self.default_storage = true;
        self
    }
    /// A workspace that does not serve the entity tag assignments API.
    pub fn without_entity_tags_api(mut self) -> Self {
        self.entity_tags_api = false;
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
    /// Adds a personal access token that expires at `expiry_ms` (epoch milliseconds).
    pub fn with_token_expiring(mut self, token: &str, expiry_ms: i64) -> Self {
        self.token_expiry_time.insert(token.into(), expiry_ms);
        self.with_token(token)
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
    /// Adds a Databricks service principal federation policy.
    pub fn with_federation_policy(mut self, client_id: &str, policy: FederationPolicySpec) -> Self {
        let o = self.oauth.get_or_insert_with(Default::default);
        o.client_id = client_id.into();
        o.federation_policies.push(policy);
        self
    }
    /// Adds an Entra federated identity credential.
    pub fn with_federated_credential(
        mut self,
        client_id: &str,
        policy: FederationPolicySpec,
    ) -> Self {
        let o = self.oauth.get_or_insert_with(Default::default);
        o.client_id = client_id.into();
        o.federated_credentials.push(policy);
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
    /// Adds a group it belongs to through another group (not listed by SCIM `Me`).
    pub fn in_nested_group(mut self, group: &str) -> Self {
        self.nested_groups.push(group.into());
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
            read_only_workspace_ids: Vec::new(),
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
    /// Binds it read-only to the given workspaces (ISOLATED).
    pub fn read_only_in(mut self, workspace_ids: &[i64]) -> Self {
        self.isolation_mode = "ISOLATED".into();
        self.read_only_workspace_ids = workspace_ids.to_vec();
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
