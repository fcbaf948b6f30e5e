//! The reconcile of a live resource, one phase per file: `dereference` (Secrets → clients) →
//! `validate` (one per workspace, the tests) → `set_up` (automatic or manual) → `report` (status
//! and events). `cleanup` is the deletion.

pub mod cleanup;
mod dereference;
mod report;
mod set_up;
mod validate;

use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use tracing::info;

use super::context::Context;
use super::flow::{self, Flow};
use super::reconcile::Error;
use super::status::State;
use crate::api::{DatabricksIntegration, Phase, SetupStatus};
use crate::failure::{Failure, Reason};
pub use report::Report;
use report::SetupCondition;

/// Brings a live resource to its desired state and reports it.
pub async fn apply(dbi: &DatabricksIntegration, ctx: &Context) -> Result<Action, Error> {
    let oref = ObjectRef::from_obj(dbi);
    if dbi.spec.suspend {
        return suspended(dbi, ctx).await;
    }
    let flow = Flow::of(dbi);
    let requested = flow::new_request(dbi);
    let forced = ctx.take_forced(&oref) || requested.is_some();
    if flow == Flow::Recheck && !forced {
        // At rest: nothing changed and the last validation is recent. No API calls.
        if let Some(wait) = flow::not_due(dbi, Timestamp::now()) {
            return Ok(Action::requeue(wait));
        }
    }
    let mut report = Report::new(ctx, dbi);
    if requested.is_some() {
        report.status.last_handled_reconcile_at = requested;
    }
    let error_phase = flow.error_phase();
    if let Some((reason, message)) = flow.announcement().filter(|_| !flow::announced(dbi, flow)) {
        let state = State::Progressing {
            reason,
            message: message.into(),
        };
        report.write(flow.in_progress_phase(), &state).await?;
    }
    let clients = match before_validation(ctx, dbi).await {
        Ok(clients) => clients,
        Err(f) => {
            report.not_validated(f.reason);
            return Err(report.fail(error_phase, f).await);
        }
    };

    let id = ctx.id_of(dbi);
    let it = validate::integration(dbi, &id, flow);
    let mut findings = validate::run(dbi, &clients, &it, flow).await;

    let mut setup_status = SetupStatus {
        mode: dbi.spec.setup_mode(),
        script_config_map: None,
        applied_spec_hash: report
            .status
            .bootstrap
            .as_ref()
            .and_then(|b| b.applied_spec_hash.clone()),
    };
    let condition = if dbi.spec.auto_bootstrap {
        match set_up::automatic(&report, flow, &clients.main, &it, &mut findings).await {
            Ok(condition) => condition,
            Err(f) => {
                let condition = SetupCondition {
                    done: false,
                    reason: f.reason,
                    message: f.message.clone(),
                };
                report.record(&findings, setup_status, &condition);
                return Err(report.fail(error_phase, f).await);
            }
        }
    } else {
        let (condition, config_map) = set_up::manual(&report, &id, &findings).await?;
        setup_status.script_config_map = config_map;
        condition
    };
    report.record(&findings, setup_status, &condition);
    // Statements still to run explain a failing test: waiting for them is no failure.
    let awaiting = condition.reason == Reason::AwaitingManualSetup;
    if let Some(f) = findings
        .failure()
        .filter(|_| !awaiting || flow == Flow::Recheck)
    {
        return Err(report.fail(error_phase, f).await);
    }
    if !condition.done {
        if flow == Flow::Recheck {
            let f = Failure::user(condition.reason, condition.message);
            return Err(report.fail(error_phase, f).await);
        }
        let state = State::AwaitingManualSetup {
            message: condition.message,
        };
        report.write(flow.in_progress_phase(), &state).await?;
        ctx.succeeded(&oref);
        return Ok(Action::requeue(ctx.timing.manual_setup_poll));
    }
    // Recorded only with `enabled`: it is what marks the integration as set up (see Flow::of).
    if let Some(b) = report.status.bootstrap.as_mut() {
        b.applied_spec_hash = Some(crate::setup::applied_hash(dbi, &id));
    }
    report.write(Phase::Enabled, &State::Enabled).await?;
    ctx.succeeded(&oref);
    info!(flow = ?flow, "integration enabled");
    let uid = dbi.metadata.uid.as_deref().unwrap_or_default();
    Ok(Action::requeue(flow::until_due(
        uid,
        Timestamp::now(),
        flow::interval(dbi),
    )))
}

/// `spec.suspend`: no Databricks request; only `Reconciling` says so (written once).
async fn suspended(dbi: &DatabricksIntegration, ctx: &Context) -> Result<Action, Error> {
    let mut report = Report::new(ctx, dbi);
    let phase = dbi
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(Flow::of(dbi).in_progress_phase());
    report.write(phase, &State::Suspended).await?;
    ctx.succeeded(&ObjectRef::from_obj(dbi));
    Ok(Action::await_change())
}

/// What must hold before the tests can run: the workspace is not another integration's, and
/// every referenced Secret resolves.
async fn before_validation(
    ctx: &Context,
    dbi: &DatabricksIntegration,
) -> Result<dereference::Clients, Failure> {
    validate::one_per_workspace(ctx, dbi)?;
    dereference::clients(ctx, dbi).await
}
