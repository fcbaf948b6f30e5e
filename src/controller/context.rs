//! What every reconcile shares: clients, the watch cache, metrics, and per-resource memory
//! (failure counts for backoff, and which resources a Secret or ConfigMap change must re-check).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::events::Recorder;
use kube::runtime::reflector::{ObjectRef, Store};

use super::metrics::Metrics;
use crate::api::DatabricksIntegration;
use crate::databricks::Clients;

/// Timing knobs; the defaults suit production, tests shorten them.
#[derive(Clone, Debug)]
pub struct Timing {
    /// First retry delay after a failure; doubles up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often a manual setup is checked while waiting for the script to be run.
    pub manual_setup_poll: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            manual_setup_poll: Duration::from_secs(30),
        }
    }
}

pub struct Context {
    pub kube: kube::Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub databricks: Clients,
    pub store: Store<DatabricksIntegration>,
    pub timing: Timing,
    failures: Mutex<HashMap<ObjectRef<DatabricksIntegration>, u32>>,
    forced: Mutex<HashSet<ObjectRef<DatabricksIntegration>>>,
}

impl Context {
    pub fn new(
        kube: kube::Client,
        recorder: Recorder,
        metrics: Arc<Metrics>,
        databricks: Clients,
        store: Store<DatabricksIntegration>,
        timing: Timing,
    ) -> Self {
        Context {
            kube,
            recorder,
            metrics,
            databricks,
            store,
            timing,
            failures: Mutex::default(),
            forced: Mutex::default(),
        }
    }

    /// The next retry delay for a failing resource: exponential, capped.
    pub fn backoff(&self, obj: &ObjectRef<DatabricksIntegration>) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(obj.clone()).or_insert(0);
        *n = n.saturating_add(1);
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
        (self.timing.retry_base * factor).min(self.timing.retry_max)
    }

    pub fn succeeded(&self, obj: &ObjectRef<DatabricksIntegration>) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(obj);
    }

    /// Marks resources whose Secrets or ConfigMap changed: their next reconcile re-validates even
    /// if the last validation is recent.
    pub fn force(&self, objs: impl IntoIterator<Item = ObjectRef<DatabricksIntegration>>) {
        self.forced
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(objs);
    }

    pub fn take_forced(&self, obj: &ObjectRef<DatabricksIntegration>) -> bool {
        self.forced
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(obj)
    }
}
