//! One reconcile's view of the status: edits a copy, writes it back by server-side apply only
//! when it changed, and announces phase changes with events.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::Api;
use kube::runtime::events::{Event, EventType};
use tracing::warn;

use super::super::context::Context;
use super::super::flow::{self, Flow};
use super::super::observe;
use super::super::reconcile::Error;
use super::super::status::{self, BOOTSTRAPPED, State, VALIDATED};
use crate::api::{DatabricksIntegration, DatabricksIntegrationStatus, Phase, SetupStatus};
use crate::checks::Findings;
use crate::failure::{Failure, Reason};

/// The `Bootstrapped` condition: whether the catalog is set up, and why (not).
#[derive(Clone, Debug, PartialEq)]
pub struct SetupCondition {
    pub done: bool,
    pub reason: Reason,
    pub message: String,
}

impl SetupCondition {
    pub fn failed(f: &Failure) -> Self {
        SetupCondition {
            done: false,
            reason: f.reason,
            message: f.message.clone(),
        }
    }
}

pub struct Report<'a> {
    pub ctx: &'a Context,
    api: Api<DatabricksIntegration>,
    pub dbi: &'a DatabricksIntegration,
    pub status: DatabricksIntegrationStatus,
    /// What the API server holds: the status read at the start, then each one written.
    on_server: Option<DatabricksIntegrationStatus>,
    generation: Option<i64>,
    now: Time,
}

impl<'a> Report<'a> {
    pub fn new(ctx: &'a Context, dbi: &'a DatabricksIntegration) -> Self {
        let ns = dbi.metadata.namespace.clone().unwrap_or_default();
        Report {
            ctx,
            api: Api::namespaced(ctx.kube.clone(), &ns),
            dbi,
            status: dbi.status.clone().unwrap_or_default(),
            on_server: dbi.status.clone(),
            generation: dbi.metadata.generation,
            now: Time(Timestamp::now()),
        }
    }

    pub async fn event(&self, type_: EventType, reason: Reason, note: String) {
        let event = Event {
            type_,
            reason: reason.as_str().to_string(),
            // events.k8s.io refuses notes over 1 kB, and the event would be lost.
            note: Some(status::truncate(&note, 1000)),
            action: "Reconcile".into(),
            secondary: None,
        };
        let reference = self.dbi.object_ref(&());
        if let Err(e) = self.ctx.recorder.publish(&event, &reference).await {
            // A terminating namespace refuses new events: the log keeps what it said.
            let note = event.note.as_deref().unwrap_or_default();
            warn!(error = %e, reason = %event.reason, note, "could not publish an event");
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
        self.write(flow.in_progress_phase(), &state).await
    }

    /// Writes `phase` and `state`; announces a phase change with an event.
    pub async fn write(&mut self, phase: Phase, state: &State) -> Result<(), Error> {
        let before = self.on_server.as_ref().and_then(|s| s.phase);
        status::set_state(&mut self.status, phase, state, self.generation, &self.now);
        let expiring = observe::prepare(&mut self.status, self.on_server.as_ref(), self.dbi);
        status::apply(&self.api, self.dbi, self.on_server.as_ref(), &self.status).await?;
        self.on_server = Some(self.status.clone());
        for note in expiring {
            self.event(EventType::Warning, Reason::CredentialExpiringSoon, note)
                .await;
        }
        if before == Some(phase) {
            return Ok(());
        }
        let (type_, reason, note) = match state {
            State::Failed(f) => (EventType::Warning, f.reason, f.message.clone()),
            State::Enabled => (
                EventType::Normal,
                Reason::Enabled,
                "the integration is validated and set up".into(),
            ),
            // A new resource's first status says `creating`; its next event (Enabled or a
            // Warning) follows within one reconcile, so the announcement costs no event.
            State::Progressing {
                reason: Reason::Creating,
                ..
            } => return Ok(()),
            State::Progressing { reason, message } => (EventType::Normal, *reason, message.clone()),
            State::AwaitingManualSetup { message } => (
                EventType::Normal,
                Reason::AwaitingManualSetup,
                message.clone(),
            ),
            State::Suspended => return Ok(()),
        };
        self.event(type_, reason, note).await;
        Ok(())
    }

    /// Puts what validation and setup found into the status (written by the next `write`).
    pub fn record(&mut self, findings: &Findings, setup: SetupStatus, condition: &SetupCondition) {
        status::set_condition(
            &mut self.status.conditions,
            BOOTSTRAPPED,
            condition.done,
            condition.reason,
            &condition.message,
            self.generation,
            &self.now,
        );
        self.status.bootstrap = Some(setup);
        let main = findings.main();
        self.status.workspace = Some(crate::api::WorkspaceStatus {
            workspace_id: main.workspace_id,
            metastore_id: main.metastore_id,
            principal: main.principal,
        });
        let tests = status::validation_tests(findings);
        self.status.connections = status::connections(findings, &tests);
        status::set_validation(&mut self.status, tests, self.generation, &self.now);
    }

    /// A failure before the tests could run: `Validated` must not keep vouching for an
    /// earlier generation.
    pub fn not_validated(&mut self, reason: Reason) {
        let message = format!("the validation tests did not run ({reason})");
        status::set_condition(
            &mut self.status.conditions,
            VALIDATED,
            false,
            Reason::NotValidated,
            &message,
            self.generation,
            &self.now,
        );
    }

    /// A failure before the tests could run (Secrets, duplicate workspace).
    pub async fn fail_unvalidated(&mut self, phase: Phase, failure: Failure) -> Error {
        self.not_validated(failure.reason);
        self.fail(phase, failure).await
    }

    /// Records a failure in the status and hands it to the error policy for a backoff retry.
    pub async fn fail(&mut self, phase: Phase, failure: Failure) -> Error {
        if let Err(e) = self.write(phase, &State::Failed(failure.clone())).await {
            return e;
        }
        Error::Failed(failure)
    }
}
