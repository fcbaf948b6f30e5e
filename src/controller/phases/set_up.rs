//! Set up: automatic (run the setup plan as the service principal once validation allows it,
//! and repair drift on a periodic check while the compute runs) or manual (publish the script
//! and report whether validation sees it has been run).

use kube::runtime::events::EventType;

use super::super::config_map;
use super::super::flow::Flow;
use super::super::reconcile::Error;
use super::report::{Report, SetupCondition};
use crate::checks::{self, CATALOG_VALIDATION, CatalogState, Findings, Integration};
use crate::databricks::WorkspaceClient;
use crate::failure::{Failure, Reason};
use crate::identity::IntegrationId;
use crate::setup;

pub async fn automatic(
    report: &Report<'_>,
    flow: Flow,
    main: &WorkspaceClient,
    it: &Integration<'_>,
    findings: &mut Findings,
) -> Result<SetupCondition, Failure> {
    let catalog = it.catalog;
    let repairable = matches!(
        findings.catalog_state(),
        CatalogState::Missing | CatalogState::OursUntagged | CatalogState::Drifted(_)
    );
    let should_run = match flow {
        Flow::Create | Flow::Edit => findings.failure().is_none(),
        Flow::Recheck => {
            repairable && findings.compute_available && findings.only_failed(CATALOG_VALIDATION)
        }
    };
    if should_run {
        let principal = findings.principal().unwrap_or_default().to_string();
        let params = setup::params(report.dbi, it.id, Some(&principal));
        let existing = match findings.catalog_state() {
            CatalogState::Missing => setup::Existing::default(),
            CatalogState::OursUntagged => setup::Existing {
                catalog: true,
                tagged: false,
            },
            _ => setup::Existing {
                catalog: true,
                tagged: true,
            },
        };
        setup::run(main, &params, existing)
            .await
            .map_err(|e| Failure::databricks("", &e).with_reason(Reason::SetupFailed))?;
        checks::verify_catalog(main, it, findings).await;
        if *findings.catalog_state() == CatalogState::Ours {
            let reason = if flow == Flow::Recheck {
                Reason::DriftRepaired
            } else {
                Reason::SetupApplied
            };
            let message = format!("catalog {catalog} is set up and owned by {principal}");
            report.event(EventType::Normal, reason, message).await;
        }
    }
    Ok(match (findings.catalog_state(), should_run) {
        (CatalogState::Ours, _) => SetupCondition {
            done: true,
            reason: Reason::SetupApplied,
            message: format!("catalog {catalog} is set up"),
        },
        (_, true) => SetupCondition {
            done: false,
            reason: Reason::SetupFailed,
            message: "setup ran but the catalog does not look set up".into(),
        },
        // A re-check that could not look at the catalog says nothing new about its setup.
        (CatalogState::Unknown, false) if it.after_setup => SetupCondition {
            done: true,
            reason: Reason::SetupApplied,
            message: format!(
                "catalog {catalog} is set up (not re-checked: an earlier test failed)"
            ),
        },
        (_, false) => SetupCondition {
            done: false,
            reason: Reason::WaitingForValidation,
            message: "setup runs once validation passes".into(),
        },
    })
}

/// Publishes the script (once the principal is known) and reports whether it has been run —
/// or, after a spec change that changed it, whether the statements still to run have been.
pub async fn manual(
    report: &Report<'_>,
    id: &IntegrationId,
    findings: &Findings,
) -> Result<(SetupCondition, Option<String>), Error> {
    let Some(principal) = findings.principal() else {
        let condition = SetupCondition {
            done: false,
            reason: Reason::WaitingForValidation,
            message: "the script is published once the service principal is known".into(),
        };
        return Ok((condition, None));
    };
    let ours = *findings.catalog_state() == CatalogState::Ours;
    let applied = ours && findings.failure().is_none();
    let published = config_map::publish(report.ctx, report.dbi, id, principal, applied).await?;
    let name = published.name;
    let condition = if applied {
        SetupCondition {
            done: true,
            reason: Reason::ManualSetupVerified,
            message: "the setup script has been run".into(),
        }
    } else if ours && !published.pending.is_empty() {
        SetupCondition {
            done: false,
            reason: Reason::AwaitingManualSetup,
            message: format!(
                "the changed spec needs {} more statements: run pending.sql from ConfigMap {name} as setup.sql says",
                published.pending.len()
            ),
        }
    } else if ours {
        // Set up, but a test fails that no script fixes (drift, a missing grant).
        SetupCondition {
            done: true,
            reason: Reason::ManualSetupVerified,
            message: "the setup script has been run".into(),
        }
    } else {
        SetupCondition {
            done: false,
            reason: Reason::AwaitingManualSetup,
            message: format!(
                "run setup.sql from ConfigMap {name} in a Databricks SQL editor, as its header says"
            ),
        }
    };
    Ok((condition, Some(name)))
}
