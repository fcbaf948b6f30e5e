//! Set up: automatic (run what the setup plan still needs as the service principal once
//! validation allows it — on a periodic check only while the compute runs — and remove grants
//! others gained over REST, with no compute, on every flow) or manual (publish the script, and
//! what a changed spec still needs, and report whether validation sees it has been run).

use super::super::config_map;
use super::super::context::Context;
use super::super::decide::{Note, SetupCondition, SetupOutcome};
use super::super::flow::Flow;
use super::super::write::StatusWriter;
use crate::api::{DatabricksIntegration, SetupStatus};
use crate::checks::{self, CATALOG_VALIDATION, CatalogState, Findings, Integration};
use crate::databricks::WorkspaceClient;
use crate::failure::{Failure, Reason};
use crate::identity::IntegrationId;
use crate::setup;

/// Sets the catalog up as the spec's mode says; what it did goes to the decision.
pub async fn run(
    ctx: &Context,
    writer: &mut StatusWriter<'_>,
    dbi: &DatabricksIntegration,
    flow: Flow,
    main: &WorkspaceClient,
    it: &Integration<'_>,
    findings: &mut Findings,
) -> SetupOutcome {
    let previous = dbi.status.as_ref().and_then(|s| s.bootstrap.as_ref());
    let mut status = SetupStatus {
        mode: dbi.spec.setup_mode(),
        script_config_map: None,
        applied_spec_hash: previous.and_then(|b| b.applied_spec_hash.clone()),
    };
    let mut notes = Vec::new();
    let result = if it.automatic {
        automatic(writer, dbi, flow, main, it, findings, &mut notes).await
    } else {
        manual(ctx, dbi, it.id, findings)
            .await
            .map(|(condition, config_map)| {
                status.script_config_map = config_map;
                condition
            })
    };
    let (condition, failure) = match result {
        Ok(condition) => (condition, None),
        Err(f) => (SetupCondition::failed(&f), Some(f)),
    };
    SetupOutcome {
        status,
        condition,
        failure,
        notes,
    }
}

async fn automatic(
    writer: &mut StatusWriter<'_>,
    dbi: &DatabricksIntegration,
    flow: Flow,
    main: &WorkspaceClient,
    it: &Integration<'_>,
    findings: &mut Findings,
    notes: &mut Vec<Note>,
) -> Result<SetupCondition, Failure> {
    let catalog = it.catalog;
    let sql_repairs = match findings.catalog_state() {
        CatalogState::Missing | CatalogState::OursUntagged => true,
        CatalogState::Drifted(d) => !d.missing.is_empty() && d.owners.is_empty(),
        _ => false,
    };
    let should_run = match flow {
        Flow::Create | Flow::Edit => findings.failure().is_none(),
        Flow::Recheck => {
            sql_repairs && findings.compute_available && findings.only_failed(CATALOG_VALIDATION)
        }
    };
    if should_run {
        run_plan(writer, dbi, main, it, findings).await?;
    }
    if let Some(note) = repair_grants(main, it, findings).await? {
        notes.push(note);
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

/// Runs the setup plan; a catalog it has just created is known to be set up (no re-read), any
/// other is verified afterwards.
async fn run_plan(
    writer: &mut StatusWriter<'_>,
    dbi: &DatabricksIntegration,
    main: &WorkspaceClient,
    it: &Integration<'_>,
    findings: &mut Findings,
) -> Result<(), Failure> {
    let principal = findings.principal().unwrap_or_default().to_string();
    let params = setup::params(dbi, it.id, Some(&principal));
    let state = findings.catalog_state().clone();
    let existing = match state {
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
    if state == CatalogState::Missing {
        writer.setup_started().await.map_err(|e| {
            Failure::retry(
                Reason::KubernetesError,
                format!("could not record that setup started: {e}"),
            )
        })?;
    }
    match setup::run(main, &params, existing).await {
        Ok(()) => {}
        Err(setup::SetupError::CreateCatalog(e)) => {
            // Databricks' answer to whether the catalog may be created (and where): the
            // catalog test fails with it, naming the remedy; anything else is a setup failure.
            let metastore = findings.metastore.as_ref().map(|m| m.metastore_id.clone());
            let refused = checks::create_catalog_refusal(it, &principal, metastore.as_deref(), &e);
            let Some((reason, message)) = refused else {
                return Err(Failure::databricks("", &e).with_reason(Reason::SetupFailed));
            };
            findings.failed_user(CATALOG_VALIDATION, reason, message.clone());
            return Err(Failure::user(
                reason,
                format!("{CATALOG_VALIDATION}: {message}"),
            ));
        }
        Err(setup::SetupError::Later(e)) => {
            return Err(Failure::databricks("", &e).with_reason(Reason::SetupFailed));
        }
    }
    if state == CatalogState::Missing {
        // Created just now by the principal: owned by it, marked, and granted to no one.
        let message = format!(
            "catalog {} created and set up, owned by {principal}",
            it.catalog
        );
        findings.passed(CATALOG_VALIDATION, Some(message), None);
        findings.catalog = Some(CatalogState::Ours);
    } else {
        checks::verify_catalog(main, it, findings).await;
    }
    Ok(())
}

/// Removes grants others hold over REST (no compute), on every flow, and says what went.
async fn repair_grants(
    main: &WorkspaceClient,
    it: &Integration<'_>,
    findings: &mut Findings,
) -> Result<Option<Note>, Failure> {
    let CatalogState::Drifted(drift) = findings.catalog_state() else {
        return Ok(None);
    };
    let repairable =
        !drift.grants.is_empty() && drift.owners.is_empty() && drift.missing.is_empty();
    if !repairable || !findings.only_failed(CATALOG_VALIDATION) {
        return Ok(None);
    }
    let grants = drift.grants.clone();
    checks::repair_lockdown(main, &grants)
        .await
        .map_err(|e| Failure::databricks("removing grants", &e).with_reason(Reason::SetupFailed))?;
    let removed = checks::Drift::describe_grants(&grants);
    let note = format!("removed from catalog {}: {removed}", it.catalog);
    checks::verify_catalog(main, it, findings).await;
    Ok(Some(Note::normal(Reason::DriftRepaired, note)))
}

/// Publishes the script (once the principal is known) and reports whether it has been run —
/// or, after a spec change that changed it, whether the statements still to run have been.
// Long: the four outcomes of a manual setup (waiting, published, pending statements, verified).
async fn manual(
    ctx: &Context,
    dbi: &DatabricksIntegration,
    id: &IntegrationId,
    findings: &Findings,
) -> Result<(SetupCondition, Option<String>), Failure> {
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
    let published = match config_map::publish(ctx, dbi, id, principal, applied).await {
        Ok(p) => p,
        // Said on the resource, not only in the logs.
        Err(e) => {
            let name = config_map::name(dbi);
            let message = format!("could not publish the setup script in ConfigMap {name}: {e}");
            return Err(Failure::retry(Reason::KubernetesError, message));
        }
    };
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
