//! The setup plan: every statement parses with the simulator's Databricks parser and keeps its
//! identifiers; executed against the simulator it builds the expected catalog, is idempotent,
//! and the cleanup script removes it.

use databricks_sim::sql::{SqlStatement, parse};
use databricks_sim::{ADMIN_TOKEN, CatalogSpec, SP_APP_ID, SP_TOKEN, Scenario, Simulator};
use uc_operator::setup::{
    CURRENT_PROFILE_VIEW, INTERNAL_SCHEMA, Mode, PROFILES_TABLE, Script, SetupParams, TAG_KEY,
    cleanup_statements, render_script, setup_statements, spec_hash,
};

use crate::support::databricks::{run_statements, sql_editor};

fn params(catalog: &str, principal: Option<&str>, audit: bool) -> SetupParams {
    SetupParams {
        id: uc_operator::identity::IntegrationId::new("default", "team-a", "uc"),
        storage_root: None,
        catalog: catalog.into(),
        principal: principal.map(str::to_owned),
        audit,
    }
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn same_path(got: &[String], want: &[&str]) -> bool {
    got.len() == want.len() && got.iter().zip(want).all(|(g, w)| same(g, w))
}

/// Every statement parses to what it says, with the identifiers and literals intact.
// Long: one arm per statement kind the setup emits, each checking its own fields.
fn check_round_trip(p: &SetupParams, statements: &[String]) {
    let principal = p.principal_or_placeholder();
    let c = p.catalog.as_str();
    for sql in statements {
        let parsed = parse(sql).unwrap_or_else(|e| panic!("{sql}\n{e}"));
        assert_eq!(parsed.len(), 1, "{sql}");
        match &parsed[0] {
            SqlStatement::CreateCatalog {
                name,
                if_not_exists,
                comment,
                ..
            } => {
                assert!(same(name, c) && *if_not_exists, "{sql}");
                assert!(
                    comment
                        .as_deref()
                        .unwrap_or_default()
                        .contains(&p.tag_value()),
                    "{sql}"
                );
            }
            SqlStatement::SetCatalogTags { name, tags } => {
                assert!(same(name, c), "{sql}");
                assert_eq!(tags, &vec![(TAG_KEY.to_owned(), p.tag_value())], "{sql}");
            }
            SqlStatement::AlterCatalogOwner { name, owner } => {
                assert!(same(name, c) && same(owner, principal), "{sql}");
            }
            SqlStatement::AlterSchemaOwner { name, owner } => {
                let ours =
                    same_path(name, &[c, INTERNAL_SCHEMA]) || same_path(name, &[c, "default"]);
                assert!(ours && same(owner, principal), "{sql}");
            }
            SqlStatement::CreateSchema {
                name,
                if_not_exists,
                ..
            } => {
                assert!(
                    same_path(name, &[c, INTERNAL_SCHEMA]) && *if_not_exists,
                    "{sql}"
                );
            }
            SqlStatement::CreateTable {
                name,
                if_not_exists,
                columns,
                ..
            } => {
                assert!(
                    same_path(name, &[c, INTERNAL_SCHEMA, PROFILES_TABLE]) && *if_not_exists,
                    "{sql}"
                );
                assert_eq!(columns.len(), 3, "{sql}");
            }
            SqlStatement::CreateView {
                name,
                if_not_exists,
                ..
            } => {
                assert!(
                    same_path(name, &[c, INTERNAL_SCHEMA, CURRENT_PROFILE_VIEW]) && *if_not_exists,
                    "{sql}"
                );
            }
            SqlStatement::Revoke {
                securable,
                principal: from,
                privileges,
            } if same(&securable.name[0], "system") => {
                // cleanup.sql revokes what setup.sql granted for query audit.
                assert!(same(from, principal), "{sql}");
                assert!(!privileges.is_empty(), "{sql}");
            }
            SqlStatement::Revoke {
                securable,
                principal: from,
                privileges,
            } => {
                assert!(same_path(&securable.name, &[c]), "{sql}");
                assert_eq!(from, "account users", "{sql}");
                let one = privileges.as_slice();
                assert!(one == ["ALL_PRIVILEGES"] || one == ["MANAGE"], "{sql}");
            }
            SqlStatement::Grant {
                securable,
                principal: to,
                ..
            } => {
                assert!(same(&securable.name[0], "system"), "{sql}");
                assert!(same(to, principal), "{sql}");
            }
            SqlStatement::AlterObjectOwner { name, owner, .. } => {
                assert!(same(&name[0], c) && same(owner, principal), "{sql}");
            }
            SqlStatement::DropCatalog {
                name,
                if_exists,
                cascade,
            } => {
                assert!(same(name, c) && *if_exists && *cascade, "{sql}");
            }
            other => panic!("unexpected statement {other:?} from {sql}"),
        }
    }
}

const NASTY: [&str; 5] = ["uc_catalog", "we`ird", "it's", "back\\slash", "a b.c"];

#[test]
fn every_statement_parses_and_keeps_its_identifiers() {
    for catalog in NASTY {
        for principal in [None, Some(SP_APP_ID), Some("sp`with'quotes")] {
            for audit in [false, true] {
                let p = params(catalog, principal, audit);
                for mode in [Mode::Automatic, Mode::Manual] {
                    check_round_trip(&p, &setup_statements(&p, mode));
                }
                check_round_trip(&p, &cleanup_statements(&p, Mode::Manual));
            }
        }
    }
}

#[test]
fn rendered_scripts_parse_whole() {
    for catalog in ["uc_catalog", "we`ird", "it's"] {
        let p = params(catalog, None, true);
        let hash = spec_hash(&p, Mode::Manual);
        for script in [Script::Setup, Script::Cleanup] {
            let text = render_script(&p, script, &hash);
            let statements = parse(&text).unwrap_or_else(|e| panic!("{text}\n{e}"));
            let expected = match script {
                Script::Setup => setup_statements(&p, Mode::Manual).len(),
                Script::Cleanup => cleanup_statements(&p, Mode::Manual).len(),
            };
            assert_eq!(statements.len(), expected, "{text}");
        }
    }
}

fn catalogs(sim: &Simulator) -> serde_json::Value {
    serde_json::to_value(&sim.state().catalogs).unwrap()
}

/// The catalog that setup must leave: owned by the principal, tagged, `account users` holding
/// nothing, the internal schema with its table and view.
fn assert_set_up(sim: &Simulator, p: &SetupParams) {
    let state = sim.state();
    let catalog = state
        .catalogs
        .get(&p.catalog.to_lowercase())
        .expect("the catalog exists");
    assert_eq!(catalog.owner, SP_APP_ID);
    assert_eq!(catalog.tags.get(TAG_KEY), Some(&p.tag_value()));
    assert!(
        catalog
            .grants
            .get("account users")
            .is_none_or(|g| g.is_empty()),
        "{:?}",
        catalog.grants
    );
    let schema = catalog
        .schemas
        .get(INTERNAL_SCHEMA)
        .expect("the internal schema exists");
    assert!(
        schema.tables.contains_key(PROFILES_TABLE),
        "{:?}",
        schema.tables.keys()
    );
    assert!(
        schema.views.contains_key(CURRENT_PROFILE_VIEW),
        "{:?}",
        schema.views.keys()
    );
}

#[tokio::test]
async fn automatic_setup_builds_the_catalog_and_is_idempotent() {
    let sim = Simulator::start(Scenario::default_for_tests())
        .await
        .unwrap();
    let sp = sql_editor(&sim, SP_TOKEN);
    let p = params("uc_catalog", Some(SP_APP_ID), true);
    let statements = setup_statements(&p, Mode::Automatic);
    run_statements(&sp, &statements).await;
    assert_set_up(&sim, &p);
    let first = catalogs(&sim);
    run_statements(&sp, &statements).await;
    assert_eq!(catalogs(&sim), first, "a second run changes nothing");

    // The view answers for the calling principal.
    let rows = sp
        .execute("SELECT * FROM uc_catalog.uc_operator_system.current_profile")
        .await
        .unwrap();
    assert!(rows.rows.is_empty());
    assert_eq!(
        sp.get_catalog_tag("uc_catalog", TAG_KEY).await.unwrap(),
        uc_operator::databricks::CatalogTag::Value(p.tag_value())
    );

    run_statements(&sp, &cleanup_statements(&p, Mode::Automatic)).await;
    assert!(!sim.state().catalogs.contains_key("uc_catalog"));
    run_statements(&sp, &cleanup_statements(&p, Mode::Automatic)).await;
}

#[tokio::test]
async fn manual_setup_as_an_admin_hands_the_catalog_to_the_principal() {
    // A catalog someone made earlier, still open to every account user.
    let scenario = Scenario::default_for_tests().with_catalog(
        CatalogSpec::new("it's", databricks_sim::ADMIN_USER)
            .with_grant("account users", &["USE_CATALOG", "SELECT"]),
    );
    let sim = Simulator::start(scenario).await.unwrap();
    let admin = sql_editor(&sim, ADMIN_TOKEN);
    // Audit off: the simulator models system-table access as a per-principal flag and has no
    // `system` catalog to grant on (the grants' syntax is checked above).
    let p = params("it's", Some(SP_APP_ID), false);
    let statements = setup_statements(&p, Mode::Manual);
    run_statements(&admin, &statements).await;
    assert_set_up(&sim, &p);
    let first = catalogs(&sim);
    run_statements(&admin, &statements).await;
    assert_eq!(catalogs(&sim), first, "a second run changes nothing");

    // The audit grants let the principal read the system tables.
    let sp = sql_editor(&sim, SP_TOKEN);
    sp.execute("SELECT 1 FROM system.access.audit LIMIT 1")
        .await
        .unwrap();

    run_statements(&admin, &cleanup_statements(&p, Mode::Manual)).await;
    assert!(!sim.state().catalogs.contains_key("it's"));
}
