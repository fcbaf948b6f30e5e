//! The proven lockdown: grants others gain on the catalog, its internal schema, table
//! or view are found by a periodic check over REST and, with automatic setup, removed over REST —
//! with the warehouse stopped, so no compute is involved. With manual setup they are reported.

use databricks_sim::{ADMIN_TOKEN, PrincipalSpec, SP_TOKEN, Scenario, WAREHOUSE_ID};
use uc_operator::api::Phase;
use uc_operator::databricks::{PermissionsChange, WorkspaceClient};
use uc_operator::failure::Reason;

use crate::support::databricks::{client, run_script, statements_sent};
use crate::support::in_process::Env;
use crate::support::status::{condition, phase};

const TABLE: &str = "governance.uc_operator_system.profiles";
const SCHEMA: &str = "governance.uc_operator_system";
const ALICE: &str = "alice@example.com";
/// What a message about the drift below must name: each principal and privilege.
const DRIFT: [&str; 5] = [
    ALICE,
    "account users",
    "SELECT",
    "USE_SCHEMA",
    "USE_CATALOG",
];

fn scenario() -> Scenario {
    Scenario::default_for_tests().with_principal(PrincipalSpec::user(ALICE))
}

fn grant(principal: &str, privilege: &str) -> PermissionsChange {
    PermissionsChange {
        principal: principal.into(),
        add: vec![privilege.into()],
        ..Default::default()
    }
}

/// A user gets SELECT on the table and USE SCHEMA on the schema, and `account users` USE CATALOG
/// — granted by the metastore admin over REST, while the warehouse is stopped.
async fn drift(admin: &WorkspaceClient) {
    let grants = [
        ("table", TABLE, grant(ALICE, "SELECT")),
        ("schema", SCHEMA, grant(ALICE, "USE_SCHEMA")),
        (
            "catalog",
            "governance",
            grant("account users", "USE_CATALOG"),
        ),
    ];
    for (kind, name, change) in grants {
        admin
            .update_permissions(kind, name, &[change])
            .await
            .unwrap();
    }
}

/// Who other than the principal holds anything on the three securables.
async fn foreign_holders(admin: &WorkspaceClient) -> Vec<String> {
    let mut out = Vec::new();
    for (kind, name) in [
        ("table", TABLE),
        ("schema", SCHEMA),
        ("catalog", "governance"),
    ] {
        for a in admin.get_permissions(kind, name).await.unwrap() {
            if a.principal != databricks_sim::SP_APP_ID && !a.privileges.is_empty() {
                out.push(format!("{} on {name}", a.principal));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_periodic_check_repairs_drift_over_rest_without_starting_compute() {
    let env = Env::new("lock-auto", scenario()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("gov", "governance")).await;
    let dbi = env.enable("gov").await;
    let admin = client(&env.sim, "main", WAREHOUSE_ID, ADMIN_TOKEN);
    drift(&admin).await;
    assert_eq!(foreign_holders(&admin).await.len(), 3);
    env.sim.set_warehouse_state("main", WAREHOUSE_ID, "STOPPED");
    let starts = env.sim.warehouse_starts(WAREHOUSE_ID);
    env.sim.clear_requests();

    // The next periodic check (a forced re-check takes the same Flow::Recheck path).
    env.force_recheck(&dbi);
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::Enabled), "{:?}", dbi.status);
    assert!(
        foreign_holders(&admin).await.is_empty(),
        "{:?}",
        foreign_holders(&admin).await
    );
    assert_eq!(
        env.sim.warehouse_starts(WAREHOUSE_ID),
        starts,
        "no warehouse started"
    );
    assert_eq!(statements_sent(&env.sim), 0, "the repair needs no SQL");
    let patches = env
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 3, "one PATCH per securable");
    let notes = env.event_notes(Reason::DriftRepaired).await;
    let note = notes
        .first()
        .unwrap_or_else(|| panic!("no DriftRepaired event"));
    for needle in DRIFT.iter().chain([&TABLE]) {
        assert!(note.contains(needle), "{note}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_manual_setup_the_same_drift_is_a_recurring_error_naming_each_principal() {
    let env = Env::new("lock-manual", scenario()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply_manual("gov", env.manifest("gov", "governance"))
        .await;
    let admin = client(&env.sim, "main", WAREHOUSE_ID, ADMIN_TOKEN);
    let script = env.config_map("gov-uc-setup").await["setup.sql"].clone();
    run_script(&admin, &script).await;
    let dbi = env.get("gov").await;
    env.force_recheck(&dbi);
    env.step("gov").await.result.unwrap();
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::Enabled), "{:?}", dbi.status);

    drift(&admin).await;
    env.sim.set_warehouse_state("main", WAREHOUSE_ID, "STOPPED");
    env.force_recheck(&dbi);
    let failure = env.step("gov").await.failure();
    assert_eq!(failure.reason, Reason::CatalogDrifted);
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::RecurringValidationError));
    assert_eq!(condition(&dbi, "Ready").1, Reason::CatalogDrifted.as_str());
    let status = dbi.status.as_ref().unwrap();
    let ready = status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    let message = &ready.message;
    for needle in DRIFT {
        assert!(message.contains(needle), "{message}");
    }
    assert_eq!(
        foreign_holders(&admin).await.len(),
        3,
        "manual mode changes nothing"
    );
}

/// A grant to a principal deleted since comes back with an empty `principal` and a
/// `principal_id` (databricks-sdk-go `PrivilegeAssignment`): it is reported by that id and
/// removed by it, once — the next check finds nothing to send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grant_to_a_deleted_principal_is_reported_and_removed_by_its_id() {
    let env = Env::new("lock-deleted", scenario()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("gov", "governance")).await;
    let dbi = env.enable("gov").await;
    let admin = client(&env.sim, "main", WAREHOUSE_ID, ADMIN_TOKEN);
    admin
        .update_permissions("catalog", "governance", &[grant(ALICE, "USE_CATALOG")])
        .await
        .unwrap();
    let id = env.sim.delete_principal(ALICE);
    let listed = admin
        .get_permissions("catalog", "governance")
        .await
        .unwrap();
    assert!(
        listed
            .iter()
            .any(|a| a.principal.is_empty() && a.principal_id == Some(serde_json::json!(id))),
        "{listed:?}"
    );
    env.sim.clear_requests();

    env.force_recheck(&dbi);
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::Enabled), "{:?}", dbi.status);
    let notes = env.event_notes(Reason::DriftRepaired).await;
    let note = notes.first().expect("a DriftRepaired event");
    assert!(note.contains(&format!("principal_id {id}")), "{note}");
    let listed = admin
        .get_permissions("catalog", "governance")
        .await
        .unwrap();
    assert!(
        listed
            .iter()
            .all(|a| a.principal == databricks_sim::SP_APP_ID),
        "{listed:?}"
    );

    // Nothing is left to remove: the next check sends no PATCH.
    env.sim.clear_requests();
    env.force_recheck(&dbi);
    env.step("gov").await.result.unwrap();
    let patches = env
        .sim
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH")
        .count();
    assert_eq!(patches, 0);
    assert_eq!(phase(&env.get("gov").await), Some(Phase::Enabled));
}
