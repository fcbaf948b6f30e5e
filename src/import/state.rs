//! What the governance tool's record of the integration carries over to the new resource:
//! whether its catalog already exists (`adoptExistingCatalog`), whether it is switched off
//! (`suspend`), and where the catalog's storage is (`storageRoot`, which no payload has).
//!
//! The contract adopts a catalog not created by this integration only with
//! `adoptExistingCatalog: true`, and only while the service principal owns it. The payload's only
//! evidence that the catalog exists is the `status` of a `GET /integrations` response: statuses
//! that the governance tool reaches only after its setup ran mean the catalog is there.
//!
//! Storage: Immuta's documented Databricks Unity Catalog payload (the `/integrations` API guide
//! "Configure a Databricks Unity Catalog integration", copied in `tests/fixtures/integrations-api`)
//! has no storage or location field, so `storageRoot` comes only from `--storage-root`.

use super::ImportError;
use super::error::invalid;

/// The spec fields decided here, with the notes that explain them.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Carried {
    pub(super) adopt_existing_catalog: bool,
    pub(super) suspend: bool,
    pub(super) storage_root: Option<String>,
    pub(super) notes: Vec<String>,
}

/// What a status says about the catalog. Status names: the governance tool's integration
/// statuses (see `shared/reference/databricks-api.md`, "The governance tool's own conventions").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Setup {
    /// Reached only after setup ran: the catalog exists.
    Done,
    /// Setup was running or failed: the catalog may or may not exist.
    Unfinished,
    /// The integration is being removed or was removed; its catalog may be gone.
    Removed,
    /// Switched off in the governance tool.
    Disabled,
    /// A status this importer does not know.
    Unknown,
    /// No status: a request body, or a bare config.
    NotSaid,
}

/// Statuses reached only after setup ran.
const DONE: [&str; 6] = [
    "enabled",
    "editing",
    "editError",
    "recurringValidationError",
    "migrating",
    "migrateError",
];
const UNFINISHED: [&str; 2] = ["creating", "createError"];
const REMOVED: [&str; 3] = ["deleting", "deleteError", "deleted"];

fn setup_of(status: Option<&str>) -> Setup {
    let Some(status) = status else {
        return Setup::NotSaid;
    };
    let is = |names: &[&str]| names.iter().any(|n| n.eq_ignore_ascii_case(status));
    if is(&DONE) {
        Setup::Done
    } else if is(&UNFINISHED) {
        Setup::Unfinished
    } else if is(&REMOVED) {
        Setup::Removed
    } else if is(&["disabled"]) {
        Setup::Disabled
    } else {
        Setup::Unknown
    }
}

/// What the new resource is told about its catalog, its storage and whether it runs.
/// `name` is the resource's name (for the ConfigMap a manual setup publishes).
pub(super) fn carry(
    status: Option<&str>,
    auto_bootstrap: bool,
    catalog: &str,
    name: &str,
    storage_root: Option<&str>,
) -> Result<Carried, ImportError> {
    let setup = setup_of(status);
    let shown = status.unwrap_or_default();
    let mut out = Carried {
        adopt_existing_catalog: auto_bootstrap && setup == Setup::Done,
        suspend: setup == Setup::Disabled,
        storage_root: storage_root.map(checked_storage_root).transpose()?,
        notes: Vec::new(),
    };
    if out.suspend {
        out.notes.push(format!(
            "status `{shown}`: suspend is true, so the operator sends nothing to Databricks until you set it to false"
        ));
    }
    if let Some(note) = catalog_note(setup, shown, auto_bootstrap, catalog, name) {
        out.notes.push(note);
    }
    if out.storage_root.is_none() && !out.adopt_existing_catalog {
        out.notes.push(format!(
            "the payload has no storage location (the /integrations API has no such field): if the metastore has no root storage (e.g. Databricks Default Storage), set spec.storageRoot (or --storage-root) to the MANAGED LOCATION for catalog {catalog}, or validation fails naming spec.storageRoot"
        ));
    }
    Ok(out)
}

/// Why `adoptExistingCatalog` is what it is, or what manual setup still needs.
fn catalog_note(
    setup: Setup,
    status: &str,
    auto_bootstrap: bool,
    catalog: &str,
    name: &str,
) -> Option<String> {
    let set_it = "if it exists and the service principal owns it, set adoptExistingCatalog: true, or the operator stops with createError";
    Some(match (setup, auto_bootstrap) {
        (Setup::Done, true) => format!(
            "status `{status}`: the governance tool's setup already created catalog {catalog}, so adoptExistingCatalog is true: the operator adopts it while the service principal owns it"
        ),
        (Setup::Done, false) => format!(
            "status `{status}`: catalog {catalog} was set up by the governance tool's script; run the operator's setup script (ConfigMap {name}-uc-setup, or `uc-operator script`) once, so that it carries this integration's marker: until then validation waits"
        ),
        (_, false) => return None,
        (Setup::NotSaid, true) => format!(
            "the payload has no status, so whether catalog {catalog} exists is unknown: adoptExistingCatalog is false; {set_it}"
        ),
        (Setup::Unknown, true) => format!(
            "status `{status}` is not one the governance tool reports: adoptExistingCatalog is false; {set_it}"
        ),
        (Setup::Unfinished | Setup::Removed | Setup::Disabled, true) => format!(
            "status `{status}`: catalog {catalog} may or may not exist, so adoptExistingCatalog is false; {set_it}"
        ),
    })
}

