//! What the validation tests found, in the checks' own terms: each test's outcome (a failure
//! carries its [`Failure`]), what was discovered about the workspaces, and the catalog's state.
//! The controller turns this into the CRD's status.

use serde_json::Value;

use super::lockdown::Drift;
use crate::failure::{Failure, Reason};

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed {
        message: Option<String>,
        result: Option<Value>,
    },
    Warning(String),
    Skipped(String),
    Failed(Failure),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    pub name: String,
    pub outcome: Outcome,
}

impl Finding {
    pub fn message(&self) -> Option<&str> {
        match &self.outcome {
            Outcome::Passed { message, .. } => message.as_deref(),
            Outcome::Warning(m) | Outcome::Skipped(m) => Some(m),
            Outcome::Failed(f) => Some(&f.message),
        }
    }

    pub fn failure(&self) -> Option<&Failure> {
        match &self.outcome {
            Outcome::Failed(f) => Some(f),
            _ => None,
        }
    }
}

/// What the checks discovered about one workspace connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Workspace {
    pub host: String,
    pub workspace_id: Option<i64>,
    pub metastore_id: Option<String>,
    /// The service principal's application id (SCIM `Me`).
    pub principal: Option<String>,
    /// The groups it belongs to (SCIM `Me`): a metastore owned by one makes it an admin.
    pub groups: Vec<String>,
    /// The catalogs listed for an additional connection: their access tests are its own.
    pub catalogs: Vec<String>,
    /// When the connection's credential expires, where that is known (`expiry`).
    pub credential_expires_at: Option<k8s_openapi::jiff::Timestamp>,
}

impl Workspace {
    /// The names of an additional connection's own tests: its connection and its catalogs.
    pub fn own_tests(&self) -> Vec<String> {
        let catalogs = self.catalogs.iter().map(|c| super::catalog_access_test(c));
        let governed = self.catalogs.iter().map(|c| super::governed_test(c));
        std::iter::once(super::connection_test(&self.host))
            .chain(catalogs)
            .chain(governed)
            .chain(std::iter::once(super::expiry::expiry_test(&self.host)))
            .collect()
    }
}

/// What the catalog looks like from the service principal's seat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CatalogState {
    /// Not there (automatic setup will create it).
    Missing,
    /// Owned by the principal and tagged as this integration's.
    Ours,
    /// Owned by the principal and recognisably created by this integration (or adopted), but not
    /// tagged yet: setup was interrupted, or the manual script not finished.
    OursUntagged,
    /// Ours, but someone else holds privileges on it or owns what setup created, or an object
    /// setup creates is missing.
    Drifted(Drift),
    /// Carries this integration's marker but is owned by someone else now: reported, never
    /// taken back.
    NotOwned { owner: String },
    /// Owned by the principal but not created by this integration, and adoption not asked for.
    NotAdopted,
    /// Exists and belongs to someone else.
    Foreign { owner: String },
    /// Tagged by another integration: never taken over.
    OtherIntegration { id: String },
    /// Could not be determined (an earlier check failed).
    Unknown,
}

#[derive(Debug, Default)]
pub struct Findings {
    /// One per test, in the order they ran; the first failure is the one reported.
    pub tests: Vec<Finding>,
    /// The main connection first, then each additional one.
    pub workspaces: Vec<Workspace>,
    pub catalog: Option<CatalogState>,
    /// Whether the main connection's compute was (or was allowed to be) used for SQL.
    pub compute_available: bool,
    /// The main connection's cluster was started and is not running yet (what it is doing):
    /// the reconcile comes back for it instead of waiting with a worker.
    pub compute_starting: Option<String>,
    /// The main workspace's metastore, as the metastore test read it: the catalog test needs
    /// its owner (the metastore admin) and root storage.
    pub metastore: Option<crate::databricks::MetastoreSummary>,
}

impl Findings {
    pub fn main(&self) -> Workspace {
        self.workspaces.first().cloned().unwrap_or_default()
    }

    pub fn principal(&self) -> Option<&str> {
        self.workspaces.first()?.principal.as_deref()
    }

    pub fn catalog_state(&self) -> &CatalogState {
        self.catalog.as_ref().unwrap_or(&CatalogState::Unknown)
    }

    /// The first failed test's failure, prefixed with the test's name.
    pub fn failure(&self) -> Option<Failure> {
        let (name, f) = self
            .tests
            .iter()
            .find_map(|t| t.failure().map(|f| (&t.name, f)))?;
        Some(Failure {
            message: format!("{name}: {}", f.message),
            ..f.clone()
        })
    }

    /// Whether every failing test is `name` (e.g. drift that setup can repair).
    pub fn only_failed(&self, name: &str) -> bool {
        self.tests
            .iter()
            .filter(|t| t.failure().is_some())
            .all(|t| t.name == name)
    }

    pub fn passed(&mut self, name: &str, message: Option<String>, result: Option<Value>) {
        self.push(name, Outcome::Passed { message, result });
    }

    pub fn skipped(&mut self, name: &str, message: impl Into<String>) {
        self.push(name, Outcome::Skipped(message.into()));
    }

    pub fn warned(&mut self, name: &str, message: impl Into<String>) {
        self.push(name, Outcome::Warning(message.into()));
    }

    pub fn failed(&mut self, name: &str, failure: Failure) {
        self.push(name, Outcome::Failed(failure));
    }

    pub fn failed_user(&mut self, name: &str, reason: Reason, message: impl Into<String>) {
        self.failed(name, Failure::user(reason, message));
    }

    /// A Databricks error while running `name`.
    pub fn failed_call(&mut self, name: &str, context: &str, e: &crate::databricks::Error) {
        self.failed(name, Failure::databricks(context, e));
    }

    /// Takes in what a check run on its own (concurrently) found.
    pub fn merge(&mut self, other: Findings) {
        for t in other.tests {
            self.push(&t.name, t.outcome);
        }
        self.workspaces.extend(other.workspaces);
        self.catalog = other.catalog.or(self.catalog.take());
        self.compute_available |= other.compute_available;
        self.compute_starting = other.compute_starting.or(self.compute_starting.take());
        self.metastore = other.metastore.or(self.metastore.take());
    }

    /// A re-run test replaces its earlier result (post-setup verification).
    fn push(&mut self, name: &str, outcome: Outcome) {
        self.tests.retain(|t| t.name != name);
        self.tests.push(Finding {
            name: name.to_string(),
            outcome,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failure_is_reported_with_its_test_name() {
        let mut f = Findings::default();
        f.passed("A", None, None);
        f.failed_user("B", Reason::CatalogExists, "taken");
        f.failed("C", Failure::retry(Reason::WorkspaceUnavailable, "down"));
        let failure = f.failure().unwrap();
        assert_eq!(failure.reason, Reason::CatalogExists);
        assert_eq!(failure.message, "B: taken");
        assert!(failure.needs_user());
        assert!(!f.only_failed("B"));
    }

    #[test]
    fn a_rerun_replaces_the_earlier_result() {
        let mut f = Findings::default();
        f.failed_user("Catalog", Reason::CatalogDrifted, "drift");
        f.passed("Catalog", Some("fixed".into()), None);
        assert_eq!(f.tests.len(), 1);
        assert!(f.failure().is_none());
        assert!(f.only_failed("anything"));
    }
}
