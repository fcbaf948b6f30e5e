//! The validation tests called directly (`uc_operator::checks::run`) against the in-process
//! simulator: each test name's pass / fail / warning / skip path and the failure's reason, with
//! no Kubernetes in the way.

mod catalog;
mod connections;
mod expiry;

use databricks_sim::{
    ADMIN_USER, CatalogSpec, METASTORE_ID, SP_APP_ID, SP_TOKEN, Scenario, Simulator, WAREHOUSE_ID,
    WorkspaceSpec,
};
use serde_json::json;
use uc_operator::api::TestStatus::{self, Passed, Skipped, Warning};
use uc_operator::checks::{
    self, AUDIT_VALIDATION, Additional, BASIC_CONNECTION_TEST, CATALOG_VALIDATION, CatalogState,
    ComputePolicy, Findings, Integration, METASTORE_VALIDATION, Outcome,
};
use uc_operator::databricks::WorkspaceClient;
use uc_operator::failure::{Failure, Reason};
use uc_operator::identity::IntegrationId;
use uc_operator::setup::TAG_KEY;

use crate::support::databricks::{client, statements_sent};

const CATALOG: &str = "governance";
const STATEMENTS: &str = "/api/2.0/sql/statements";

fn main_client(sim: &Simulator) -> WorkspaceClient {
    client(sim, "main", WAREHOUSE_ID, SP_TOKEN)
}

fn id() -> IntegrationId {
    IntegrationId::new("default", "team", "gov")
}

/// An automatic-setup integration without audit or lockdown check; tests flip what they need.
fn integration(id: &IntegrationId) -> Integration<'_> {
    Integration {
        id,
        catalog: CATALOG,
        automatic: true,
        audit: false,
        check_lockdown: false,
        adopt: false,
        storage_root: None,
        after_setup: false,
        credential_warning: checks::DEFAULT_CREDENTIAL_WARNING,
        governed: &[],
        audit_workspaces: &[],
    }
}

async fn start(scenario: Scenario) -> Simulator {
    Simulator::start(scenario).await.expect("simulator starts")
}

/// Runs the checks on the main workspace only.
async fn run(sim: &Simulator, it: &Integration<'_>, policy: ComputePolicy) -> Findings {
    checks::run(&main_client(sim), &[], it, policy).await
}

fn outcome<'a>(f: &'a Findings, name: &str) -> &'a Outcome {
    let found = f.tests.iter().find(|t| t.name == name);
    &found
        .unwrap_or_else(|| panic!("no test {name:?} in {:?}", f.tests))
        .outcome
}

fn failure<'a>(f: &'a Findings, name: &str) -> &'a Failure {
    match outcome(f, name) {
        Outcome::Failed(failure) => failure,
        other => panic!("{name} did not fail: {other:?}"),
    }
}

/// The message of `name`'s outcome, after checking it is `status`.
fn was(f: &Findings, status: TestStatus, name: &str) -> String {
    let (actual, message) = match outcome(f, name) {
        Outcome::Passed { message, .. } => (Passed, message.clone().unwrap_or_default()),
        Outcome::Warning(m) => (Warning, m.clone()),
        Outcome::Skipped(m) => (Skipped, m.clone()),
        Outcome::Failed(failure) => (TestStatus::Failed, failure.message.clone()),
    };
    assert_eq!(actual, status, "{name}: {message}");
    message
}

