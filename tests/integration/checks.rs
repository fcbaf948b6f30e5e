//! The validation tests called directly (`uc_operator::checks::run`) against the in-process
//! simulator: each test name's pass / fail / warning / skip path and the failure's reason, with
//! no Kubernetes in the way.

use std::time::Duration;

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
use uc_operator::databricks::{
    AuthConfig, ClientSettings, Compute, ConnectionConfig, PollPolicy, RetryPolicy, WorkspaceClient,
};
use uc_operator::failure::{Failure, Reason};
use uc_operator::identity::IntegrationId;
use uc_operator::setup::TAG_KEY;

const CATALOG: &str = "governance";
const STATEMENTS: &str = "/api/2.0/sql/statements";

/// Client settings trusting the simulator's CA, with short retries and polls (shared with
/// `reconcile.rs`).
pub fn settings(sim: &Simulator) -> ClientSettings {
    ClientSettings {
        ca_bundle_pem: Some(sim.ca_pem()),
        allowed_hosts: uc_operator::databricks::AllowedHosts::parse("localhost").unwrap(),
        retry: RetryPolicy {
            total_budget: Duration::from_secs(10),
            per_request_timeout: Duration::from_secs(10),
            base_backoff: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
            max_backoff: Duration::from_millis(100),
        },
        poll: PollPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(50),
            give_up_after: Duration::from_secs(30),
            wait_timeout: Duration::from_secs(10),
        },
        ..ClientSettings::default()
    }
}

/// A token client for a simulator workspace, on its warehouse `warehouse`.
pub fn client(sim: &Simulator, workspace: &str, warehouse: &str, token: &str) -> WorkspaceClient {
    let config = ConnectionConfig {
        host: "localhost".into(),
        port: sim.workspace(workspace).port,
        compute: Compute::Warehouse {
            id: warehouse.into(),
        },
        auth: AuthConfig::Token(token.into()),
    };
    WorkspaceClient::new(config, &settings(sim)).unwrap()
}

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

