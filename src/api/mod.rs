//! The Kubernetes side: the `DatabricksIntegration` custom resource.
//!
//! Field names follow the governance tool's `/integrations` payload. Doc comments become the
//! OpenAPI descriptions users read in `kubectl explain`; every rule that needs no Databricks is
//! added to the generated schema in [`validation`] so the API server enforces it.

pub mod admission;
mod status;
mod types;
pub mod validation;

pub use status::*;
pub use types::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// API group of the resource.
pub const GROUP: &str = "uc-operator.dev";
/// The finalizer that guards cleanup in Databricks.
pub const FINALIZER: &str = "uc-operator.dev/cleanup";
/// The field manager for everything the operator writes.
pub const FIELD_MANAGER: &str = "uc-operator";
/// A new value makes the operator re-validate now (Flux's `reconcile.fluxcd.io/requestedAt`).
pub const REQUESTED_AT: &str = "uc-operator.dev/requestedAt";

/// The CRD exactly as the API server should get it: the derived schema plus the CEL rules.
pub fn crd() -> CustomResourceDefinition {
    let mut crd = DatabricksIntegration::crd();
    for version in &mut crd.spec.versions {
        if let Some(schema) = version
            .schema
            .as_mut()
            .and_then(|s| s.open_api_v3_schema.as_mut())
        {
            let mut value = serde_json::to_value(&*schema).expect("schema serializes");
            validation::apply(&mut value);
            *schema = serde_json::from_value(value).expect("schema round-trips");
        }
    }
    crd
}

/// The CRD as YAML, as `uc-operator crd` prints it and `crds/` stores it.
pub fn crd_yaml() -> String {
    serde_yaml::to_string(&crd()).expect("CRD serializes to YAML")
}

/// Finds the DatabricksIntegration in a (possibly multi-document) YAML or JSON manifest.
/// The manifest's `DatabricksIntegration` document as JSON, if it has one.
pub fn manifest_document(text: &str) -> Result<Option<serde_json::Value>, ManifestError> {
    use serde::Deserialize;
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(document)?;
        if value.get("kind").and_then(|k| k.as_str()) == Some("DatabricksIntegration") {
            return Ok(Some(serde_yaml::from_value(value)?));
        }
    }
    Ok(None)
}

pub fn integration_from_manifest(text: &str) -> Result<DatabricksIntegration, ManifestError> {
    use serde::Deserialize;
    for document in serde_yaml::Deserializer::from_str(text) {
        let value = serde_yaml::Value::deserialize(document)?;
        if value.get("kind").and_then(|k| k.as_str()) == Some("DatabricksIntegration") {
            return Ok(serde_yaml::from_value(value)?);
        }
    }
    Err(ManifestError::NotFound)
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("not a valid manifest: {0}")]
    Yaml(#[from] serde_yaml::Error),
    #[error("no DatabricksIntegration in the manifest")]
    NotFound,
}