#[tokio::test]
async fn a_healthy_workspace_passes_and_may_create_the_catalog() {
    let sim = start(Scenario::default_for_tests()).await;
    let id = id();
    let f = run(&sim, &integration(&id), ComputePolicy::MayStart).await;

    let names: Vec<&str> = f.tests.iter().map(|t| t.name.as_str()).collect();
    let expected = [
        METASTORE_VALIDATION,
        BASIC_CONNECTION_TEST,
        CATALOG_VALIDATION,
    ];
    assert_eq!(names, [&expected[..], &[AUDIT_VALIDATION]].concat());
    let metastore = was(&f, Passed, METASTORE_VALIDATION);
    assert!(
        metastore.contains(METASTORE_ID) && metastore.contains("1001"),
        "{metastore}"
    );
    match outcome(&f, BASIC_CONNECTION_TEST) {
        Outcome::Passed { result, .. } => assert_eq!(result, &Some(json!([{"1": 1}]))),
        other => panic!("basic connection: {other:?}"),
    }
    assert!(was(&f, Passed, CATALOG_VALIDATION).contains("may create it"));
    assert_eq!(was(&f, Skipped, AUDIT_VALIDATION), "query audit is off");
    assert_eq!(f.catalog_state(), &CatalogState::Missing);
    assert!(f.compute_available);
    assert!(f.failure().is_none());
    let main = f.main();
    assert_eq!(main.workspace_id, Some(1001));
    assert_eq!(main.metastore_id.as_deref(), Some(METASTORE_ID));
    assert_eq!(main.principal.as_deref(), Some(SP_APP_ID));
    // Five reads and nothing else: the metastore summary names the metastore (no assignment
    // lookup), SCIM `Me` the workspace, and the grants are read with the catalog.
    let mut calls: Vec<String> = (sim.requests().iter())
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    calls.sort();
    let expected = [
        "GET /api/2.0/preview/scim/v2/Me".to_string(),
        format!("GET /api/2.1/unity-catalog/catalogs/{CATALOG}"),
        format!("GET /api/2.1/unity-catalog/effective-permissions/metastore/{METASTORE_ID}"),
        "GET /api/2.1/unity-catalog/metastore_summary".to_string(),
        format!("POST {STATEMENTS}"),
    ];
    assert_eq!(calls, expected);
}

#[tokio::test]
async fn no_metastore_fails_the_metastore_test() {
    let mut scenario = Scenario::default_for_tests();
    scenario.workspace_mut("main").metastore_assigned = false;
    let sim = start(scenario).await;
    let id = id();
    let f = run(&sim, &integration(&id), ComputePolicy::MayStart).await;

    let fail = failure(&f, METASTORE_VALIDATION);
    assert_eq!(fail.reason, Reason::MetastoreNotAssigned);
    assert!(fail.needs_user());
    assert_eq!(f.failure().unwrap().reason, Reason::MetastoreNotAssigned);
    // The catalog cannot be judged without a metastore; the credentials still work.
    assert_eq!(f.catalog_state(), &CatalogState::Unknown);
    was(&f, Passed, BASIC_CONNECTION_TEST);
}

#[tokio::test]
async fn an_authentication_failure_skips_everything_after_it() {
    let sim = start(Scenario::default_for_tests()).await;
    let id = id();
    let it = Integration {
        audit: true,
        ..integration(&id)
    };
    let wrong = "dapi-not-a-valid-token";
    let main = client(&sim, "main", WAREHOUSE_ID, wrong);
    let f = checks::run(&main, &[], &it, ComputePolicy::MayStart).await;

    assert_eq!(f.tests[0].name, METASTORE_VALIDATION);
    let fail = failure(&f, METASTORE_VALIDATION);
    assert_eq!(fail.reason, Reason::AuthenticationFailed);
    assert!(fail.needs_user());
    assert!(f.tests.len() > 1, "the later tests are reported as skipped");
    for t in &f.tests[1..] {
        assert!(matches!(t.outcome, Outcome::Skipped(_)), "{t:?}");
    }
    was(&f, Skipped, BASIC_CONNECTION_TEST);
    was(&f, Skipped, CATALOG_VALIDATION);
    // The basic connection's SELECT 1 goes out with the metastore lookup (they are read at
    // once): with the credentials refused, nothing ran as anyone.
    let requests = sim.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.principal.is_none() && r.status >= 400),
        "{requests:?}"
    );
    assert!(statements_sent(&sim) <= 1);
    let messages: Vec<&str> = f.tests.iter().filter_map(|t| t.message()).collect();
    assert!(!messages.iter().any(|m| m.contains(wrong)), "{messages:?}");
}

