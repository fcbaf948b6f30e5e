//! `uc-operator run`: the controller process. Wires the watches (the resource, the Secrets it
//! references, its ConfigMap), leader election, the metrics and health endpoints, and shutdown.

mod binding;
mod cache;
mod claims;
mod config_map;
mod context;
pub mod decide;
mod error;
mod events;
mod fairness;
pub mod flow;
mod index;
mod leader;
pub mod metrics;
pub mod observe;
mod phases;
mod reconcile;
mod server;
pub mod status;
mod watches;
mod write;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Namespace;
use kube::Client;
use kube::api::{Api, ListParams};
use kube::runtime::events::Reporter;
use kube::runtime::{Controller, WatchStreamExt, watcher};
use tracing::info;

pub use context::{Context, Timing};
pub use error::Error;
pub use reconcile::{error_policy, reconcile};

use crate::api::DatabricksIntegration;
use crate::databricks::{AllowedHosts, ClientSettings, Clients};
use crate::identity::Installation;
use crate::telemetry::LogFormat;

/// Flags of `uc-operator run`; each also reads `UC_OPERATOR_<FLAG>`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Watch one namespace only (default: all namespaces).
    #[arg(long, env = "UC_OPERATOR_NAMESPACE")]
    pub namespace: Option<String>,
    /// With --namespace: the RoleBinding there that grants the operator its rights. Deleting the
    /// namespace deletes it too, so its finalizer `uc-operator.dev/rbac` is removed only once the
    /// deletions there have finished (the chart sets this).
    #[arg(long, env = "UC_OPERATOR_ROLE_BINDING", requires = "namespace")]
    pub role_binding: Option<String>,
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
    /// The least time between two re-validations that `uc-operator.dev/requestedAt` causes on
    /// one resource: a newer value within it is acted on when it ends.
    #[arg(long, env = "UC_OPERATOR_REQUEST_SPACING", default_value = "1m", value_parser = humantime::parse_duration)]
    pub request_spacing: Duration,
    /// How long a cluster the operator started may take to run before the attempt fails (the
    /// SDKs wait 20 minutes); it is looked at again every --manual-setup-poll meanwhile.
    #[arg(long, env = "UC_OPERATOR_COMPUTE_START_TIMEOUT", default_value = "20m", value_parser = humantime::parse_duration)]
    pub compute_start_timeout: Duration,
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
    /// Where credentials may be sent: comma-separated host patterns (`*.cloud.databricks.com`,
    /// an exact host, or `*` for any). Default: the Databricks cloud domains and the Microsoft
    /// Entra login hosts.
    #[arg(long, env = "UC_OPERATOR_ALLOWED_HOSTS", default_value_t = AllowedHosts::default())]
    pub allowed_hosts: AllowedHosts,
    /// How many integrations are reconciled at once (Databricks rate limits are per workspace,
    /// so one integration per workspace can go wide).
    #[arg(long, env = "UC_OPERATOR_CONCURRENCY", default_value_t = 128)]
    pub concurrency: u16,
    /// How many reconciles may be in flight on one workspace (host and port) at once, whichever
    /// namespaces they come from: a slow workspace holds no more workers than this.
    #[arg(long, env = "UC_OPERATOR_WORKSPACE_CONCURRENCY", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub workspace_concurrency: u16,
    /// The deadline of one reconcile; past it the reconcile is reported as failed and retried.
    #[arg(long, env = "UC_OPERATOR_RECONCILE_TIMEOUT", default_value = "5m", value_parser = humantime::parse_duration)]
    pub reconcile_timeout: Duration,
    /// How long before a credential expires it is reported: a Warning event
    /// `CredentialExpiringSoon` and a `warning` validation result.
    #[arg(long, env = "UC_OPERATOR_CREDENTIAL_WARNING", default_value = "14d", value_parser = humantime::parse_duration)]
    pub credential_warning: Duration,
    /// The identity of this installation, written into catalog ownership markers: keep it when a
    /// cluster is rebuilt from the same Git repository, use different ones for clusters sharing a
    /// metastore. Default: the UID of the `kube-system` namespace (read at start), which is
    /// stable for a cluster and differs between clusters.
    #[arg(long, env = "UC_OPERATOR_INSTALLATION_ID")]
    pub installation_id: Option<String>,
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
    #[error(
        "cannot read the UID of namespace {namespace}, the default installation identity: {why}. Grant the operator `get` on namespace {namespace} (the Helm chart does), or pin --installation-id (chart value installationId)"
    )]
    ClusterIdentity {
        namespace: &'static str,
        why: String,
    },
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

    let installation = installation(&args, &client).await?;
    info!(installation = %installation.id, "installation identity");

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

    let settings = client_settings(&args, metrics.clone())?;
    let leadership = if args.leader_elect {
        match lead(&args, &client, &ready, &shutdown).await? {
            Some(l) => Some(l),
            None => return Ok(()), // shut down while waiting to lead
        }
    } else {
        None
    };
    // From here on this replica reconciles (a lost Lease exits the process).
    metrics.set_leader(true);

    let timing = Timing {
        retry_base: args.retry_base,
        retry_max: args.retry_max,
        manual_setup_poll: args.manual_setup_poll,
        reconcile_timeout: args.reconcile_timeout,
        credential_warning: args.credential_warning,
        request_spacing: args.request_spacing,
        compute_start_timeout: args.compute_start_timeout,
    };
    // Losing the Lease exits the process from the renew task itself (leader.rs): no stop here.
    let stop = {
        let shutdown = shutdown.clone();
        async move { shutdown.wait().await }
    };
    let parts = Parts {
        metrics,
        settings,
        timing,
        ready,
        installation,
    };
    run_controller(client, dbis, &args, parts, stop).await;
    if let Some(l) = leadership {
        l.release().await;
    }
    info!("stopped");
    Ok(())
}

