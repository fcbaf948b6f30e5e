//! What every reconcile shares: clients, the watch cache, metrics, and per-resource memory
//! (failure counts for backoff, and which resources a Secret or ConfigMap change must re-check).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::runtime::events::Reporter;
use kube::runtime::reflector::{ObjectRef, Store};

use super::claims::Claims;
use super::events::Events;
use super::fairness::Admission;
use super::index::{Index, hash};
use super::metrics::Metrics;
use crate::api::DatabricksIntegration;
use crate::databricks::Clients;
use crate::identity::{Installation, IntegrationId};

/// The version remembered for a deleted object until its deletion has been handled.
const GONE: u64 = u64::MAX;

/// Timing knobs; the defaults suit production, tests shorten them.
#[derive(Clone, Debug)]
pub struct Timing {
    /// First retry delay after a failure; doubles up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// How often a manual setup is checked while waiting for the script to be run.
    pub manual_setup_poll: Duration,
    /// The deadline of one reconcile.
    pub reconcile_timeout: Duration,
    /// How long before a credential expires it is reported (`--credential-warning`).
    pub credential_warning: Duration,
    /// The least time between two re-validations a `requestedAt` annotation causes
    /// (`--request-spacing`; the contract's minute).
    pub request_spacing: Duration,
    /// How long a cluster the operator started may take to run (`--compute-start-timeout`; the
    /// SDKs wait 20 minutes). It is looked at again every `manual_setup_poll` meanwhile.
    pub compute_start_timeout: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(300),
            manual_setup_poll: Duration::from_secs(30),
            reconcile_timeout: Duration::from_secs(300),
            credential_warning: crate::checks::DEFAULT_CREDENTIAL_WARNING,
            request_spacing: Duration::from_secs(60),
            compute_start_timeout: Duration::from_secs(20 * 60),
        }
    }
}

pub struct Context {
    pub kube: kube::Client,
    /// Events on the resources, with a bounded memory of what was published.
    pub events: Events,
    pub metrics: Arc<Metrics>,
    pub databricks: Clients,
    pub store: Store<DatabricksIntegration>,
    pub timing: Timing,
    /// The installation identity in catalog markers (`--installation-id`, or the cluster's).
    pub installation: Installation,
    /// Which integration holds which workspace, in the operator's own namespace.
    pub claims: Claims,
    /// Per integration, from their watch: what wakes a reconcile, Secret users, UIDs, namespaces.
    pub index: Arc<Index>,
    /// Each namespace's and workspace's share of the workers.
    pub admission: Admission,
    failures: Mutex<HashMap<ObjectRef<DatabricksIntegration>, u32>>,
    forced: Mutex<HashSet<ObjectRef<DatabricksIntegration>>>,
    /// resourceVersion last seen per watched Secret/ConfigMap (kind, namespace, name), hashed:
    /// thousands of Secrets are remembered.
    versions: Mutex<HashMap<u64, u64>>,
    /// Since when each resource has been waiting for its cluster to start.
    compute_waits: Mutex<HashMap<ObjectRef<DatabricksIntegration>, std::time::Instant>>,
}

impl Context {
    pub fn new(
        kube: kube::Client,
        reporter: Reporter,
        metrics: Arc<Metrics>,
        databricks: Clients,
        store: Store<DatabricksIntegration>,
        timing: Timing,
    ) -> Self {
        Context {
            claims: Claims::new(kube.clone(), "default"),
            events: Events::new(kube.clone(), reporter),
            kube,
            metrics,
            databricks,
            store,
            timing,
            installation: Installation::pinned(crate::identity::DEFAULT_INSTALLATION),
            index: Arc::default(),
            admission: Admission::new(usize::MAX, usize::MAX),
            failures: Mutex::default(),
            forced: Mutex::default(),
            versions: Mutex::default(),
            compute_waits: Mutex::default(),
        }
    }

    /// How long `obj` has been waiting for its cluster to start (zero the first time).
    pub fn waiting_for_compute(&self, obj: &ObjectRef<DatabricksIntegration>) -> Duration {
        let mut waits = self.compute_waits.lock().unwrap_or_else(|e| e.into_inner());
        waits
            .entry(obj.clone())
            .or_insert_with(std::time::Instant::now)
            .elapsed()
    }

    /// `obj` no longer waits for its cluster.
    pub fn compute_waited(&self, obj: &ObjectRef<DatabricksIntegration>) {
        self.compute_waits
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(obj);
    }

    /// Keeps the workspace claims in `namespace` (the operator's own; tenants cannot write it).
    pub fn with_claims_namespace(mut self, namespace: &str) -> Self {
        self.claims = Claims::new(self.kube.clone(), namespace);
        self
    }

    /// Follows `index` and shares `concurrency` workers fairly, at most `per_workspace` of them
    /// on one workspace.
    pub fn with_fairness(
        mut self,
        index: Arc<Index>,
        concurrency: usize,
        per_workspace: usize,
    ) -> Self {
        self.index = index;
        self.admission = Admission::new(concurrency, per_workspace);
        self
    }

