//! `Catalog validation`: the integration's own catalog exists and is this integration's (owned by
//! the service principal and carrying its marker), or can be created.

use super::{CATALOG_VALIDATION, CatalogState, Findings, Integration, lockdown};
use crate::databricks::{self, CatalogTag, ErrorKind, WorkspaceClient};
use crate::failure::Reason;
use crate::setup::{TAG_KEY, comment_marker, is_own_comment};

/// Re-runs the catalog test after setup, with the lockdown check, replacing the earlier result.
pub async fn verify(main: &WorkspaceClient, it: &Integration<'_>, f: &mut Findings) {
    let (Some(principal), Some(metastore)) = (f.main().principal, f.metastore.clone()) else {
        return;
    };
    let it = it.after_setup_ran();
    check(main, &it, &principal, &metastore, f).await;
}

pub(super) async fn check(
    main: &WorkspaceClient,
    it: &Integration<'_>,
    principal: &str,
    metastore: &databricks::MetastoreSummary,
    f: &mut Findings,
) {
    let name = it.catalog;
    let groups = f.main().groups;
    let admin = Admin {
        summary: metastore,
        principal,
        groups: &groups,
    };
    let (info, prefetched) = lookup(main, it, &admin).await;
    let info = match info {
        Ok(info) => info,
        // The name is taken by a catalog the principal may not even see.
        Err(e) if e.kind() == ErrorKind::PermissionDenied && it.automatic => {
            f.catalog = Some(CatalogState::Foreign {
                owner: "someone else".into(),
            });
            f.failed_user(
                CATALOG_VALIDATION,
                Reason::CatalogExists,
                format!("catalog {name} already exists and the service principal {principal} may not see it ({e}): choose another catalog"),
            );
            return;
        }
        Err(e) => {
            f.failed_call(
                CATALOG_VALIDATION,
                &format!("could not read catalog {name}"),
                &e,
            );
            return;
        }
    };
    let Some(info) = info else {
        return missing(main, it, &admin, prefetched, f).await;
    };
    existing(main, it, principal, &info, f).await;
}

/// A catalog that exists: whose it is (owner and marker) and, when ours, whether its lockdown
/// holds.
async fn existing(
    main: &WorkspaceClient,
    it: &Integration<'_>,
    principal: &str,
    info: &databricks::CatalogInfo,
    f: &mut Findings,
) {
    let name = it.catalog;
    let tag = match main.get_catalog_tag(name, TAG_KEY).await {
        Ok(tag) => tag,
        Err(e) => {
            let context = format!("could not read the tags of catalog {name}");
            f.failed_call(CATALOG_VALIDATION, &context, &e);
            return;
        }
    };
    let owner = info.owner.clone().unwrap_or_default();
    let marked = is_own_comment(it.id, info.comment.as_deref());
    // Where the workspace does not serve entity tag assignments, the comment `CREATE CATALOG`
    // wrote is the marker of record: without it the catalog would never be recognised and
    // setup would run again on every check.
    let tag = match tag {
        CatalogTag::NotServed if marked => Some(it.id.marker()),
        tag => tag.value(),
    };
    // A comment naming another integration counts as its marker: such a catalog is never
    // adopted (or taken over) where tags are missing.
    let tag = tag.or_else(|| other_marker(info.comment.as_deref(), it));
    let mut state = classify(it, principal, &owner, tag.as_deref(), marked);
    if state == CatalogState::Ours && it.check_lockdown {
        match lockdown::inspect(main, name, principal).await {
            Ok(drift) if !drift.is_empty() => state = CatalogState::Drifted(drift),
            Ok(_) => {}
            Err(e) => {
                let context = format!("could not read the grants on catalog {name}");
                f.failed_call(CATALOG_VALIDATION, &context, &e);
                return;
            }
        }
    }
    report(it, principal, &owner, &state, f);
    f.catalog = Some(state);
}

/// The catalog; a new automatic integration will most likely create it, so the grants that
/// needs are read in the same round trip (unless the metastore admin needs none).
async fn lookup(
    main: &WorkspaceClient,
    it: &Integration<'_>,
    admin: &Admin<'_>,
) -> (
    Result<Option<databricks::CatalogInfo>, databricks::Error>,
    Option<Grants>,
) {
    if !it.automatic || it.after_setup || admin.is_admin() {
        return (main.get_catalog(it.catalog).await, None);
    }
    let (info, grants) = tokio::join!(main.get_catalog(it.catalog), admin.grants(main));
    (info, Some(grants))
}

type Grants = Result<Vec<databricks::EffectivePrivilegeAssignment>, databricks::Error>;

