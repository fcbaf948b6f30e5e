//! The resource's status: phase, conditions, test results and what was discovered.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the operator observed and did, for `observedGeneration`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabricksIntegrationStatus {
    /// The integration's status, in the governance tool's names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// The generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling`, `Stalled`, `Validated` and `Bootstrapped`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The outcome of the validation tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_results: Option<ValidationResults>,
    /// What was discovered about the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<WorkspaceStatus>,
    /// How the catalog was set up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<SetupStatus>,
    /// When the validation tests last ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_validation_time: Option<Time>,
    /// The value of the annotation `uc-operator.dev/requestedAt` that was last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_handled_reconcile_at: Option<String>,
    /// One entry per connection, the main one first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connections: Vec<ConnectionStatus>,
    /// `spec.revalidationInterval` in seconds, as the operator applies it: lets an alert (through
    /// kube-state-metrics) compare `lastValidationTime` with the interval.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revalidation_interval_seconds: Option<i64>,
}

/// What one connection's tests found.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    /// The connection's workspace, as given in the spec.
    pub workspace_url: String,
    /// The workspace's numeric id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<i64>,
    /// The Unity Catalog metastore assigned to the workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metastore_id: Option<String>,
    /// The service principal's application id on this workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// `passed`, `failed`, `warning` or `skipped`: the worst of this connection's tests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TestStatus>,
    /// The first failed test of this connection and why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// When this connection's credential expires, where that is known: the earliest
    /// `expiry_time` among the service principal's unexpired tokens (token authentication), or
    /// the certificate's `notAfter` (`tls.crt` next to the private key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_expires_at: Option<Time>,
}

#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    JsonSchema,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "camelCase")]
#[strum(serialize_all = "camelCase")]
pub enum Phase {
    Creating,
    Enabled,
    Editing,
    Deleting,
    CreateError,
    EditError,
    DeleteError,
    RecurringValidationError,
}

impl Phase {
    pub const ALL: &[Phase] = <Phase as strum::VariantArray>::VARIANTS;

    /// The name users see (`createError`), as serialized.
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The outcome of the validation tests.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationResults {
    /// `passed` when every test passed or was skipped, `warning` when one warned, `failed` when
    /// one failed.
    pub status: TestStatus,
    /// Every test, in the order they ran.
    pub validation_tests: Vec<ValidationTest>,
}

/// One validation test.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationTest {
    /// The test's name, e.g. `Basic Connection Test`.
    pub name: String,
    /// `passed`, `failed`, `warning` or `skipped`.
    pub status: TestStatus,
    /// Why the test failed, warned or was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The test's result, e.g. `[{"1": 1}]` for the basic connection test (at most 4 KiB of JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum TestStatus {
    Passed,
    Failed,
    Warning,
    Skipped,
}

/// What was discovered about the main workspace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceStatus {
    /// The main workspace's numeric id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<i64>,
    /// The Unity Catalog metastore assigned to the main workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metastore_id: Option<String>,
    /// The service principal's application id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

/// How the catalog was set up (the contract's field is `bootstrap`, after `autoBootstrap`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupStatus {
    /// `automatic` (the service principal sets up the catalog) or `manual` (a privileged user
    /// runs the published script).
    pub mode: SetupMode,
    /// The ConfigMap holding the manual setup script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub script_config_map: Option<String>,
    /// The hash of the spec the setup was last applied (or published) for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_spec_hash: Option<String>,
}

/// Who runs the setup: the service principal itself (automatic), or a privileged user running
/// the published script (manual).
#[derive(
    Serialize,
    Deserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    JsonSchema,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "camelCase")]
#[strum(serialize_all = "camelCase")]
pub enum SetupMode {
    Automatic,
    Manual,
}

impl SetupMode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}
