//! The validation tests: domain logic between the spec and the Databricks client. They read
//! Databricks and report [`Findings`]; they change nothing (the setup plan does that).
//!
//! One file per subject: `workspace` (metastore, identity), `compute` (the basic connection),
//! `catalog` (the integration's own catalog), `audit` (system tables), `connections`
//! (additional workspaces and their catalogs), `expiry` (when the credentials stop working).

mod audit;
mod catalog;
mod compute;
mod connections;
mod expiry;
mod findings;
mod governance;
mod lockdown;
pub mod results;
mod workspace;

pub use findings::{CatalogState, Finding, Findings, Outcome, Workspace};

pub use catalog::{refusal as create_catalog_refusal, verify as verify_catalog};
pub use expiry::{certificate_not_after, expiry_test};
pub use governance::governed_test;
pub use lockdown::{Drift, ForeignGrant, repair as repair_lockdown};

use crate::api::DatabricksIntegrationSpec;
use crate::databricks::WorkspaceClient;
use crate::identity::IntegrationId;

pub const BASIC_CONNECTION_TEST: &str = "Basic Connection Test";
pub const METASTORE_VALIDATION: &str = "Metastore validation";
pub const CATALOG_VALIDATION: &str = "Catalog validation";
pub const AUDIT_VALIDATION: &str = "Query audit: system table access";

/// The name of the test of one additional connection.
pub fn connection_test(host: &str) -> String {
    format!("Workspace connection: {host}")
}

/// The name of the test of one catalog of an additional connection.
pub fn catalog_access_test(catalog: &str) -> String {
    format!("Catalog access: {catalog}")
}

/// Whether a check may run SQL on stopped compute (which starts it, and costs money).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputePolicy {
    /// Creating or editing: the user just asked for work, so starting compute is expected.
    MayStart,
    /// Periodic re-validation: SQL only when the warehouse or cluster already runs.
    OnlyIfRunning,
}

/// What the checks need to know about the integration.
#[derive(Clone, Copy, Debug)]
pub struct Integration<'a> {
    pub id: &'a IntegrationId,
    pub catalog: &'a str,
    pub automatic: bool,
    pub audit: bool,
    /// Whether privileges held by others on the catalog are a failure (they are, except before
    /// automatic setup, which revokes them).
    pub check_lockdown: bool,
    /// `adoptExistingCatalog`: a catalog the principal owns but this integration did not create
    /// is adopted.
    pub adopt: bool,
    /// `storageRoot`: the catalog's managed location, needed on a metastore without a root.
    pub storage_root: Option<&'a str>,
    /// Whether setup completed once (a periodic check or an edit): a manual script half-run is
    /// a wait before, a drift after.
    pub after_setup: bool,
    /// A credential this close to its expiry gets a `warning` (`--credential-warning`).
    pub credential_warning: std::time::Duration,
    /// `governedCatalogs`: the main workspace's catalogs the governance tool will govern.
    pub governed: &'a [String],
    /// `audit.workspaceIds`: the workspaces audit is limited to.
    pub audit_workspaces: &'a [i64],
}

/// `--credential-warning`'s default: 14 days.
pub const DEFAULT_CREDENTIAL_WARNING: std::time::Duration =
    std::time::Duration::from_secs(14 * 86_400);

/// Where in its life an integration is checked; it decides what the checks expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Never set up: before automatic setup, grants that setup revokes are no failure.
    Create,
    /// A changed spec: setup completed once, and may run again (which restores lockdown).
    Edit,
    /// The periodic check of an unchanged, set-up integration.
    Recheck,
}

impl<'a> Integration<'a> {
    /// What a spec asks of the checks at `stage`.
    pub fn of(spec: &'a DatabricksIntegrationSpec, id: &'a IntegrationId, stage: Stage) -> Self {
        let automatic = spec.auto_bootstrap;
        Integration {
            id,
            catalog: &spec.catalog,
            automatic,
            audit: spec.audit_enabled(),
            check_lockdown: lockdown_checked(automatic, stage == Stage::Recheck),
            adopt: spec.adopt_existing_catalog,
            storage_root: spec.storage_root.as_deref(),
            after_setup: stage != Stage::Create,
            credential_warning: DEFAULT_CREDENTIAL_WARNING,
            governed: spec.governed_catalogs.as_deref().unwrap_or_default(),
            audit_workspaces: spec
                .audit
                .as_ref()
                .and_then(|a| a.workspace_ids.as_deref())
                .unwrap_or_default(),
        }
    }

    /// The same integration once setup has just run: its lockdown must hold now.
    pub fn after_setup_ran(self) -> Self {
        Integration {
            check_lockdown: lockdown_checked(self.automatic, true),
            ..self
        }
    }
}

/// The one lockdown rule: grants others hold on the catalog fail its test, except while
/// automatic setup has yet to run in this reconcile (a create or edit), since it revokes them.
fn lockdown_checked(automatic: bool, setup_settled: bool) -> bool {
    !automatic || setup_settled
}

/// An additional connection's client and the catalogs reached through it.
pub struct Additional {
    pub client: WorkspaceClient,
    pub catalogs: Vec<String>,
}

/// Runs every validation test against the main workspace and the additional connections.
pub async fn run(
    main: &WorkspaceClient,
    additional: &[Additional],
    it: &Integration<'_>,
    policy: ComputePolicy,
) -> Findings {
    let mut f = Findings::default();
    // Independent reads at once: the metastore, the identity (which also names the workspace)
    // and the basic connection.
    let mut basic = Findings::default();
    let (summary, (), me) = tokio::join!(
        main.metastore_summary(),
        compute::basic_connection(main, policy, &mut basic),
        main.me(),
    );
    let workspace_id = me.as_ref().ok().and_then(|me| me.workspace_id);
    if !workspace::metastore(main.host(), summary, workspace_id, &mut f) {
        // Every other test is listed, so the status shows what did not run.
        let later = [BASIC_CONNECTION_TEST, CATALOG_VALIDATION, AUDIT_VALIDATION].map(String::from);
        let connections = additional.iter().map(|a| connection_test(&a.client.host()));
        for name in later.into_iter().chain(connections) {
            f.skipped(&name, "skipped: authentication failed");
        }
        return f;
    }
    f.merge(basic);
    let me = workspace::principal(me, &mut f);
    if let (Some(me), Some(ws)) = (me, f.workspaces.first_mut()) {
        ws.principal = Some(me.user_name);
        ws.groups = me.groups;
    }
    match (f.main().principal, f.metastore.clone()) {
        (Some(principal), Some(metastore)) => {
            catalog::check(main, it, &principal, &metastore, &mut f).await
        }
        (Some(_), None) => f.skipped(CATALOG_VALIDATION, "skipped: no metastore is assigned"),
        // The identity lookup failed and said so under this test's name.
        (None, _) => {}
    }
    audit::check(main, it, &mut f).await;
    connections::check(main, additional, &mut f).await;
    let clients: Vec<&WorkspaceClient> = std::iter::once(main)
        .chain(additional.iter().map(|a| &a.client))
        .collect();
    governance::check(&clients, it.governed, &mut f).await;
    audit::workspaces(it, &mut f);
    let now = k8s_openapi::jiff::Timestamp::now();
    // The token list is one more request: a new resource's first validation goes without it, so
    // a fresh setup stays at 10 requests (docs/performance.md); every later check reads it.
    let list_tokens = it.after_setup;
    expiry::check(&clients, now, it.credential_warning, list_tokens, &mut f).await;
    f
}
