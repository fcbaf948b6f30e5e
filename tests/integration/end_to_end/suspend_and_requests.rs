//! `spec.suspend` and the `uc-operator.dev/requestedAt` annotation with the real process (its
//! watches and predicate filter): suspended, it sends nothing whatever changes; a new requested
//! value re-validates at once.

use std::time::{Duration, Instant};

use databricks_sim::{SP_APP_ID, SP_TOKEN, Scenario};
use serde_json::json;
use uc_operator::api::{DatabricksIntegration, Phase, REQUESTED_AT};
use uc_operator::failure::Reason;

use crate::support::harness::control_plane;
use crate::support::spawned::Env;
use crate::support::status::{condition, handled, next_second, phase, validated_at};

const ROTATED_TOKEN: &str = "dapi-rotated-token";

/// `uc_operator_reconciles_total` of the running operator.
async fn reconciles(env: &Env) -> u64 {
    let text = env.metrics().await;
    let line = text
        .lines()
        .find(|l| l.starts_with("uc_operator_reconciles_total "));
    let value = line.and_then(|l| l.split_whitespace().nth(1));
    value
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no reconcile count:\n{text}"))
}

/// Waits (60 s) until the operator has reconciled more than `seen` times; the new count.
async fn wait_reconciled(env: &Env, seen: u64) -> u64 {
    let start = Instant::now();
    loop {
        let now = reconciles(env).await;
        if now > seen {
            return now;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "no reconcile");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn enabled(d: &DatabricksIntegration) -> bool {
    phase(d) == Some(Phase::Enabled)
        && d.status.as_ref().unwrap().observed_generation == d.metadata.generation
}

fn suspended(d: &DatabricksIntegration) -> bool {
    d.status.as_ref().is_some_and(|s| {
        s.observed_generation == d.metadata.generation
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Reconciling" && c.reason == Reason::Suspended.as_str())
    })
}

fn annotate(env: &Env, name: &str, value: &str) {
    let annotation = format!("{REQUESTED_AT}={value}");
    let args = [
        "annotate",
        "dbi",
        name,
        "-n",
        &env.ns,
        "--overwrite",
        &annotation,
    ];
    crate::support::harness::assert_success(&control_plane().kubectl(&args), "kubectl annotate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
// Long: suspend, changes while suspended, resume and delete, in order.
async fn suspend_sends_nothing_and_resuming_revalidates_at_once() {
    // One story on one operator process: suspend, the quiet window, resume, delete suspended.
    let mut scenario = Scenario::default_for_tests();
    scenario
        .principal_mut(SP_APP_ID)
        .tokens
        .push(ROTATED_TOKEN.into());
    let mut env = Env::new("suspend", scenario).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    let mut manifest = env.manifest("gov", "governance");
    env.apply(&manifest).await;
    let before = validated_at(
        &env.wait("gov", "enabled", Duration::from_secs(60), enabled)
            .await,
    );

    manifest["spec"]["suspend"] = json!(true);
    env.apply(&manifest).await;
    let dbi = env
        .wait("gov", "suspended", Duration::from_secs(60), suspended)
        .await;
    assert_eq!(condition(&dbi, "Reconciling").0, "False");
    // Suspension changes only `Reconciling`: Ready still says what it said, of the generation
    // it said it of.
    let conditions = &dbi.status.as_ref().unwrap().conditions;
    let ready = conditions.iter().find(|c| c.type_ == "Ready").unwrap();
    assert_eq!(ready.status, "True");
    assert!(
        ready.observed_generation < dbi.metadata.generation,
        "{ready:?}"
    );

    // A rotated Secret and a reconcile request, each of which would otherwise re-validate: each
    // is seen to reach a reconcile (the operator's counter), then a window passes.
    env.sim.clear_requests();
    let seen = reconciles(&env).await;
    env.secret("sp-token", "token", ROTATED_TOKEN).await;
    let seen = wait_reconciled(&env, seen).await;
    annotate(&env, "gov", "while-suspended");
    wait_reconciled(&env, seen).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let requests = env.sim.requests();
    assert!(requests.is_empty(), "sent while suspended: {requests:?}");
    let dbi = env.get("gov").await;
    assert_eq!(validated_at(&dbi), before, "validated while suspended");
    assert_ne!(handled(&dbi), Some("while-suspended"));

    next_second().await;
    manifest["spec"]["suspend"] = json!(false);
    env.apply(&manifest).await;
    let dbi = env
        .wait("gov", "re-validated", Duration::from_secs(60), |d| {
            enabled(d) && validated_at(d) > before
        })
        .await;
    assert_ne!(condition(&dbi, "Reconciling").1, Reason::Suspended.as_str());
    assert_eq!(condition(&dbi, "Ready").0, "True");
    // The request made while suspended was acted on by the resumed reconcile.
    assert_eq!(handled(&dbi), Some("while-suspended"));
    assert!(!env.sim.requests().is_empty());

    // Deleting while suspended: the finalizer goes, the catalog stays, nothing is sent.
    manifest["spec"]["suspend"] = json!(true);
    env.apply(&manifest).await;
    env.wait("gov", "suspended again", Duration::from_secs(60), suspended)
        .await;
    env.sim.clear_requests();
    let cp = control_plane();
    let out = cp.kubectl(&["delete", "dbi", "gov", "-n", &env.ns, "--timeout=60s"]);
    crate::support::harness::assert_success(&out, "kubectl delete (waits for the finalizer)");
    assert!(env.gone("gov").await);
    assert!(env.sim.state().catalogs.contains_key("governance"));
    let requests = env.sim.requests();
    assert!(requests.is_empty(), "sent on deletion: {requests:?}");
    assert!(!env.logs().contains(ROTATED_TOKEN) && !env.logs().contains(SP_TOKEN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_requested_at_value_revalidates_now() {
    let mut env = Env::new("request", Scenario::default_for_tests()).await;
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    env.apply(&env.manifest("gov", "governance")).await;
    let mut before = validated_at(
        &env.wait("gov", "enabled", Duration::from_secs(60), enabled)
            .await,
    );

    // The interval is 1h: only the annotation can make these re-validations happen.
    for value in ["2026-12-01T10:00:00Z", "again"] {
        next_second().await;
        annotate(&env, "gov", value);
        let dbi = env
            .wait(
                "gov",
                "re-validated on request",
                Duration::from_secs(60),
                |d| handled(d) == Some(value) && validated_at(d) > before,
            )
            .await;
        assert!(enabled(&dbi), "{:?}", dbi.status);
        before = validated_at(&dbi);
    }
}
