//! Building the status (phase, kstatus conditions) from what a reconcile found, and writing it by
//! server-side apply. Pure functions except [`apply`], so the rules are unit-tested.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::api::{
    DatabricksIntegration, DatabricksIntegrationStatus, FIELD_MANAGER, Phase, TestStatus,
    ValidationTest,
};

pub const READY: &str = "Ready";
pub const RECONCILING: &str = "Reconciling";
pub const STALLED: &str = "Stalled";
pub const VALIDATED: &str = "Validated";
pub const BOOTSTRAPPED: &str = "Bootstrapped";

/// Which of the contract's three flows a reconcile is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Never enabled yet: `creating` → `enabled` | `createError`.
    Create,
    /// A new generation after it was enabled: `editing` → `enabled` | `editError`.
    Edit,
    /// The periodic re-check of an unchanged spec: `enabled` | `recurringValidationError`.
    Recheck,
}

impl Flow {
    /// Decides the flow from the resource's own status, so it survives restarts.
    pub fn of(dbi: &DatabricksIntegration) -> Flow {
        let status = dbi.status.as_ref();
        if matches!(
            status.and_then(|s| s.phase),
            None | Some(Phase::Creating | Phase::CreateError)
        ) {
            return Flow::Create;
        }
        let set_up = status
            .and_then(|s| s.bootstrap.as_ref())
            .is_some_and(|b| b.applied_spec_hash.is_some());
        if !set_up {
            return Flow::Create;
        }
        let observed = status.and_then(|s| s.observed_generation);
        let phase = status.and_then(|s| s.phase);
        if observed != dbi.metadata.generation
            || matches!(phase, Some(Phase::Editing | Phase::EditError))
        {
            Flow::Edit
        } else {
            Flow::Recheck
        }
    }

    pub fn in_progress_phase(self) -> Phase {
        match self {
            Flow::Create => Phase::Creating,
            Flow::Edit => Phase::Editing,
            Flow::Recheck => Phase::Enabled,
        }
    }

    pub fn error_phase(self) -> Phase {
        match self {
            Flow::Create => Phase::CreateError,
            Flow::Edit => Phase::EditError,
            Flow::Recheck => Phase::RecurringValidationError,
        }
    }
}

/// The state a reconcile ends in, with the reason and message users see on the conditions.
#[derive(Clone, Debug, PartialEq)]
pub enum State {
    /// Working on it (first write of a create or edit, or a deletion under way).
    Progressing { reason: String, message: String },
    /// Validated and set up for the current generation.
    Enabled,
    /// Manual setup: the script is published and has not been run yet.
    AwaitingManualSetup { message: String },
    /// Something failed. `stalled` when only a user can fix it; otherwise it is retried.
    Failed {
        reason: String,
        message: String,
        stalled: bool,
    },
}

/// Sets (or keeps) one condition, preserving `lastTransitionTime` unless the status changed.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &Time,
) {
    let status = if status { "True" } else { "False" };
    let previous = conditions.iter().position(|c| c.type_ == type_);
    let last_transition_time = match previous.map(|i| &conditions[i]) {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => now.clone(),
    };
    let condition = Condition {
        type_: type_.to_string(),
        status: status.to_string(),
        reason: reason.to_string(),
        message: truncate(message, 32 * 1024),
        observed_generation: generation,
        last_transition_time,
    };
    match previous {
        Some(i) => conditions[i] = condition,
        None => conditions.push(condition),
    }
}

pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Writes phase and the three kstatus conditions plus `Validated`/`Bootstrapped` for `state`.
pub fn set_state(
    status: &mut DatabricksIntegrationStatus,
    phase: Phase,
    state: &State,
    generation: Option<i64>,
    now: &Time,
) {
    status.phase = Some(phase);
    status.observed_generation = generation;
    let c = &mut status.conditions;
    match state {
        State::Enabled => {
            set_condition(
                c,
                READY,
                true,
                "Enabled",
                "the integration is validated and set up",
                generation,
                now,
            );
            set_condition(c, RECONCILING, false, "Enabled", "", generation, now);
            set_condition(c, STALLED, false, "Enabled", "", generation, now);
        }
        State::Progressing { reason, message } => {
            set_condition(c, READY, false, reason, message, generation, now);
            set_condition(c, RECONCILING, true, reason, message, generation, now);
            set_condition(c, STALLED, false, reason, "", generation, now);
        }
        State::AwaitingManualSetup { message } => {
            let reason = "AwaitingManualSetup";
            set_condition(c, READY, false, reason, message, generation, now);
            set_condition(c, RECONCILING, true, reason, message, generation, now);
            // A person must act, but this is the expected path of manual setup, not a failure.
            set_condition(c, STALLED, false, reason, "", generation, now);
        }
        State::Failed {
            reason,
            message,
            stalled,
        } => {
            set_condition(c, READY, false, reason, message, generation, now);
            if *stalled {
                set_condition(c, RECONCILING, false, reason, "", generation, now);
                set_condition(c, STALLED, true, reason, message, generation, now);
            } else {
                let retrying = format!("retrying: {message}");
                set_condition(c, RECONCILING, true, reason, &retrying, generation, now);
                set_condition(c, STALLED, false, reason, "", generation, now);
            }
        }
    }
}

