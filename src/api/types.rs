use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::status::{DatabricksIntegrationStatus, SetupMode};

/// A Databricks Unity Catalog integration: the workspace the governance platform connects to, how
/// it authenticates as a service principal, and the catalog it owns for its internal data.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "uc-operator.dev",
    version = "v1alpha1",
    kind = "DatabricksIntegration",
    plural = "databricksintegrations",
    singular = "databricksintegration",
    shortname = "dbi",
    category = "uc-operator",
    namespaced,
    status = "DatabricksIntegrationStatus",
    printcolumn = r#"{"name":"Workspace","type":"string","jsonPath":".spec.workspaceUrl"}"#,
    printcolumn = r#"{"name":"Catalog","type":"string","jsonPath":".spec.catalog"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Suspended","type":"boolean","description":"spec.suspend: no request is sent to Databricks","jsonPath":".spec.suspend"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name":"Connections","type":"string","priority":1,"description":"each connection's test status, main first","jsonPath":".status.connections[*].status"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct DatabricksIntegrationSpec {
    /// How to reach and authenticate to the main workspace.
    #[serde(flatten)]
    pub connection: Connection,

    /// The catalog the operator owns for the integration's internal data, readable only by the
    /// service principal. Immutable.
    #[schemars(length(min = 1, max = 255))]
    pub catalog: String,

    /// `true`: the operator creates the catalog and its objects with the service principal
    /// (automatic setup). `false`: it publishes a setup script in the ConfigMap
    /// `<name>-uc-setup` for a privileged user to run, and waits until it has been run.
    #[serde(default = "default_true")]
    pub auto_bootstrap: bool,

    /// Query audit, which needs read access to the system tables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<Audit>,

    /// Credentials for catalogs that are bound to other workspaces and not reachable from the
    /// main one. A catalog may appear in at most one connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 10))]
    pub additional_workspace_connections: Option<Vec<AdditionalWorkspaceConnection>>,

    /// `Delete`: deleting the resource drops the catalog that automatic setup created.
    /// `Retain`: the catalog is left in place.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,

    /// How often the integration is re-checked while nothing changes, e.g. `30m`, `1h`, `2h30m`.
    /// At least `1m`.
    #[serde(default = "default_revalidation_interval")]
    #[schemars(length(max = 32))]
    pub revalidation_interval: String,

    /// A cloud storage URL (`s3://`, `abfss://`, `gs://`, `r2://`) given to the catalog as its
    /// `MANAGED LOCATION`. Needed when the metastore has no root storage. Immutable once set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub storage_root: Option<String>,

    /// Automatic setup only: adopt a catalog that already exists and is owned by the service
    /// principal but was not created by this integration.
    #[serde(default)]
    pub adopt_existing_catalog: bool,

    /// Catalogs in the main workspace that the governance tool will govern (register data
    /// sources in, apply row filters and column masks to). Each is checked like a connection's
    /// `catalogs`: the validation test `Governed catalog: <catalog>`. At most 50, each once, none
    /// equal to `catalog` or listed in a connection's `catalogs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 50), inner(length(min = 1, max = 255)))]
    pub governed_catalogs: Option<Vec<String>>,

    /// While `true` the operator sends nothing to Databricks for this resource.
    #[serde(default)]
    pub suspend: bool,
}

/// How to reach a workspace and authenticate to it as the service principal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// The workspace host: `www.example-workspace.cloud.databricks.com`, `host:port` or
    /// `https://host[:port]`; no path, query or other scheme.
    #[schemars(length(min = 1, max = 512))]
    pub workspace_url: String,

    /// The HTTPS port. A port inside `workspaceUrl` wins.
    #[serde(default = "default_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,

    /// The compute that runs SQL: a SQL warehouse `/sql/1.0/warehouses/<id>` (or
    /// `/sql/1.0/endpoints/<id>`), or an all-purpose cluster `sql/protocolv1/o/<org-id>/<cluster-id>`.
    #[schemars(length(min = 1, max = 512))]
    pub http_path: String,

    /// `token` (a personal access token of the service principal) or `oAuthM2M`.
    pub authentication_type: AuthenticationType,

    /// The Secret (in this namespace) holding the service principal's personal access token.
    /// Required when `authenticationType` is `token`, forbidden otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_secret_ref: Option<TokenSecretRef>,

    /// OAuth machine-to-machine client settings. Required when `authenticationType` is
    /// `oAuthM2M`, forbidden otherwise.
    #[serde(
        default,
        rename = "oAuthClientConfig",
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_client_config: Option<OAuthClientConfig>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum AuthenticationType {
    #[serde(rename = "token")]
    Token,
    #[serde(rename = "oAuthM2M")]
    OAuthM2M,
}

/// OAuth M2M client settings for the service principal.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientConfig {
    /// The OAuth client id (the service principal's application id).
    #[schemars(length(min = 1, max = 256))]
    pub client_id: String,

    /// The Secret holding the client secret. Required unless `useCertificate` or
    /// `workloadIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret_ref: Option<ClientSecretRef>,

    /// The OAuth token endpoint (`https://` is assumed without a scheme). Default: the
    /// workspace's own endpoint, found by OIDC discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub authority_url: Option<String>,

    /// The OAuth scope.
    #[serde(default = "default_scope")]
    #[schemars(length(min = 1, max = 1024))]
    pub scope: String,

    /// Authenticate with a JWT client assertion signed by a certificate's private key (Azure
    /// Entra ID certificate credentials) instead of a client secret.
    #[serde(default)]
    pub use_certificate: bool,

    /// The certificate's thumbprint, hex (SHA-1, 40 digits, or SHA-256, 64 digits). Required
    /// when `useCertificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub public_certificate_thumbprint: Option<String>,

    /// The Secret holding the PEM private key of the certificate. Required when
    /// `useCertificate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key_secret_ref: Option<PrivateKeySecretRef>,

    /// Prove the client's identity with a short-lived token of a ServiceAccount of this
    /// namespace instead of a secret (workload identity federation): exactly one of
    /// `clientSecretRef`, `useCertificate: true` and `workloadIdentity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_identity: Option<WorkloadIdentity>,
}

