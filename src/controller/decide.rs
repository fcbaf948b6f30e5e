//! The one decision of a reconcile. The phases return what they found (an [`Outcome`]); [`decide`]
//! turns it into a [`Decision`] — the phase, the conditions' state, what to record, the events
//! and what happens next — which `write` applies in one status write. Pure: every branch is a
//! unit test (`decide/tests.rs`) with no API server.

use crate::api::{DatabricksIntegration, Phase, SetupStatus};
use crate::checks::Findings;
use crate::failure::{Failure, Reason};

use super::flow::Flow;
use super::status::State;

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

/// Something a user should hear of as an event (what setup or cleanup did or left).
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub warning: bool,
    pub reason: Reason,
    pub message: String,
}

impl Note {
    pub fn normal(reason: Reason, message: impl Into<String>) -> Self {
        Note {
            warning: false,
            reason,
            message: message.into(),
        }
    }

    pub fn warning(reason: Reason, message: impl Into<String>) -> Self {
        Note {
            warning: true,
            reason,
            message: message.into(),
        }
    }
}

/// What the setup phase did: the `bootstrap` status, the `Bootstrapped` condition, and a
/// failure that stops the integration from being enabled.
#[derive(Clone, Debug, PartialEq)]
pub struct SetupOutcome {
    pub status: SetupStatus,
    pub condition: SetupCondition,
    /// Automatic setup failed, or the manual script could not be published.
    pub failure: Option<Failure>,
    pub notes: Vec<Note>,
}

/// What the phases of a live resource's reconcile found.
// One value per reconcile, moved once into the decision: boxing would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Outcome {
    /// A step before the tests failed (the workspace is held, a Secret): nothing was validated.
    NotValidated(Failure),
    /// The tests ran, and setup ran or waited as they allowed.
    Checked {
        findings: Findings,
        setup: SetupOutcome,
    },
    /// The cluster was started and is not running yet: come back for it (what it is doing).
    WaitingForCompute(String),
}

/// What to record from the tests and setup: test results, the discovered workspace,
/// `Validated`, `Bootstrapped` and `bootstrap`.
#[derive(Debug)]
pub struct Record {
    pub findings: Findings,
    pub setup: SetupStatus,
    pub condition: SetupCondition,
}

/// The status a decision writes.
#[derive(Debug)]
pub struct StatusChange {
    pub phase: Phase,
    pub state: State,
    pub record: Option<Record>,
    /// The tests did not run, for this reason: `Validated` must not vouch for an earlier run.
    pub not_validated: Option<Reason>,
}

/// What the controller does after the write.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Retry with backoff (the failure is in the status).
    Retry(Failure),
    /// Manual setup: look again after the poll interval.
    PollManualSetup,
    /// A starting cluster: look again after the poll interval.
    PollCompute,
    /// Enabled: rest until the resource's re-validation slot.
    Revalidate,
    /// Nothing until the resource changes (suspended).
    AwaitChange,
    /// Deletion finished: forget the resource.
    Done,
}

#[derive(Debug)]
pub struct Decision {
    /// `None`: leave the status as it is (a finished deletion).
    pub status: Option<StatusChange>,
    pub notes: Vec<Note>,
    pub next: Next,
}

impl Decision {
    /// A failure in `phase`, retried with backoff.
    pub fn failed(phase: Phase, failure: Failure) -> Self {
        Decision {
            status: Some(StatusChange {
                phase,
                state: State::Failed(failure.clone()),
                record: None,
                not_validated: None,
            }),
            notes: Vec::new(),
            next: Next::Retry(failure),
        }
    }

    fn with_record(mut self, record: Record) -> Self {
        if let Some(s) = self.status.as_mut() {
            s.record = Some(record);
        }
        self
    }
}

