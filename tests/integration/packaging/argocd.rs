//! GitOps: the Argo CD health check (`deploy/argocd/health.lua`), run by a real Lua interpreter
//! (`hack/deps.sh` installs it) the way Argo CD runs it, and its `argocd-cm` snippet.

use std::process::Command;

use serde_json::Value;

use crate::support::harness::{assert_success, repo};
use crate::support::manifests::{in_namespace, integration};

const HEALTH_LUA: &str = "deploy/argocd/health.lua";

/// A Lua table constructor for a JSON value (the samples are plain ASCII).
fn lua(v: &Value) -> String {
    match v {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => serde_json::to_string(s).unwrap(),
        Value::Array(items) => format!(
            "{{{}}}",
            items.iter().map(lua).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            m.iter()
                .map(|(k, v)| format!("[{}] = {}", serde_json::to_string(k).unwrap(), lua(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs the health script the way Argo CD does: `obj` is a global, the chunk returns `hs`.
fn argocd_health(obj: &Value) -> (String, String) {
    let lua_bin = "lua5.4";
    let script = repo().join(HEALTH_LUA);
    let driver = format!(
        "obj = {}\nlocal hs = assert(loadfile({}))()\nio.write(hs.status, '\\n', hs.message)",
        lua(obj),
        serde_json::to_string(script.to_str().unwrap()).unwrap()
    );
    let out = Command::new(lua_bin)
        .args(["-e", &driver])
        .output()
        .unwrap_or_else(|e| panic!("{lua_bin} is missing ({e}): run hack/deps.sh"));
    assert_success(&out, "the health script");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (status, message) = text.split_once('\n').expect("status and message");
    (status.to_string(), message.to_string())
}

fn dbi(generation: i64, status: Value) -> Value {
    let obj = integration("analytics", "analytics.cloud.databricks.com", "gov");
    let mut obj = in_namespace(obj, "data");
    obj["metadata"]["generation"] = generation.into();
    if !status.is_null() {
        obj["status"] = status;
    }
    obj
}

fn cond(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    serde_json::json!({"type": kind, "status": status, "reason": reason, "message": message,
        "observedGeneration": 2, "lastTransitionTime": "2025-01-01T00:00:00Z"})
}

#[test]
// Long: one row per health state, so a new state is one more row.
fn argocd_health_check_reports_each_state() {
    let enabled = serde_json::json!({"phase": "enabled", "observedGeneration": 2, "conditions": [
        cond("Ready", "True", "Enabled", "Integration is enabled"),
        cond("Reconciling", "False", "Enabled", ""),
        cond("Stalled", "False", "Enabled", ""),
    ]});
    let creating = serde_json::json!({"phase": "creating", "observedGeneration": 2, "conditions": [
        cond("Ready", "False", "Creating", "Setting up the catalog"),
        cond("Reconciling", "True", "Creating", "Running the validation tests"),
    ]});
    let create_error = serde_json::json!({"phase": "createError", "observedGeneration": 2, "conditions": [
        cond("Ready", "False", "ValidationFailed", "Basic Connection Test failed: 403 Forbidden"),
        cond("Stalled", "False", "ValidationFailed", ""),
    ]});
    let stalled = serde_json::json!({"phase": "creating", "observedGeneration": 2, "conditions": [
        cond("Ready", "False", "SecretNotFound", "Secret analytics-token not found"),
        cond("Stalled", "True", "SecretNotFound", "Secret data/analytics-token not found"),
    ]});
    let recurring = serde_json::json!({"phase": "recurringValidationError", "observedGeneration": 2,
        "conditions": [cond("Ready", "False", "ValidationFailed", "Metastore validation failed")]});
    let deleting = serde_json::json!({"phase": "deleting", "observedGeneration": 2, "conditions": [
        cond("Reconciling", "True", "Deleting", "Dropping catalog gov"),
    ]});
    let delete_error = serde_json::json!({"phase": "deleteError", "observedGeneration": 2, "conditions": [
        cond("Ready", "False", "CleanupFailed", "workspace unreachable"),
    ]});
    let with_deletion = |status: Value| {
        let mut o = dbi(2, status);
        o["metadata"]["deletionTimestamp"] = "2025-01-01T00:00:00Z".into();
        o["metadata"]["finalizers"] = serde_json::json!(["uc-operator.dev/cleanup"]);
        o
    };

    let suspended = |suspend: bool, status: Value| {
        let mut o = dbi(2, status);
        o["spec"]["suspend"] = suspend.into();
        o
    };
    let suspended_message = "Suspended: spec.suspend is true; the operator sends no request to Databricks until it is false";

    let cases = [
        (
            "suspended",
            suspended(true, enabled.clone()),
            "Suspended",
            suspended_message,
        ),
        (
            "suspended before any status",
            suspended(true, Value::Null),
            "Suspended",
            suspended_message,
        ),
        (
            "suspend set back to false",
            suspended(false, enabled.clone()),
            "Healthy",
            "Integration is enabled",
        ),
        (
            "deleting while suspended",
            {
                let mut o = with_deletion(deleting.clone());
                o["spec"]["suspend"] = true.into();
                o
            },
            "Progressing",
            "Deleting: Dropping catalog gov",
        ),
        (
            "enabled",
            dbi(2, enabled.clone()),
            "Healthy",
            "Integration is enabled",
        ),
        (
            "creating",
            dbi(2, creating),
            "Progressing",
            "creating: Running the validation tests",
        ),
        (
            "createError",
            dbi(2, create_error),
            "Degraded",
            "createError: Basic Connection Test failed: 403 Forbidden",
        ),
        (
            "stalled",
            dbi(2, stalled),
            "Degraded",
            "creating: Secret data/analytics-token not found",
        ),
        (
            "recurringValidationError",
            dbi(2, recurring),
            "Degraded",
            "recurringValidationError: Metastore validation failed",
        ),
        (
            "stale generation",
            dbi(3, enabled),
            "Progressing",
            "Waiting for the operator to observe generation 3",
        ),
        (
            "deleting",
            with_deletion(deleting),
            "Progressing",
            "Deleting: Dropping catalog gov",
        ),
        (
            "deleteError",
            with_deletion(delete_error),
            "Degraded",
            "deleteError: workspace unreachable",
        ),
        (
            "no status",
            dbi(1, Value::Null),
            "Progressing",
            "Waiting for the operator to report a status",
        ),
    ];
    for (name, obj, status, message) in cases {
        assert_eq!(
            argocd_health(&obj),
            (status.to_string(), message.to_string()),
            "{name}"
        );
    }
}

#[test]
fn argocd_cm_snippet_installs_the_same_script() {
    let cm: Value = serde_yaml::from_str(&crate::support::harness::read(
        "deploy/argocd/argocd-cm.yaml",
    ))
    .unwrap();
    let key = "resource.customizations.health.uc-operator.dev_DatabricksIntegration";
    assert_eq!(
        cm["data"][key].as_str(),
        Some(crate::support::harness::read(HEALTH_LUA).as_str()),
        "deploy/argocd/argocd-cm.yaml differs from {HEALTH_LUA}"
    );
}
