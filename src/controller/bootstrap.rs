//! Setting the catalog up: automatic (run the setup plan as the service principal), manual
//! (publish the script in the `<name>-uc-setup` ConfigMap), and dropping it on deletion.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ObjectMeta, Patch, PatchParams};
use kube::{Resource, ResourceExt};

use super::context::Context;
use crate::api::{DatabricksIntegration, FIELD_MANAGER};
use crate::databricks::{self, WorkspaceClient};
use crate::setup::{self, Mode, Script, SetupParams};

/// The setup parameters of a resource; `principal` `None` leaves the placeholder in scripts.
pub fn params(dbi: &DatabricksIntegration, principal: Option<&str>) -> SetupParams {
    SetupParams {
        namespace: dbi.namespace().unwrap_or_else(|| "default".into()),
        name: dbi.name_any(),
        catalog: dbi.spec.catalog.clone(),
        principal: principal.map(str::to_string),
        audit: dbi.spec.audit_enabled(),
    }
}

fn mode(dbi: &DatabricksIntegration) -> Mode {
    if dbi.spec.auto_bootstrap {
        Mode::Automatic
    } else {
        Mode::Manual
    }
}

/// The hash of what setup depends on, recorded as `status.bootstrap.appliedSpecHash`.
pub fn spec_hash(dbi: &DatabricksIntegration) -> String {
    setup::spec_hash(&params(dbi, None), mode(dbi))
}

/// The manual setup or cleanup script, exactly as `uc-operator script` prints it.
pub fn script(dbi: &DatabricksIntegration, principal: Option<&str>, which: Script) -> String {
    setup::render_script(&params(dbi, principal), which, &spec_hash(dbi))
}

/// `<name>-uc-setup`.
pub fn config_map_name(dbi: &DatabricksIntegration) -> String {
    format!("{}-uc-setup", dbi.name_any())
}

/// Runs the automatic setup plan, statement by statement; every statement is idempotent, so an
/// interrupted run is finished by the next one.
pub async fn run_setup(
    client: &WorkspaceClient,
    dbi: &DatabricksIntegration,
    principal: &str,
) -> Result<(), databricks::Error> {
    for statement in setup::setup_statements(&params(dbi, Some(principal)), Mode::Automatic) {
        client.execute(&statement).await?;
    }
    Ok(())
}

/// Publishes (server-side apply) the manual setup ConfigMap, owned by the resource so it goes
/// away with it.
pub async fn publish_script(
    ctx: &Context,
    dbi: &DatabricksIntegration,
    principal: &str,
) -> Result<String, kube::Error> {
    let name = config_map_name(dbi);
    let ns = dbi.namespace().unwrap_or_default();
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: Some(BTreeMap::from([
                (
                    "app.kubernetes.io/managed-by".to_string(),
                    "uc-operator".to_string(),
                ),
                ("uc-operator.dev/integration".to_string(), dbi.name_any()),
            ])),
            owner_references: dbi.controller_owner_ref(&()).map(|o| vec![o]),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            (
                "setup.sql".to_string(),
                script(dbi, Some(principal), Script::Setup),
            ),
            (
                "cleanup.sql".to_string(),
                script(dbi, Some(principal), Script::Cleanup),
            ),
        ])),
        ..Default::default()
    };
    let api: Api<ConfigMap> = Api::namespaced(ctx.kube.clone(), &ns);
    let current = api.get_opt(&name).await?;
    if current.as_ref().and_then(|c| c.data.as_ref()) != cm.data.as_ref() {
        let written = api
            .patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&cm),
            )
            .await?;
        // Our own write must not come back through the ConfigMap watch as a change.
        ctx.changed("ConfigMap", ns, name.clone(), written.resource_version());
    }
    Ok(name)
}

pub enum Dropped {
    Yes,
    Absent,
    /// Not tagged as this integration's: left alone (names who it belongs to).
    NotOurs(String),
}

/// Drops the catalog through REST (no compute needed) if it is marked as this integration's.
pub async fn drop_catalog(
    client: &WorkspaceClient,
    catalog: &str,
    id: &str,
) -> Result<Dropped, databricks::Error> {
    if client.get_catalog(catalog).await?.is_none() {
        return Ok(Dropped::Absent);
    }
    match client.get_catalog_tag(catalog, setup::TAG_KEY).await? {
        Some(owner) if owner == id => {
            client.delete_catalog(catalog, true).await?;
            Ok(Dropped::Yes)
        }
        Some(owner) => Ok(Dropped::NotOurs(format!("tagged {owner}"))),
        None => Ok(Dropped::NotOurs("not tagged".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_map_is_named_after_the_resource() {
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
        assert_eq!(config_map_name(&dbi), "sales-uc-setup");
        let manual = script(&dbi, Some("6b2c"), Script::Setup);
        assert!(manual.contains("`6b2c`"), "{manual}");
        dbi.spec.auto_bootstrap = false;
        assert_ne!(spec_hash(&dbi), {
            dbi.spec.auto_bootstrap = true;
            spec_hash(&dbi)
        });
    }
}
