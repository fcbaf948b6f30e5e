//! What one tenant can and cannot do to another through what tenants write: credentials opt in
//! (label, host annotation), workspace claims only the operator writes, scripts from the
//! operator's own record, and deletions that end when credentials are gone.

use databricks_sim::{SP_TOKEN, Scenario};
use serde_json::json;
use uc_operator::api::Phase;
use uc_operator::failure::Reason;

use crate::support::in_process::Env;
use crate::support::manifests;
use crate::support::status::{condition, is, phase};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_is_a_credential_only_once_it_opts_in() {
    let env = Env::new("tb-label", Scenario::default_for_tests()).await;
    let mut unlabelled = manifests::secret("sp-token", "token", SP_TOKEN);
    unlabelled["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("labels");
    env.secret_manifest(&unlabelled).await;
    let failure = env
        .apply_until_failure("gov", &env.manifest("gov", "governance"))
        .await;
    assert_eq!(failure.reason, Reason::CredentialNotLabelled);
    let secret = format!("Secret {}/sp-token", env.ns);
    assert!(failure.message.contains(&secret), "{}", failure.message);
    assert!(
        failure.message.contains("uc-operator.dev/credentials=true"),
        "{}",
        failure.message
    );
    assert!(env.sim.requests().is_empty(), "nothing was sent");

    env.secret("sp-token", SP_TOKEN).await;
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert_eq!(phase(&env.get("gov").await), Some(Phase::Enabled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_annotated_for_other_hosts_is_not_sent_to_this_workspace() {
    let env = Env::new("tb-hosts", Scenario::default_for_tests()).await;
    let mut narrowed = manifests::secret("sp-token", "token", SP_TOKEN);
    narrowed["metadata"]["annotations"] =
        json!({"uc-operator.dev/allowed-hosts": "analytics.cloud.databricks.com"});
    env.secret_manifest(&narrowed).await;
    let failure = env
        .apply_until_failure("gov", &env.manifest("gov", "governance"))
        .await;
    assert_eq!(failure.reason, Reason::HostNotAllowed);
    assert!(
        failure.message.contains("uc-operator.dev/allowed-hosts"),
        "{}",
        failure.message
    );
    assert!(env.sim.requests().is_empty(), "nothing was sent");

    // Annotated with this workspace's host, it works.
    let host = env.sim.workspace("main").host;
    let bare = host.split(':').next().unwrap().to_string();
    narrowed["metadata"]["annotations"] = json!({"uc-operator.dev/allowed-hosts": bare});
    env.secret_manifest(&narrowed).await;
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert_eq!(phase(&env.get("gov").await), Some(Phase::Enabled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_that_points_elsewhere_and_suspends_gives_its_workspace_back() {
    let mut env = Env::new("tb-squat", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("a-squatter", "squatter")).await;
    env.enable("a-squatter").await;
    env.remember("a-squatter").await;

    // The squatter points its spec at another host and suspends: no request is sent, and the
    // workspace it held is given back.
    let mut moved = env.manifest("a-squatter", "squatter");
    moved["spec"]["workspaceUrl"] = json!("other-team.cloud.databricks.com");
    moved["spec"]["suspend"] = json!(true);
    env.apply(&moved).await;
    env.remember("a-squatter").await;
    env.sim.clear_requests();
    env.step("a-squatter").await.result.unwrap();
    assert!(env.sim.requests().is_empty());

    // A new integration for the workspace is enabled.
    env.apply(&env.manifest("b-owner", "owner")).await;
    env.remember("b-owner").await;
    env.enable("b-owner").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enabled_integration_keeps_its_workspace_on_a_recheck_while_a_newer_one_waits() {
    let mut env = Env::new("tb-keep", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("a-first", "first")).await;
    let first = env.enable("a-first").await;
    env.remember("a-first").await;

    env.apply(&env.manifest("b-second", "second")).await;
    env.remember("b-second").await;
    let failure = {
        env.step("b-second").await.result.unwrap();
        env.step("b-second").await.failure()
    };
    assert_eq!(failure.reason, Reason::DuplicateWorkspace);

    // The holder's periodic re-check still passes: a newer duplicate takes nothing.
    env.force_recheck(&first);
    let step = env.step("a-first").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    let dbi = env.get("a-first").await;
    assert_eq!(phase(&dbi), Some(Phase::Enabled));
    assert_eq!(condition(&dbi, "Ready"), is("True", Reason::Enabled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_of_secret_and_resource_completes_and_names_the_catalog_left() {
    let env = Env::new("tb-prune", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("gov", "governance")).await;
    env.enable("gov").await;

    env.delete_secret("sp-token").await;
    let result = env.delete("gov").await;
    assert!(result.is_ok(), "{result:?}");
    assert!(env.gone("gov").await, "the finalizer was removed");
    assert!(env.sim.state().catalogs.contains_key("governance"));
    let notes = env.event_notes(Reason::CatalogNotDropped).await;
    assert!(
        notes
            .iter()
            .any(|n| n.contains("governance") && n.contains("DROP CATALOG `governance` CASCADE")),
        "{notes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_integrations_created_at_once_for_one_workspace_one_wins() {
    let mut env = Env::new("tb-race", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    for (name, catalog) in [("a-one", "one"), ("b-two", "two")] {
        env.apply(&env.manifest(name, catalog)).await;
        env.remember(name).await;
        env.step(name).await.result.unwrap();
    }
    let (a, b) = tokio::join!(env.step("a-one"), env.step("b-two"));
    let phases = [
        phase(&env.get("a-one").await),
        phase(&env.get("b-two").await),
    ];
    let enabled = phases
        .iter()
        .filter(|p| **p == Some(Phase::Enabled))
        .count();
    assert_eq!(enabled, 1, "{phases:?}");
    let loser = if a.result.is_ok() { b } else { a };
    let failure = loser.failure();
    assert_eq!(failure.reason, Reason::DuplicateWorkspace);
    assert!(
        failure
            .message
            .starts_with("Databricks Unity Catalog integration already exists on "),
        "{}",
        failure.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_host_names_of_one_workspace_are_one_workspace() {
    // `alias` is the same workspace (same id) under another host, as a vanity or private-link
    // name is.
    let mut scenario = Scenario::default_for_tests();
    let mut alias = scenario.workspaces[0].clone();
    alias.name = "alias".into();
    scenario = scenario.with_workspace(alias);
    let mut env = Env::new("tb-alias", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("a-main", "main_catalog")).await;
    env.enable("a-main").await;
    env.remember("a-main").await;

    let alias_host = env.sim.workspace("alias").host;
    assert_ne!(alias_host, env.sim.workspace("main").host);
    let mut other = env.manifest("b-alias", "alias_catalog");
    other["spec"]["workspaceUrl"] = json!(alias_host);
    env.apply(&other).await;
    env.remember("b-alias").await;
    env.step("b-alias").await.result.unwrap();
    let failure = env.step("b-alias").await.failure();
    assert_eq!(failure.reason, Reason::DuplicateWorkspace);
    assert!(
        failure.message.contains(&format!("{}/a-main", env.ns)),
        "{}",
        failure.message
    );
}