/// The identity catalog markers are written under: `--installation-id`, else the UID of
/// `kube-system`, read once. Failing to read it stops the start: falling back to a constant would
/// write markers another cluster may share, and an identity that changes between starts would
/// disown the catalogs created under the other one.
async fn installation(args: &RunArgs, client: &Client) -> Result<Installation, RunError> {
    if let Some(id) = &args.installation_id {
        return Ok(Installation::pinned(id));
    }
    let namespace = crate::identity::CLUSTER_ID_NAMESPACE;
    let error = |why: String| RunError::ClusterIdentity { namespace, why };
    let ns = Api::<Namespace>::all(client.clone())
        .get(namespace)
        .await
        .map_err(|e| error(e.to_string()))?;
    let uid = ns.metadata.uid.filter(|u| !u.is_empty());
    let uid = uid.ok_or_else(|| error("the API server returned it without a UID".into()))?;
    Ok(Installation::defaulted(&uid))
}

/// The Databricks client's settings from the flags; requests are counted in the metrics.
fn client_settings(
    args: &RunArgs,
    metrics: Arc<metrics::Metrics>,
) -> Result<ClientSettings, RunError> {
    let ca_bundle_pem = args.ca_bundle.as_deref().map(read_ca_bundle).transpose()?;
    let mut settings = ClientSettings {
        ca_bundle_pem,
        observer: Some(Arc::new(move |event| metrics.databricks_request(event))),
        allowed_hosts: args.allowed_hosts.clone(),
        ..ClientSettings::default()
    };
    settings.poll.base = args.statement_poll;
    // A statement, command or compute start is given up (cancelled) before the reconcile's own
    // deadline, so that the resource reports what it waited for instead of a bare timeout.
    settings.poll.give_up_after = inner_wait(settings.poll.give_up_after, args.reconcile_timeout);
    settings.retry.total_budget = args.request_retry_budget.min(args.reconcile_timeout);
    Ok(settings)
}

/// The longest one inner wait may take: `wait`, but no more than four fifths of the
/// reconcile's deadline.
fn inner_wait(wait: Duration, reconcile_timeout: Duration) -> Duration {
    wait.min(reconcile_timeout.mul_f64(0.8))
}

/// The operator's own namespace, where its Lease and workspace claims live: `POD_NAMESPACE`,
/// else `--namespace`, else `default` (`--leader-elect-namespace` moves the Lease only).
fn lease_namespace(args: &RunArgs) -> String {
    args.leader_elect_namespace
        .clone()
        .or_else(|| std::env::var("POD_NAMESPACE").ok())
        .or_else(|| args.namespace.clone())
        .unwrap_or_else(|| "default".into())
}

