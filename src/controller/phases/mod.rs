//! The reconcile of a live resource, one phase per file: `dereference` (Secrets → clients) →
//! `validate` (the tests) → `claim` (one integration per workspace) → `set_up` (automatic or
//! manual). Each returns
//! values; `decide` turns them into one decision and `write` applies it. `cleanup` is the
//! deletion.

mod claim;
pub mod cleanup;
mod dereference;
mod set_up;
mod validate;

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::cache;
use super::context::Context;
use super::decide::{self, Outcome};
use super::error::Error;
use super::flow::{self, Flow};
use super::write::StatusWriter;
use crate::api::DatabricksIntegration;
use crate::checks::Integration;

/// Brings a live resource to its desired state and reports it.
pub async fn apply(cached: &DatabricksIntegration, ctx: &Context) -> Result<Action, Error> {
    let oref = ObjectRef::from_obj(cached);
    let rotated = ctx.take_forced(&oref);
    if let Some(wait) = resting(ctx, cached, rotated) {
        return Ok(Action::requeue(wait));
    }
    // Work to do: from the whole resource, not the cache's trimmed copy (`cache.rs`).
    let dbi = &match cache::latest(ctx, cached).await {
        Ok(dbi) => dbi,
        Err(e) => {
            if rotated {
                ctx.force([oref]);
            }
            return Err(e);
        }
    };
    // The cache may not have seen this reconcile's last write yet.
    if let Some(wait) = resting(ctx, dbi, rotated) {
        return Ok(Action::requeue(wait));
    }
    let mut writer = StatusWriter::new(ctx, dbi);
    if dbi.spec.suspend {
        if let Err(f) = claim::release_moved(ctx, dbi).await {
            return Err(Error::Failed(f));
        }
        return writer.write(decide::suspended(dbi)).await;
    }
    let flow = Flow::of(dbi);
    let requested = flow::new_request(dbi);
    writer.announce(flow, requested).await?;
    let outcome = phases(ctx, &mut writer, dbi, flow).await;
    let spec_hash = crate::setup::applied_hash(dbi, &ctx.id_of(dbi));
    writer.write(decide::decide(flow, outcome, spec_hash)).await
}

/// How long a resource has nothing to do, read from the cache: a request inside the spacing,
/// or an unchanged, recently validated resource.
fn resting(ctx: &Context, dbi: &DatabricksIntegration, rotated: bool) -> Option<Duration> {
    if dbi.spec.suspend {
        return None;
    }
    let flow = Flow::of(dbi);
    let requested = flow::new_request(dbi);
    if flow == Flow::Recheck && !rotated && requested.is_some() {
        let spacing = ctx.timing.request_spacing;
        if let Some(wait) = flow::request_wait(dbi, Timestamp::now(), spacing) {
            // Acted on when the spacing ends (annotations alone wake no reconcile then).
            return Some(wait);
        }
    }
    at_rest(dbi, flow, rotated || requested.is_some())
}

/// How long an unchanged, recently validated resource rests: it costs no API call.
fn at_rest(dbi: &DatabricksIntegration, flow: Flow, forced: bool) -> Option<Duration> {
    (flow == Flow::Recheck && !forced)
        .then(|| flow::not_due(dbi, Timestamp::now()))
        .flatten()
}

/// Dereference → validate → claim → set up, each phase's result handed to the next.
async fn phases(
    ctx: &Context,
    writer: &mut StatusWriter<'_>,
    dbi: &DatabricksIntegration,
    flow: Flow,
) -> Outcome {
    if let Err(f) = claim::before_tests(ctx, dbi).await {
        return Outcome::NotValidated(f);
    }
    let clients = match dereference::clients(ctx, dbi).await {
        Ok(clients) => clients,
        Err(f) => return Outcome::NotValidated(f),
    };
    let id = ctx.id_of(dbi);
    let it = super::observe::with_warning(Integration::of(&dbi.spec, &id, flow.stage()), ctx);
    let mut findings = validate::run(dbi, &clients, &it, flow).await;
    if let Some(waiting) = validate::compute_wait(ctx, dbi, &mut findings) {
        return Outcome::WaitingForCompute(waiting);
    }
    if let Err(f) = claim::settle(ctx, dbi, &findings).await {
        return Outcome::NotValidated(f);
    }
    let setup = set_up::run(ctx, writer, dbi, flow, &clients.main, &it, &mut findings).await;
    Outcome::Checked { findings, setup }
}
