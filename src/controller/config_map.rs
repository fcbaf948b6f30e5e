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

/// What was published: the ConfigMap's name and the statements still to run when the setup
/// script changed since it was last seen applied.
pub struct Published {
    pub name: String,
    pub pending: Vec<String>,
}

/// Publishes the ConfigMap when its scripts changed. `applied`: validation sees the current
/// script applied, so it becomes the reference later changes are compared with. The reference
/// (what was published, seen applied, and still pending) is the operator's own record, never
/// text read back from the ConfigMap, which the tenant can edit.
pub async fn publish(
    ctx: &Context,
    dbi: &DatabricksIntegration,
    id: &IntegrationId,
    principal: &str,
    applied: bool,
) -> Result<Published, kube::Error> {
    let name = name(dbi);
    let ns = dbi.namespace().unwrap_or_default();
    let api: Api<ConfigMap> = Api::namespaced(ctx.kube.clone(), &ns);
    let record = ctx.claims.record(dbi).await?;
    let setup_sql = setup::script(dbi, id, Some(principal), Script::Setup);
    let new = setup::statements_of(&setup_sql);
    let pending = still_to_run(&record, &setup_sql, &new, applied);
    let mut data = BTreeMap::from([
        ("setup.sql".to_string(), setup_sql.clone()),
        (
            "cleanup.sql".to_string(),
            setup::script(dbi, id, Some(principal), Script::Cleanup),
        ),
    ]);
    let mut recorded = BTreeMap::from([("setup.sql".to_string(), setup_sql.clone())]);
    let reference = if applied {
        Some(setup_sql)
    } else {
        record.get(APPLIED).cloned()
    };
    if let Some(reference) = reference {
        recorded.insert(APPLIED.into(), reference);
    }
    if !pending.is_empty() {
        let params = setup::params(dbi, id, Some(principal));
        let text = setup::render_pending(&params, &pending);
        data.insert(PENDING.into(), text.clone());
        recorded.insert(PENDING.into(), text);
    }
    if record != recorded {
        ctx.claims.save_record(dbi, recorded).await?;
    }
    let current = api.get_opt(&name).await?;
    if current.as_ref().and_then(|c| c.data.as_ref()) != Some(&data) {
        let cm = config_map(dbi, &name, &ns, data, true);
        let params = PatchParams::apply(FIELD_MANAGER).force();
        let written = api.patch(&name, &params, &Patch::Apply(&cm)).await?;
        // Our own write must not come back through the ConfigMap watch as a change.
        ctx.changed("ConfigMap", ns, name.clone(), written.resource_version());
    }
    Ok(Published { name, pending })
}

/// On deletion of a manual-setup resource: the ConfigMap loses its owner reference, so
/// `cleanup.sql` stays readable after the resource is gone. `None` when there is none.
pub async fn keep(
    ctx: &Context,
    dbi: &DatabricksIntegration,
) -> Result<Option<String>, kube::Error> {
    let name = name(dbi);
    let ns = dbi.namespace().unwrap_or_default();
    let api: Api<ConfigMap> = Api::namespaced(ctx.kube.clone(), &ns);
    let Some(current) = api.get_opt(&name).await? else {
        return Ok(None);
    };
    let data = current.data.clone().unwrap_or_default();
    let cm = config_map(dbi, &name, &ns, data, false);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let written = api.patch(&name, &params, &Patch::Apply(&cm)).await?;
    ctx.changed("ConfigMap", ns, name.clone(), written.resource_version());
    Ok(Some(name))
}

/// What the user still has to run. While the script is not seen applied: the difference from
/// the last applied one. Once it is: the grants it no longer makes (to revoke), kept until the
/// script changes again (their absence cannot be verified without compute).
fn still_to_run(
    record: &BTreeMap<String, String>,
    setup_sql: &str,
    new: &[String],
    applied: bool,
) -> Vec<String> {
    let get = |key: &str| record.get(key);
    let difference = get(APPLIED)
        .map(|r| setup::pending_statements(&setup::statements_of(r), new))
        .unwrap_or_default();
    if !applied {
        return difference;
    }
    let revokes: Vec<String> = difference
        .into_iter()
        .filter(|s| s.starts_with("REVOKE "))
        .collect();
    if !revokes.is_empty() {
        return revokes;
    }
    let unchanged = get("setup.sql").map(String::as_str) == Some(setup_sql);
    match get(PENDING) {
        Some(pending) if unchanged => {
            let kept = setup::statements_of(pending);
            if kept.iter().all(|s| s.starts_with("REVOKE ")) {
                kept
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

const APPLIED: &str = "applied.sql";
const PENDING: &str = "pending.sql";

fn config_map(
    dbi: &DatabricksIntegration,
    name: &str,
    ns: &str,
    data: BTreeMap<String, String>,
    owned: bool,
) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(ns.to_string()),
            labels: Some(BTreeMap::from([
                (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
                (
                    "uc-operator.dev/integration".to_string(),
                    label_value(&dbi.name_any()),
                ),
            ])),
            owner_references: owned
                .then(|| dbi.controller_owner_ref(&()))
                .flatten()
                .map(|o| vec![o]),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
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