/// The catalog does not exist. Whether it may be created, and where, is Databricks' answer to
/// `CREATE CATALOG` (setup attempts it and maps a refusal, [`refusal`]); what can be read here
/// only words the result: a privilege held through a group, or Default Storage, is invisible to
/// these reads, so they never refuse on their own (a `warning` says what is not known).
/// `prefetched`: the principal's grants on the metastore, when already read.
async fn missing(
    main: &WorkspaceClient,
    it: &Integration<'_>,
    admin: &Admin<'_>,
    prefetched: Option<Grants>,
    f: &mut Findings,
) {
    let name = it.catalog;
    let metastore = &admin.summary.metastore_id;
    f.catalog = Some(CatalogState::Missing);
    // A root-less metastore refuses a catalog without a location unless the workspace has
    // Default Storage, which no API reports: only the attempt tells.
    let storage = (admin.summary.storage_root.is_none() && it.storage_root.is_none()).then(|| {
        format!("metastore {metastore} has no root storage: unless the workspace has Default Storage, Databricks will ask for spec.storageRoot")
    });
    if !it.automatic {
        let mut message =
            format!("catalog {name} does not exist yet: waiting for the setup script to be run");
        if let Some(storage) = storage {
            message = format!("{message} ({storage})");
        }
        f.warned(CATALOG_VALIDATION, message);
        return;
    }
    let principal = admin.principal;
    let privilege = if admin.is_admin() {
        Ok("it is a metastore admin")
    } else {
        let grants = match prefetched {
            Some(grants) => grants,
            None => admin.grants(main).await,
        };
        match grants {
            Ok(a) if may_create_catalogs(&a) => Ok("it holds CREATE CATALOG on the metastore"),
            Ok(_) => Err(format!(
                "{principal} holds no CREATE CATALOG grant of its own on metastore {metastore}; it may hold one through a group, which only the attempt shows"
            )),
            Err(e) => Err(format!(
                "whether {principal} may create catalogs is not known (reading its privileges on metastore {metastore} failed: {e})"
            )),
        }
    };
    match (privilege, storage) {
        (Ok(why), None) => {
            let message = format!(
                "the catalog does not exist yet and the service principal may create it ({why})"
            );
            f.passed(CATALOG_VALIDATION, Some(message), None);
        }
        (privilege, storage) => {
            let unknown: Vec<String> = privilege.err().into_iter().chain(storage).collect();
            let message = format!(
                "catalog {name} does not exist yet; setup will attempt CREATE CATALOG: {}",
                unknown.join("; ")
            );
            f.warned(CATALOG_VALIDATION, message);
        }
    }
}

/// Databricks' refusal of `CREATE CATALOG`, as the catalog test's failure (reason and the
/// remedy the docs give), or `None` when the error is no refusal (an outage, a bad response).
pub fn refusal(
    it: &Integration<'_>,
    principal: &str,
    metastore: Option<&str>,
    e: &databricks::Error,
) -> Option<(Reason, String)> {
    let name = it.catalog;
    let metastore = metastore.unwrap_or("of the workspace");
    // databricks/cli#5695, dbdemos#139: 400 INVALID_STATE "Metastore storage root URL does not
    // exist. Please provide a storage location for the catalog …".
    if e.to_string()
        .to_ascii_lowercase()
        .contains("metastore storage root url does not exist")
    {
        let message = format!(
            "Databricks refused to create catalog {name} without a location ({e}): metastore {metastore} has no root storage and the workspace no Default Storage; set spec.storageRoot to a cloud storage URL (s3://, abfss://, gs://, r2://) under an external location the service principal may use; nothing was created"
        );
        return Some((Reason::StorageRootRequired, message));
    }
    let denied = e.kind() == ErrorKind::PermissionDenied || e.sql_state() == Some("42501");
    denied.then(|| {
        let message = format!(
            "Databricks refused to let the service principal {principal} create catalog {name} ({e}): run `GRANT CREATE CATALOG ON METASTORE TO `{principal}`` (or to a group it belongs to) as a metastore admin, or set autoBootstrap: false for manual setup; nothing was created"
        );
        (Reason::InsufficientPrivileges, message)
    })
}

fn may_create_catalogs(assignments: &[databricks::EffectivePrivilegeAssignment]) -> bool {
    assignments
        .iter()
        .flat_map(|a| &a.privileges)
        .any(|p| p.privilege == "CREATE_CATALOG" || p.privilege == "ALL_PRIVILEGES")
}

/// The marker of another integration named in an operator-written comment, if any.
fn other_marker(comment: Option<&str>, it: &Integration<'_>) -> Option<String> {
    let marker = comment_marker(comment?)?;
    (!it.id.is_marker(marker)).then(|| marker.to_string())
}

