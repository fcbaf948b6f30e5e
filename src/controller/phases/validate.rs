//! Validate: the validation tests, with the compute policy of the flow.

use kube::runtime::reflector::ObjectRef;

use super::super::context::Context;
use super::super::flow::{self, Flow};
use super::dereference::Clients;
use crate::api::DatabricksIntegration;
use crate::checks::{self, BASIC_CONNECTION_TEST, Findings, Integration};
use crate::failure::{Failure, Reason};

pub async fn run(
    dbi: &DatabricksIntegration,
    clients: &Clients,
    it: &Integration<'_>,
    flow: Flow,
) -> Findings {
    let policy = flow::compute_policy(dbi, flow);
    checks::run(&clients.main, &clients.additional, it, policy).await
}

/// A cluster this reconcile started and that does not run yet: what to say while the resource
/// waits for it (the reconcile returns and comes back), or, past `--compute-start-timeout`, the
/// Basic Connection Test fails saying so.
pub fn compute_wait(
    ctx: &Context,
    dbi: &DatabricksIntegration,
    f: &mut Findings,
) -> Option<String> {
    let oref = ObjectRef::from_obj(dbi);
    let Some(message) = f.compute_starting.take() else {
        ctx.compute_waited(&oref);
        return None;
    };
    let waited = ctx.waiting_for_compute(&oref);
    let limit = ctx.timing.compute_start_timeout;
    if waited < limit {
        return Some(message);
    }
    ctx.compute_waited(&oref);
    let failure = Failure::retry(
        Reason::ComputeStarting,
        format!(
            "{message}: not running after {} (--compute-start-timeout); check the cluster's event log in the workspace",
            humantime::format_duration(std::time::Duration::from_secs(waited.as_secs()))
        ),
    );
    f.failed(BASIC_CONNECTION_TEST, failure);
    None
}
