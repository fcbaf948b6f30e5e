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
use crate::api::{DatabricksIntegration, Phase};
use crate::checks::Findings;
use crate::failure::{Failure, Reason};
use crate::identity::IntegrationId;
pub use report::Report;
use report::SetupCondition;

/// Brings a live resource to its desired state and reports it.
pub async fn apply(dbi: &DatabricksIntegration, ctx: &Context) -> Result<Action, Error> {
    if dbi.spec.suspend {
        return suspended(dbi, ctx).await;
    }
    let flow = Flow::of(dbi);
    let requested = flow::new_request(dbi);
    let forced = ctx.take_forced(&ObjectRef::from_obj(dbi)) || requested.is_some();
    if let Some(wait) = at_rest(dbi, flow, forced) {
        return Ok(Action::requeue(wait));
    }
    let mut report = Report::new(ctx, dbi);
    report.announce(flow, requested).await?;
    let clients = match before_validation(ctx, dbi).await {
        Ok(clients) => clients,
        Err(f) => return Err(report.fail_unvalidated(flow.error_phase(), f).await),
    };
    let id = ctx.id_of(dbi);
    let it = super::observe::with_warning(validate::integration(dbi, &id, flow), ctx);
    let mut findings = validate::run(dbi, &clients, &it, flow).await;
    let condition = set_up::run(&mut report, flow, &clients.main, &it, &mut findings).await?;
    conclude(&mut report, flow, &id, &findings, condition).await
}

/// How long an unchanged, recently validated resource rests: it costs no API call.
fn at_rest(dbi: &DatabricksIntegration, flow: Flow, forced: bool) -> Option<std::time::Duration> {
    (flow == Flow::Recheck && !forced)
        .then(|| flow::not_due(dbi, Timestamp::now()))
        .flatten()
}

/// The phase the validation and setup lead to: an error, waiting for the manual script, or
/// `enabled` until the next re-check.
async fn conclude(
    report: &mut Report<'_>,
    flow: Flow,
    id: &IntegrationId,
    findings: &Findings,
    condition: SetupCondition,
) -> Result<Action, Error> {
    let (ctx, dbi) = (report.ctx, report.dbi);
    let oref = ObjectRef::from_obj(dbi);
    // Statements still to run explain a failing test: waiting for them is no failure.
    let awaiting = condition.reason == Reason::AwaitingManualSetup && flow != Flow::Recheck;
    if let Some(f) = findings.failure().filter(|_| !awaiting) {
        return Err(report.fail(flow.error_phase(), f).await);
    }
    if !condition.done {
        if flow == Flow::Recheck {
            let f = Failure::user(condition.reason, condition.message);
            return Err(report.fail(flow.error_phase(), f).await);
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
        b.applied_spec_hash = Some(crate::setup::applied_hash(dbi, id));
    }
    report.write(Phase::Enabled, &State::Enabled).await?;
    ctx.succeeded(&oref);
    info!(flow = ?flow, "integration enabled");
    let uid = dbi.metadata.uid.as_deref().unwrap_or_default();
    let next = flow::until_due(uid, Timestamp::now(), flow::interval(dbi));
    Ok(Action::requeue(next))
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
