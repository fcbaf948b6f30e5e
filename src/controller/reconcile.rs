//! The reconcile entry point: kube-runtime's finalizer helper dispatching to the live
//! resource's phases or to the cleanup, and the error policy (backoff).

use std::sync::Arc;
use std::time::Instant;

use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::ObjectRef;
use tracing::{Instrument, info_span, warn};

use super::context::Context;
use super::phases;
use crate::api::{DatabricksIntegration, FINALIZER};
use crate::failure::Failure;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Already written to the status; returned so the controller retries with backoff.
    #[error("{0}")]
    Failed(Failure),
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// A bounded label for the failures metric.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Failed(f) => f.reason.as_str(),
            Error::Kube(_) => crate::failure::Reason::KubernetesError.as_str(),
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.metric_label(),
                _ => "FinalizerError",
            },
        }
    }
}

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
        let started = Instant::now();
        let api: Api<DatabricksIntegration> = Api::namespaced(ctx.kube.clone(), &ns);
        let result = finalizer(&api, FINALIZER, dbi, |event| async {
            match event {
                Event::Apply(dbi) => phases::apply(&dbi, &ctx).await,
                Event::Cleanup(dbi) => phases::cleanup::run(&dbi, &ctx).await,
            }
        })
        .await
        .map_err(|e| Error::Finalizer(Box::new(e)));
        ctx.metrics.reconciled(started.elapsed());
        result
    }
    .instrument(span)
    .await
}

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
