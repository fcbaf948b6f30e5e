//! The manual script run by someone who is not a metastore admin and holds only `CREATE
//! CATALOG`: grants and revokes need ownership, `MANAGE` or metastore admin, so the script must
//! transfer ownership of each object last (`../shared/reference/databricks-api.md`, "Manual script
//! and ownership").

use databricks_sim::{PrincipalSpec, SP_APP_ID, SP_TOKEN, Scenario};
use uc_operator::api::Phase;
use uc_operator::failure::Reason;
use uc_operator::setup::{CURRENT_PROFILE_VIEW, INTERNAL_SCHEMA, PROFILES_TABLE};

use crate::support::databricks::{run_script, sql_editor};
use crate::support::in_process::Env;
use crate::support::status::{condition, is, phase};

const CREATOR: &str = "catalog-creator@example.com";
const CREATOR_TOKEN: &str = "dapi-creator-token";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_catalog_holder_runs_the_script_and_the_principal_owns_everything() {
    let mut scenario = Scenario::default_for_tests().with_principal(
        PrincipalSpec::user(CREATOR)
            .with_token(CREATOR_TOKEN)
            .with_metastore_privilege("CREATE_CATALOG"),
    );
    // The service principal cannot create catalogs: that is why the script is run by hand.
    scenario
        .principal_mut(SP_APP_ID)
        .metastore_privileges
        .clear();
    let env = Env::new("non-admin-script", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply_manual("gov", env.manifest("gov", "governance"))
        .await;
    let dbi = env.get("gov").await;
    assert_eq!(
        condition(&dbi, "Bootstrapped"),
        is("False", Reason::AwaitingManualSetup)
    );
    assert_ne!(env.sim.state().metastore_owner, CREATOR, "not an admin");

    let script = &env.config_map("gov-uc-setup").await["setup.sql"];
    let ran = run_script(&sql_editor(&env.sim, CREATOR_TOKEN), script).await;
    assert!(ran > 1, "{script}");

    let state = env.sim.state();
    let catalog = &state.catalogs["governance"];
    assert_eq!(catalog.owner, SP_APP_ID);
    // What the script created (the built-in `default` and `information_schema` come with the
    // catalog and belong to whoever created it).
    let schema = &catalog.schemas[INTERNAL_SCHEMA];
    assert_eq!(schema.owner, SP_APP_ID, "schema {INTERNAL_SCHEMA}");
    assert_eq!(schema.tables[PROFILES_TABLE].owner, SP_APP_ID, "table");
    assert_eq!(schema.views[CURRENT_PROFILE_VIEW].owner, SP_APP_ID, "view");
    for (name, schema) in &catalog.schemas {
        if ["default", "information_schema"].contains(&name.as_str()) {
            continue;
        }
        let objects = schema.tables.values().chain(schema.views.values());
        let owners = objects.map(|t| (&t.name, &t.owner));
        let functions = schema.functions.values().map(|f| (&f.name, &f.owner));
        for (object, owner) in owners.chain(functions) {
            assert_eq!(owner, SP_APP_ID, "{name}.{object}");
        }
        assert_eq!(schema.owner, SP_APP_ID, "schema {name}");
    }

    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::Enabled));
    assert_eq!(
        condition(&dbi, "Bootstrapped"),
        is("True", Reason::ManualSetupVerified)
    );
}
