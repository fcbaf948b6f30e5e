//! The reconcile: resolve Secrets → validate → set up → write status. `reconcile` itself only
//! runs kube-runtime's finalizer helper and dispatches to `apply` or `cleanup`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event as KubeEvent, EventType};
use kube::runtime::finalizer::{Event, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::{Resource, ResourceExt};
use tracing::{Instrument, info, info_span, warn};

use super::bootstrap;
use super::context::Context;
use super::secrets::SecretReader;
use super::status::{self, BOOTSTRAPPED, Flow, State};
use crate::api::{
    BootstrapMode, BootstrapStatus, DatabricksIntegration, DatabricksIntegrationStatus,
    DeletionPolicy, FINALIZER, Phase,
};
use crate::checks::{self, CatalogState, ComputePolicy, Integration};
use crate::databricks::{WorkspaceClient, parse_workspace_url};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Already written to the status; returned so the controller retries with backoff.
    #[error("{reason}: {message}")]
    Failed { reason: String, message: String },
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

impl Error {
    /// A bounded label for the failures metric.
    pub fn metric_label(&self) -> String {
        match self {
            Error::Failed { reason, .. } => reason.clone(),
            Error::Kube(_) => "KubernetesError".into(),
            Error::Finalizer(inner) => match inner.as_ref() {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.metric_label(),
                _ => "FinalizerError".into(),
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
                Event::Apply(dbi) => apply(&dbi, &ctx, &api).await,
                Event::Cleanup(dbi) => cleanup(&dbi, &ctx, &api).await,
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
    ctx.metrics.failed(&label);
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

/// `revalidationInterval` as a duration; the API server guarantees the shape and minimum.
pub fn interval(dbi: &DatabricksIntegration) -> Duration {
    humantime::parse_duration(&dbi.spec.revalidation_interval)
        .unwrap_or(Duration::from_secs(3600))
        .max(Duration::from_secs(60))
}

/// How long until an enabled resource is due for re-validation, if it is not due yet.
fn not_due(dbi: &DatabricksIntegration) -> Option<Duration> {
    let status = dbi.status.as_ref()?;
    if status.phase != Some(Phase::Enabled) {
        return None;
    }
    let last = status.last_validation_time.as_ref()?.0;
    let elapsed = Timestamp::now().duration_since(last).unsigned_abs();
    interval(dbi).checked_sub(elapsed).filter(|d| !d.is_zero())
}

/// The workspace a connection points at, as `host[:port]` lower-cased: the key of the
/// one-integration-per-workspace rule.
fn workspace_key(dbi: &DatabricksIntegration) -> Option<String> {
    let c = &dbi.spec.connection;
    let (host, port) = parse_workspace_url(&c.workspace_url, u16::try_from(c.port).ok()?).ok()?;
    let host = host.to_ascii_lowercase();
    Some(if port == 443 {
        host
    } else {
        format!("{host}:{port}")
    })
}

/// The older integration for the same workspace, if this one is not the first.
fn duplicate_of(dbi: &DatabricksIntegration, ctx: &Context) -> Option<(String, String)> {
    let key = workspace_key(dbi)?;
    let order = |d: &DatabricksIntegration| {
        (
            d.metadata.creation_timestamp.clone().map(|t| t.0),
            d.namespace().unwrap_or_default(),
            d.name_any(),
        )
    };
    ctx.store
        .state()
        .into_iter()
        .filter(|o| o.uid() != dbi.uid() && o.metadata.deletion_timestamp.is_none())
        .filter(|o| workspace_key(o).as_ref() == Some(&key))
        .filter(|o| order(o) < order(dbi))
        .min_by_key(|o| order(o))
        .map(|o| {
            (
                key.clone(),
                format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any()),
            )
        })
}

/// One reconcile's view of the status: edits a copy and writes it back by server-side apply.
struct Run<'a> {
    ctx: &'a Context,
    api: &'a Api<DatabricksIntegration>,
    dbi: &'a DatabricksIntegration,
    status: DatabricksIntegrationStatus,
    /// What the API server holds: the status read at the start, then each one written.
    on_server: Option<DatabricksIntegrationStatus>,
    generation: Option<i64>,
    now: Time,
}

impl<'a> Run<'a> {
    fn new(
        ctx: &'a Context,
        api: &'a Api<DatabricksIntegration>,
        dbi: &'a DatabricksIntegration,
    ) -> Self {
        Run {
            ctx,
            api,
            dbi,
            status: dbi.status.clone().unwrap_or_default(),
            on_server: dbi.status.clone(),
            generation: dbi.metadata.generation,
            now: Time(Timestamp::now()),
        }
    }

    async fn event(&self, type_: EventType, reason: &str, note: String) {
        let event = KubeEvent {
            type_,
            reason: reason.to_string(),
            // events.k8s.io refuses notes over 1 kB, and the event would be lost.
            note: Some(status::truncate(&note, 1000)),
            action: "Reconcile".into(),
            secondary: None,
        };
        if let Err(e) = self
            .ctx
            .recorder
            .publish(&event, &self.dbi.object_ref(&()))
            .await
        {
            warn!(error = %e, "could not publish an event");
        }
    }

    /// Writes `phase` and `state`; announces a phase change with an event.
    async fn write(&mut self, phase: Phase, state: &State) -> Result<(), Error> {
        let before = self.on_server.as_ref().and_then(|s| s.phase);
        status::set_state(&mut self.status, phase, state, self.generation, &self.now);
        status::apply(self.api, self.dbi, self.on_server.as_ref(), &self.status).await?;
        self.on_server = Some(self.status.clone());
        if before != Some(phase) {
            match state {
                State::Failed {
                    reason, message, ..
                } => {
                    self.event(EventType::Warning, reason, message.clone())
                        .await
                }
                State::Enabled => {
                    self.event(
                        EventType::Normal,
                        "Enabled",
                        "the integration is validated and set up".into(),
                    )
                    .await
                }
                State::Progressing { reason, message } => {
                    self.event(EventType::Normal, reason, message.clone()).await
                }
                State::AwaitingManualSetup { message } => {
                    self.event(EventType::Normal, "AwaitingManualSetup", message.clone())
                        .await
                }
            }
        }
        Ok(())
    }

    /// Puts what validation and setup found into the status (written by the next `write`).
    fn record(&mut self, findings: checks::Findings, bootstrap: BootstrapStatus, setup: &Setup) {
        status::set_condition(
            &mut self.status.conditions,
            BOOTSTRAPPED,
            setup.done,
            setup.reason,
            &setup.message,
            self.generation,
            &self.now,
        );
        self.status.bootstrap = Some(bootstrap);
        self.status.workspace = Some(findings.workspace);
        status::set_validation(&mut self.status, findings.tests, self.generation, &self.now);
    }

    /// A failure before the tests could run: `Validated` must not keep vouching for an
    /// earlier generation.
    fn not_validated(&mut self, reason: &str) {
        let message = format!("the validation tests did not run ({reason})");
        status::set_condition(
            &mut self.status.conditions,
            status::VALIDATED,
            false,
            "NotValidated",
            &message,
            self.generation,
            &self.now,
        );
    }

    /// Records a failure in the status and hands it to the error policy for a backoff retry.
    async fn fail(&mut self, phase: Phase, reason: &str, message: String, stalled: bool) -> Error {
        let state = State::Failed {
            reason: reason.to_string(),
            message: message.clone(),
            stalled,
        };
        if let Err(e) = self.write(phase, &state).await {
            return e;
        }
        Error::Failed {
            reason: reason.to_string(),
            message,
        }
    }
}

async fn apply(
    dbi: &DatabricksIntegration,
    ctx: &Context,
    api: &Api<DatabricksIntegration>,
) -> Result<Action, Error> {
    let oref = ObjectRef::from_obj(dbi);
    let flow = Flow::of(dbi);
    let forced = ctx.take_forced(&oref);
    if flow == Flow::Recheck && !forced {
        // At rest: nothing changed and the last validation is recent. No API calls.
        if let Some(wait) = not_due(dbi) {
            return Ok(Action::requeue(wait));
        }
    }
    let mut run = Run::new(ctx, api, dbi);
    let error_phase = flow.error_phase();
    // Announce a create or edit once per generation; a retry after a failure keeps its error
    // phase until it has a new outcome, so the phase does not flap.
    let announced = dbi.status.as_ref().is_some_and(|s| {
        s.observed_generation == dbi.metadata.generation
            && matches!(s.phase, Some(p) if p == flow.in_progress_phase() || p == error_phase)
    });
    if flow != Flow::Recheck && !announced {
        let (reason, what) = match flow {
            Flow::Create => ("Creating", "creating"),
            _ => ("Editing", "applying the changed spec"),
        };
        run.write(
            flow.in_progress_phase(),
            &State::Progressing {
                reason: reason.into(),
                message: format!("{what}: validating the integration"),
            },
        )
        .await?;
    }

    if let Some((workspace, owner)) = duplicate_of(dbi, ctx) {
        let message =
            format!("Databricks Unity Catalog integration already exists on {workspace} ({owner})");
        run.not_validated("DuplicateWorkspace");
        return Err(run
            .fail(error_phase, "DuplicateWorkspace", message, true)
            .await);
    }

    // Dereference: every referenced Secret, up front.
    let (main, additional) = match connect(ctx, dbi).await {
        Ok(clients) => clients,
        Err(f) => {
            run.not_validated(f.reason);
            return Err(run
                .fail(error_phase, f.reason, f.message, !f.transient)
                .await);
        }
    };

    // Validate.
    let id = format!("{}/{}", dbi.namespace().unwrap_or_default(), dbi.name_any());
    let automatic = dbi.spec.auto_bootstrap;
    let it = Integration {
        id: &id,
        catalog: &dbi.spec.catalog,
        automatic,
        audit: dbi.spec.audit_enabled(),
        // Before automatic setup, grants that setup revokes are no failure.
        check_lockdown: !automatic || flow == Flow::Recheck,
    };
    // Starting compute is expected on the first attempt of a generation, and while the basic
    // connection has not passed yet; polls and retries otherwise leave a stopped warehouse be.
    let policy = if flow != Flow::Recheck && (!announced || !basic_connection_passed(dbi)) {
        ComputePolicy::MayStart
    } else {
        ComputePolicy::OnlyIfRunning
    };
    let mut findings = checks::run(&main, &additional, &it, policy).await;

    // Set up.
    let mut bootstrap_status = BootstrapStatus {
        mode: if automatic {
            BootstrapMode::Automatic
        } else {
            BootstrapMode::Manual
        },
        script_config_map: None,
        applied_spec_hash: run
            .status
            .bootstrap
            .as_ref()
            .and_then(|b| b.applied_spec_hash.clone()),
    };
    let setup = if automatic {
        match automatic_setup(&run, flow, &main, &it, &mut findings).await {
            Ok(setup) => setup,
            Err(e) => {
                let message = e.to_string();
                let stalled = !e.is_retryable();
                return Err(finish_failed(
                    &mut run,
                    flow,
                    findings,
                    bootstrap_status,
                    message,
                    stalled,
                )
                .await);
            }
        }
    } else {
        manual_setup(ctx, dbi, &findings, &mut bootstrap_status).await?
    };
    let failure = findings.failure();
    run.record(findings, bootstrap_status, &setup);
    let (bootstrapped, bootstrap_reason, bootstrap_message) =
        (setup.done, setup.reason, setup.message);
    if let Some(f) = failure {
        return Err(run
            .fail(error_phase, f.reason, f.message, !f.transient)
            .await);
    }
    if !bootstrapped {
        if flow == Flow::Recheck {
            return Err(run
                .fail(error_phase, bootstrap_reason, bootstrap_message, true)
                .await);
        }
        run.write(
            flow.in_progress_phase(),
            &State::AwaitingManualSetup {
                message: bootstrap_message,
            },
        )
        .await?;
        ctx.succeeded(&oref);
        return Ok(Action::requeue(ctx.timing.manual_setup_poll));
    }
    // Recorded only with `enabled`: it is what marks the integration as set up (see Flow::of).
    if let Some(b) = run.status.bootstrap.as_mut() {
        b.applied_spec_hash = Some(bootstrap::spec_hash(dbi));
    }
    run.write(Phase::Enabled, &State::Enabled).await?;
    ctx.succeeded(&oref);
    info!(flow = ?flow, "integration enabled");
    Ok(Action::requeue(interval(dbi)))
}

/// Whether the last validation of the current generation passed `Basic Connection Test`.
fn basic_connection_passed(dbi: &DatabricksIntegration) -> bool {
    let Some(status) = dbi.status.as_ref() else {
        return false;
    };
    status.observed_generation == dbi.metadata.generation
        && status.validation_results.as_ref().is_some_and(|v| {
            v.validation_tests.iter().any(|t| {
                t.name == checks::BASIC_CONNECTION_TEST
                    && t.status == crate::api::TestStatus::Passed
            })
        })
}

/// A failure before validation could start.
struct Failure {
    reason: &'static str,
    message: String,
    transient: bool,
}

/// The clients of the main connection and of each additional one (with its catalogs).
async fn connect(
    ctx: &Context,
    dbi: &DatabricksIntegration,
) -> Result<(WorkspaceClient, Vec<(WorkspaceClient, Vec<String>)>), Failure> {
    let mut secrets = SecretReader::new(ctx.kube.clone(), &dbi.namespace().unwrap_or_default());
    let mut clients = Vec::new();
    for connection in dbi.spec.connections() {
        clients.push(client_for(ctx, &mut secrets, connection).await?);
    }
    let main = clients.remove(0);
    let additional = clients
        .into_iter()
        .zip(dbi.spec.additional_workspace_connections.iter().flatten())
        .map(|(client, c)| (client, c.catalogs.clone()))
        .collect();
    Ok((main, additional))
}

/// The (cached) client of one connection, its Secrets resolved.
async fn client_for(
    ctx: &Context,
    secrets: &mut SecretReader,
    connection: &crate::api::Connection,
) -> Result<WorkspaceClient, Failure> {
    let config = secrets.connection(connection).await.map_err(|e| Failure {
        reason: e.reason(),
        message: e.to_string(),
        transient: !e.needs_user(),
    })?;
    ctx.databricks.get(config).map_err(|e| Failure {
        reason: "InvalidConfiguration",
        message: e.to_string(),
        transient: false,
    })
}

/// The `Bootstrapped` condition.
struct Setup {
    done: bool,
    reason: &'static str,
    message: String,
}

/// Runs the setup plan when validation allows it (and, on a periodic check, to repair drift
/// while the compute already runs), then verifies the catalog.
async fn automatic_setup(
    run: &Run<'_>,
    flow: Flow,
    main: &WorkspaceClient,
    it: &Integration<'_>,
    findings: &mut checks::Findings,
) -> Result<Setup, crate::databricks::Error> {
    let catalog = it.catalog;
    let repairable = matches!(
        findings.catalog,
        CatalogState::Missing | CatalogState::OursUntagged | CatalogState::Drifted(_)
    );
    let should_run = match flow {
        Flow::Create | Flow::Edit => findings.failure().is_none(),
        Flow::Recheck => repairable && findings.compute_available && findings.only_catalog_failed(),
    };
    if should_run {
        let principal = findings.workspace.principal.clone().unwrap_or_default();
        bootstrap::run_setup(main, run.dbi, &principal).await?;
        checks::verify_catalog(main, it, findings).await;
        if findings.catalog == CatalogState::Ours {
            let note = if flow == Flow::Recheck {
                "DriftRepaired"
            } else {
                "SetupApplied"
            };
            let message = format!("catalog {catalog} is set up and owned by {principal}");
            run.event(EventType::Normal, note, message).await;
        }
    }
    Ok(match (&findings.catalog, should_run) {
        (CatalogState::Ours, _) => Setup {
            done: true,
            reason: "SetupApplied",
            message: format!("catalog {catalog} is set up"),
        },
        (_, true) => Setup {
            done: false,
            reason: "SetupFailed",
            message: "setup ran but the catalog does not look set up".into(),
        },
        (_, false) => Setup {
            done: false,
            reason: "WaitingForValidation",
            message: "setup runs once validation passes".into(),
        },
    })
}

/// Publishes the script (once the principal is known) and reports whether it has been run.
async fn manual_setup(
    ctx: &Context,
    dbi: &DatabricksIntegration,
    findings: &checks::Findings,
    status: &mut BootstrapStatus,
) -> Result<Setup, Error> {
    let Some(principal) = &findings.workspace.principal else {
        return Ok(Setup {
            done: false,
            reason: "WaitingForValidation",
            message: "the script is published once the service principal is known".into(),
        });
    };
    let name = bootstrap::publish_script(ctx, dbi, principal).await?;
    status.script_config_map = Some(name.clone());
    Ok(if findings.catalog == CatalogState::Ours {
        Setup {
            done: true,
            reason: "ManualSetupVerified",
            message: "the setup script has been run".into(),
        }
    } else {
        Setup {
            done: false,
            reason: "AwaitingManualSetup",
            message: format!(
                "run setup.sql from ConfigMap {name} as a privileged user (metastore admin) in a Databricks SQL editor"
            ),
        }
    })
}

/// A setup failure: the validation results still go into the status.
async fn finish_failed(
    run: &mut Run<'_>,
    flow: Flow,
    findings: checks::Findings,
    bootstrap: BootstrapStatus,
    message: String,
    stalled: bool,
) -> Error {
    let setup = Setup {
        done: false,
        reason: "SetupFailed",
        message,
    };
    run.record(findings, bootstrap, &setup);
    run.fail(flow.error_phase(), setup.reason, setup.message, stalled)
        .await
}

async fn cleanup(
    dbi: &DatabricksIntegration,
    ctx: &Context,
    api: &Api<DatabricksIntegration>,
) -> Result<Action, Error> {
    let mut run = Run::new(ctx, api, dbi);
    let catalog = &dbi.spec.catalog;
    // A retry after a failed cleanup keeps `deleteError` until it has a new outcome.
    if phase_of(dbi) != Some(Phase::DeleteError) {
        let deleting = State::Progressing {
            reason: "Deleting".into(),
            message: "cleaning up".into(),
        };
        run.write(Phase::Deleting, &deleting).await?;
    }
    if dbi.spec.deletion_policy == DeletionPolicy::Retain || !dbi.spec.auto_bootstrap {
        let why = if dbi.spec.auto_bootstrap {
            "deletionPolicy is Retain"
        } else {
            "manual setup: run cleanup.sql from the setup ConfigMap to drop it"
        };
        run.event(
            EventType::Normal,
            "CatalogRetained",
            format!("catalog {catalog} is kept ({why})"),
        )
        .await;
        ctx.forget(&ObjectRef::from_obj(dbi));
        return Ok(Action::await_change());
    }
    let hint =
        "; fix it, or set deletionPolicy: Retain to delete the resource and keep the catalog";
    let mut secrets = SecretReader::new(ctx.kube.clone(), &dbi.namespace().unwrap_or_default());
    let client = match client_for(ctx, &mut secrets, &dbi.spec.connection).await {
        Ok(c) => c,
        Err(f) => {
            let message = format!("{}{hint}", f.message);
            return Err(run
                .fail(Phase::DeleteError, f.reason, message, !f.transient)
                .await);
        }
    };
    let id = format!("{}/{}", dbi.namespace().unwrap_or_default(), dbi.name_any());
    match bootstrap::drop_catalog(&client, catalog, &id).await {
        Ok(bootstrap::Dropped::Yes) => {
            let note = format!("catalog {catalog} dropped");
            run.event(EventType::Normal, "CatalogDropped", note).await;
        }
        Ok(bootstrap::Dropped::Absent) => {}
        Ok(bootstrap::Dropped::NotOurs(owner)) => {
            let note = format!(
                "catalog {catalog} is not marked as this integration's ({owner}); it is left in place"
            );
            run.event(EventType::Warning, "CatalogNotDropped", note)
                .await;
        }
        Err(e) => {
            let reason = checks::reason_of(&e);
            let message = format!("could not drop catalog {catalog}: {e}{hint}");
            let stalled = !e.is_retryable();
            return Err(run.fail(Phase::DeleteError, reason, message, stalled).await);
        }
    }
    ctx.forget(&ObjectRef::from_obj(dbi));
    Ok(Action::await_change())
}

fn phase_of(dbi: &DatabricksIntegration) -> Option<Phase> {
    dbi.status.as_ref().and_then(|s| s.phase)
}
