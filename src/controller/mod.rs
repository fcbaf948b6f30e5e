//! `uc-operator run`: the controller process. Wires the watches (the resource, the Secrets it
//! references, its ConfigMap), leader election, the metrics and health endpoints, and shutdown.

mod bootstrap;
mod context;
mod leader;
pub mod metrics;
mod reconcile;
mod secrets;
mod server;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, ListParams, PartialObjectMeta};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{Controller, Predicate, WatchStreamExt, predicates, watcher};
use kube::{Client, ResourceExt};
use tracing::info;

pub use bootstrap::{config_map_name, script, spec_hash};
pub use context::{Context, Timing};
pub use reconcile::interval;

use crate::api::DatabricksIntegration;
use crate::databricks::{ClientSettings, Clients};
use crate::telemetry::LogFormat;

/// Flags of `uc-operator run`; each also reads `UC_OPERATOR_<FLAG>`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Watch one namespace only (default: all namespaces).
    #[arg(long, env = "UC_OPERATOR_NAMESPACE")]
    pub namespace: Option<String>,
    /// Where Prometheus scrapes `/metrics`.
    #[arg(long, env = "UC_OPERATOR_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Where `/healthz` and `/readyz` are served.
    #[arg(long, env = "UC_OPERATOR_HEALTH_ADDR", default_value = "0.0.0.0:8081")]
    pub health_addr: SocketAddr,
    /// Elect a leader through a Lease, so that of several replicas exactly one reconciles.
    #[arg(long, env = "UC_OPERATOR_LEADER_ELECT")]
    pub leader_elect: bool,
    /// The Lease's name (two installations in one namespace need different names).
    #[arg(
        long,
        env = "UC_OPERATOR_LEADER_ELECT_LEASE",
        default_value = "uc-operator"
    )]
    pub leader_elect_lease: String,
    /// The Lease's namespace (default: `POD_NAMESPACE`, else `--namespace`, else `default`).
    #[arg(long, env = "UC_OPERATOR_LEADER_ELECT_NAMESPACE")]
    pub leader_elect_namespace: Option<String>,
    /// How long a leader's Lease lasts without renewal, in seconds.
    #[arg(long, env = "UC_OPERATOR_LEASE_DURATION", default_value_t = 15)]
    pub lease_duration: u64,
    /// Extra PEM CA certificates trusted for Databricks and OAuth endpoints.
    #[arg(long, env = "UC_OPERATOR_CA_BUNDLE")]
    pub ca_bundle: Option<std::path::PathBuf>,
    /// Log format.
    #[arg(long, env = "UC_OPERATOR_LOG_FORMAT", value_enum, default_value_t = LogFormat::Json)]
    pub log_format: LogFormat,
    /// First retry delay after a failure; doubles up to --retry-max.
    #[arg(long, env = "UC_OPERATOR_RETRY_BASE", default_value = "5s", value_parser = humantime::parse_duration)]
    pub retry_base: Duration,
    /// Longest retry delay after failures.
    #[arg(long, env = "UC_OPERATOR_RETRY_MAX", default_value = "5m", value_parser = humantime::parse_duration)]
    pub retry_max: Duration,
    /// How often a manual setup is checked while waiting for its script to be run.
    #[arg(long, env = "UC_OPERATOR_MANUAL_SETUP_POLL", default_value = "30s", value_parser = humantime::parse_duration)]
    pub manual_setup_poll: Duration,
    /// How long one Databricks request may keep retrying (429, 503, connection errors) before
    /// the reconcile reports the failure and backs off.
    #[arg(long, env = "UC_OPERATOR_REQUEST_RETRY_BUDGET", default_value = "1m", value_parser = humantime::parse_duration)]
    pub request_retry_budget: Duration,
    /// First delay between polls of a running SQL statement (doubles up to 10s).
    #[arg(long, env = "UC_OPERATOR_STATEMENT_POLL", default_value = "1s", value_parser = humantime::parse_duration)]
    pub statement_poll: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot reach Kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error(
        "the DatabricksIntegration CRD is not installed: run `uc-operator crd | kubectl apply --server-side -f -` (or install the Helm chart with crds.install=true)"
    )]
    CrdMissing,
    #[error("--ca-bundle {path}: {source}")]
    CaBundle {
        path: String,
        source: std::io::Error,
    },
    #[error("serving {what} on {addr}: {source}")]
    Serve {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("leader election: {0}")]
    Leader(String),
}

pub async fn run(args: RunArgs) -> Result<(), RunError> {
    let client = Client::try_default().await?;
    let dbis: Api<DatabricksIntegration> = match &args.namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    // Check the CRD through the resource itself: it needs no rights beyond the operator's own.
    match dbis.list(&ListParams::default().limit(1)).await {
        Err(kube::Error::Api(e)) if e.code == 404 => return Err(RunError::CrdMissing),
        Err(e) => return Err(e.into()),
        Ok(_) => {}
    }

    let metrics = Arc::new(metrics::Metrics::default());
    let ready = server::Readiness::default();
    let shutdown = server::shutdown_signal();
    server::spawn(
        args.metrics_addr,
        args.health_addr,
        metrics.clone(),
        ready.clone(),
    )
    .await?;

    let ca_bundle_pem = args.ca_bundle.as_deref().map(read_ca_bundle).transpose()?;
    let observer_metrics = metrics.clone();
    let mut settings = ClientSettings {
        ca_bundle_pem,
        observer: Some(Arc::new(move |event| {
            observer_metrics.databricks_request(event)
        })),
        ..ClientSettings::default()
    };
    settings.poll.base = args.statement_poll;
    settings.retry.total_budget = args.request_retry_budget;

    let leadership = if args.leader_elect {
        let namespace = args
            .leader_elect_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .or_else(|| args.namespace.clone())
            .unwrap_or_else(|| "default".into());
        ready.set_standby();
        let lease = leader::Leadership::acquire(
            client.clone(),
            &namespace,
            &args.leader_elect_lease,
            args.lease_duration,
            shutdown.clone(),
        )
        .await
        .map_err(RunError::Leader)?;
        ready.set_starting(); // leading: ready once the cache has synced
        match lease {
            Some(l) => Some(l),
            None => return Ok(()), // shut down while waiting to lead
        }
    } else {
        None
    };

    let timing = Timing {
        retry_base: args.retry_base,
        retry_max: args.retry_max,
        manual_setup_poll: args.manual_setup_poll,
    };
    // Losing the Lease exits the process from the renew task itself (leader.rs): no stop here.
    let stop = {
        let shutdown = shutdown.clone();
        async move { shutdown.wait().await }
    };
    run_controller(client, dbis, &args, metrics, settings, timing, ready, stop).await;
    if let Some(l) = leadership {
        l.release().await;
    }
    info!("stopped");
    Ok(())
}