/// `--storage-root` checked as the CRD checks `storageRoot` (`STORAGE_ROOT_PATTERN` in
/// `api/validation.rs`), so a typo is refused here rather than by `kubectl apply`.
fn checked_storage_root(url: &str) -> Result<String, ImportError> {
    let rest = ["s3://", "abfss://", "gs://", "r2://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme));
    let (bucket, path) = match rest {
        Some(rest) => rest.split_once('/').unwrap_or((rest, "")),
        None => ("", ""),
    };
    let bucket_ok = bytes_in(bucket, b"@._-") && !bucket.is_empty();
    if bucket_ok && bytes_in(path, b"._~@%+=:,/-") {
        Ok(url.to_string())
    } else {
        Err(invalid(
            "--storage-root",
            format!(
                "`{url}` is not a cloud storage URL: s3://, abfss://, gs:// or r2:// followed by a bucket or container"
            ),
        ))
    }
}

fn bytes_in(s: &str, extra: &[u8]) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || extra.contains(&b))
}

#[cfg(test)]
mod tests {
    use super::super::tests::noted;
    use super::*;

    fn carried(status: Option<&str>, auto: bool) -> Carried {
        carry(status, auto, "gov", "dbi", None).unwrap()
    }

    #[test]
    fn statuses_after_setup_mean_the_catalog_exists() {
        for (names, setup) in [
            (&DONE[..], Setup::Done),
            (&UNFINISHED, Setup::Unfinished),
            (&REMOVED, Setup::Removed),
            (&["disabled"], Setup::Disabled),
        ] {
            for s in names {
                assert_eq!(setup_of(Some(s)), setup, "{s}");
                assert_eq!(setup_of(Some(&s.to_uppercase())), setup, "{s}");
            }
        }
        assert_eq!(setup_of(Some("paused")), Setup::Unknown);
        assert_eq!(setup_of(None), Setup::NotSaid);
    }

    #[test]
    fn an_enabled_automatic_integration_adopts_its_catalog() {
        let c = carried(Some("enabled"), true);
        assert!(c.adopt_existing_catalog && !c.suspend);
        assert_eq!(
            c.notes.len(),
            1,
            "no storage note for an existing catalog: {:?}",
            c.notes
        );
        assert!(
            c.notes[0].contains("adoptExistingCatalog is true"),
            "{:?}",
            c.notes
        );
    }

    #[test]
    fn manual_setup_never_adopts_and_says_to_run_the_script() {
        let c = carried(Some("enabled"), false);
        assert!(!c.adopt_existing_catalog);
        assert!(
            c.notes[0].contains("ConfigMap dbi-uc-setup"),
            "{:?}",
            c.notes
        );
        // Before setup ran, a manual integration has nothing to say about adoption.
        let c = carried(None, false);
        assert!(!noted(&c.notes, "adoptExistingCatalog"), "{:?}", c.notes);
    }

    #[test]
    fn without_evidence_the_catalog_is_not_adopted_and_the_note_says_how() {
        for status in [None, Some("createError"), Some("deleting"), Some("paused")] {
            let c = carried(status, true);
            assert!(!c.adopt_existing_catalog, "{status:?}");
            assert!(
                noted(&c.notes, "set adoptExistingCatalog: true"),
                "{status:?}: {:?}",
                c.notes
            );
        }
    }

    #[test]
    fn a_disabled_integration_is_suspended() {
        let c = carried(Some("disabled"), true);
        assert!(c.suspend && !c.adopt_existing_catalog);
        assert!(c.notes[0].contains("suspend is true"), "{:?}", c.notes);
    }

    #[test]
    fn the_storage_note_goes_unless_a_storage_root_is_given() {
        let note = |c: &Carried| noted(&c.notes, "spec.storageRoot");
        assert!(note(&carried(None, true)));
        assert!(note(&carried(Some("enabled"), false)));
        let given = carry(None, true, "gov", "dbi", Some("s3://bucket/uc")).unwrap();
        assert_eq!(given.storage_root.as_deref(), Some("s3://bucket/uc"));
        assert!(!note(&given), "{:?}", given.notes);
    }

    #[test]
    fn storage_roots_are_checked_like_the_crd_pattern() {
        for good in [
            "s3://b",
            "abfss://c@acct.dfs.core.windows.net/uc",
            "gs://b/a/b_c",
            "r2://b/x~y%20",
        ] {
            assert_eq!(checked_storage_root(good).unwrap(), good);
        }
        for bad in [
            "",
            "s3://",
            "s3:///p",
            "http://b",
            "s3://b/it's",
            "s3://b c",
            "S3://b",
            "s3://b/\\",
        ] {
            let err = checked_storage_root(bad).unwrap_err().to_string();
            assert!(err.starts_with("--storage-root: "), "{bad}: {err}");
        }
    }
}
