//! The one vocabulary of outcomes: every reason a condition, event or metric label can carry
//! (the contract's table in `docs/phases-and-conditions.md`), and the one failure type that every
//! layer maps into once.

use crate::databricks::{self, ErrorKind};

/// Every reason users can see. Its CamelCase name (strum) is the spelling on conditions, events
/// and the `reason` metric label; a test keeps this list and the docs' table in step.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    strum::IntoStaticStr,
    strum::Display,
    strum::VariantArray,
)]
pub enum Reason {
    // Progress and success.
    Creating,
    Editing,
    Deleting,
    Enabled,
    Suspended,
    AwaitingManualSetup,
    Passed,
    PassedWithWarnings,
    NotValidated,
    SetupApplied,
    SetupStarted,
    ManualSetupVerified,
    WaitingForValidation,
    ComputeStarting,
    DriftRepaired,
    CatalogDropped,
    CatalogRetained,
    /// A Warning event, not a failure: a credential is within `--credential-warning` of expiry.
    CredentialExpiringSoon,
    // Failures a user must fix.
    DuplicateWorkspace,
    SecretNotFound,
    ServiceAccountNotFound,
    CredentialNotLabelled,
    InvalidConfiguration,
    HostNotAllowed,
    AuthenticationFailed,
    PermissionDenied,
    InsufficientPrivileges,
    MetastoreNotAssigned,
    StorageRootRequired,
    CatalogExists,
    CatalogNotAdopted,
    CatalogOwnedByAnotherIntegration,
    CatalogOwnershipChanged,
    CatalogDrifted,
    CatalogNotFound,
    CatalogNotReachable,
    CatalogNotDropped,
    ValidationFailed,
    SetupFailed,
    // Failures that are retried.
    WorkspaceUnavailable,
    UnexpectedResponse,
    ReconcileTimeout,
    ReconcilePanicked,
    KubernetesError,
}

impl Reason {
    pub const ALL: &[Reason] = <Reason as strum::VariantArray>::VARIANTS;

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Who can make a failure go away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remedy {
    /// A retry may succeed without anyone changing anything (rate limits, outages).
    Retry,
    /// Only a user can fix it (`Stalled`); it is still retried, with backoff.
    User,
}

/// A failure as users see it: the reason on the conditions and events, a message they can act
/// on, and whether it needs them.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Failure {
    pub reason: Reason,
    pub message: String,
    pub remedy: Remedy,
}

impl Failure {
    pub fn user(reason: Reason, message: impl Into<String>) -> Self {
        Failure {
            reason,
            message: message.into(),
            remedy: Remedy::User,
        }
    }

    pub fn retry(reason: Reason, message: impl Into<String>) -> Self {
        Failure {
            reason,
            message: message.into(),
            remedy: Remedy::Retry,
        }
    }

    pub fn needs_user(&self) -> bool {
        self.remedy == Remedy::User
    }

    /// A Databricks error, prefixed with what was being done: the only mapping of client errors
    /// into reasons.
    pub fn databricks(context: &str, e: &databricks::Error) -> Self {
        let message = if context.is_empty() {
            e.to_string()
        } else {
            format!("{context}: {e}")
        };
        let remedy = if e.is_retryable() {
            Remedy::Retry
        } else {
            Remedy::User
        };
        Failure {
            reason: reason_of(e),
            message,
            remedy,
        }
    }

    /// The same failure with a different reason (e.g. a setup statement's error is `SetupFailed`).
    pub fn with_reason(mut self, reason: Reason) -> Self {
        self.reason = reason;
        self
    }
}

fn reason_of(e: &databricks::Error) -> Reason {
    match e.kind() {
        ErrorKind::Unauthenticated => Reason::AuthenticationFailed,
        ErrorKind::PermissionDenied => Reason::PermissionDenied,
        ErrorKind::Sql if e.sql_state() == Some("42501") => Reason::InsufficientPrivileges,
        ErrorKind::HostNotAllowed => Reason::HostNotAllowed,
        ErrorKind::Configuration => Reason::InvalidConfiguration,
        ErrorKind::UnexpectedResponse => Reason::UnexpectedResponse,
        _ if e.is_retryable() => Reason::WorkspaceUnavailable,
        _ => Reason::ValidationFailed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reasons are a contract: each one is documented, and the docs name no other.
    #[test]
    fn every_reason_is_documented_and_no_other() {
        let doc = include_str!("../docs/phases-and-conditions.md");
        let listed: std::collections::BTreeSet<&str> =
            Reason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(listed.len(), Reason::ALL.len(), "a reason is listed twice");
        for r in &listed {
            assert!(
                doc.contains(&format!("`{r}`")),
                "{r} is not in docs/phases-and-conditions.md"
            );
        }
        let section = doc
            .split("## Reasons")
            .nth(1)
            .and_then(|s| s.split("\n## ").next())
            .expect("a Reasons section");
        for line in section.lines().filter(|l| l.starts_with("| `")) {
            let first_cell = line.split('|').nth(1).unwrap_or_default();
            for name in first_cell.split('`').skip(1).step_by(2) {
                assert!(
                    listed.contains(name),
                    "the docs list {name}, which the code never uses"
                );
            }
        }
    }

    #[test]
    fn remedies_follow_the_constructor() {
        assert!(Failure::user(Reason::SecretNotFound, "x").needs_user());
        assert!(!Failure::retry(Reason::WorkspaceUnavailable, "x").needs_user());
        let f = Failure::user(Reason::ValidationFailed, "m").with_reason(Reason::SetupFailed);
        assert_eq!(
            (f.reason, f.to_string().as_str()),
            (Reason::SetupFailed, "SetupFailed: m")
        );
    }
}