#[tokio::test]
async fn a_stopped_warehouse_is_not_started_by_a_periodic_check() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.set_warehouse_state("main", WAREHOUSE_ID, "STOPPED");
    let id = id();
    let it = Integration {
        audit: true,
        ..integration(&id)
    };
    let f = run(&sim, &it, ComputePolicy::OnlyIfRunning).await;

    assert!(was(&f, Skipped, BASIC_CONNECTION_TEST).contains("STOPPED"));
    // Query audit is verified over REST, compute or not.
    assert!(was(&f, Passed, AUDIT_VALIDATION).contains("system.query.history"));
    assert!(!f.compute_available);
    assert_eq!(statements_sent(&sim), 0);
    assert_eq!(sim.warehouse_starts(WAREHOUSE_ID), 0);
    // The checks that need no compute still run.
    was(&f, Passed, METASTORE_VALIDATION);
    was(&f, Passed, CATALOG_VALIDATION);

    // Creating or editing may start it.
    let f = run(&sim, &it, ComputePolicy::MayStart).await;
    was(&f, Passed, BASIC_CONNECTION_TEST);
    assert_eq!(sim.warehouse_starts(WAREHOUSE_ID), 1);
}

#[tokio::test]
async fn a_metastore_admin_may_create_the_catalog_without_a_grant_or_a_grants_read() {
    let sim = start(Scenario::default_for_tests().with_metastore_owner(SP_APP_ID)).await;
    sim.revoke_metastore_privilege(SP_APP_ID, "CREATE_CATALOG");
    let id = id();
    let f = run(&sim, &integration(&id), ComputePolicy::MayStart).await;

    assert!(was(&f, Passed, CATALOG_VALIDATION).contains("metastore admin"));
    // The summary already said who the admin is: the grants are not read.
    let requests = sim.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.path.contains("effective-permissions")),
        "{requests:?}"
    );
}

/// Whether a missing catalog may be created is Databricks' answer to `CREATE CATALOG` (setup
/// attempts it): without a visible grant of its own the test is a warning that says why, never
/// a failure, since the privilege may come through a group.
#[tokio::test]
async fn a_missing_catalog_without_a_visible_create_catalog_grant_is_a_warning() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.revoke_metastore_privilege(SP_APP_ID, "CREATE_CATALOG");
    let id = id();
    let f = run(&sim, &integration(&id), ComputePolicy::MayStart).await;

    let warning = was(&f, Warning, CATALOG_VALIDATION);
    assert!(
        warning.contains(SP_APP_ID)
            && warning.contains(METASTORE_ID)
            && warning.contains("through a group"),
        "{warning}"
    );
    assert!(f.failure().is_none());
    assert_eq!(f.catalog_state(), &CatalogState::Missing);

    // Manual setup creates nothing itself: a missing catalog is a warning, not a failure.
    let manual = Integration {
        automatic: false,
        ..integration(&id)
    };
    let f = run(&sim, &manual, ComputePolicy::MayStart).await;
    assert!(was(&f, Warning, CATALOG_VALIDATION).contains("waiting for the setup script"));
    assert!(f.failure().is_none());
}

/// A metastore without root storage may still take a catalog without a location (Default
/// Storage): a warning naming spec.storageRoot, not a failure.
#[tokio::test]
async fn a_rootless_metastore_is_a_warning_before_the_attempt() {
    let sim = start(Scenario::default_for_tests().without_storage_root()).await;
    let id = id();
    let f = run(&sim, &integration(&id), ComputePolicy::MayStart).await;
    let warning = was(&f, Warning, CATALOG_VALIDATION);
    assert!(
        warning.contains("spec.storageRoot") && warning.contains("Default Storage"),
        "{warning}"
    );
    assert!(f.failure().is_none());
}
