//! Who may read what: another team's ISOLATED catalog used through a grant (its bindings are
//! readable only by its owner or a metastore admin), and a metastore admin creating a catalog
//! without a `CREATE_CATALOG` grant.

use databricks_sim::{CatalogSpec, SP_APP_ID, SP_TOKEN, Scenario, WAREHOUSE_ID, WorkspaceSpec};
use serde_json::json;
use uc_operator::api::TestStatus;

use crate::support::in_process::Env;
use crate::support::manifests::token_connection;
use crate::support::status::validation_test;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_teams_isolated_catalog_is_accessible_through_use_catalog() {
    let scenario = Scenario::default_for_tests()
        .with_workspace(WorkspaceSpec::new("b", 6006).with_warehouse(WAREHOUSE_ID, "RUNNING"))
        .with_catalog(
            CatalogSpec::new("sales", "finance-lead@example.com")
                .isolated(&[6006])
                .with_grant(SP_APP_ID, &["USE_CATALOG"]),
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
