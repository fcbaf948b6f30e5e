//! The in-process environment of the reconcile layer: a namespace, a simulator and a `Context`
//! per test, and one reconcile step with the writes it made, read back from a watch.

use std::collections::BTreeMap;
use std::sync::Arc;

use databricks_sim::{Scenario, Simulator};
use futures::TryStreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::api::events::v1::Event;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, WatchEvent, WatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::Reporter;
use kube::runtime::finalizer;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::watcher;
use serde_json::{Value, json};
use uc_operator::api::{DatabricksIntegration, Phase};
use uc_operator::controller::metrics::Metrics;
use uc_operator::controller::{Context, Error, Timing, reconcile};
use uc_operator::databricks::Clients;
use uc_operator::failure::{Failure, Reason};

use super::harness::control_plane;
use super::status::phase;

pub struct Env {
    pub ns: String,
    pub sim: Simulator,
    api: Api<DatabricksIntegration>,
    client: kube::Client,
    /// The watch cache the duplicate-workspace rule reads; tests fill it.
    cache: Writer<DatabricksIntegration>,
    ctx: Arc<Context>,
}

/// One reconcile: what it returned and every write of the object it made, in order.
pub struct Step {
    pub result: Result<Action, Error>,
    pub writes: Vec<DatabricksIntegration>,
}

impl Step {
    pub fn phases(&self) -> Vec<Option<Phase>> {
        let phase = |d: &DatabricksIntegration| d.status.as_ref().and_then(|s| s.phase);
        self.writes.iter().map(phase).collect()
    }

    /// The failure the reconcile reported (already written to the status).
    pub fn failure(self) -> Failure {
        match self.result {
            Err(Error::Finalizer(e)) => match *e {
                finalizer::Error::ApplyFailed(Error::Failed(f))
                | finalizer::Error::CleanupFailed(Error::Failed(f)) => f,
                other => panic!("not a reported failure: {other:?}"),
            },
            other => panic!("the reconcile did not fail: {other:?}"),
        }
    }
}

impl Env {
    pub async fn new(prefix: &str, scenario: Scenario) -> Env {
        Self::new_for(prefix, |_| scenario).await
    }

    /// An environment whose scenario depends on the namespace (a federation policy names the
    /// namespace's ServiceAccount).
    pub async fn new_for(prefix: &str, scenario: impl FnOnce(&str) -> Scenario) -> Env {
        // Tests ask for re-validations seconds apart: no once-a-minute spacing by default.
        let timing = Timing {
            request_spacing: std::time::Duration::ZERO,
            ..Timing::default()
        };
        Self::with_timing(prefix, scenario, timing).await
    }

    /// An environment whose reconciles run with `timing`.
    pub async fn with_timing(
        prefix: &str,
        scenario: impl FnOnce(&str) -> Scenario,
        timing: Timing,
    ) -> Env {
        let cp = control_plane();
        let ns = cp.namespace(prefix);
        let sim = Simulator::start(scenario(&ns))
            .await
            .expect("simulator starts");
        let client = cp.client().await;
        let (store, cache) = reflector::store();
        let reporter = Reporter {
            controller: "uc-operator-tests".into(),
            instance: None,
        };
        let ctx = Context::new(
            client.clone(),
            reporter,
            Arc::new(Metrics::default()),
            Clients::new(super::databricks::settings(&sim)),
            store,
            timing,
        )
        .with_claims_namespace(&ns);
        Env {
            api: Api::namespaced(client.clone(), &ns),
            ns,
            sim,
            client,
            cache,
            ctx: Arc::new(ctx),
        }
    }

    /// Creates or replaces the one-key Secret `name` holding `value` under `token`.
    pub async fn secret(&self, name: &str, value: &str) {
        super::harness::apply_secret(&self.client, &self.ns, name, "token", value).await;
    }

    /// Creates or replaces a Secret from a whole manifest (to leave out the credentials label,
    /// or add an annotation).
    pub async fn secret_manifest(&self, manifest: &Value) {
        let name = manifest["metadata"]["name"].as_str().unwrap();
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(self.client.clone(), &self.ns)
            .patch(
                name,
                &kube::api::PatchParams::apply("tests").force(),
                &kube::api::Patch::Apply(manifest),
            )
            .await
            .unwrap();
    }

    /// Creates or replaces a ServiceAccount of the namespace, opted in as a credential or not.
    pub async fn service_account(&self, name: &str, labelled: bool) {
        super::workload_identity::service_account(&self.client, &self.ns, name, labelled).await;
    }

