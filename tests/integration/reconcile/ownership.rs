//! Ownership, driven in-process (exact steps): a forged marker on a foreign catalog, deliberate
//! adoption, a crash between creating and marking, and a broken older tenant on a shared workspace.

use databricks_sim::{ADMIN_TOKEN, SP_APP_ID, SP_TOKEN, Scenario, Simulator};
use serde_json::{Value, json};
use uc_operator::api::Phase;
use uc_operator::failure::Reason;
use uc_operator::identity::IntegrationId;
use uc_operator::setup::{catalog_comment, quote_literal};

use crate::support::databricks::{run_statements, sql_editor};
use crate::support::in_process::Env;
use crate::support::spawned::TAG_KEY;
use crate::support::status::{condition, is, phase, ready};

/// The catalog as the simulator holds it (owner, grants, tags, comment, schemas).
fn snapshot(sim: &Simulator, name: &str) -> Option<Value> {
    let state = sim.state();
    state
        .catalogs
        .get(name)
        .map(|c| serde_json::to_value(c).unwrap())
}

/// Reconciles until the resource leaves `creating`/`editing` (3 steps at most).
async fn settle(env: &Env, name: &str) -> Option<Phase> {
    for _ in 0..3 {
        let _ = env.step(name).await;
        let p = phase(&env.get(name).await);
        if !matches!(p, None | Some(Phase::Creating) | Some(Phase::Editing)) {
            return p;
        }
    }
    phase(&env.get(name).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: validation, adoption attempt and deletion of one forged catalog, each checked.
async fn a_foreign_catalog_with_a_forged_marker_is_never_altered_nor_dropped() {
    // Long: forging, two refusals and the deletion are one story about one catalog.
    let env = Env::new("own-forged", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    // A user who may only tag (here the admin, who owns it) forges this integration's marker.
    let forged = format!("default/{}/thief", env.ns);
    run_statements(
        &sql_editor(&env.sim, ADMIN_TOKEN),
        &[
            "CREATE CATALOG foreign_cat".into(),
            "GRANT USE CATALOG ON CATALOG foreign_cat TO `account users`".into(),
            format!("ALTER CATALOG foreign_cat SET TAGS ('{TAG_KEY}' = '{forged}')"),
        ],
    )
    .await;
    let before = snapshot(&env.sim, "foreign_cat").unwrap();
    assert_ne!(before["owner"], json!(SP_APP_ID));

    let mut manifest = env.manifest("thief", "foreign_cat");
    env.apply(&manifest).await;
    assert_eq!(settle(&env, "thief").await, Some(Phase::CreateError));
    // Not even when adoption is asked for: the service principal does not own it.
    manifest["spec"]["adoptExistingCatalog"] = json!(true);
    env.apply(&manifest).await;
    let settled = settle(&env, "thief").await;
    // A resource that never was enabled may stay `createError` after an edit.
    assert!(
        matches!(settled, Some(Phase::CreateError | Phase::EditError)),
        "{settled:?}"
    );
    let dbi = env.get("thief").await;
    let (status, reason) = condition(&dbi, "Ready");
    assert_eq!(status, "False");
    let refusals = [
        Reason::CatalogExists,
        Reason::CatalogOwnershipChanged,
        Reason::CatalogOwnedByAnotherIntegration,
    ];
    assert!(
        refusals.iter().any(|r| r.as_str() == reason),
        "{reason}: {:?}",
        dbi.status
    );
    let message = ready(&dbi).1;
    assert!(
        message.contains("admin@example.com"),
        "names the owner: {message}"
    );
    assert_eq!(snapshot(&env.sim, "foreign_cat").as_ref(), Some(&before));

    let _ = env.delete("thief").await;
    if !env.gone("thief").await {
        let _ = env.step("thief").await;
    }
    assert!(env.gone("thief").await, "the deletion hangs");
    assert_eq!(
        snapshot(&env.sim, "foreign_cat").as_ref(),
        Some(&before),
        "a foreign catalog was altered or dropped"
    );
    env.assert_no_leak(SP_TOKEN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sp_owned_catalog_is_adopted_only_when_asked() {
    let env = Env::new("own-adopt", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    run_statements(
        &sql_editor(&env.sim, ADMIN_TOKEN),
        &[
            "CREATE CATALOG legacy".into(),
            format!("ALTER CATALOG legacy OWNER TO `{SP_APP_ID}`"),
        ],
    )
    .await;
    let mut manifest = env.manifest("gov", "legacy");
    env.apply(&manifest).await;
    env.step("gov").await.result.unwrap();
    let failure = env.step("gov").await.failure();
    assert_eq!(failure.reason, Reason::CatalogNotAdopted);
    assert!(
        failure.message.contains("adoptExistingCatalog") && failure.message.contains("legacy"),
        "{}",
        failure.message
    );
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::CreateError));
    let untouched = snapshot(&env.sim, "legacy").unwrap();
    assert!(untouched["tags"].get(TAG_KEY).is_none(), "{untouched}");

    manifest["spec"]["adoptExistingCatalog"] = json!(true);
    env.apply(&manifest).await;
    assert_eq!(settle(&env, "gov").await, Some(Phase::Enabled));
    let dbi = env.get("gov").await;
    assert_eq!(condition(&dbi, "Ready"), is("True", Reason::Enabled));
    let adopted = snapshot(&env.sim, "legacy").unwrap();
    let marker = format!("default:{}:gov", env.ns);
    assert_eq!(adopted["tags"][TAG_KEY], json!(marker));
    assert_eq!(adopted["owner"], json!(SP_APP_ID));
    env.assert_no_leak(SP_TOKEN).await;

    // Adoption is never destructive: deleting the integration (deletionPolicy Delete) keeps it.
    env.delete("gov").await.unwrap();
    assert!(env.gone("gov").await, "the finalizer is removed");
    assert!(
        snapshot(&env.sim, "legacy").is_some(),
        "the adopted catalog stays"
    );
    let kept = env.event_notes(Reason::CatalogRetained).await;
    assert!(kept.iter().any(|n| n.contains("adopted")), "{kept:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_created_but_not_yet_marked_is_recognised_after_a_crash() {
    let env = Env::new("own-crash", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    // What a crash right after the first setup statement leaves: the service principal's
    // catalog with the creation COMMENT, and no marker tag yet.
    let id = IntegrationId::new("default", &env.ns, "crashy");
    let comment = quote_literal(&catalog_comment(&id));
    run_statements(
        &sql_editor(&env.sim, SP_TOKEN),
        &[format!("CREATE CATALOG crash_cat COMMENT {comment}")],
    )
    .await;
    let half = snapshot(&env.sim, "crash_cat").unwrap();
    assert_eq!(half["owner"], json!(SP_APP_ID));
    assert!(half["tags"].get(TAG_KEY).is_none(), "{half}");

    env.apply(&env.manifest("crashy", "crash_cat")).await;
    env.enable("crashy").await;
    let cat = snapshot(&env.sim, "crash_cat").unwrap();
    assert_eq!(cat["tags"][TAG_KEY], json!(id.marker()));
    assert_eq!(cat["owner"], json!(SP_APP_ID));
    assert!(cat["schemas"].get("uc_operator_system").is_some(), "{cat}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_resource_with_a_wrong_token_does_not_block_a_newer_one() {
    let mut env = Env::new("own-wrongtoken", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.secret("stale-token", "dapi-not-a-valid-token").await;
    let mut older = env.manifest("a-older", "older");
    older["spec"]["tokenSecretRef"]["name"] = json!("stale-token");
    env.apply(&older).await;
    env.step("a-older").await.result.unwrap();
    let failure = env.step("a-older").await.failure();
    assert_eq!(failure.reason, Reason::AuthenticationFailed);
    env.remember("a-older").await;

    env.apply(&env.manifest("b-newer", "newer")).await;
    env.remember("b-newer").await;
    env.enable("b-newer").await;
    let older = env.get("a-older").await;
    assert_eq!(phase(&older), Some(Phase::CreateError));
    assert_eq!(
        condition(&older, "Ready"),
        is("False", Reason::AuthenticationFailed)
    );
    assert!(!env.sim.state().catalogs.contains_key("older"));
    env.assert_no_leak("dapi-not-a-valid-token").await;
    env.assert_no_leak(SP_TOKEN).await;
}

/// A workspace that does not serve entity tag assignments (404 `ENDPOINT_NOT_FOUND`): that is
/// not "no tag". The comment `CREATE CATALOG` wrote is the marker of record there, so the
/// catalog is recognised and a re-check neither re-runs setup nor fails; another integration's
/// catalog is still never taken.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_tag_api_the_comment_marks_the_catalog_across_rechecks() {
    let mut scenario = Scenario::default_for_tests();
    scenario.workspace_mut("main").entity_tags_api = false;
    let env = Env::new("no-tags", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.apply(&env.manifest("gov", "governance")).await;
    let dbi = env.enable("gov").await;
    let tag_reads = env
        .sim
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("entity-tag-assignments"))
        .count();
    for _ in 0..2 {
        env.sim.clear_requests();
        env.force_recheck(&dbi);
        let step = env.step("gov").await;
        assert!(step.result.is_ok(), "{:?}", step.result);
        let dbi = env.get("gov").await;
        assert_eq!(phase(&dbi), Some(Phase::Enabled), "{:?}", dbi.status);
        let requests = env.sim.requests();
        let refused = requests
            .iter()
            .filter(|r| r.path.contains("entity-tag-assignments"))
            .all(|r| r.status == 404);
        assert!(refused);
        let sql: Vec<String> = requests.into_iter().filter_map(|r| r.sql).collect();
        assert!(
            sql.iter().all(|s| s == "SELECT 1"),
            "setup did not run again: {sql:?}"
        );
    }
    assert!(
        tag_reads <= 1,
        "a fresh setup needs no tag read: {tag_reads}"
    );
}

/// A catalog set up by an earlier release carries `<installation>/<namespace>/<name>` (which
/// governed tags refuse, `/`) in its tag and comment: it is still recognised as this
/// integration's, nothing is created again, and the tag is left as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_catalog_marked_by_an_earlier_release_is_still_ours() {
    let env = Env::new("own-legacy", Scenario::default_for_tests()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let id = IntegrationId::new("default", &env.ns, "gov");
    let params = uc_operator::setup::SetupParams {
        id: id.clone(),
        catalog: "governance".into(),
        storage_root: None,
        principal: Some(SP_APP_ID.into()),
        audit: false,
    };
    let legacy: Vec<String> = uc_operator::setup::automatic_statements(&params, Default::default())
        .iter()
        .map(|s| s.replace(&id.marker(), &id.legacy_marker()))
        .collect();
    run_statements(&sql_editor(&env.sim, SP_TOKEN), &legacy).await;
    let before = snapshot(&env.sim, "governance").unwrap();
    assert_eq!(before["tags"][TAG_KEY], json!(id.legacy_marker()));
    env.sim.clear_requests();

    env.apply(&env.manifest("gov", "governance")).await;
    env.enable("gov").await;
    let sql: Vec<String> = env
        .sim
        .requests()
        .into_iter()
        .filter_map(|r| r.sql)
        .collect();
    assert!(sql.iter().all(|s| !s.contains("CREATE CATALOG")), "{sql:?}");
    let after = snapshot(&env.sim, "governance").unwrap();
    assert_eq!(after["tags"][TAG_KEY], json!(id.legacy_marker()));
    assert_eq!(after["comment"], before["comment"]);
}
