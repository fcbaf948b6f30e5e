//! Root storage: a metastore without one (Databricks Default Storage accounts, metastores
//! created without a root) refuses `CREATE CATALOG` without `MANAGED LOCATION`, even when the
//! catalog exists (databricks/cli#5695; the check precedes `IF NOT EXISTS`) — except from a
//! serverless workspace with Default Storage, where no location is needed
//! (docs.databricks.com storage/default-storage). Whether a location is needed is Databricks'
//! answer to the attempt, never the operator's guess.

use databricks_sim::{ADMIN_TOKEN, SP_TOKEN, Scenario};
use serde_json::json;
use uc_operator::api::{Phase, TestStatus};
use uc_operator::checks::CATALOG_VALIDATION;
use uc_operator::failure::Reason;

use crate::support::databricks::{creates_a_catalog, run_script, sql_editor, submitted_sql};
use crate::support::in_process::{Env, refused_setup};
use crate::support::status::{condition, is, phase, validation_test};

const LOCATION: &str = "s3://team-bucket/uc/governance";

/// A root-less metastore and the service principal's Secret.
async fn rootless(prefix: &str) -> Env {
    let env = Env::new(prefix, Scenario::default_for_tests().without_storage_root()).await;
    assert_eq!(env.sim.state().metastore_storage_root, None);
    env.secret("sp-token", SP_TOKEN).await;
    env
}

/// The statements that create a catalog.
fn catalog_creations(sim: &databricks_sim::Simulator) -> usize {
    let sql = submitted_sql(sim);
    sql.iter()
        .filter(|s| creates_a_catalog(std::slice::from_ref(s)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_storage_root_or_default_storage_one_refused_attempt_names_spec_storage_root() {
    let env = rootless("noroot").await;
    let failure = refused_setup(&env).await;
    assert_eq!(failure.reason, Reason::StorageRootRequired);
    assert!(
        failure.message.contains("spec.storageRoot"),
        "{}",
        failure.message
    );
    let dbi = env.get("gov").await;
    assert_eq!(
        condition(&dbi, "Stalled"),
        is("True", Reason::StorageRootRequired)
    );
    let test = validation_test(&dbi, CATALOG_VALIDATION);
    assert_eq!(test.status, TestStatus::Failed);
    let message = test.message.clone().unwrap_or_default();
    assert!(message.contains("spec.storageRoot"), "{message}");
    assert!(
        message.contains("Metastore storage root URL does not exist"),
        "{message}"
    );
    // Databricks was asked once, and refused: nothing else was sent or created.
    assert_eq!(catalog_creations(&env.sim), 1);
    let sql = submitted_sql(&env.sim);
    assert!(
        sql.iter()
            .all(|s| s == "SELECT 1" || creates_a_catalog(std::slice::from_ref(s))),
        "{sql:?}"
    );
    assert!(env.sim.state().catalogs.is_empty());
    let posts = env.sim.requests().into_iter().filter(|r| {
        r.method == "POST"
            && r.path
                .trim_end_matches('/')
                .ends_with("/unity-catalog/catalogs")
    });
    assert_eq!(posts.count(), 0, "no catalog created over REST either");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_default_storage_workspace_sets_up_without_storage_root() {
    let mut scenario = Scenario::default_for_tests().without_storage_root();
    scenario.workspace_mut("main").default_storage = true;
    let env = Env::new("defstore", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    let manifest = env.manifest("gov", "governance");
    assert!(manifest["spec"].get("storageRoot").is_none());
    env.apply(&manifest).await;
    let dbi = env.enable("gov").await;
    assert_eq!(
        validation_test(&dbi, CATALOG_VALIDATION).status,
        TestStatus::Passed
    );
    let state = env.sim.state();
    let catalog = &state.catalogs["governance"];
    assert_eq!(catalog.storage_root, None);
    assert_eq!(catalog.owner, databricks_sim::SP_APP_ID);
    assert_eq!(catalog_creations(&env.sim), 1);

    // A re-check recognises it and stays enabled, without sending CREATE CATALOG again.
    env.sim.clear_requests();
    env.force_recheck(&dbi);
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert_eq!(phase(&env.get("gov").await), Some(Phase::Enabled));
    assert_eq!(catalog_creations(&env.sim), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_storage_root_the_catalog_lives_there_and_setup_reruns_over_it() {
    let env = rootless("root").await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["storageRoot"] = json!(LOCATION);
    env.apply(&manifest).await;
    env.enable("gov").await;
    let state = env.sim.state();
    let catalog = &state.catalogs["governance"];
    assert_eq!(catalog.storage_root.as_deref(), Some(LOCATION));
    assert_eq!(catalog.owner, databricks_sim::SP_APP_ID);

    // An edit runs setup again over the existing catalog: it succeeds without sending
    // `CREATE CATALOG` again (which the root-less metastore would refuse even with IF NOT EXISTS
    // had the location been dropped).
    env.sim.clear_requests();
    manifest["spec"]["revalidationInterval"] = json!("2h");
    env.apply(&manifest).await;
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert_eq!(step.phases(), [Some(Phase::Editing), Some(Phase::Enabled)]);
    let sql = submitted_sql(&env.sim);
    assert!(
        sql.iter().any(|s| s != "SELECT 1"),
        "setup ran again: {sql:?}"
    );
    assert!(!creates_a_catalog(&sql), "{sql:?}");
    let dbi = env.get("gov").await;
    assert_eq!(
        condition(&dbi, "Bootstrapped"),
        is("True", Reason::SetupApplied)
    );
    let state = env.sim.state();
    assert_eq!(
        state.catalogs["governance"].storage_root.as_deref(),
        Some(LOCATION)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manual_script_carries_the_managed_location_and_runs_on_a_rootless_metastore() {
    let env = rootless("root-manual").await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["storageRoot"] = json!(LOCATION);
    env.apply_manual("gov", manifest).await;
    let dbi = env.get("gov").await;
    assert_eq!(
        condition(&dbi, "Bootstrapped"),
        is("False", Reason::AwaitingManualSetup)
    );

    let script = &env.config_map("gov-uc-setup").await["setup.sql"];
    let managed = format!("MANAGED LOCATION '{LOCATION}'");
    assert!(script.contains(&managed), "{script}");
    run_script(&sql_editor(&env.sim, ADMIN_TOKEN), script).await;
    let state = env.sim.state();
    assert_eq!(
        state.catalogs["governance"].storage_root.as_deref(),
        Some(LOCATION)
    );

    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert_eq!(phase(&env.get("gov").await), Some(Phase::Enabled));
}
