//! Catalogs reached through additional workspace connections.

use super::*;

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
