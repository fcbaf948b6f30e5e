//! Manual setup over time: a spec change publishes only the statements still to run, and a
//! deleted resource leaves its cleanup script behind (past the garbage collector).

use std::time::{Duration, Instant};

use databricks_sim::{SP_APP_ID, SP_TOKEN, Scenario};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use uc_operator::api::Phase;
use uc_operator::failure::Reason;

use crate::support::databricks::run_as_admin;
use crate::support::harness::control_plane;
use crate::support::in_process::Env;
use crate::support::manifests::{config_map, owned_by};
use crate::support::status::{condition, is, phase};
use uc_operator::setup::statements_of;

/// A manual integration with `audit` as given, reconciled once more.
async fn set_audit(env: &Env, manifest: &mut serde_json::Value, on: bool) {
    manifest["spec"]["audit"] = json!({"enabled": on});
    env.apply(manifest).await;
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
}

fn manual_scenario() -> Scenario {
    let mut scenario = Scenario::default_for_tests();
    // Audit then needs the grants the script makes (only a metastore admin can make them).
    scenario.principal_mut(SP_APP_ID).system_tables_access = false;
    scenario
}

/// Runs setup.sql as the admin and reconciles the resource to `enabled`.
async fn set_up_by_hand(env: &Env, name: &str) {
    env.step(name).await.result.unwrap();
    env.step(name).await.result.unwrap();
    let data = env.config_map(&format!("{name}-uc-setup")).await;
    run_as_admin(&env.sim, &data["setup.sql"]).await;
    env.step(name).await.result.unwrap();
    let dbi = env.get(name).await;
    assert_eq!(phase(&dbi), Some(Phase::Enabled), "{:?}", dbi.status);
    let verified = is("True", Reason::ManualSetupVerified);
    assert_eq!(condition(&dbi, "Bootstrapped"), verified);
}

/// Audit switched on for a set-up manual integration: validation passes again after the admin
/// runs `pending.sql`. Returns the audit GRANTs it held.
async fn audit_on_by_hand(env: &Env, manifest: &mut serde_json::Value) -> Vec<String> {
    let first = statements_of(&env.config_map("gov-uc-setup").await["setup.sql"]);
    set_audit(env, manifest, true).await;
    let dbi = env.get("gov").await;
    let waiting = is("False", Reason::AwaitingManualSetup);
    assert_eq!(condition(&dbi, "Bootstrapped"), waiting);
    assert_eq!(condition(&dbi, "Ready").0, "False");
    let data = env.config_map("gov-uc-setup").await;
    let pending = statements_of(data.get("pending.sql").expect("pending.sql"));
    let added: Vec<String> = statements_of(&data["setup.sql"])
        .into_iter()
        .filter(|s| !first.contains(s))
        .collect();
    assert_eq!(pending, added, "only what the edit added");
    assert!(pending.len() >= 3, "{pending:?}");
    for s in &pending {
        let to_principal = format!("TO `{SP_APP_ID}`");
        let ok = s.starts_with("GRANT ") && s.contains("`system`") && s.ends_with(&to_principal);
        assert!(ok, "not an audit grant: {s}");
    }

    run_as_admin(&env.sim, &data["pending.sql"]).await;
    let step = env.step("gov").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    let dbi = env.get("gov").await;
    assert_eq!(phase(&dbi), Some(Phase::Enabled), "{:?}", dbi.status);
    let verified = is("True", Reason::ManualSetupVerified);
    assert_eq!(condition(&dbi, "Bootstrapped"), verified);
    assert!(
        !env.config_map("gov-uc-setup")
            .await
            .contains_key("pending.sql")
    );
    pending
}