/// A ServiceAccount whose tokens the identity provider trusts (a Databricks service principal
/// federation policy, or an Entra federated credential).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadIdentity {
    /// The ServiceAccount, in the resource's own namespace. It must carry the label
    /// `uc-operator.dev/credentials: "true"`.
    #[schemars(
        length(min = 1, max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub service_account_name: String,
    /// The token's audience: the federation policy's audience. Default, with an Entra
    /// `authorityUrl`: `api://AzureADTokenExchange`; required otherwise. Never an audience
    /// the Kubernetes API server accepts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub audience: Option<String>,
}

/// The audience Entra workload identity federation expects by default.
pub const ENTRA_TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Declares a reference to one key of a Secret in the resource's namespace, with its own default
/// key (the schema default is what users see, so each reference kind gets a type).
macro_rules! secret_ref {
    ($(#[$doc:meta])* $name:ident, $default_fn:ident = $default_fn_name:literal, $default:expr) => {
        $(#[$doc])*
        #[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Hash, JsonSchema)]
        pub struct $name {
            /// The name of the Secret, in the resource's own namespace (a DNS-1123 subdomain,
            /// as Kubernetes names Secrets).
            #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"))]
            pub name: String,
            /// The key within the Secret (letters, digits, `-`, `_` and `.`, as Secret keys are).
            #[serde(default = $default_fn_name)]
            #[schemars(length(min = 1, max = 253), regex(pattern = r"^[-._a-zA-Z0-9]+$"))]
            pub key: String,
        }

        fn $default_fn() -> String {
            $default.to_string()
        }
    };
}

secret_ref!(
    /// A Secret key holding a personal access token (default key `token`).
    TokenSecretRef, default_token_key = "default_token_key", DEFAULT_TOKEN_KEY
);
secret_ref!(
    /// A Secret key holding an OAuth client secret (default key `clientSecret`).
    ClientSecretRef, default_client_secret_key = "default_client_secret_key", DEFAULT_CLIENT_SECRET_KEY
);
secret_ref!(
    /// A Secret key holding a PEM private key (default key `tls.key`).
    PrivateKeySecretRef, default_private_key_key = "default_private_key_key", DEFAULT_PRIVATE_KEY_KEY
);

/// Query audit settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Audit {
    /// Turn on query audit, which needs read access to the system tables.
    #[serde(default)]
    pub enabled: bool,
    /// Limit audit to these workspace ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 100))]
    pub workspace_ids: Option<Vec<i64>>,
}

/// Credentials for catalogs bound to another workspace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdditionalWorkspaceConnection {
    /// How to reach and authenticate to this workspace.
    #[serde(flatten)]
    pub connection: Connection,
    /// The catalogs reached through this connection.
    #[schemars(length(min = 1, max = 50), inner(length(min = 1, max = 255)))]
    pub catalogs: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    // No doc comments on variants: they would turn the schema's enum into a oneOf.
    #[default]
    Delete,
    Retain,
}

fn default_true() -> bool {
    true
}
fn default_port() -> i32 {
    443
}
/// CRD defaults that other code (import) must agree with.
pub const DEFAULT_SCOPE: &str = "all-apis";
pub const DEFAULT_REVALIDATION_INTERVAL: &str = "1h";
pub const DEFAULT_TOKEN_KEY: &str = "token";
pub const DEFAULT_CLIENT_SECRET_KEY: &str = "clientSecret";
pub const DEFAULT_PRIVATE_KEY_KEY: &str = "tls.key";

fn default_scope() -> String {
    DEFAULT_SCOPE.to_string()
}
fn default_revalidation_interval() -> String {
    DEFAULT_REVALIDATION_INTERVAL.to_string()
}

impl DatabricksIntegrationSpec {
    /// Every connection of the spec, main first.
    pub fn connections(&self) -> impl Iterator<Item = &Connection> {
        std::iter::once(&self.connection).chain(
            self.additional_workspace_connections
                .iter()
                .flatten()
                .map(|c| &c.connection),
        )
    }

    /// The names of every Secret the spec references.
    pub fn secret_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .connections()
            .flat_map(Connection::secret_names)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    pub fn audit_enabled(&self) -> bool {
        self.audit.as_ref().is_some_and(|a| a.enabled)
    }

    pub fn setup_mode(&self) -> SetupMode {
        if self.auto_bootstrap {
            SetupMode::Automatic
        } else {
            SetupMode::Manual
        }
    }
}

impl Connection {
    /// The names of the Secrets this connection references.
    pub fn secret_names(&self) -> Vec<String> {
        let oauth = self.oauth_client_config.as_ref();
        [
            self.token_secret_ref.as_ref().map(|r| r.name.clone()),
            oauth
                .and_then(|o| o.client_secret_ref.as_ref())
                .map(|r| r.name.clone()),
            oauth
                .and_then(|o| o.private_key_secret_ref.as_ref())
                .map(|r| r.name.clone()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}