/// Whose the catalog is: this integration's only when it carries the marker *and* the principal
/// owns it. `commented` says it has the comment `CREATE CATALOG` wrote, which recognises a
/// catalog created by this integration before a crash kept it from being tagged.
pub(crate) fn classify(
    it: &Integration<'_>,
    principal: &str,
    owner: &str,
    tag: Option<&str>,
    commented: bool,
) -> CatalogState {
    let owned = owner.eq_ignore_ascii_case(principal);
    match tag {
        Some(other) if !it.id.is_marker(other) => CatalogState::OtherIntegration {
            id: other.to_string(),
        },
        Some(_) if !owned => CatalogState::NotOwned {
            owner: owner.to_string(),
        },
        Some(_) => CatalogState::Ours,
        None if owned && (commented || it.adopt || !it.automatic) => CatalogState::OursUntagged,
        None if owned => CatalogState::NotAdopted,
        None => CatalogState::Foreign {
            owner: owner.to_string(),
        },
    }
}

/// The test's outcome for a catalog in `state`.
fn report(
    it: &Integration<'_>,
    principal: &str,
    owner: &str,
    state: &CatalogState,
    f: &mut Findings,
) {
    let name = it.catalog;
    match (state, it.automatic) {
        (CatalogState::OtherIntegration { id }, _) => f.failed_user(
            CATALOG_VALIDATION,
            Reason::CatalogOwnedByAnotherIntegration,
            format!("catalog {name} is owned by another integration ({id}); it is never taken over: choose another catalog"),
        ),
        (CatalogState::Ours, _) => f.passed(
            CATALOG_VALIDATION,
            Some(format!("catalog {name} exists and is owned by this integration")),
            None,
        ),
        (CatalogState::OursUntagged, true) => f.passed(
            CATALOG_VALIDATION,
            Some(format!("catalog {name} is owned by the service principal; setup will mark it as this integration's")),
            None,
        ),
        (CatalogState::Drifted(drift), _) if !drift.owners.is_empty() => f.failed_user(
            CATALOG_VALIDATION,
            Reason::CatalogOwnershipChanged,
            format!("{}; the operator never takes ownership: make the service principal the owner again", drift.describe(name)),
        ),
        (CatalogState::Drifted(drift), _) => {
            f.failed_user(CATALOG_VALIDATION, Reason::CatalogDrifted, drift.describe(name))
        }
        (CatalogState::NotOwned { owner }, true) => not_owned(name, owner, principal, f),
        // A manual script half-run (tagged, ownership not moved yet) is a wait, not a drift.
        (CatalogState::NotOwned { owner }, false) if it.after_setup => {
            not_owned(name, owner, principal, f)
        }
        (CatalogState::NotAdopted, _) => f.failed_user(
            CATALOG_VALIDATION,
            Reason::CatalogNotAdopted,
            format!("catalog {name} already exists and is owned by the service principal, but was not created by this integration: set adoptExistingCatalog: true to adopt it, or choose another catalog"),
        ),
        (CatalogState::Foreign { owner }, true) => f.failed_user(
            CATALOG_VALIDATION,
            Reason::CatalogExists,
            format!("catalog {name} already exists and is owned by {owner}, not by the service principal {principal}: choose another catalog, or make the service principal its owner"),
        ),
        (_, false) => f.warned(
            CATALOG_VALIDATION,
            format!("catalog {name} is not set up yet (owner {owner}, not tagged as {}): waiting for the setup script to be run", it.id.marker()),
        ),
        (CatalogState::Missing | CatalogState::Unknown, true) => {}
    }
}

fn not_owned(name: &str, owner: &str, principal: &str, f: &mut Findings) {
    f.failed_user(
        CATALOG_VALIDATION,
        Reason::CatalogOwnershipChanged,
        format!("catalog {name} carries this integration's marker but is owned by {owner}, not by the service principal {principal}; the operator never takes ownership: make the service principal its owner again"),
    );
}

/// Who the metastore admin is, to compare with the principal.
struct Admin<'a> {
    summary: &'a databricks::MetastoreSummary,
    principal: &'a str,
    groups: &'a [String],
}

impl Admin<'_> {
    /// The principal's effective privileges on the metastore (inherited ones included).
    async fn grants(&self, main: &WorkspaceClient) -> Grants {
        let metastore = &self.summary.metastore_id;
        main.effective_permissions("metastore", metastore, self.principal)
            .await
    }

    /// A metastore admin (its owner, directly or through a group) may create catalogs without
    /// any `CREATE_CATALOG` grant, which effective permissions for the principal do not list.
    fn is_admin(&self) -> bool {
        let owner = &self.summary.owner;
        owner.eq_ignore_ascii_case(self.principal)
            || self.groups.iter().any(|g| g.eq_ignore_ascii_case(owner))
    }
}

#[cfg(test)]
mod tests;
