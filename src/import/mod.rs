//! `uc-operator import`: converts an Immuta `/integrations` payload for a Databricks Unity Catalog
//! integration into a `DatabricksIntegration` and the Secrets that hold its credentials.
//!
//! Accepted shapes (JSON or YAML): a `POST`/`PUT` request body `{type, autoBootstrap, config}`, a
//! `GET /integrations/{id}` response (the same plus `id`, `status`, `validationResults`), the
//! `GET /integrations` array (its Databricks entry; `--id` picks one when there are several), or a
//! bare `config` object.
//!
//! Credentials never go into the resource: an inline `token`, `clientSecret` or `oauthPrivateKey`
//! becomes a Secret referenced from the spec. A placeholder (`REDACTED`, `<SECRET>`, ...) or a
//! credential the payload leaves out becomes an empty Secret the user must fill; the notes say
//! which, without ever echoing a value.
//!
//! The conversion is a chain of pure steps, one module each: `parse` reads the text, `select`
//! picks the integration, `payload` reads it into a model (with `fields`), `state` decides
//! what the governance tool's status carries over, and `build` writes the resource and (with
//! `secrets`) the Secrets.

mod build;
mod error;
mod fields;
mod names;
mod parse;
mod payload;
mod secrets;
mod select;
mod state;

use k8s_openapi::api::core::v1::Secret;

use crate::api::DatabricksIntegration;

pub use build::{CLIENT_ID_PLACEHOLDER, TENANT_PLACEHOLDER, THUMBPRINT_PLACEHOLDER};
pub use error::ImportError;
pub use names::name_from_host;
pub use parse::Format;

/// Everything `convert_with` needs besides the text.
#[derive(Clone, Debug, Default)]
pub struct Options {
    pub format: Format,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub id: Option<String>,
    /// `spec.storageRoot`, which no payload carries.
    pub storage_root: Option<String>,
}

/// The result of an import. `manifests` and `secrets` hold the payload's credentials, so
/// `Debug` leaves them out.
#[derive(Clone)]
pub struct Imported {
    /// Multi-document YAML: the Secrets first, then the DatabricksIntegration.
    pub manifests: String,
    /// What the user must still do (Secrets to fill, placeholders to replace, ignored fields).
    /// Never contains a credential.
    pub notes: Vec<String>,
    pub integration: DatabricksIntegration,
    pub secrets: Vec<Secret>,
}

impl std::fmt::Debug for Imported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secrets: Vec<_> = self.secrets.iter().map(|s| &s.metadata.name).collect();
        f.debug_struct("Imported")
            .field("manifests", &"REDACTED")
            .field("notes", &self.notes)
            .field("integration", &self.integration)
            .field("secrets", &secrets)
            .finish()
    }
}

/// Converts with default options except the name and namespace.
pub fn convert(
    input: &str,
    name: Option<&str>,
    namespace: Option<&str>,
) -> Result<Imported, ImportError> {
    convert_with(
        input,
        &Options {
            name: name.map(str::to_string),
            namespace: namespace.map(str::to_string),
            ..Options::default()
        },
    )
}

/// The whole conversion, with no I/O.
pub fn convert_with(input: &str, options: &Options) -> Result<Imported, ImportError> {
    let value = parse::parse(input, options.format)?;
    let entry = select::select(value, options.id.as_deref())?;
    let payload = payload::Payload::from_value(entry)?;
    build::build(payload, options)
}

#[cfg(test)]
mod tests;