fn claims_namespace(args: &RunArgs) -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .or_else(|| args.namespace.clone())
        .unwrap_or_else(|| "default".into())
}

/// Waits (as a ready standby) until this replica holds the Lease; `None` when shut down first.
async fn lead(
    args: &RunArgs,
    client: &Client,
    ready: &server::Readiness,
    shutdown: &server::Shutdown,
) -> Result<Option<leader::Leadership>, RunError> {
    let namespace = lease_namespace(args);
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
    Ok(lease)
}

/// Reads `--ca-bundle`; a file without certificates fails at start rather than on every reconcile.
pub fn read_ca_bundle(path: &std::path::Path) -> Result<String, RunError> {
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

/// What the controller is built from.
struct Parts {
    metrics: Arc<metrics::Metrics>,
    settings: ClientSettings,
    timing: Timing,
    ready: server::Readiness,
    installation: Installation,
}

/// Runs the controller until `stop`: the resource's watch (and its cache), the Secret and
/// ConfigMap triggers, readiness once the cache synced.
async fn run_controller(
    client: Client,
    dbis: Api<DatabricksIntegration>,
    args: &RunArgs,
    parts: Parts,
    stop: impl std::future::Future<Output = ()> + Send + Sync + 'static,
) {
    // Status writes change neither generation nor finalizers, so they trigger nothing; deletion
    // bumps the generation, so it gets through.
    let (store, writer) = kube::runtime::reflector::store();
    let index = Arc::new(index::Index::default());
    let follow = index.clone();
    let stream = watcher(dbis, watcher::Config::default())
        .default_backoff()
        // The cache keeps every resource, so only what the decisions read (cache.rs).
        .modify(cache::trim)
        .reflect(writer)
        // Status writes wake nothing: only new generations, finalizers and requests (index.rs).
        .try_filter_map(move |event| futures::future::ready(Ok(follow.follow(event))));
    let controller = Controller::for_stream(stream, store.clone());
    parts.metrics.count_phases_from(store.clone());
    let reporter = Reporter {
        controller: "uc-operator".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let ctx = Arc::new(
        Context::new(
            client.clone(),
            reporter,
            parts.metrics,
            Clients::new(parts.settings),
            store.clone(),
            parts.timing,
        )
        .with_installation(parts.installation)
        .with_claims_namespace(&claims_namespace(args))
        .with_fairness(
            index,
            usize::from(args.concurrency),
            usize::from(args.workspace_concurrency),
        ),
    );
    spawn_readiness(store.clone(), parts.ready);
    if let (Some(ns), Some(rb)) = (&args.namespace, &args.role_binding) {
        tokio::spawn(binding::hold(client.clone(), ns.clone(), rb.clone()));
    }
    let namespace = args.namespace.as_deref();
    let (secret_ctx, cm_ctx) = (ctx.clone(), ctx.clone());
    let config = kube::runtime::controller::Config::default().concurrency(args.concurrency);
    controller
        .with_config(config)
        .watches_stream(
            watches::secrets(&client, namespace, ctx.clone()),
            move |secret| watches::on_secret(&secret_ctx, &secret),
        )
        .watches_stream(watches::config_maps(&client, namespace), move |cm| {
            watches::on_config_map(&cm_ctx, &cm)
        })
        .graceful_shutdown_on(stop)
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|_| futures::future::ready(()))
        .await;
}

/// Ready once the watch cache has synced.
fn spawn_readiness(
    store: kube::runtime::reflector::Store<DatabricksIntegration>,
    ready: server::Readiness,
) {
    tokio::spawn(async move {
        // Re-poll: the store's ready signal wakes only its most recent waiter, and the
        // controller waits on it too.
        loop {
            let wait = store.wait_until_ready();
            match tokio::time::timeout(Duration::from_millis(100), wait).await {
                Ok(Ok(())) => break ready.set_ready(),
                Ok(Err(_)) => break,
                Err(_) => continue,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inner_waits_end_before_the_reconcile_deadline() {
        let ten_minutes = Duration::from_secs(600);
        assert_eq!(
            inner_wait(ten_minutes, Duration::from_secs(300)),
            Duration::from_secs(240)
        );
        assert_eq!(
            inner_wait(ten_minutes, Duration::from_secs(3600)),
            ten_minutes
        );
    }
}
