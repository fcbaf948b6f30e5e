//! Running the setup plan as the service principal (automatic setup), and dropping the catalog
//! on deletion — only ever a catalog that is this integration's.

use super::plan::{self, Existing, SetupParams, TAG_KEY};
use crate::databricks::{self, CatalogTag, WorkspaceClient};
use crate::identity::IntegrationId;

/// Which statement of the plan failed.
#[derive(Debug)]
pub enum SetupError {
    /// `CREATE CATALOG`, the first statement: Databricks' refusal (no privilege, no location)
    /// is its answer to whether the catalog may be created, and nothing else was sent.
    CreateCatalog(databricks::Error),
    /// A later statement.
    Later(databricks::Error),
}

/// Runs the automatic setup plan, stage by stage (a stage's statements at once); every statement
/// is idempotent, so an interrupted run is finished by the next one.
pub async fn run(
    client: &WorkspaceClient,
    params: &SetupParams,
    existing: Existing,
) -> Result<(), SetupError> {
    for (i, stage) in plan::automatic_stages(params, existing)
        .into_iter()
        .enumerate()
    {
        let results = futures::future::join_all(stage.iter().map(|s| client.execute(s))).await;
        for (sql, result) in stage.iter().zip(results) {
            result.map_err(|e| explain(sql, e)).map_err(|e| match i {
                0 if !existing.catalog => SetupError::CreateCatalog(e),
                _ => SetupError::Later(e),
            })?;
        }
    }
    Ok(())
}

/// A statement's error with what the operator knows about it: `ALTER … SET TAGS` that does not
/// parse is a cluster runtime older than 13.3 ("Applies to: Databricks SQL, Databricks Runtime
/// 13.3 LTS and above", docs.databricks.com sql-ref-syntax-ddl-alter-catalog; SQL warehouses
/// always parse it).
fn explain(sql: &str, e: databricks::Error) -> databricks::Error {
    let sets_tags = sql.contains(" SET TAGS ");
    let parse_error = e.sql_state() == Some("42601")
        || [
            "PARSE_SYNTAX_ERROR",
            "ParseException",
            "mismatched input",
            "no viable alternative",
        ]
        .iter()
        .any(|m| e.to_string().contains(m));
    match e {
        databricks::Error::Sql {
            sql_state,
            error_code,
            message,
        } if sets_tags && parse_error => databricks::Error::Sql {
            sql_state,
            error_code,
            message: format!(
                "{message}: ALTER CATALOG … SET TAGS needs Databricks Runtime 13.3 LTS or above; the cluster in httpPath runs an older one: upgrade its runtime, or point httpPath at a SQL warehouse"
            ),
        },
        e => e,
    }
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
    let marker = match client.get_catalog_tag(catalog, TAG_KEY).await? {
        // Where tags are not served, the comment only this integration's CREATE CATALOG wrote
        // is the marker of record (an adopted catalog, unrecognisable then, is left alone).
        CatalogTag::NotServed if created => Some(id.marker()),
        tag => tag.value(),
    };
    match marker {
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
