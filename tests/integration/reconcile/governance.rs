//! The governance preflight (`Governed catalog: <catalog>`): what the governance tool will need on
//! each catalog it governs, checked over REST with no compute — `USE CATALOG` and `MANAGE` set on
//! the catalog itself, `USE SCHEMA`/`SELECT`/`MODIFY` effective, a read-write binding, one
//! metastore.

use databricks_sim::{
    ADMIN_TOKEN, ADMIN_USER, CatalogSpec, GOVERNANCE_PRIVILEGES, SP_APP_ID, SP_TOKEN, Scenario,
    WAREHOUSE_ID, WorkspaceSpec,
};
use serde_json::json;
use uc_operator::api::{Phase, TestStatus};
use uc_operator::databricks::PermissionsChange;
use uc_operator::failure::Reason;

use crate::support::databricks::{client, statements_sent};
use crate::support::in_process::Env;
use crate::support::manifests::token_connection;
use crate::support::status::{phase, validation_test};

const EAST: i64 = 2002;

/// Workspace `east` with a warehouse and catalog `sales` (owned by the admin) granted `grants`.
fn scenario(grants: &[&str]) -> Scenario {
    Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("east", EAST).with_warehouse(WAREHOUSE_ID, "RUNNING"))
        .with_catalog(CatalogSpec::new("sales", ADMIN_USER).with_grant(SP_APP_ID, grants))
}

fn manifest(env: &Env) -> serde_json::Value {
    let mut manifest = env.manifest("gov", "governance");
    let east = env.sim.workspace("east").host;
    manifest["spec"]["additionalWorkspaceConnections"] =
        json!([token_connection(&east, "sp-token", &["sales"])]);
    manifest
}

fn manage(add: bool) -> PermissionsChange {
    PermissionsChange {
        principal: SP_APP_ID.into(),
        add: if add { vec!["MANAGE".into()] } else { vec![] },
        remove: if add { vec![] } else { vec!["MANAGE".into()] },
        ..Default::default()
    }
}

/// MANAGE taken away while the warehouse is stopped: the next periodic check fails the test
/// naming the catalog, the privilege and the GRANT, without any SQL; granted again, it passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_without_manage_fails_naming_the_grant_and_passes_once_granted() {
    let env = Env::new("gov-manage", scenario(&GOVERNANCE_PRIVILEGES)).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&manifest(&env)).await;
    let dbi = env.enable("gov").await;
    let test = validation_test(&dbi, "Governed catalog: sales");
    assert_eq!(test.status, TestStatus::Passed, "{test:?}");

    let admin = client(&env.sim, "main", WAREHOUSE_ID, ADMIN_TOKEN);
    admin
        .update_permissions("catalog", "sales", &[manage(false)])
        .await
        .unwrap();
    env.sim.set_warehouse_state("main", WAREHOUSE_ID, "STOPPED");
    env.sim.set_warehouse_state("east", WAREHOUSE_ID, "STOPPED");
    env.sim.clear_requests();
    env.force_recheck(&dbi);
    let failure = env.step("gov").await.failure();
    assert_eq!(failure.reason, Reason::InsufficientPrivileges);
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::RecurringValidationError));
    let test = validation_test(&dbi, "Governed catalog: sales");
    assert_eq!(test.status, TestStatus::Failed, "{test:?}");
    let message = test.message.clone().unwrap_or_default();
    for needle in [
        "catalog sales",
        "MANAGE",
        &format!("GRANT MANAGE ON CATALOG `sales` TO `{SP_APP_ID}`"),
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
    assert_eq!(statements_sent(&env.sim), 0, "no SQL");
    assert_eq!(env.sim.warehouse_starts(WAREHOUSE_ID), 0);

    admin
        .update_permissions("catalog", "sales", &[manage(true)])
        .await
        .unwrap();
    env.force_recheck(&dbi);
    env.step("gov").await.result.unwrap();
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::Enabled), "{:?}", dbi.status);
    let test = validation_test(&dbi, "Governed catalog: sales");
    assert_eq!(test.status, TestStatus::Passed, "{test:?}");
}

/// MANAGE held only through the metastore (inherited) or not at all is not enough; a catalog in
/// `governedCatalogs` of the main workspace is checked the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_governed_catalog_of_the_main_workspace_is_checked_too() {
    let env = Env::new(
        "gov-main",
        scenario(&["USE_CATALOG", "USE_SCHEMA", "SELECT"]),
    )
    .await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["governedCatalogs"] = json!(["sales"]);
    env.apply(&manifest).await;
    env.step("gov").await.result.unwrap();
    let failure = env.step("gov").await.failure();
    assert_eq!(failure.reason, Reason::InsufficientPrivileges);
    let dbi = env.get("gov").await;
    let test = validation_test(&dbi, "Governed catalog: sales");
    let message = test.message.clone().unwrap_or_default();
    assert!(
        message.contains(&format!(
            "GRANT MANAGE, MODIFY ON CATALOG `sales` TO `{SP_APP_ID}`"
        )),
        "{message}"
    );
}

