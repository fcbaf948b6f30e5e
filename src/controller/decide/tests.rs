//! Every branch of the decision, with no API server: what the phases found → phase, state,
//! record and next step.
use super::*;
use crate::api::{DatabricksIntegrationStatus, SetupMode};
use crate::checks::{CATALOG_VALIDATION, METASTORE_VALIDATION};

fn setup(done: bool, reason: Reason) -> SetupOutcome {
    SetupOutcome {
        status: SetupStatus {
            mode: SetupMode::Automatic,
            script_config_map: None,
            applied_spec_hash: Some("old".into()),
        },
        condition: SetupCondition {
            done,
            reason,
            message: format!("{reason}"),
        },
        failure: None,
        notes: Vec::new(),
    }
}

fn passing() -> Findings {
    let mut f = Findings::default();
    f.passed(METASTORE_VALIDATION, None, None);
    f.passed(CATALOG_VALIDATION, None, None);
    f
}

fn failing() -> Findings {
    let mut f = passing();
    f.failed_user(CATALOG_VALIDATION, Reason::CatalogDrifted, "grants drifted");
    f
}

fn checked(findings: Findings, setup: SetupOutcome) -> Outcome {
    Outcome::Checked { findings, setup }
}

fn change(d: &Decision) -> &StatusChange {
    d.status.as_ref().expect("a status change")
}

#[test]
fn passing_tests_and_a_done_setup_enable_and_record_the_spec_hash() {
    for flow in [Flow::Create, Flow::Edit, Flow::Recheck] {
        let d = decide(
            flow,
            checked(passing(), setup(true, Reason::SetupApplied)),
            "new".into(),
        );
        assert_eq!(change(&d).phase, Phase::Enabled, "{flow:?}");
        assert_eq!(change(&d).state, State::Enabled);
        assert_eq!(d.next, Next::Revalidate);
        let record = change(&d).record.as_ref().unwrap();
        assert_eq!(record.setup.applied_spec_hash.as_deref(), Some("new"));
    }
}

#[test]
fn a_failing_recheck_becomes_recurring_validation_error() {
    let d = decide(
        Flow::Recheck,
        checked(failing(), setup(true, Reason::SetupApplied)),
        "new".into(),
    );
    assert_eq!(change(&d).phase, Phase::RecurringValidationError);
    let State::Failed(f) = &change(&d).state else {
        panic!("{:?}", change(&d).state)
    };
    assert_eq!(f.reason, Reason::CatalogDrifted);
    assert!(
        f.message.starts_with("Catalog validation: "),
        "{}",
        f.message
    );
    assert!(matches!(&d.next, Next::Retry(r) if r == f));
    // The results are recorded, and the hash of the spec last set up is kept.
    let record = change(&d).record.as_ref().unwrap();
    assert_eq!(record.setup.applied_spec_hash.as_deref(), Some("old"));
}

#[test]
fn a_failing_create_or_edit_has_its_own_error_phase() {
    let create = decide(
        Flow::Create,
        checked(failing(), setup(false, Reason::WaitingForValidation)),
        "h".into(),
    );
    assert_eq!(change(&create).phase, Phase::CreateError);
    let edit = decide(
        Flow::Edit,
        checked(failing(), setup(true, Reason::SetupApplied)),
        "h".into(),
    );
    assert_eq!(change(&edit).phase, Phase::EditError);
}

#[test]
fn a_setup_failure_wins_over_the_tests_and_is_recorded_as_not_bootstrapped() {
    let failure = Failure::user(Reason::SetupFailed, "CREATE CATALOG refused");
    let mut s = setup(false, Reason::SetupFailed);
    s.condition = SetupCondition::failed(&failure);
    s.failure = Some(failure.clone());
    let d = decide(Flow::Create, checked(passing(), s), "h".into());
    assert_eq!(change(&d).phase, Phase::CreateError);
    assert_eq!(change(&d).state, State::Failed(failure.clone()));
    let record = change(&d).record.as_ref().unwrap();
    assert!(!record.condition.done);
    assert_eq!(record.condition.reason, Reason::SetupFailed);
}

#[test]
fn manual_setup_waits_while_creating_and_fails_on_a_recheck() {
    let waiting = decide(
        Flow::Create,
        checked(passing(), setup(false, Reason::AwaitingManualSetup)),
        "h".into(),
    );
    assert_eq!(change(&waiting).phase, Phase::Creating);
    assert!(matches!(
        change(&waiting).state,
        State::AwaitingManualSetup { .. }
    ));
    assert_eq!(waiting.next, Next::PollManualSetup);
    // Pending statements explain a failing test: still a wait, not a failure.
    let pending = decide(
        Flow::Edit,
        checked(failing(), setup(false, Reason::AwaitingManualSetup)),
        "h".into(),
    );
    assert_eq!(change(&pending).phase, Phase::Editing);
    assert_eq!(pending.next, Next::PollManualSetup);
    // On a re-check, setup found undone is a failure.
    let undone = decide(
        Flow::Recheck,
        checked(passing(), setup(false, Reason::AwaitingManualSetup)),
        "h".into(),
    );
    assert_eq!(change(&undone).phase, Phase::RecurringValidationError);
    assert!(matches!(&undone.next, Next::Retry(f) if f.reason == Reason::AwaitingManualSetup));
}