/// Sets `validationResults` and the `Validated` condition from the tests that ran.
pub fn set_validation(
    status: &mut DatabricksIntegrationStatus,
    tests: Vec<ValidationTest>,
    generation: Option<i64>,
    now: &Time,
) {
    let overall = overall(&tests);
    let failed: Vec<String> = tests
        .iter()
        .filter(|t| t.status == TestStatus::Failed)
        .map(|t| match &t.message {
            Some(m) => format!("{}: {m}", t.name),
            None => t.name.clone(),
        })
        .collect();
    let (ok, reason, message) = match overall {
        TestStatus::Failed => (false, "ValidationFailed", failed.join("; ")),
        TestStatus::Warning => (true, "PassedWithWarnings", warnings(&tests)),
        _ => (true, "Passed", "all validation tests passed".to_string()),
    };
    set_condition(
        &mut status.conditions,
        VALIDATED,
        ok,
        reason,
        &message,
        generation,
        now,
    );
    status.validation_results = Some(crate::api::ValidationResults {
        status: overall,
        validation_tests: tests,
    });
    status.last_validation_time = Some(now.clone());
}

fn warnings(tests: &[ValidationTest]) -> String {
    tests
        .iter()
        .filter(|t| t.status == TestStatus::Warning)
        .map(|t| format!("{}: {}", t.name, t.message.as_deref().unwrap_or("")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `failed` if any test failed, else `warning` if any warned, else `passed`.
pub fn overall(tests: &[ValidationTest]) -> TestStatus {
    if tests.iter().any(|t| t.status == TestStatus::Failed) {
        TestStatus::Failed
    } else if tests.iter().any(|t| t.status == TestStatus::Warning) {
        TestStatus::Warning
    } else {
        TestStatus::Passed
    }
}

/// Writes the whole status by server-side apply under the operator's field manager. Skips the
/// call when it equals what the server holds (`on_server`, the last status read or written), so
/// a reconcile that finds nothing new costs no API write.
pub async fn apply(
    api: &Api<DatabricksIntegration>,
    dbi: &DatabricksIntegration,
    on_server: Option<&DatabricksIntegrationStatus>,
    status: &DatabricksIntegrationStatus,
) -> Result<(), kube::Error> {
    if on_server == Some(status) {
        return Ok(());
    }
    let name = dbi.metadata.name.as_deref().unwrap_or_default();
    let patch = json!({
        "apiVersion": "uc-operator.dev/v1alpha1",
        "kind": "DatabricksIntegration",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::jiff::Timestamp;

    fn at(secs: i64) -> Time {
        Time(Timestamp::from_second(secs).unwrap())
    }

    fn get<'a>(s: &'a DatabricksIntegrationStatus, t: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == t).unwrap()
    }

    #[test]
    fn transition_time_changes_only_with_the_status() {
        let mut s = DatabricksIntegrationStatus::default();
        let failed = State::Failed {
            reason: "AuthenticationFailed".into(),
            message: "first".into(),
            stalled: true,
        };
        set_state(&mut s, Phase::CreateError, &failed, Some(1), &at(100));
        assert_eq!(get(&s, READY).last_transition_time, at(100));
        // Same status, new message and generation: the transition time stays.
        let failed_again = State::Failed {
            reason: "AuthenticationFailed".into(),
            message: "second".into(),
            stalled: true,
        };
        set_state(&mut s, Phase::CreateError, &failed_again, Some(2), &at(200));
        let ready = get(&s, READY);
        assert_eq!(ready.last_transition_time, at(100));
        assert_eq!(ready.message, "second");
        assert_eq!(ready.observed_generation, Some(2));
        // The status flips: now it moves.
        set_state(&mut s, Phase::Enabled, &State::Enabled, Some(2), &at(300));
        assert_eq!(get(&s, READY).status, "True");
        assert_eq!(get(&s, READY).last_transition_time, at(300));
        assert_eq!(get(&s, STALLED).last_transition_time, at(300));
        assert_eq!(get(&s, STALLED).status, "False");
    }

    #[test]
    fn kstatus_conditions_follow_the_state() {
        let mut s = DatabricksIntegrationStatus::default();
        let transient = State::Failed {
            reason: "WorkspaceUnavailable".into(),
            message: "503".into(),
            stalled: false,
        };
        set_state(&mut s, Phase::CreateError, &transient, Some(1), &at(1));
        assert_eq!(get(&s, RECONCILING).status, "True");
        assert_eq!(get(&s, STALLED).status, "False");
        let progressing = State::Progressing {
            reason: "Creating".into(),
            message: "validating".into(),
        };
        set_state(&mut s, Phase::Creating, &progressing, Some(1), &at(2));
        assert_eq!(get(&s, READY).status, "False");
        assert_eq!(get(&s, READY).reason, "Creating");
        assert_eq!(s.phase, Some(Phase::Creating));
    }

    #[test]
    fn overall_status_is_the_worst_test() {
        let t = |status| ValidationTest {
            name: "t".into(),
            status,
            message: None,
            result: None,
        };
        assert_eq!(
            overall(&[t(TestStatus::Passed), t(TestStatus::Skipped)]),
            TestStatus::Passed
        );
        assert_eq!(
            overall(&[t(TestStatus::Warning), t(TestStatus::Passed)]),
            TestStatus::Warning
        );
        assert_eq!(
            overall(&[t(TestStatus::Warning), t(TestStatus::Failed)]),
            TestStatus::Failed
        );
    }
}