/// Reads `--ca-bundle`; a file without certificates fails at start rather than on every reconcile.
fn read_ca_bundle(path: &std::path::Path) -> Result<String, RunError> {
    let error = |source| RunError::CaBundle {
        path: path.display().to_string(),
        source,
    };
    let pem = std::fs::read_to_string(path).map_err(error)?;
    let certs = rustls_pemfile::certs(&mut pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_default();
    if certs.is_empty() {
        let empty = std::io::Error::new(std::io::ErrorKind::InvalidData, "no PEM certificates");
        return Err(error(empty));
    }
    Ok(pem)
}

#[allow(clippy::too_many_arguments)]
async fn run_controller(
    client: Client,
    dbis: Api<DatabricksIntegration>,
    args: &RunArgs,
    metrics: Arc<metrics::Metrics>,
    settings: ClientSettings,
    timing: Timing,
    ready: server::Readiness,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    // Only metadata: the operator never caches Secret values, and a rotation still changes the
    // resourceVersion.
    let (secrets, configmaps): (
        Api<PartialObjectMeta<Secret>>,
        Api<PartialObjectMeta<ConfigMap>>,
    ) = match &args.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    // Status writes change neither generation nor finalizers, so they trigger nothing; deletion
    // bumps the generation, so it gets through.
    let (store, writer) = kube::runtime::reflector::store();
    let stream = watcher(dbis, watcher::Config::default())
        .default_backoff()
        .reflect(writer)
        .applied_objects()
        .predicate_filter(
            predicates::generation.combine(predicates::finalizers),
            Default::default(),
        );
    let controller = Controller::for_stream(stream, store.clone());
    metrics.count_phases_from(store.clone());
    let reporter = Reporter {
        controller: "uc-operator".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(Context::new(
        client.clone(),
        Recorder::new(client.clone(), reporter),
        metrics,
        Clients::new(settings),
        store.clone(),
        timing,
    ));
    let secret_ctx = ctx.clone();
    let secret_store = store.clone();
    let cm_ctx = ctx.clone();
    let secret_watch = watcher(secrets, watcher::Config::default())
        .default_backoff()
        .touched_objects();
    let cm_watch = watcher(
        configmaps,
        watcher::Config::default().labels("app.kubernetes.io/managed-by=uc-operator"),
    )
    .default_backoff()
    .touched_objects();
    let readiness_store = store.clone();
    tokio::spawn(async move {
        // Re-poll: the store's ready signal wakes only its most recent waiter, and the
        // controller waits on it too.
        loop {
            let wait = readiness_store.wait_until_ready();
            match tokio::time::timeout(Duration::from_millis(100), wait).await {
                Ok(Ok(())) => break ready.set_ready(),
                Ok(Err(_)) => break,
                Err(_) => continue,
            }
        }
    });
    controller
        .with_config(kube::runtime::controller::Config::default().concurrency(8))
        .watches_stream(secret_watch, move |secret| {
            let ns = secret.namespace().unwrap_or_default();
            let refs = users_of_secret(&secret_store, &ns, &secret.name_any());
            if secret_ctx.changed("Secret", ns, secret.name_any(), secret.resource_version()) {
                secret_ctx.force(refs.clone());
            }
            refs
        })
        .watches_stream(cm_watch, move |cm| {
            let ns = cm.namespace().unwrap_or_default();
            // Edited or deleted by someone else (a deletion has a new resourceVersion too):
            // re-publish. The operator's own writes are recorded and do not count.
            if !cm_ctx.changed(
                "ConfigMap",
                ns.clone(),
                cm.name_any(),
                cm.resource_version(),
            ) {
                return Vec::new();
            }
            let refs: Vec<ObjectRef<DatabricksIntegration>> = cm
                .owner_references()
                .iter()
                .filter(|o| o.kind == "DatabricksIntegration")
                .map(|o| ObjectRef::new(&o.name).within(&ns))
                .collect();
            cm_ctx.force(refs.clone());
            refs
        })
        .graceful_shutdown_on(stop)
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// The reverse index from a Secret to the integrations that reference it, read from the watch
/// cache: a rotation re-validates exactly those.
fn users_of_secret(
    store: &Store<DatabricksIntegration>,
    namespace: &str,
    name: &str,
) -> Vec<ObjectRef<DatabricksIntegration>> {
    store
        .state()
        .iter()
        .filter(|d| d.namespace().as_deref() == Some(namespace))
        .filter(|d| d.spec.secret_names().iter().any(|n| n == name))
        .map(|d| ObjectRef::from_obj(d.as_ref()))
        .collect()
}