#[test]
fn a_failure_before_the_tests_says_they_did_not_run() {
    let f = Failure::user(Reason::SecretNotFound, "Secret ns/t not found");
    let d = decide(Flow::Edit, Outcome::NotValidated(f.clone()), "h".into());
    assert_eq!(change(&d).phase, Phase::EditError);
    assert_eq!(change(&d).not_validated, Some(Reason::SecretNotFound));
    assert!(change(&d).record.is_none());
    assert_eq!(d.next, Next::Retry(f));
}

#[test]
fn setup_notes_become_events() {
    let mut s = setup(true, Reason::SetupApplied);
    s.notes.push(Note::normal(Reason::DriftRepaired, "removed"));
    let d = decide(Flow::Recheck, checked(passing(), s), "h".into());
    assert_eq!(
        d.notes,
        vec![Note::normal(Reason::DriftRepaired, "removed")]
    );
}

fn resource(status: Option<DatabricksIntegrationStatus>, deleting: bool) -> DatabricksIntegration {
    let mut d = crate::controller::flow::tests::dbi("a", "ws.cloud.databricks.com", 0);
    d.status = status;
    if deleting {
        d.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
        ));
    }
    d
}

#[test]
fn suspension_keeps_the_phase_and_waits_for_a_change() {
    let enabled = DatabricksIntegrationStatus {
        phase: Some(Phase::Enabled),
        ..Default::default()
    };
    let d = suspended(&resource(Some(enabled), false));
    assert_eq!(change(&d).phase, Phase::Enabled);
    assert_eq!(change(&d).state, State::Suspended);
    assert_eq!(d.next, Next::AwaitChange);
    assert_eq!(
        change(&suspended(&resource(None, false))).phase,
        Phase::Creating
    );
}

#[test]
fn an_interrupted_reconcile_fails_in_its_flow_or_in_deletion() {
    let f = Failure::retry(Reason::ReconcileTimeout, "deadline");
    let live = interrupted(&resource(None, false), f.clone());
    assert_eq!(change(&live).phase, Phase::CreateError);
    let deleting = interrupted(&resource(None, true), f.clone());
    assert_eq!(change(&deleting).phase, Phase::DeleteError);
    assert_eq!(deleting.next, Next::Retry(f));
}

#[test]
fn a_deletion_ends_without_a_write_or_fails_in_delete_error() {
    let note = Note::normal(Reason::CatalogDropped, "catalog gov dropped");
    let done = deletion(vec![note.clone()], None);
    assert!(done.status.is_none());
    assert_eq!(done.next, Next::Done);
    assert_eq!(done.notes, vec![note]);
    let f = Failure::retry(Reason::WorkspaceUnavailable, "503");
    let failed = deletion(Vec::new(), Some(f.clone()));
    assert_eq!(change(&failed).phase, Phase::DeleteError);
    assert_eq!(failed.next, Next::Retry(f));
}

#[test]
fn only_a_phase_change_is_announced_and_creating_costs_no_event() {
    let f = Failure::user(Reason::AuthenticationFailed, "bad token");
    let failed = State::Failed(f);
    assert_eq!(
        transition_event(Some(Phase::CreateError), Phase::CreateError, &failed),
        None
    );
    let note = transition_event(Some(Phase::Creating), Phase::CreateError, &failed).unwrap();
    assert!(note.warning);
    assert_eq!(note.reason, Reason::AuthenticationFailed);
    let creating = State::Progressing {
        reason: Reason::Creating,
        message: "creating".into(),
    };
    assert_eq!(transition_event(None, Phase::Creating, &creating), None);
    let enabled = transition_event(Some(Phase::Creating), Phase::Enabled, &State::Enabled);
    assert_eq!(enabled.map(|n| n.reason), Some(Reason::Enabled));
    assert_eq!(
        transition_event(Some(Phase::Enabled), Phase::Enabled, &State::Suspended),
        None
    );
}

#[test]
fn a_starting_cluster_is_waited_for_in_the_flows_progress_phase() {
    let d = decide(
        Flow::Create,
        Outcome::WaitingForCompute("cluster c is PENDING: starting".into()),
        "h".into(),
    );
    assert_eq!(d.next, Next::PollCompute);
    let s = d.status.expect("a status");
    assert_eq!(s.phase, Phase::Creating);
    assert!(s.record.is_none(), "no test results while waiting");
    assert!(matches!(
        s.state,
        State::Progressing {
            reason: Reason::ComputeStarting,
            ..
        }
    ));
}
