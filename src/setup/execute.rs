//! Running the setup plan as the service principal (automatic setup), and dropping the catalog
//! on deletion — only ever a catalog that is this integration's.

use super::plan::{self, Existing, SetupParams, TAG_KEY};
use crate::databricks::{self, WorkspaceClient};
use crate::identity::IntegrationId;

/// Runs the automatic setup plan, stage by stage (a stage's statements at once); every statement
/// is idempotent, so an interrupted run is finished by the next one.
pub async fn run(
    client: &WorkspaceClient,
    params: &SetupParams,
    existing: Existing,
) -> Result<(), databricks::Error> {
    for stage in plan::automatic_stages(params, existing) {
        let results = futures::future::join_all(stage.iter().map(|s| client.execute(s))).await;
        for result in results {
            result?;
        }
    }
    Ok(())
}

pub enum Dropped {
    Yes,
    Absent,
    /// This integration's by adoption (`adoptExistingCatalog`): never dropped.
    Adopted,
    /// Not marked as this integration's: left alone (says whose it is).
    NotOurs(String),
}

/// Drops the catalog through REST (no compute needed) only if it is this integration's: the
/// service principal owns it *and* it carries the marker (or, not tagged yet, the comment its
/// `CREATE CATALOG` wrote); a forged tag on someone else's catalog must never get it dropped.
pub async fn drop_catalog(
    client: &WorkspaceClient,
    catalog: &str,
    id: &IntegrationId,
) -> Result<Dropped, databricks::Error> {
    let Some(info) = client.get_catalog_strict(catalog).await? else {
        return Ok(Dropped::Absent);
    };
    let principal = client.me().await?.user_name;
    let created = plan::is_own_comment(id, info.comment.as_deref());
    let owner = info.owner.unwrap_or_default();
    if !owner.eq_ignore_ascii_case(&principal) {
        return Ok(Dropped::NotOurs(format!("owned by {owner}")));
    }
    match client.get_catalog_tag(catalog, TAG_KEY).await? {
        // Only a catalog this integration created carries its comment (`CREATE CATALOG` wrote
        // it); an adopted one kept the comment it had, and holds data that was never ours.
        Some(marker) if id.is_marker(&marker) && !created => Ok(Dropped::Adopted),
        Some(marker) if id.is_marker(&marker) => {
            client.delete_catalog(catalog, true).await?;
            Ok(Dropped::Yes)
        }
        Some(marker) => Ok(Dropped::NotOurs(format!("tagged {marker}"))),
        // Created by this integration (its comment) and cut off before it was tagged: a setup
        // killed right after `CREATE CATALOG`. The check counts it as ours; so does deletion.
        None if created => {
            client.delete_catalog(catalog, true).await?;
            Ok(Dropped::Yes)
        }
        None => Ok(Dropped::NotOurs("not tagged".into())),
    }
}
