//! Who may read what: another team's ISOLATED catalog used through a grant (its bindings are
//! readable only by its owner or a metastore admin), and a metastore admin creating a catalog
//! without a `CREATE_CATALOG` grant.

use databricks_sim::{CatalogSpec, SP_APP_ID, SP_TOKEN, Scenario, WAREHOUSE_ID, WorkspaceSpec};
use serde_json::json;
use uc_operator::api::TestStatus;
use uc_operator::checks::CATALOG_VALIDATION;
use uc_operator::failure::Reason;

use crate::support::databricks::submitted_sql;
use crate::support::in_process::{Env, refused_setup};
use crate::support::manifests::token_connection;
use crate::support::status::validation_test;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_teams_isolated_catalog_is_accessible_through_use_catalog() {
    let scenario = Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("b", 6006).with_warehouse(WAREHOUSE_ID, "RUNNING"))
        .with_catalog(
            CatalogSpec::new("sales", "finance-lead@example.com")
                .isolated(&[6006])
                .with_grant(SP_APP_ID, &databricks_sim::GOVERNANCE_PRIVILEGES),
        );
    let env = Env::new("isolated", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    let b = env.sim.workspace("b").host;
    let connection = token_connection(&b, "sp-token", &["sales"]);
    manifest["spec"]["additionalWorkspaceConnections"] = json!([connection]);
    env.apply(&manifest).await;

    let dbi = env.enable("gov").await;
    let access = validation_test(&dbi, "Catalog access: sales");
    assert_eq!(access.status, TestStatus::Passed, "{access:?}");
    // The governance preflight cannot read the bindings either: a warning that says so.
    let governed = validation_test(&dbi, "Governed catalog: sales");
    assert_eq!(governed.status, TestStatus::Warning, "{governed:?}");
    let message = governed.message.clone().unwrap_or_default();
    assert!(message.contains("bindings could not be read"), "{message}");
    let requests = env.sim.requests();
    let seen_from_b = requests.iter().any(|r| {
        r.workspace == "b"
            && r.method == "GET"
            && r.path.ends_with("/unity-catalog/catalogs/sales")
            && r.status == 200
    });
    assert!(seen_from_b, "judged by what workspace b shows");
    // The principal neither owns it nor administers the metastore: any bindings read was refused.
    let bindings = requests.iter().filter(|r| r.path.contains("bindings"));
    assert!(
        bindings.clone().all(|r| r.status == 403),
        "{:?}",
        bindings.collect::<Vec<_>>()
    );
    let state = env.sim.state();
    assert_eq!(state.catalogs["sales"].owner, "finance-lead@example.com");
    assert_ne!(state.metastore_owner, SP_APP_ID);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metastore_admin_without_a_create_catalog_grant_sets_up_automatically() {
    // Directly the metastore owner, and a member of the owning group.
    let direct = Scenario::default_for_tests().with_metastore_owner(SP_APP_ID);
    let mut through_group = Scenario::default_for_tests().with_metastore_owner("uc-admins");
    through_group
        .principal_mut(SP_APP_ID)
        .groups
        .push("uc-admins".into());
    for (prefix, mut scenario) in [("admin", direct), ("admin-group", through_group)] {
        scenario
            .principal_mut(SP_APP_ID)
            .metastore_privileges
            .clear();
        let env = Env::new(prefix, scenario).await;
        env.secret("sp-token", SP_TOKEN).await;
        env.apply(&env.manifest("gov", "governance")).await;
        env.enable("gov").await;
        let state = env.sim.state();
        assert_eq!(state.catalogs["governance"].owner, SP_APP_ID, "{prefix}");
        let granted = state.metastore_grants.get(SP_APP_ID);
        assert!(
            granted.is_none_or(|g| !g.contains("CREATE_CATALOG")),
            "{prefix}: {granted:?}"
        );
    }
}

/// `CREATE CATALOG` held only through a group the service principal belongs to, or through
/// `account users` (what Databricks recommends): effective permissions for the principal list
/// neither, so the operator asks Databricks by attempting it, and setup runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_catalog_held_through_a_group_or_account_users_sets_up_automatically() {
    for (prefix, grantee) in [
        ("grp-create", "uc-creators"),
        ("au-create", "account users"),
    ] {
        let mut scenario =
            Scenario::default_for_tests().with_metastore_grant(grantee, &["CREATE_CATALOG"]);
        let sp = scenario.principal_mut(SP_APP_ID);
        sp.metastore_privileges.clear();
        sp.groups.push("uc-creators".into());
        let env = Env::new(prefix, scenario).await;
        env.secret("sp-token", SP_TOKEN).await;
        env.apply(&env.manifest("gov", "governance")).await;
        let dbi = env.enable("gov").await;
        let test = validation_test(&dbi, CATALOG_VALIDATION);
        assert_eq!(test.status, TestStatus::Passed, "{prefix}: {test:?}");
        let state = env.sim.state();
        assert_eq!(state.catalogs["governance"].owner, SP_APP_ID, "{prefix}");
        assert!(!state.metastore_grants.contains_key(SP_APP_ID), "{prefix}");
    }
}

/// Without `CREATE CATALOG` at all, Databricks' refusal is `InsufficientPrivileges` naming the
/// `GRANT` that fixes it, after one attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_create_catalog_is_insufficient_privileges_with_its_remedy() {
    let mut scenario = Scenario::default_for_tests();
    scenario
        .principal_mut(SP_APP_ID)
        .metastore_privileges
        .clear();
    let env = Env::new("no-create", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    let failure = refused_setup(&env).await;
    assert_eq!(failure.reason, Reason::InsufficientPrivileges);
    let grant = format!("GRANT CREATE CATALOG ON METASTORE TO `{SP_APP_ID}`");
    assert!(failure.message.contains(&grant), "{}", failure.message);
    let dbi = env.get("gov").await;
    let test = validation_test(&dbi, CATALOG_VALIDATION);
    assert_eq!(test.status, TestStatus::Failed);
    let sql = submitted_sql(&env.sim);
    let attempts = sql.iter().filter(|s| s.contains("CREATE CATALOG")).count();
    assert_eq!(attempts, 1, "{sql:?}");
    assert!(env.sim.state().catalogs.is_empty());
}

/// A metastore admin through a nested group: SCIM `Me` does not list that group, so the
/// operator cannot tell it is an admin (a warning at most), yet setup runs, because Databricks
/// is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_through_a_nested_group_sets_up_automatically() {
    let mut scenario = Scenario::default_for_tests().with_metastore_owner("uc-admins");
    let sp = scenario.principal_mut(SP_APP_ID);
    sp.metastore_privileges.clear();
    sp.nested_groups.push("uc-admins".into());
    let env = Env::new("nested-admin", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("gov", "governance")).await;
    env.enable("gov").await;
    assert_eq!(env.sim.state().catalogs["governance"].owner, SP_APP_ID);
}
