//! The controller's error: what a reconcile hands to the error policy. Its own module so that
//! `reconcile` and the phases both depend on it and not on each other.

use crate::failure::{Failure, Reason};

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
            Error::Kube(_) => Reason::KubernetesError.as_str(),
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.metric_label(),
                _ => "FinalizerError",
            },
        }
    }
}
