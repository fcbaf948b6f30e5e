//! The one place a live resource's status is written: the announcement of a create or edit
//! (so that work in progress is visible), and the [`Decision`] a reconcile ends with — one
//! server-side apply under the operator's field manager, skipped when nothing changed, then the
//! decision's events and what the controller does next.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::reflector::ObjectRef;
use tracing::{info, warn};

use super::context::Context;
use super::decide::{Decision, Next, Note, StatusChange, transition_event};
use super::error::Error;
use super::flow::{self, Flow};
use super::status::{self, State};
use crate::api::{DatabricksIntegration, DatabricksIntegrationStatus, Phase};

pub struct StatusWriter<'a> {
    ctx: &'a Context,
    api: Api<DatabricksIntegration>,
    dbi: &'a DatabricksIntegration,
    /// The status this reconcile builds: what the server held, plus what it decided.
    status: DatabricksIntegrationStatus,
    /// What the API server holds: the status read at the start, then each one written.
    on_server: Option<DatabricksIntegrationStatus>,
    now: Time,
}

impl<'a> StatusWriter<'a> {
    pub fn new(ctx: &'a Context, dbi: &'a DatabricksIntegration) -> Self {
        let ns = dbi.metadata.namespace.clone().unwrap_or_default();
        StatusWriter {
            ctx,
            api: Api::namespaced(ctx.kube.clone(), &ns),
            dbi,
            status: dbi.status.clone().unwrap_or_default(),
            on_server: dbi.status.clone(),
            now: Time(Timestamp::now()),
        }
    }

    /// Writes `creating`/`editing` once per generation (a retry keeps its error phase until it
    /// has a new outcome, so the phase does not flap), and the request being handled.
    pub async fn announce(&mut self, flow: Flow, requested: Option<String>) -> Result<(), Error> {
        if requested.is_some() {
            self.status.last_handled_reconcile_at = requested;
        }
        let Some((reason, message)) = flow.announcement() else {
            return Ok(());
        };
        if flow::announced(self.dbi, flow) {
            return Ok(());
        }
        let state = State::Progressing {
            reason,
            message: message.into(),
        };
        self.write_status(flow.in_progress_phase(), state).await
    }

    /// Says, before `CREATE CATALOG`, that setup started: a deletion after an interrupted setup
    /// then looks for the catalog instead of assuming nothing was created.
    pub async fn setup_started(&mut self) -> Result<(), Error> {
        let (generation, now) = (self.dbi.metadata.generation, &self.now);
        let message = "automatic setup is creating the catalog";
        status::set_condition(
            &mut self.status.conditions,
            status::BOOTSTRAPPED,
            false,
            crate::failure::Reason::SetupStarted,
            message,
            generation,
            now,
        );
        status::apply(&self.api, self.dbi, self.on_server.as_ref(), &self.status).await?;
        self.on_server = Some(self.status.clone());
        Ok(())
    }

    /// Writes `deleting` once (a retry after a failed cleanup keeps `deleteError`).
    pub async fn announce_deletion(&mut self) -> Result<(), Error> {
        if self.dbi.status.as_ref().and_then(|s| s.phase) == Some(Phase::DeleteError) {
            return Ok(());
        }
        let state = State::Progressing {
            reason: crate::failure::Reason::Deleting,
            message: "cleaning up".into(),
        };
        self.write_status(Phase::Deleting, state).await
    }

    /// Applies a decision: its status (one write at most), its events, then what comes next.
    pub async fn write(mut self, decision: Decision) -> Result<Action, Error> {
        let Decision {
            status,
            notes,
            next,
        } = decision;
        if let Some(change) = status {
            self.apply(change).await?;
        }
        for note in notes {
            self.event(note).await;
        }
        let oref = ObjectRef::from_obj(self.dbi);
        Ok(match next {
            Next::Retry(failure) => return Err(Error::Failed(failure)),
            Next::PollManualSetup | Next::PollCompute => {
                self.ctx.succeeded(&oref);
                Action::requeue(self.ctx.timing.manual_setup_poll)
            }
            Next::Revalidate => {
                self.ctx.succeeded(&oref);
                info!("integration enabled");
                let uid = self.dbi.metadata.uid.as_deref().unwrap_or_default();
                let interval = flow::interval(self.dbi);
                Action::requeue(flow::until_due(uid, Timestamp::now(), interval))
            }
            Next::AwaitChange => {
                self.ctx.succeeded(&oref);
                Action::await_change()
            }
            Next::Done => {
                self.ctx.forget(&oref);
                Action::await_change()
            }
        })
    }

    async fn apply(&mut self, change: StatusChange) -> Result<(), Error> {
        let generation = self.dbi.metadata.generation;
        if let Some(reason) = change.not_validated {
            status::not_validated(&mut self.status, reason, generation, &self.now);
        }
        if let Some(record) = &change.record {
            status::record(&mut self.status, record, generation, &self.now);
        }
        self.write_status(change.phase, change.state).await
    }

    /// Sets `phase` and `state`, writes the status when it changed, and announces a phase
    /// change with an event.
    async fn write_status(&mut self, phase: Phase, state: State) -> Result<(), Error> {
        let before = self.on_server.as_ref().and_then(|s| s.phase);
        let generation = self.dbi.metadata.generation;
        status::set_state(&mut self.status, phase, &state, generation, &self.now);
        let expiring = super::observe::prepare(&mut self.status, self.on_server.as_ref(), self.dbi);
        status::apply(&self.api, self.dbi, self.on_server.as_ref(), &self.status).await?;
        self.on_server = Some(self.status.clone());
        for message in expiring {
            let reason = crate::failure::Reason::CredentialExpiringSoon;
            self.event(Note {
                warning: true,
                reason,
                message,
            })
            .await;
        }
        if let Some(note) = transition_event(before, phase, &state) {
            self.event(note).await;
        }
        Ok(())
    }

    /// Publishes an event; a namespace that refuses it (terminating) leaves it in the log.
    pub async fn event(&self, note: Note) {
        publish(self.ctx, self.dbi, note).await
    }
}

/// Publishes one event on the resource (its note bounded to what events.k8s.io accepts).
pub async fn publish(ctx: &Context, dbi: &DatabricksIntegration, note: Note) {
    let type_ = if note.warning {
        EventType::Warning
    } else {
        EventType::Normal
    };
    let event = Event {
        type_,
        reason: note.reason.as_str().to_string(),
        // events.k8s.io refuses notes over 1 kB, and the event would be lost.
        note: Some(status::truncate(&note.message, 1000)),
        action: "Reconcile".into(),
        secondary: None,
    };
    let reference = dbi.object_ref(&());
    if let Err(e) = ctx.events.publish(&event, &reference).await {
        // A terminating namespace refuses new events: the log keeps what it said.
        let note = event.note.as_deref().unwrap_or_default();
        warn!(error = %e, reason = %event.reason, note, "could not publish an event");
    }
}