fn sql_requests(sim: &Simulator) -> usize {
    let requests = sim.requests();
    requests
        .iter()
        .filter(|r| r.path.starts_with(STATEMENTS))
        .count()
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
    assert!(sql_requests(&sim) <= 1);
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
    was(&f, Skipped, AUDIT_VALIDATION);
    assert!(!f.compute_available);
    assert_eq!(sql_requests(&sim), 0);
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
async fn a_missing_catalog_needs_create_catalog() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.revoke_metastore_privilege(SP_APP_ID, "CREATE_CATALOG");
    let id = id();
    let f = run(&sim, &integration(&id), ComputePolicy::MayStart).await;

    let fail = failure(&f, CATALOG_VALIDATION);
    assert_eq!(fail.reason, Reason::InsufficientPrivileges);
    assert!(fail.needs_user());
    assert!(fail.message.contains(SP_APP_ID) && fail.message.contains(METASTORE_ID));
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

/// Runs the catalog test against a pre-existing `governance` catalog.
async fn with_catalog(catalog: CatalogSpec, check_lockdown: bool) -> Findings {
    let ours = catalog.owner == SP_APP_ID;
    let sim = start(Scenario::default_for_tests().with_catalog(catalog)).await;
    let id = id();
    // The internal schema, table and view setup creates, made by the principal (their owner).
    let params = uc_operator::setup::SetupParams {
        id: id.clone(),
        catalog: CATALOG.into(),
        storage_root: None,
        principal: Some(SP_APP_ID.into()),
        audit: false,
    };
    let existing = uc_operator::setup::Existing {
        catalog: true,
        tagged: true,
    };
    let sp = main_client(&sim);
    for sql in uc_operator::setup::automatic_statements(&params, existing) {
        if ours && !sql.starts_with("REVOKE") && !sql.contains("SET TAGS") {
            sp.execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
    }
    sim.clear_requests();
    let it = Integration {
        check_lockdown,
        ..integration(&id)
    };
    run(&sim, &it, ComputePolicy::MayStart).await
}

#[tokio::test]
async fn a_foreign_catalog_is_never_taken() {
    // Someone else's catalog that the principal may see (an invisible one answers 403).
    let foreign = CatalogSpec::new(CATALOG, ADMIN_USER).with_grant(SP_APP_ID, &["BROWSE"]);
    let f = with_catalog(foreign, false).await;
    let fail = failure(&f, CATALOG_VALIDATION);
    assert_eq!(fail.reason, Reason::CatalogExists);
    assert!(fail.message.contains(ADMIN_USER), "{}", fail.message);
    let foreign = CatalogState::Foreign {
        owner: ADMIN_USER.into(),
    };
    assert_eq!(f.catalog_state(), &foreign);
}

#[tokio::test]
async fn another_integrations_catalog_is_never_taken() {
    let other = "default/other-team/gov";
    let catalog = CatalogSpec::new(CATALOG, SP_APP_ID).with_tag(TAG_KEY, other);
    let f = with_catalog(catalog, false).await;
    let fail = failure(&f, CATALOG_VALIDATION);
    assert_eq!(fail.reason, Reason::CatalogOwnedByAnotherIntegration);
    assert!(fail.message.contains(other), "{}", fail.message);
}

#[tokio::test]
async fn our_catalog_passes_until_account_users_hold_a_grant() {
    let ours = CatalogSpec::new(CATALOG, SP_APP_ID).with_tag(TAG_KEY, &id().marker());
    let f = with_catalog(ours.clone(), true).await;
    assert!(was(&f, Passed, CATALOG_VALIDATION).contains("owned by this integration"));
    assert_eq!(f.catalog_state(), &CatalogState::Ours);

    let drifted = ours.with_grant("account users", &["USE_CATALOG"]);
    let f = with_catalog(drifted.clone(), true).await;
    let fail = failure(&f, CATALOG_VALIDATION);
    assert_eq!(fail.reason, Reason::CatalogDrifted);
    assert!(fail.message.contains("account users"), "{}", fail.message);
    assert!(matches!(f.catalog_state(), CatalogState::Drifted(_)));

    // Before automatic setup (which revokes them) grants are not judged.
    let f = with_catalog(drifted, false).await;
    was(&f, Passed, CATALOG_VALIDATION);
}

#[tokio::test]
async fn query_audit_needs_the_system_tables() {
    let mut scenario = Scenario::default_for_tests();
    scenario.principal_mut(SP_APP_ID).system_tables_access = false;
    let sim = start(scenario).await;
    let id = id();
    let it = Integration {
        audit: true,
        ..integration(&id)
    };
    let f = run(&sim, &it, ComputePolicy::MayStart).await;
    let fail = failure(&f, AUDIT_VALIDATION);
    assert_eq!(fail.reason, Reason::InsufficientPrivileges);
    assert!(
        fail.message.contains("system.access.audit"),
        "{}",
        fail.message
    );

    let sim = start(Scenario::default_for_tests()).await;
    let f = run(&sim, &it, ComputePolicy::MayStart).await;
    assert!(was(&f, Passed, AUDIT_VALIDATION).contains("system.query.history"));
}

/// `main` (1001) plus `other` (1002, its own warehouse); the listed catalogs go through `other`.
async fn through_other(catalogs: Vec<CatalogSpec>) -> Findings {
    let mut scenario = Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("other", 1002).with_warehouse("wh2", "RUNNING"));
    let names = catalogs.iter().map(|c| c.name.clone()).collect();
    scenario.catalogs = catalogs;
    let sim = start(scenario).await;
    let additional = [Additional {
        client: client(&sim, "other", "wh2", SP_TOKEN),
        catalogs: names,
    }];
    let id = id();
    checks::run(
        &main_client(&sim),
        &additional,
        &integration(&id),
        ComputePolicy::MayStart,
    )
    .await
}

fn connection_passed(f: &Findings) {
    let other = f
        .workspaces
        .get(1)
        .expect("the additional connection is recorded");
    assert_eq!(other.workspace_id, Some(1002));
    let message = was(f, Passed, &checks::connection_test(&other.host));
    assert!(message.contains("1002"), "{message}");
}

#[tokio::test]
async fn catalogs_reachable_through_an_additional_connection_pass() {
    let f = through_other(vec![
        CatalogSpec::new("sales", SP_APP_ID),
        CatalogSpec::new("finance", SP_APP_ID).isolated(&[1002]),
    ])
    .await;
    connection_passed(&f);
    assert!(was(&f, Passed, &checks::catalog_access_test("sales")).contains("OPEN"));
    let bound = was(&f, Passed, &checks::catalog_access_test("finance"));
    assert!(bound.contains("1002"), "{bound}");
    assert!(f.failure().is_none(), "{:?}", f.failure());
}

#[tokio::test]
async fn a_catalog_used_but_not_owned_is_reachable_where_its_workspace_shows_it() {
    // The contract: reachability never depends on reading bindings (which needs the owner or a
    // metastore admin on real Databricks); the catalog is shown to the principal through 1002.
    let shared = CatalogSpec::new("shared", ADMIN_USER)
        .isolated(&[1002])
        .with_grant(SP_APP_ID, &["USE_CATALOG"]);
    let f = through_other(vec![shared]).await;
    was(&f, Passed, &checks::catalog_access_test("shared"));
}

#[tokio::test]
async fn an_isolated_catalog_bound_elsewhere_is_not_reachable() {
    let f = through_other(vec![
        CatalogSpec::new("hidden", SP_APP_ID).isolated(&[1003]),
        CatalogSpec::new("on_main", SP_APP_ID).isolated(&[1001]),
    ])
    .await;
    connection_passed(&f);
    let fail = failure(&f, &checks::catalog_access_test("hidden"));
    assert_eq!(fail.reason, Reason::CatalogNotReachable);
    assert!(fail.needs_user());
    // The principal owns it, so it may read the bindings: the message names where it is bound.
    assert!(fail.message.contains("hidden") && fail.message.contains("1003"));
    // Bound to the main workspace: reachable, but not where it is listed.
    let warning = was(&f, Warning, &checks::catalog_access_test("on_main"));
    assert!(warning.contains("1001"), "{warning}");
    assert_eq!(f.failure().unwrap().reason, Reason::CatalogNotReachable);
}
