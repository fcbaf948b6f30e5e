//! The reconcile entry point: kube-runtime's finalizer helper dispatching to the live
//! resource's phases or to the cleanup, and the error policy (backoff).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures::FutureExt;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::ObjectRef;
use tracing::{Instrument, debug, info_span, warn};

use super::context::Context;
use super::decide;
use super::error::Error;
use super::phases;
use super::write::StatusWriter;
use crate::api::{DatabricksIntegration, FINALIZER};
use crate::failure::{Failure, Reason};

pub async fn reconcile(
    dbi: Arc<DatabricksIntegration>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let ns = dbi.namespace().unwrap_or_default();
    let span = info_span!(
        "reconcile",
        resource = %format!("{ns}/{}", dbi.name_any()),
        trace_id = %uuid::Uuid::new_v4().simple(),
        generation = dbi.metadata.generation,
    );
    async move {
        let workspace = super::flow::workspace_key(&dbi);
        let namespaces = ctx.index.namespaces();
        let _permit = match ctx.admission.admit(&ns, workspace.as_deref(), namespaces) {
            Ok(permit) => permit,
            Err(deferred) => {
                // Nothing done, nothing written: it asks again once others had their turn.
                debug!(?deferred, "deferred: over its share of the workers");
                ctx.metrics.deferred(deferred.scope());
                return Ok(Action::requeue(super::fairness::retry_in()));
            }
        };
        let started = Instant::now();
        let api: Api<DatabricksIntegration> = Api::namespaced(ctx.kube.clone(), &ns);
        let work = finalizer(&api, FINALIZER, dbi.clone(), |event| async {
            test_hooks(&event);
            match event {
                Event::Apply(dbi) => phases::apply(&dbi, &ctx).await,
                Event::Cleanup(dbi) => phases::cleanup::run(&dbi, &ctx).await,
            }
        });
        // One resource's panic or hang must not stop or starve the others.
        let guarded = AssertUnwindSafe(work).catch_unwind();
        let result = match tokio::time::timeout(ctx.timing.reconcile_timeout, guarded).await {
            Ok(Ok(result)) => result.map_err(|e| Error::Finalizer(Box::new(e))),
            Ok(Err(_panic)) => {
                let message = "the reconcile stopped on an internal error (see the operator's logs); retrying";
                Err(interrupted(&dbi, &ctx, Failure::retry(Reason::ReconcilePanicked, message)).await)
            }
            Err(_) => {
                let message = format!(
                    "the reconcile did not finish within --reconcile-timeout ({}); retrying",
                    humantime::format_duration(ctx.timing.reconcile_timeout)
                );
                Err(interrupted(&dbi, &ctx, Failure::retry(Reason::ReconcileTimeout, message)).await)
            }
        };
        ctx.metrics.reconciled(started.elapsed());
        result
    }
    .instrument(span)
    .await
}

/// Reports a reconcile that was cut short in the phase of the flow it was in.
async fn interrupted(cached: &DatabricksIntegration, ctx: &Context, failure: Failure) -> Error {
    tracing::error!(reason = %failure.reason, "{}", failure.message);
    // Written over the whole status, not the cache's trimmed copy (`cache.rs`).
    let dbi = match super::cache::latest(ctx, cached).await {
        Ok(dbi) => dbi,
        Err(e) => return e,
    };
    let decision = decide::interrupted(&dbi, failure.clone());
    match StatusWriter::new(ctx, &dbi).write(decision).await {
        Err(e) => e,
        // A failed decision always asks for a retry: this arm only keeps the types honest.
        Ok(_) => Error::Failed(failure),
    }
}

/// Only built with the `test-hooks` feature (never in a release build): with
/// `UC_OPERATOR_TEST_HOOKS=1`, a resource annotated `uc-operator.dev/test-panic` makes its
/// reconcile panic, so the tests prove that one resource's panic stops nothing else.
#[cfg(feature = "test-hooks")]
fn test_hooks(event: &Event<DatabricksIntegration>) {
    let (Event::Apply(dbi) | Event::Cleanup(dbi)) = event;
    if std::env::var_os("UC_OPERATOR_TEST_HOOKS").is_some()
        && dbi.annotations().contains_key("uc-operator.dev/test-panic")
    {
        panic!("test hook: uc-operator.dev/test-panic");
    }
}

#[cfg(not(feature = "test-hooks"))]
fn test_hooks(_: &Event<DatabricksIntegration>) {}

pub fn error_policy(dbi: Arc<DatabricksIntegration>, error: &Error, ctx: Arc<Context>) -> Action {
    let label = error.metric_label();
    ctx.metrics.failed(label);
    let delay = ctx.backoff(&ObjectRef::from_obj(&*dbi));
    warn!(
        resource = %format!("{}/{}", dbi.namespace().unwrap_or_default(), dbi.name_any()),
        reason = %label,
        error = %error,
        retry_in = ?delay,
        "reconcile failed"
    );
    Action::requeue(delay)
}
