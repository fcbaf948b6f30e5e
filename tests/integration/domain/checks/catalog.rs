//! The catalog test against catalogs that already exist, and the query-audit test.

use super::*;

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