/// A connection whose workspace is on another metastore, and a catalog bound READ_ONLY to the
/// connection's workspace, fail naming why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_metastore_or_a_read_only_binding_fails_naming_why() {
    let mut other = scenario(&GOVERNANCE_PRIVILEGES);
    other.workspace_mut("east").other_metastore_id = Some("0000-other-metastore".into());
    let env = Env::new("gov-metastore", other).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&manifest(&env)).await;
    env.step("gov").await.result.unwrap();
    env.step("gov").await;
    let dbi = env.get("gov").await;
    let test = validation_test(&dbi, "Governed catalog: sales");
    assert_eq!(test.status, TestStatus::Failed, "{test:?}");
    let message = test.message.clone().unwrap_or_default();
    assert!(
        message.contains("0000-other-metastore") && message.contains("one metastore"),
        "{message}"
    );

    // Owned by the service principal (so it may read the bindings), bound READ_ONLY to east.
    let read_only = Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("east", EAST).with_warehouse(WAREHOUSE_ID, "RUNNING"))
        .with_catalog(CatalogSpec::new("sales", SP_APP_ID).read_only_in(&[EAST]));
    let env = Env::new("gov-readonly", read_only).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&manifest(&env)).await;
    env.step("gov").await.result.unwrap();
    env.step("gov").await;
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::CreateError));
    let test = validation_test(&dbi, "Governed catalog: sales");
    assert_eq!(test.status, TestStatus::Failed, "{test:?}");
    let message = test.message.clone().unwrap_or_default();
    assert!(
        message.contains("READ_ONLY") && message.contains(&EAST.to_string()),
        "{message}"
    );
}

/// Query audit is verified over REST on every check: SELECT on a system table revoked while the
/// warehouse is stopped is reported by the next periodic check, without SQL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_access_revoked_while_compute_is_stopped_is_reported() {
    let env = Env::new("gov-audit", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["audit"] = json!({"enabled": true});
    env.apply(&manifest).await;
    let dbi = env.enable("gov").await;
    let audit = validation_test(&dbi, "Query audit: system table access");
    assert_eq!(audit.status, TestStatus::Passed, "{audit:?}");

    let admin = client(&env.sim, "main", WAREHOUSE_ID, ADMIN_TOKEN);
    let revoke = PermissionsChange {
        principal: SP_APP_ID.into(),
        remove: vec!["SELECT".into()],
        ..Default::default()
    };
    admin
        .update_permissions("table", "system.access.audit", &[revoke])
        .await
        .unwrap();
    env.sim.set_warehouse_state("main", WAREHOUSE_ID, "STOPPED");
    env.sim.clear_requests();
    env.force_recheck(&dbi);
    let failure = env.step("gov").await.failure();
    assert_eq!(failure.reason, Reason::InsufficientPrivileges);
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::RecurringValidationError));
    let audit = validation_test(&dbi, "Query audit: system table access");
    assert_eq!(audit.status, TestStatus::Failed, "{audit:?}");
    let message = audit.message.clone().unwrap_or_default();
    assert!(
        message.contains("no SELECT on system.access.audit"),
        "{message}"
    );
    assert_eq!(statements_sent(&env.sim), 0, "no SQL");
    assert_eq!(env.sim.warehouse_starts(WAREHOUSE_ID), 0);
}

/// `audit.workspaceIds` naming a workspace no connection reaches is a warning naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_workspace_ids_no_connection_reaches_are_a_warning() {
    let env = Env::new("gov-audit-ws", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["audit"] = json!({"enabled": true, "workspaceIds": [1001, 4242]});
    env.apply(&manifest).await;
    let dbi = env.enable("gov").await;
    let audit = validation_test(&dbi, "Query audit: system table access");
    assert_eq!(audit.status, TestStatus::Warning, "{audit:?}");
    let message = audit.message.clone().unwrap_or_default();
    assert!(
        message.contains("[4242]") && message.contains("[1001]"),
        "{message}"
    );
}

/// MANAGE held only by a group the principal is in through another group: SCIM `Me` does not
/// list it, so the operator cannot tell — a warning naming the group, never a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_privilege_only_an_unlisted_group_holds_is_a_warning() {
    let mut scenario = Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("east", EAST).with_warehouse(WAREHOUSE_ID, "RUNNING"))
        .with_catalog(
            CatalogSpec::new("sales", ADMIN_USER)
                .with_grant(
                    SP_APP_ID,
                    &["USE_CATALOG", "USE_SCHEMA", "SELECT", "MODIFY"],
                )
                .with_grant("governors", &["MANAGE"]),
        );
    scenario
        .principal_mut(SP_APP_ID)
        .nested_groups
        .push("governors".into());
    let env = Env::new("gov-nested", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&manifest(&env)).await;
    let dbi = env.enable("gov").await;
    let test = validation_test(&dbi, "Governed catalog: sales");
    assert_eq!(test.status, TestStatus::Warning, "{test:?}");
    let message = test.message.clone().unwrap_or_default();
    assert!(
        message.contains("governors") && message.contains("MANAGE"),
        "{message}"
    );
}
