//! From a `DatabricksIntegration` to the setup plan's parameters, hash and scripts: what the
//! controller publishes and what `uc-operator script` prints offline.

use kube::ResourceExt;

use super::plan::{self, SetupParams};
use super::script::{self as rendering, Script};
use crate::api::DatabricksIntegration;
use crate::identity::{Installation, IntegrationId};

/// The integration's identity under `installation`.
pub fn integration_id(dbi: &DatabricksIntegration, installation: &Installation) -> IntegrationId {
    let namespace = dbi.namespace().unwrap_or_else(|| "default".into());
    IntegrationId::of(installation, &namespace, &dbi.name_any())
}

/// The setup parameters of a resource; `principal` `None` leaves the placeholder in scripts.
pub fn params(
    dbi: &DatabricksIntegration,
    id: &IntegrationId,
    principal: Option<&str>,
) -> SetupParams {
    SetupParams {
        id: id.clone(),
        catalog: dbi.spec.catalog.clone(),
        storage_root: dbi.spec.storage_root.clone(),
        principal: principal.map(str::to_string),
        audit: dbi.spec.audit_enabled(),
    }
}

/// The hash of what setup depends on, recorded as `status.bootstrap.appliedSpecHash`.
pub fn applied_hash(dbi: &DatabricksIntegration, id: &IntegrationId) -> String {
    plan::spec_hash(&params(dbi, id, None), dbi.spec.setup_mode())
}

/// The manual setup or cleanup script, exactly as the ConfigMap holds it.
pub fn script(
    dbi: &DatabricksIntegration,
    id: &IntegrationId,
    principal: Option<&str>,
    which: Script,
) -> String {
    rendering::render_script(&params(dbi, id, principal), which, &applied_hash(dbi, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_and_hashes_follow_the_spec() {
        let mut dbi: DatabricksIntegration = serde_json::from_value(serde_json::json!({
            "apiVersion": "uc-operator.dev/v1alpha1",
            "kind": "DatabricksIntegration",
            "metadata": {"name": "sales", "namespace": "data"},
            "spec": {
                "workspaceUrl": "ws.cloud.databricks.com",
                "httpPath": "/sql/1.0/warehouses/w",
                "authenticationType": "token",
                "tokenSecretRef": {"name": "t"},
                "catalog": "gov"
            }
        }))
        .unwrap();
        let id = integration_id(&dbi, &Installation::pinned("default"));
        assert_eq!(id.marker(), "default:data:sales");
        let manual = script(&dbi, &id, Some("6b2c"), Script::Setup);
        assert!(manual.contains("`6b2c`"), "{manual}");
        let automatic = applied_hash(&dbi, &id);
        dbi.spec.auto_bootstrap = false;
        assert_ne!(applied_hash(&dbi, &id), automatic);
        let other = integration_id(&dbi, &Installation::pinned("other"));
        assert_ne!(applied_hash(&dbi, &other), applied_hash(&dbi, &id));
    }
}