    /// Follows one event of the integrations' watch into the index (the controller's watch does
    /// this itself; tests that fill the cache by hand call it too).
    pub fn observe(&self, event: kube::runtime::watcher::Event<DatabricksIntegration>) {
        self.index.follow(event);
    }

    pub fn with_installation(mut self, installation: Installation) -> Self {
        self.installation = installation;
        self
    }

    /// The integration's identity under this installation.
    pub fn id_of(&self, dbi: &DatabricksIntegration) -> IntegrationId {
        crate::setup::integration_id(dbi, &self.installation)
    }

    /// The next retry delay for a failing resource: exponential, capped.
    pub fn backoff(&self, obj: &ObjectRef<DatabricksIntegration>) -> Duration {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = failures.entry(obj.clone()).or_insert(0);
        *n = n.saturating_add(1);
        let factor = 2u32.saturating_pow(n.saturating_sub(1).min(16));
        let delay = (self.timing.retry_base * factor).min(self.timing.retry_max);
        // ±20% so that resources failing together (a workspace outage) do not retry together.
        delay.mul_f64(rand::random_range(0.8..1.2))
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

    /// Whether a watched object changed since it was last seen. The first sight (the watch's
    /// initial list, at start-up) is no change: a restart alone re-validates nothing early.
    pub fn changed(
        &self,
        kind: &'static str,
        namespace: String,
        name: String,
        version: Option<String>,
    ) -> bool {
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        let key = hash((kind, namespace, name));
        if versions.get(&key) == Some(&GONE) {
            // Deleted: a change this once, then nothing is remembered of it.
            versions.remove(&key);
            return true;
        }
        // The top bit cleared: a version never reads as GONE.
        let version = hash(version.unwrap_or_default()) >> 1;
        match versions.insert(key, version) {
            Some(previous) => previous != version,
            None => false,
        }
    }

    /// A watched object was deleted: its next `changed` is a change, and then it is forgotten,
    /// so what is remembered stays bounded by the objects that exist.
    pub fn deleted(&self, kind: &'static str, namespace: &str, name: &str) {
        let mut versions = self.versions.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = versions.get_mut(&hash((kind, namespace, name))) {
            *v = GONE;
        }
    }

    /// Drops what is remembered of a deleted resource, so a new one of the same name starts
    /// afresh.
    pub fn forget(&self, obj: &ObjectRef<DatabricksIntegration>) {
        self.succeeded(obj);
        self.take_forced(obj);
    }

    pub fn take_forced(&self, obj: &ObjectRef<DatabricksIntegration>) -> bool {
        self.forced
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(obj)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn context() -> Context {
        // A client that is never called: the tests only exercise the in-memory bookkeeping.
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let client = kube::Client::try_from(config).unwrap();
        let reporter = kube::runtime::events::Reporter {
            controller: "t".into(),
            instance: None,
        };
        let (store, _writer) = kube::runtime::reflector::store();
        Context::new(
            client,
            reporter,
            Arc::new(Metrics::default()),
            Clients::new(Default::default()),
            store,
            Timing {
                retry_base: Duration::from_secs(1),
                retry_max: Duration::from_secs(5),
                ..Timing::default()
            },
        )
    }

    #[tokio::test]
    async fn backoff_doubles_up_to_the_cap_and_resets() {
        let ctx = context().await;
        let obj = ObjectRef::new("a").within("ns");
        let delays: Vec<f64> = (0..5).map(|_| ctx.backoff(&obj).as_secs_f64()).collect();
        // Within ±20% of 1, 2, 4, 5 (capped), 5.
        for (got, want) in delays.iter().zip([1.0, 2.0, 4.0, 5.0, 5.0]) {
            assert!((want * 0.8..want * 1.2).contains(got), "{delays:?}");
        }
        ctx.succeeded(&obj);
        assert!(ctx.backoff(&obj).as_secs_f64() < 1.2);
    }

    #[tokio::test]
    async fn a_deletion_is_a_change_once_then_forgotten() {
        let ctx = context().await;
        assert!(!ctx.changed("Secret", "ns".into(), "s".into(), Some("1".into())));
        ctx.deleted("Secret", "ns", "s");
        assert!(ctx.changed("Secret", "ns".into(), "s".into(), Some("1".into())));
        assert_eq!(ctx.versions.lock().unwrap().len(), 0, "nothing remembered");
        // Created again: a first sight.
        assert!(!ctx.changed("Secret", "ns".into(), "s".into(), Some("2".into())));
        // Never seen: a deletion is no entry.
        ctx.deleted("Secret", "ns", "other");
        assert_eq!(ctx.versions.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn first_sight_is_no_change() {
        let ctx = context().await;
        let seen = |rv: &str| ctx.changed("Secret", "ns".into(), "s".into(), Some(rv.into()));
        assert!(!seen("1"), "the initial list is not a change");
        assert!(!seen("1"));
        assert!(seen("2"));
        let obj = ObjectRef::new("a").within("ns");
        ctx.force([obj.clone()]);
        assert!(ctx.take_forced(&obj));
        assert!(!ctx.take_forced(&obj), "forcing is taken once");
    }
}