/// A set-up manual integration named `gov`, for the `main` workspace.
async fn manual_integration(prefix: &str) -> (Env, serde_json::Value) {
    let env = Env::new(prefix, manual_scenario()).await;
    env.secret("sp-token", SP_TOKEN).await;
    let mut manifest = env.manifest("gov", "governance");
    manifest["spec"]["autoBootstrap"] = json!(false);
    env.apply(&manifest).await;
    set_up_by_hand(&env, "gov").await;
    (env, manifest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enabling_audit_publishes_only_its_grants() {
    let (env, mut manifest) = manual_integration("manual-audit").await;
    audit_on_by_hand(&env, &mut manifest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_audit_publishes_the_revokes() {
    let (env, mut manifest) = manual_integration("manual-revoke").await;
    let grants = audit_on_by_hand(&env, &mut manifest).await;
    set_audit(&env, &mut manifest, false).await;
    let data = env.config_map("gov-uc-setup").await;
    let revokes = statements_of(
        data.get("pending.sql")
            .expect("pending.sql lists the revokes"),
    );
    let expected: Vec<String> = grants
        .iter()
        .map(|g| {
            let (what, to) = g["GRANT ".len()..].rsplit_once(" TO ").unwrap();
            format!("REVOKE {what} FROM {to}")
        })
        .collect();
    assert_eq!(revokes, expected);
}

/// The garbage collector of the test control plane removes what a deleted resource owns: a
/// control ConfigMap owned by the resource proves it ran before the script's is looked at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_manual_integration_leaves_a_cleanup_script_that_drops_the_catalog() {
    let (env, _) = manual_integration("manual-delete").await;
    assert!(env.sim.state().catalogs.contains_key("governance"));

    let dbi = env.get("gov").await;
    let client = control_plane().client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, &env.ns);
    let uid = dbi.metadata.uid.as_deref().unwrap();
    let control = owned_by(config_map("control", json!({})), "gov", uid);
    let params = PatchParams::apply("tests").force();
    cms.patch("control", &params, &Patch::Apply(&control))
        .await
        .unwrap();

    env.delete("gov").await.unwrap();
    assert!(env.gone("gov").await, "the finalizer is removed");
    let start = Instant::now();
    while cms.get_opt("control").await.unwrap().is_some() {
        let waited = start.elapsed();
        assert!(waited < Duration::from_secs(120), "the collector never ran");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept = cms
        .get("gov-uc-setup")
        .await
        .expect("the script outlives its resource");
    assert!(
        kept.metadata
            .owner_references
            .unwrap_or_default()
            .is_empty()
    );
    let cleanup = kept.data.unwrap_or_default().remove("cleanup.sql").unwrap();
    assert!(env.sim.state().catalogs.contains_key("governance"));
    run_as_admin(&env.sim, &cleanup).await;
    assert!(!env.sim.state().catalogs.contains_key("governance"));
    let reasons = env.event_reasons().await;
    let retained = Reason::CatalogRetained.as_str();
    assert!(reasons.iter().any(|r| r == retained), "{reasons:?}");
}

/// A tenant who plants statements in the published ConfigMap's `applied.sql` (where the
/// operator used to read its reference from) before and while statements are pending: the
/// scripts come from the operator's own record, so the planted statement is never published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_planted_in_the_config_map_is_never_published() {
    let (env, mut manifest) = manual_integration("manual-planted").await;
    let planted = "DROP CATALOG other_team CASCADE";
    let cms = Api::<ConfigMap>::namespaced(control_plane().client().await, &env.ns);
    let plant = |mut data: std::collections::BTreeMap<String, String>| {
        let grant = "GRANT SELECT ON CATALOG `governance` TO `x`";
        // One line, as statements are read back: the old derivation turned it into
        // `REVOKE … FROM `x`; DROP CATALOG other_team CASCADE`.
        data.insert("applied.sql".into(), format!("{grant}; {planted};\n"));
        config_map("gov-uc-setup", json!(data))
    };
    // Before any statement is pending.
    let cm = plant(env.config_map("gov-uc-setup").await);
    let params = PatchParams::apply("tenant").force();
    cms.patch("gov-uc-setup", &params, &Patch::Apply(&cm))
        .await
        .unwrap();
    set_audit(&env, &mut manifest, true).await;
    // What the operator publishes: the scripts, and the statements still to run.
    let published = |data: &std::collections::BTreeMap<String, String>| {
        ["setup.sql", "cleanup.sql", "pending.sql"]
            .iter()
            .filter_map(|key| data.get(*key))
            .any(|script| script.contains(planted))
    };
    let data = env.config_map("gov-uc-setup").await;
    assert!(!published(&data), "{data:?}");
    let pending = statements_of(&data["pending.sql"]);
    assert!(
        pending.iter().all(|s| s.starts_with("GRANT ")),
        "{pending:?}"
    );

    // While statements are pending: planted again, then the spec changes once more.
    let cm = plant(env.config_map("gov-uc-setup").await);
    cms.patch("gov-uc-setup", &params, &Patch::Apply(&cm))
        .await
        .unwrap();
    set_audit(&env, &mut manifest, false).await;
    let data = env.config_map("gov-uc-setup").await;
    assert!(!published(&data), "{data:?}");
    let dbi = env.get("gov").await;
    let messages = serde_json::to_string(&dbi.status).unwrap();
    assert!(!messages.contains(planted), "the status never asks for it");
}