    /// Deletes a Secret of the namespace.
    pub async fn delete_secret(&self, name: &str) {
        Api::<k8s_openapi::api::core::v1::Secret>::namespaced(self.client.clone(), &self.ns)
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// A token integration for `main` whose Secret is `sp-token`; tests edit the JSON.
    pub fn manifest(&self, name: &str, catalog: &str) -> Value {
        super::manifests::integration(name, &self.sim.workspace("main").host, catalog)
    }

    pub async fn apply(&self, manifest: &Value) {
        crate::support::harness::apply_manifest(&self.api, manifest).await;
    }

    pub async fn get(&self, name: &str) -> DatabricksIntegration {
        self.api.get(name).await.unwrap()
    }

    /// Puts the resource as it is now into the watch cache.
    pub async fn remember(&mut self, name: &str) {
        let dbi = self.get(name).await;
        self.cache
            .apply_watcher_event(&watcher::Event::Apply(dbi.clone()));
        self.ctx.observe(watcher::Event::Apply(dbi));
    }

    /// Reads the resource, reconciles it once, and collects the writes it made.
    pub async fn step(&self, name: &str) -> Step {
        let before = self.get(name).await;
        let from = before.resource_version().unwrap();
        let result = reconcile(Arc::new(before), self.ctx.clone()).await;
        let now = self.get(name).await.resource_version().unwrap();
        let writes = if now == from {
            Vec::new()
        } else {
            self.writes_between(name, &from, &now).await
        };
        Step { result, writes }
    }

    /// Every version of the object after `from`, up to and including `to`.
    async fn writes_between(&self, name: &str, from: &str, to: &str) -> Vec<DatabricksIntegration> {
        let params = WatchParams::default()
            .fields(&format!("metadata.name={name}"))
            .timeout(30);
        let mut events = Box::pin(self.api.watch(&params, from).await.unwrap());
        let mut writes = Vec::new();
        while let Some(event) = events.try_next().await.unwrap() {
            if let WatchEvent::Modified(d) = event {
                let done = d.resource_version().as_deref() == Some(to);
                writes.push(d);
                if done {
                    return writes;
                }
            }
        }
        panic!(
            "the watch ended before version {to}: {} writes",
            writes.len()
        );
    }

    /// Applies `manifest` as a manual-setup integration and reconciles it twice (the finalizer,
    /// then the published script): it waits for the script to be run.
    pub async fn apply_manual(&self, name: &str, mut manifest: Value) {
        manifest["spec"]["autoBootstrap"] = json!(false);
        self.apply(&manifest).await;
        self.step(name).await.result.unwrap();
        self.step(name).await.result.unwrap();
    }

    /// Applies `manifest` and reconciles it until its first failure: `creating` then
    /// `createError`, whose failure it returns.
    pub async fn apply_until_failure(&self, name: &str, manifest: &Value) -> Failure {
        self.apply(manifest).await;
        self.step(name).await.result.unwrap();
        let step = self.step(name).await;
        assert_eq!(
            step.phases(),
            [Some(Phase::Creating), Some(Phase::CreateError)]
        );
        step.failure()
    }

    /// Reconciles a new resource to `enabled`: the finalizer first, then the integration.
    pub async fn enable(&self, name: &str) -> DatabricksIntegration {
        let step = self.step(name).await;
        assert_eq!(step.result.unwrap(), Action::await_change());
        let step = self.step(name).await;
        assert!(step.result.is_ok(), "{:?}", step.result);
        let dbi = self.get(name).await;
        assert_eq!(phase(&dbi), Some(Phase::Enabled), "{:?}", dbi.status);
        dbi
    }

    /// Deletes the resource and runs the cleanup behind its finalizer once.
    pub async fn delete(&self, name: &str) -> Result<Action, Error> {
        let params = DeleteParams::default();
        self.api.delete(name, &params).await.unwrap();
        reconcile(Arc::new(self.get(name).await), self.ctx.clone()).await
    }

    pub async fn gone(&self, name: &str) -> bool {
        self.api.get_opt(name).await.unwrap().is_none()
    }

    pub fn force_recheck(&self, dbi: &DatabricksIntegration) {
        self.ctx.force([ObjectRef::from_obj(dbi)]);
    }

    /// The data of a ConfigMap of the namespace.
    pub async fn config_map(&self, name: &str) -> BTreeMap<String, String> {
        let api = Api::<ConfigMap>::namespaced(self.client.clone(), &self.ns);
        api.get(name).await.unwrap().data.unwrap_or_default()
    }

    /// No status or event of the namespace contains `secret`.
    pub async fn assert_no_leak(&self, secret: &str) {
        let resources = self.api.list(&Default::default()).await.unwrap();
        let events = Api::<Event>::namespaced(self.client.clone(), &self.ns);
        let events = events.list(&Default::default()).await.unwrap();
        let text = serde_json::to_string(&(resources, events)).unwrap();
        assert!(
            !text.contains(secret),
            "a secret value appears in a status or event"
        );
    }

    /// The note of every event with `reason`.
    pub async fn event_notes(&self, reason: Reason) -> Vec<String> {
        let events = Api::<Event>::namespaced(self.client.clone(), &self.ns);
        let list = events.list(&Default::default()).await.unwrap();
        list.items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some(reason.as_str()))
            .filter_map(|e| e.note)
            .collect()
    }

    pub async fn event_reasons(&self) -> Vec<String> {
        let events = Api::<Event>::namespaced(self.client.clone(), &self.ns);
        let list = events.list(&Default::default()).await.unwrap();
        list.items.into_iter().filter_map(|e| e.reason).collect()
    }
}

/// Applies `gov` (catalog `governance`) and reconciles it until setup, having started, is
/// refused: `creating` (setup started) then `createError`.
pub async fn refused_setup(env: &Env) -> Failure {
    env.apply(&env.manifest("gov", "governance")).await;
    env.step("gov").await.result.unwrap();
    let step = env.step("gov").await;
    assert_eq!(
        step.phases(),
        [
            Some(Phase::Creating),
            Some(Phase::Creating),
            Some(Phase::CreateError)
        ]
    );
    step.failure()
}