/// The decision for a live resource: an error phase, waiting for the manual script, or enabled
/// until the next re-check. `spec_hash` is recorded with `enabled`: it marks the integration as
/// set up (see `Flow::of`).
pub fn decide(flow: Flow, outcome: Outcome, spec_hash: String) -> Decision {
    let (findings, setup) = match outcome {
        Outcome::NotValidated(f) => {
            let mut d = Decision::failed(flow.error_phase(), f.clone());
            if let Some(s) = d.status.as_mut() {
                s.not_validated = Some(f.reason);
            }
            return d;
        }
        Outcome::Checked { findings, setup } => (findings, setup),
        Outcome::WaitingForCompute(message) => {
            let state = State::Progressing {
                reason: Reason::ComputeStarting,
                message,
            };
            return Decision {
                status: Some(StatusChange {
                    phase: flow.in_progress_phase(),
                    state,
                    record: None,
                    not_validated: None,
                }),
                notes: Vec::new(),
                next: Next::PollCompute,
            };
        }
    };
    let SetupOutcome {
        status: mut setup_status,
        condition,
        failure: setup_failure,
        notes,
    } = setup;
    // Statements still to run explain a failing test: waiting for them is no failure.
    let awaiting = condition.reason == Reason::AwaitingManualSetup && flow != Flow::Recheck;
    let failure = setup_failure
        .or_else(|| findings.failure().filter(|_| !awaiting))
        .or_else(|| {
            // A re-check that finds the setup undone is a failure, not a wait.
            (!condition.done && flow == Flow::Recheck)
                .then(|| Failure::user(condition.reason, condition.message.clone()))
        });
    let (phase, state, next) = match failure {
        Some(f) => (flow.error_phase(), State::Failed(f.clone()), Next::Retry(f)),
        None if !condition.done => {
            let state = State::AwaitingManualSetup {
                message: condition.message.clone(),
            };
            (flow.in_progress_phase(), state, Next::PollManualSetup)
        }
        None => {
            setup_status.applied_spec_hash = Some(spec_hash);
            (Phase::Enabled, State::Enabled, Next::Revalidate)
        }
    };
    Decision {
        status: Some(StatusChange {
            phase,
            state,
            record: None,
            not_validated: None,
        }),
        notes,
        next,
    }
    .with_record(Record {
        findings,
        setup: setup_status,
        condition,
    })
}

/// `spec.suspend`: no Databricks request; only `Reconciling` says so, in the phase it had.
pub fn suspended(dbi: &DatabricksIntegration) -> Decision {
    let phase = dbi
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(Flow::of(dbi).in_progress_phase());
    Decision {
        status: Some(StatusChange {
            phase,
            state: State::Suspended,
            record: None,
            not_validated: None,
        }),
        notes: Vec::new(),
        next: Next::AwaitChange,
    }
}

/// A reconcile cut short (deadline, panic): reported in the phase of the flow it was in.
pub fn interrupted(dbi: &DatabricksIntegration, failure: Failure) -> Decision {
    let phase = if dbi.metadata.deletion_timestamp.is_some() {
        Phase::DeleteError
    } else {
        Flow::of(dbi).error_phase()
    };
    Decision::failed(phase, failure)
}

/// What the cleanup phase found: what to tell users, or why the catalog could not be dropped.
pub fn deletion(notes: Vec<Note>, failure: Option<Failure>) -> Decision {
    match failure {
        Some(f) => Decision {
            notes,
            ..Decision::failed(Phase::DeleteError, f)
        },
        None => Decision {
            status: None,
            notes,
            next: Next::Done,
        },
    }
}

/// The event that announces a phase change, if any (`before`: the phase on the server).
pub fn transition_event(before: Option<Phase>, phase: Phase, state: &State) -> Option<Note> {
    if before == Some(phase) {
        return None;
    }
    match state {
        State::Failed(f) => Some(Note::warning(f.reason, f.message.clone())),
        State::Enabled => Some(Note::normal(
            Reason::Enabled,
            "the integration is validated and set up",
        )),
        // A new resource's first status says `creating`; its next event (Enabled or a Warning)
        // follows within one reconcile, so the announcement costs no event.
        State::Progressing {
            reason: Reason::Creating,
            ..
        } => None,
        State::Progressing { reason, message } => Some(Note::normal(*reason, message.clone())),
        State::AwaitingManualSetup { message } => {
            Some(Note::normal(Reason::AwaitingManualSetup, message.clone()))
        }
        State::Suspended => None,
    }
}

#[cfg(test)]
mod tests;
