//! The manual setup ConfigMap `<name>-uc-setup` (keys `setup.sql` and `cleanup.sql`), published
//! by server-side apply and owned by the resource.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::context::Context;
use crate::api::{DatabricksIntegration, FIELD_MANAGER};
use crate::identity::IntegrationId;
use crate::setup::{self, Script};

/// Labels every ConfigMap the operator writes (the ConfigMap watch selects on it).
pub const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "uc-operator");

/// `<name>-uc-setup`.
pub fn name(dbi: &DatabricksIntegration) -> String {
    format!("{}-uc-setup", dbi.name_any())
}

/// Publishes the ConfigMap when its scripts changed; returns its name.
pub async fn publish(
    ctx: &Context,
    dbi: &DatabricksIntegration,
    id: &IntegrationId,
    principal: &str,
) -> Result<String, kube::Error> {
    let name = name(dbi);
    let ns = dbi.namespace().unwrap_or_default();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
                (
                    "uc-operator.dev/integration".to_string(),
                    label_value(&dbi.name_any()),
                ),
            ])),
            owner_references: dbi.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            (
                "setup.sql".to_string(),
                setup::script(dbi, id, Some(principal), Script::Setup),
            ),
            (
                "cleanup.sql".to_string(),
                setup::script(dbi, id, Some(principal), Script::Cleanup),
            ),
        ])),
        ..Default::default()
    };
    let api: Api<ConfigMap> = Api::namespaced(ctx.kube.clone(), &ns);
    let current = api.get_opt(&name).await?;
    if current.as_ref().and_then(|c| c.data.as_ref()) != cm.data.as_ref() {
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let written = api.patch(&name, &params, &Patch::Apply(&cm)).await?;
        // Our own write must not come back through the ConfigMap watch as a change.
        ctx.changed("ConfigMap", ns, name.clone(), written.resource_version());
    }
    Ok(name)
}

/// A label value holds at most 63 characters; a longer resource name is cut (the owner
/// reference, not the label, is what links the ConfigMap to its resource).
fn label_value(name: &str) -> String {
    let cut: String = name.chars().take(63).collect();
    cut.trim_end_matches(['-', '.', '_']).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_make_valid_labels() {
        assert_eq!(label_value("sales"), "sales");
        let long = format!("{}-x", "a".repeat(62));
        let v = label_value(&long);
        assert!(v.len() <= 63 && !v.ends_with('-'), "{v}");
    }
}
