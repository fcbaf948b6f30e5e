//! Running the setup plan as the service principal (automatic setup), and dropping the catalog
//! on deletion — only ever a catalog that is this integration's.

use super::plan::{self, Mode, SetupParams, TAG_KEY};
use crate::databricks::{self, WorkspaceClient};
use crate::identity::IntegrationId;

/// Runs the automatic setup plan, statement by statement; every statement is idempotent, so an
/// interrupted run is finished by the next one.
pub async fn run(client: &WorkspaceClient, params: &SetupParams) -> Result<(), databricks::Error> {
    for statement in plan::setup_statements(params, Mode::Automatic) {
        client.execute(&statement).await?;
    }
    Ok(())
}

pub enum Dropped {
    Yes,
    Absent,
    /// Not marked as this integration's: left alone (says whose it is).
    NotOurs(String),
}

/// Drops the catalog through REST (no compute needed) if it is marked as this integration's.
pub async fn drop_catalog(
    client: &WorkspaceClient,
    catalog: &str,
    id: &IntegrationId,
) -> Result<Dropped, databricks::Error> {
    if client.get_catalog(catalog).await?.is_none() {
        return Ok(Dropped::Absent);
    }
    match client.get_catalog_tag(catalog, TAG_KEY).await? {
        Some(owner) if owner == id.marker() => {
            client.delete_catalog(catalog, true).await?;
            Ok(Dropped::Yes)
        }
        Some(owner) => Ok(Dropped::NotOurs(format!("tagged {owner}"))),
        None => Ok(Dropped::NotOurs("not tagged".into())),
    }
}
