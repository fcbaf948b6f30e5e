//! Two installations (clusters) sharing one metastore, with the same `<namespace>/<name>`:
//! neither treats the other's catalog as its own, and the same identity recovers it.

use std::time::Duration;

use databricks_sim::{SP_APP_ID, SP_TOKEN, Scenario};
use serde_json::{Value, json};
use uc_operator::api::Phase;

use crate::support::harness::assert_success;
use crate::support::spawned::{Env, TAG_KEY};
use crate::support::status::ready;

fn catalog(t: &Env, name: &str) -> Option<Value> {
    let state = t.sim.state();
    state
        .catalogs
        .get(name)
        .map(|c| serde_json::to_value(c).unwrap())
}

/// What forgetting a cluster amounts to for its resource: gone without its cleanup running.
async fn forget(t: &Env, name: &str) {
    let patch = r#"{"metadata":{"finalizers":null}}"#;
    let out = t.cp.kubectl(&[
        "patch",
        "dbi",
        name,
        "-n",
        &t.ns,
        "--type=merge",
        "-p",
        patch,
    ]);
    assert_success(&out, "drop the finalizer");
    assert_success(
        &t.cp.kubectl(&["delete", "dbi", name, "-n", &t.ns]),
        "delete",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_installations_never_touch_each_others_catalogs() {
    let mut t = Env::new("hostile-inst", Scenario::default_for_tests()).await;
    t.secret("sp-token", "token", SP_TOKEN).await;
    let manifest = t.manifest_at("gov", &t.host("main"), "shared_cat");

    // Installation a creates and marks the catalog, then its cluster is lost.
    t.start(&["--installation-id", "a"]);
    t.apply(&manifest).await;
    t.wait_phase("gov", Phase::Enabled).await;
    let theirs = catalog(&t, "shared_cat").unwrap();
    assert_eq!(theirs["tags"][TAG_KEY], json!(format!("a:{}:gov", t.ns)));
    assert_eq!(theirs["owner"], json!(SP_APP_ID));
    t.operator = None;
    forget(&t, "gov").await;

    // Installation b has a resource of the same namespace and name for the same catalog.
    t.start(&["--installation-id", "b"]);
    t.apply(&manifest).await;
    let dbi = t.wait_phase("gov", Phase::CreateError).await;
    let (reason, message) = ready(&dbi);
    assert_eq!(reason, "CatalogOwnedByAnotherIntegration", "{message}");
    assert!(message.contains(&format!("a:{}:gov", t.ns)), "{message}");
    assert_eq!(catalog(&t, "shared_cat").as_ref(), Some(&theirs));
    // Its deletion drops nothing of a's.
    t.api().delete("gov", &Default::default()).await.unwrap();
    t.wait_gone("gov", Duration::from_secs(90)).await;
    assert_eq!(
        catalog(&t, "shared_cat").as_ref(),
        Some(&theirs),
        "b dropped a's catalog"
    );
    t.assert_no_secret_leaks("").await;

    // Cluster a rebuilt from Git with the same identity recovers its catalog.
    t.operator = None;
    t.start(&["--installation-id", "a"]);
    t.apply(&manifest).await;
    t.wait_phase("gov", Phase::Enabled).await;
    let recovered = catalog(&t, "shared_cat").unwrap();
    assert_eq!(
        recovered["created_at"], theirs["created_at"],
        "recreated, not recovered"
    );
    assert_eq!(recovered["tags"][TAG_KEY], theirs["tags"][TAG_KEY]);
    t.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: an earlier release's catalog seen by a pinned, then a defaulted installation.
async fn an_upgrade_keeps_the_catalogs_of_the_earlier_default_identity() {
    let second = databricks_sim::WorkspaceSpec::new("b", 5005)
        .with_warehouse(databricks_sim::WAREHOUSE_ID, "RUNNING");
    let scenario = Scenario::default_for_tests().with_workspace(second);
    let mut t = Env::new("hostile-upgrade", scenario).await;
    t.secret("sp-token", "token", SP_TOKEN).await;
    let manifest = t.manifest_at("gov", &t.host("main"), "legacy_cat");

    // An earlier release, whose default identity was `default`, creates and marks the catalog
    // (with today's marker form; the earlier form is recognised too, `identity.rs`).
    t.start(&["--installation-id", "default"]);
    t.apply(&manifest).await;
    t.wait_phase("gov", Phase::Enabled).await;
    let legacy = catalog(&t, "legacy_cat").unwrap();
    assert_eq!(
        legacy["tags"][TAG_KEY],
        json!(format!("default:{}:gov", t.ns))
    );
    t.operator = None;
    forget(&t, "gov").await;

    // Pinned to another identity, `default/…` is someone else's.
    t.start(&["--installation-id", "prod"]);
    t.apply(&manifest).await;
    let dbi = t.wait_phase("gov", Phase::CreateError).await;
    let (reason, message) = ready(&dbi);
    assert_eq!(reason, "CatalogOwnedByAnotherIntegration", "{message}");
    t.operator = None;
    forget(&t, "gov").await;

    // The upgraded operator, its identity defaulted (the kube-system UID), takes it as its own
    // and creates new catalogs under the new identity.
    t.start(&[]);
    t.apply(&manifest).await;
    t.wait_phase("gov", Phase::Enabled).await;
    let kept = catalog(&t, "legacy_cat").unwrap();
    assert_eq!(kept["created_at"], legacy["created_at"], "recreated");
    t.apply(&t.manifest_at("fresh", &t.host("b"), "fresh_cat"))
        .await;
    t.wait_phase("fresh", Phase::Enabled).await;
    let uid = t.default_installation().await;
    let fresh = catalog(&t, "fresh_cat").unwrap();
    assert_eq!(
        fresh["tags"][TAG_KEY],
        json!(format!("{uid}:{}:fresh", t.ns))
    );
    assert!(t.logs().contains(&uid), "the identity is logged at start");

    // It created the legacy catalog (its comment says so): deleting the resource drops it.
    t.api().delete("gov", &Default::default()).await.unwrap();
    t.wait_gone("gov", Duration::from_secs(90)).await;
    assert!(catalog(&t, "legacy_cat").is_none(), "the catalog was kept");
    t.assert_no_secret_leaks("").await;
}
