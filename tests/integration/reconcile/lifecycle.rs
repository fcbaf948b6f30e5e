//! The reconcile driven directly in the test process: a real API server and the in-process
//! simulator, `uc_operator::controller::reconcile` called once per step (no binary, no polling),
//! and each step's object writes read back from a watch, so their number and order are exact.

use std::time::Duration;

use databricks_sim::{METASTORE_ID, SP_APP_ID, SP_TOKEN, Scenario};
use kube::ResourceExt;
use kube::runtime::controller::Action;
use serde_json::json;
use uc_operator::api::{DatabricksIntegration, FINALIZER, Phase, TestStatus};
use uc_operator::controller::Timing;
use uc_operator::failure::Reason;
use uc_operator::setup::TAG_KEY;

use crate::support::in_process::Env;
use crate::support::status::{condition, is};

const HOUR: Duration = Duration::from_secs(3600);

/// The next re-check of an enabled resource: at its own slot, between half an interval and one
/// and a half after the validation (the slot spreads integrations created together).
fn assert_recheck_within(result: &Action, interval: Duration) {
    // `Action` hides its delay; the slot is whole seconds, so compare with each candidate.
    let (low, high) = (interval.as_secs() / 2, interval.as_secs() * 3 / 2);
    assert!(
        (low..=high).any(|s| *result == Action::requeue(Duration::from_secs(s))),
        "{result:?} not within [{low}s, {high}s]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_resource_is_created_then_enabled_and_rests() {
    let env = Env::new("rec-create", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("gov", "governance")).await;

    let step = env.step("gov").await;
    assert_eq!(step.result.unwrap(), Action::await_change());
    assert_eq!(step.writes.len(), 1, "only the finalizer is added");
    assert!(step.writes[0].finalizers().iter().any(|f| f == FINALIZER));

    let step = env.step("gov").await;
    assert_recheck_within(step.result.as_ref().unwrap(), HOUR);
    // Announced, then "setup started" before CREATE CATALOG (a deletion after an interrupted
    // setup then looks for the catalog), then enabled.
    assert_eq!(
        step.phases(),
        [
            Some(Phase::Creating),
            Some(Phase::Creating),
            Some(Phase::Enabled)
        ]
    );
    assert_eq!(
        condition(&step.writes[1], "Bootstrapped"),
        is("False", Reason::SetupStarted)
    );
    let dbi = env.get("gov").await;
    let status = dbi.status.as_ref().unwrap();
    assert_eq!(status.observed_generation, dbi.metadata.generation);
    assert_eq!(condition(&dbi, "Ready"), is("True", Reason::Enabled));
    assert_eq!(condition(&dbi, "Reconciling").0, "False");
    assert_eq!(condition(&dbi, "Stalled").0, "False");
    assert_eq!(condition(&dbi, "Validated"), is("True", Reason::Passed));
    assert_eq!(
        condition(&dbi, "Bootstrapped"),
        is("True", Reason::SetupApplied)
    );
    let results = status.validation_results.as_ref().unwrap();
    assert_eq!(results.status, TestStatus::Passed);
    let workspace = status.workspace.as_ref().unwrap();
    assert_eq!(workspace.metastore_id.as_deref(), Some(METASTORE_ID));
    assert_eq!(workspace.principal.as_deref(), Some(SP_APP_ID));
    let state = env.sim.state();
    let catalog = &state.catalogs["governance"];
    assert_eq!(catalog.owner, SP_APP_ID);
    let marker = format!("default:{}:gov", env.ns);
    assert_eq!(catalog.tags.get(TAG_KEY), Some(&marker));
    let reasons = env.event_reasons().await;
    assert!(
        reasons.iter().any(|r| r == Reason::Enabled.as_str()),
        "{reasons:?}"
    );
    env.assert_no_leak(SP_TOKEN).await;

    // Within its interval an enabled resource costs nothing: no request, no write.
    env.sim.clear_requests();
    let step = env.step("gov").await;
    assert_ne!(step.result.unwrap(), Action::await_change());
    assert!(step.writes.is_empty());
    assert_eq!(env.sim.requests().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_recheck_keeps_the_transition_times() {
    let env = Env::new("rec-recheck", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("gov", "governance")).await;
    let before = env.enable("gov").await;

    env.sim.clear_requests();
    env.force_recheck(&before);
    let step = env.step("gov").await;
    assert_recheck_within(step.result.as_ref().unwrap(), HOUR);
    assert!(
        !env.sim.requests().is_empty(),
        "the forced recheck validated"
    );
    // At most the validation time moved (the same second writes nothing).
    assert!(step.writes.len() <= 1, "{} writes", step.writes.len());
    assert!(step.phases().iter().all(|p| *p == Some(Phase::Enabled)));
    let after = env.get("gov").await;
    let times = |d: &DatabricksIntegration| {
        let status = d.status.as_ref().unwrap();
        let each = status.conditions.iter();
        each.map(|c| (c.type_.clone(), c.last_transition_time.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(times(&after), times(&before));
    assert_eq!(condition(&after, "Ready"), is("True", Reason::Enabled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_stalls_creation_until_it_appears() {
    let env = Env::new("rec-secret", Scenario::default_for_tests()).await;
    let failure = env
        .apply_until_failure("gov", &env.manifest("gov", "governance"))
        .await;
    assert_eq!(failure.reason, Reason::SecretNotFound);
    let named = format!("Secret {}/sp-token not found", env.ns);
    assert!(failure.message.contains(&named), "{}", failure.message);
    let dbi = env.get("gov").await;
    assert_eq!(
        condition(&dbi, "Stalled"),
        is("True", Reason::SecretNotFound)
    );
    assert_eq!(condition(&dbi, "Reconciling").0, "False");
    assert_eq!(condition(&dbi, "Ready").0, "False");
    assert_eq!(
        condition(&dbi, "Validated"),
        is("False", Reason::NotValidated)
    );
    assert!(
        env.sim.requests().is_empty(),
        "no Databricks call without credentials"
    );

    // A retry with nothing new changes nothing: the phase does not flap through `creating`.
    let step = env.step("gov").await;
    assert!(step.writes.is_empty(), "{:?}", step.phases());
    assert_eq!(step.failure().reason, Reason::SecretNotFound);

    env.secret("sp-token", SP_TOKEN).await;
    let step = env.step("gov").await;
    assert_recheck_within(step.result.as_ref().unwrap(), HOUR);
    // "Setup started" is recorded (still in the error phase, which does not flap) before
    // CREATE CATALOG, then the integration is enabled.
    assert_eq!(
        step.phases(),
        [Some(Phase::CreateError), Some(Phase::Enabled)]
    );
    assert_eq!(condition(&env.get("gov").await, "Stalled").0, "False");
    env.assert_no_leak(SP_TOKEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_enabled_integration_holds_the_workspace() {
    let mut env = Env::new("rec-dup", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    // Names order the two when they are created within the same second.
    env.apply(&env.manifest("a-first", "first")).await;
    env.enable("a-first").await;
    env.remember("a-first").await;

    env.apply(&env.manifest("b-second", "second")).await;
    env.remember("b-second").await;
    env.step("b-second").await.result.unwrap();
    env.sim.clear_requests();
    let step = env.step("b-second").await;
    assert_eq!(
        step.phases(),
        [Some(Phase::Creating), Some(Phase::CreateError)]
    );
    let failure = step.failure();
    assert_eq!(failure.reason, Reason::DuplicateWorkspace);
    let host = env.sim.workspace("main").host;
    let expected = format!(
        "Databricks Unity Catalog integration already exists on {host} ({}/a-first)",
        env.ns
    );
    assert_eq!(failure.message, expected);
    assert!(
        env.sim.requests().is_empty(),
        "decided before any Databricks call: {:?}",
        env.sim.requests()
    );
    let dbi = env.get("b-second").await;
    assert_eq!(
        condition(&dbi, "Stalled"),
        is("True", Reason::DuplicateWorkspace)
    );
    assert!(!env.sim.state().catalogs.contains_key("second"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_integration_that_never_validated_does_not_block() {
    let mut env = Env::new("rec-broken", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut broken = env.manifest("a-broken", "broken");
    broken["spec"]["tokenSecretRef"]["name"] = json!("no-such-secret");
    env.apply(&broken).await;
    env.step("a-broken").await.result.unwrap();
    let failure = env.step("a-broken").await.failure();
    assert_eq!(failure.reason, Reason::SecretNotFound);
    env.remember("a-broken").await;

    env.apply(&env.manifest("b-good", "good")).await;
    env.remember("b-good").await;
    env.enable("b-good").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_periodic_recheck_is_a_recurring_validation_error() {
    let env = Env::new("rec-recurring", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("gov", "governance")).await;
    let dbi = env.enable("gov").await;

    env.sim.set_metastore_assigned("main", false);
    env.force_recheck(&dbi);
    let step = env.step("gov").await;
    assert_eq!(step.phases(), [Some(Phase::RecurringValidationError)]);
    assert_eq!(step.failure().reason, Reason::MetastoreNotAssigned);
    let dbi = env.get("gov").await;
    assert_eq!(
        condition(&dbi, "Ready"),
        is("False", Reason::MetastoreNotAssigned)
    );
    assert_eq!(
        condition(&dbi, "Stalled"),
        is("True", Reason::MetastoreNotAssigned)
    );
    assert_eq!(
        condition(&dbi, "Validated"),
        is("False", Reason::ValidationFailed)
    );

    // The retry of a failed recheck is due at once (no forcing), and passing again enables it.
    env.sim.set_metastore_assigned("main", true);
    let step = env.step("gov").await;
    assert_recheck_within(step.result.as_ref().unwrap(), HOUR);
    assert_eq!(step.phases(), [Some(Phase::Enabled)]);
    let dbi = env.get("gov").await;
    assert_eq!(condition(&dbi, "Ready"), is("True", Reason::Enabled));
    assert_eq!(condition(&dbi, "Stalled").0, "False");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_goes_through_editing_to_enabled() {
    let env = Env::new("rec-edit", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    env.apply(&manifest).await;
    let before = env.enable("gov").await;

    manifest["spec"]["revalidationInterval"] = json!("2h");
    env.apply(&manifest).await;
    let step = env.step("gov").await;
    assert_recheck_within(step.result.as_ref().unwrap(), 2 * HOUR);
    assert_eq!(step.phases(), [Some(Phase::Editing), Some(Phase::Enabled)]);
    let editing = &step.writes[0];
    assert_eq!(
        condition(editing, "Reconciling"),
        is("True", Reason::Editing)
    );
    let after = env.get("gov").await;
    assert_eq!(
        after.metadata.generation,
        before.metadata.generation.map(|g| g + 1)
    );
    assert_eq!(
        after.status.as_ref().unwrap().observed_generation,
        after.metadata.generation
    );
    assert_eq!(condition(&after, "Ready"), is("True", Reason::Enabled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_setup_publishes_the_script_and_polls_for_it() {
    let env = Env::new("rec-manual", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["autoBootstrap"] = json!(false);
    env.apply(&manifest).await;
    env.step("gov").await.result.unwrap();

    let step = env.step("gov").await;
    let poll = Timing::default().manual_setup_poll;
    assert_eq!(step.result.as_ref().unwrap(), &Action::requeue(poll));
    assert_eq!(
        step.phases(),
        [Some(Phase::Creating), Some(Phase::Creating)]
    );
    let dbi = env.get("gov").await;
    let waiting = Reason::AwaitingManualSetup;
    assert_eq!(condition(&dbi, "Bootstrapped"), is("False", waiting));
    assert_eq!(condition(&dbi, "Reconciling"), is("True", waiting));
    assert_eq!(condition(&dbi, "Stalled").0, "False");
    assert_eq!(condition(&dbi, "Ready").0, "False");
    let bootstrap = dbi.status.as_ref().unwrap().bootstrap.as_ref().unwrap();
    assert_eq!(bootstrap.script_config_map.as_deref(), Some("gov-uc-setup"));
    let data = env.config_map("gov-uc-setup").await;
    assert!(data["setup.sql"].contains(SP_APP_ID), "names the principal");
    assert!(data.contains_key("cleanup.sql"));
    assert!(!env.sim.state().catalogs.contains_key("governance"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_keeps_the_catalog_with_retain_and_drops_it_with_delete() {
    // Two workspaces on one metastore: one integration each (one per workspace).
    let second = databricks_sim::WorkspaceSpec::new("second", 2002)
        .with_warehouse(databricks_sim::WAREHOUSE_ID, "RUNNING");
    let env = Env::new(
        "rec-delete",
        Scenario::default_for_tests().with_workspace(second),
    )
    .await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut kept = env.manifest("kept", "kept");
    kept["spec"]["deletionPolicy"] = json!("Retain");
    env.apply(&kept).await;
    let mut dropped = env.manifest("dropped", "dropped");
    dropped["spec"]["workspaceUrl"] = json!(env.sim.workspace("second").host);
    env.apply(&dropped).await;
    env.enable("kept").await;
    env.enable("dropped").await;
    let catalogs = || env.sim.state().catalogs.into_keys().collect::<Vec<_>>();
    assert_eq!(catalogs(), ["dropped", "kept"]);

    env.sim.clear_requests();
    assert_eq!(env.delete("kept").await.unwrap(), Action::await_change());
    assert!(env.gone("kept").await, "the finalizer is removed");
    assert_eq!(catalogs(), ["dropped", "kept"]);
    assert!(
        env.sim.requests().is_empty(),
        "keeping needs no Databricks call"
    );

    assert_eq!(env.delete("dropped").await.unwrap(), Action::await_change());
    assert!(env.gone("dropped").await);
    assert_eq!(catalogs(), ["kept"]);
    let reasons = env.event_reasons().await;
    for reason in [Reason::CatalogRetained, Reason::CatalogDropped] {
        assert!(reasons.iter().any(|r| r == reason.as_str()), "{reasons:?}");
    }
}

/// The contract ("Deletion never hangs"): no catalog was ever created, so nothing needs the
/// credentials, however the deletion goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_resource_that_never_created_a_catalog_needs_no_databricks_call() {
    let env = Env::new("rec-delete-new", Scenario::default_for_tests()).await;
    env.apply(&env.manifest("gov", "governance")).await;
    env.step("gov").await.result.unwrap();
    let failure = env.step("gov").await.failure();
    assert_eq!(failure.reason, Reason::SecretNotFound);

    let result = env.delete("gov").await;
    assert_eq!(result.unwrap(), Action::await_change());
    assert!(env.gone("gov").await);
    assert!(env.sim.requests().is_empty());
}
