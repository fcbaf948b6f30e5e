//! Deletion behind the finalizer: drop the catalog automatic setup created (only when it is this
//! integration's), keep it when told to, and never hang.

use kube::runtime::controller::Action;

use super::super::config_map;
use super::super::context::Context;
use super::super::decide::{self, Note};
use super::super::error::Error;
use super::super::status::{BOOTSTRAPPED, VALIDATED};
use super::super::write::StatusWriter;
use super::dereference;
use crate::api::{DatabricksIntegration, DeletionPolicy};
use crate::databricks::ErrorKind;
use crate::failure::{Failure, Reason};
use crate::setup::{self, Dropped};

const HINT: &str =
    "; fix it, or set deletionPolicy: Retain to delete the resource and keep the catalog";

pub async fn run(cached: &DatabricksIntegration, ctx: &Context) -> Result<Action, Error> {
    // From the whole resource, not the cache's trimmed copy (`cache.rs`).
    let dbi = &super::super::cache::latest(ctx, cached).await?;
    let mut writer = StatusWriter::new(ctx, dbi);
    writer.announce_deletion().await?;
    let (notes, failure) = clean_up(ctx, dbi).await?;
    if failure.is_none() {
        // Gone from the cluster: its workspace is free for another integration.
        ctx.claims.release(dbi, None).await?;
        ctx.claims.forget_record(dbi).await?;
    }
    writer.write(decide::deletion(notes, failure)).await
}

/// What deleting the resource does in Databricks: what to tell users, or why it failed.
async fn clean_up(
    ctx: &Context,
    dbi: &DatabricksIntegration,
) -> Result<(Vec<Note>, Option<Failure>), Error> {
    let keep = why_kept(ctx, dbi).await?;
    if !setup_may_have_run(dbi) {
        // Setup only runs after validation passed: nothing was created, nothing to ask.
        return Ok((Vec::new(), None));
    }
    if let Some(why) = keep {
        let note = format!("catalog {} is kept ({why})", dbi.spec.catalog);
        return Ok((vec![Note::normal(Reason::CatalogRetained, note)], None));
    }
    Ok(match drop_catalog(ctx, dbi).await {
        Ok(note) => (note.into_iter().collect(), None),
        Err(f) => {
            let f = Failure {
                message: format!("{}{HINT}", f.message),
                ..f
            };
            (Vec::new(), Some(f))
        }
    })
}

/// Why the catalog stays, if it does. A manual-setup ConfigMap is kept (its owner reference
/// dropped) so that `cleanup.sql` outlives the resource.
async fn why_kept(ctx: &Context, dbi: &DatabricksIntegration) -> Result<Option<String>, Error> {
    if dbi.spec.suspend {
        return Ok(Some(
            "the resource is suspended: nothing is sent to Databricks".into(),
        ));
    }
    if !dbi.spec.auto_bootstrap {
        let why = match config_map::keep(ctx, dbi).await? {
            Some(name) => format!(
                "manual setup: run cleanup.sql from ConfigMap {name} (kept after the resource is gone; delete it when done) to drop it"
            ),
            None => "manual setup: the setup script was never published".into(),
        };
        return Ok(Some(why));
    }
    Ok((dbi.spec.deletion_policy == DeletionPolicy::Retain)
        .then(|| "deletionPolicy is Retain".into()))
}

/// Drops the catalog if it is this integration's. Deletion never hangs on credentials: when
/// they are gone (the Secret pruned with the resource, its label removed) or refused (revoked),
/// the catalog is left in place and a Warning says which and how to drop it.
async fn drop_catalog(ctx: &Context, dbi: &DatabricksIntegration) -> Result<Option<Note>, Failure> {
    let catalog = &dbi.spec.catalog;
    let client = match dereference::main_client(ctx, dbi).await {
        Ok(c) => c,
        Err(f)
            if matches!(
                f.reason,
                Reason::SecretNotFound
                    | Reason::ServiceAccountNotFound
                    | Reason::CredentialNotLabelled
            ) =>
        {
            return Ok(Some(left_in_place(catalog, "its credentials are gone")));
        }
        Err(f) => return Err(f),
    };
    let dropped = match setup::drop_catalog(&client, catalog, &ctx.id_of(dbi)).await {
        Ok(dropped) => dropped,
        Err(e) if e.kind() == ErrorKind::Unauthenticated => {
            return Ok(Some(left_in_place(catalog, "its credentials were refused")));
        }
        Err(e) => {
            let context = format!("could not drop catalog {catalog}");
            return Err(Failure::databricks(&context, &e));
        }
    };
    Ok(match dropped {
        Dropped::Yes => Some(Note::normal(
            Reason::CatalogDropped,
            format!("catalog {catalog} dropped"),
        )),
        Dropped::Absent => None,
        Dropped::Adopted => Some(Note::normal(
            Reason::CatalogRetained,
            format!(
                "catalog {catalog} is kept (adopted through adoptExistingCatalog: an adopted catalog is never dropped)"
            ),
        )),
        Dropped::NotOurs(whose) => Some(Note::warning(
            Reason::CatalogNotDropped,
            format!("catalog {catalog} is not this integration's ({whose}); it is left in place"),
        )),
    })
}

fn left_in_place(catalog: &str, why: &str) -> Note {
    Note::warning(
        Reason::CatalogNotDropped,
        format!(
            "{why}: catalog {catalog} is left in place; drop it as its owner (the service principal) or a metastore admin with DROP CATALOG `{catalog}` CASCADE"
        ),
    )
}

/// Whether setup may have created something: it runs only once validation passed, which the
/// status then says (or setup got as far as failing).
fn setup_may_have_run(dbi: &DatabricksIntegration) -> bool {
    let Some(status) = dbi.status.as_ref() else {
        return false;
    };
    let applied = status
        .bootstrap
        .as_ref()
        .is_some_and(|b| b.applied_spec_hash.is_some());
    applied
        || status.conditions.iter().any(|c| {
            (c.type_ == VALIDATED && c.status == "True")
                || (c.type_ == BOOTSTRAPPED
                    && (c.status == "True"
                        || c.reason == Reason::SetupFailed.as_str()
                        || c.reason == Reason::SetupStarted.as_str()))
        })
}
