//! Credential expiry through the operator: a token within `--credential-warning` of its expiry
//! gets a `warning` test result and one `CredentialExpiringSoon` event, however often it is
//! re-validated; one that expires in a year gets neither. Both record the expiry in the status.
//! A new resource's first validation does not read the token list (a fresh setup stays at 10
//! requests): the first re-check does.

use k8s_openapi::jiff::Timestamp;
use uc_operator::api::DatabricksIntegration;

use super::*;

const DAY_MS: i64 = 86_400_000;

fn expiry_result(d: &DatabricksIntegration) -> Option<(TestStatus, String)> {
    let results = d.status.as_ref()?.validation_results.as_ref()?;
    let t = results
        .validation_tests
        .iter()
        .find(|t| t.name.starts_with("Credential expiry: "))?;
    Some((t.status, t.message.clone().unwrap_or_default()))
}

fn expires_at(d: &DatabricksIntegration) -> Option<i64> {
    let c = d.status.as_ref()?.connections.first()?;
    Some(c.credential_expires_at.as_ref()?.0.as_second())
}

fn expiring_events(env: &Env) -> usize {
    let reasons = env.event_reasons();
    reasons
        .iter()
        .filter(|r| *r == "CredentialExpiringSoon")
        .count()
}

/// Re-validates `name` through `kubectl <args>` (a request annotation, a Secret change).
async fn revalidate(env: &Env, name: &str, args: &[&str]) -> DatabricksIntegration {
    let before = env.validated_at(name).await;
    // Validation times have second precision: a later one is only visible a second on.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut all = args.to_vec();
    all.extend(["-n", &env.ns, "--overwrite"]);
    crate::support::harness::assert_success(&env.cp.kubectl(&all), "kubectl annotate");
    env.wait_revalidated(name, before).await
}

/// Enabled, then re-checked once on request.
async fn enabled_and_rechecked(env: &Env, name: &str) -> DatabricksIntegration {
    env.apply(&env.manifest(name, &format!("{name}_catalog")))
        .await;
    let dbi = env.wait_phase(name, Phase::Enabled).await;
    assert_eq!(expiry_result(&dbi), None, "read on the first validation");
    let s = dbi.status.as_ref().unwrap();
    assert_eq!(s.revalidation_interval_seconds, Some(3600));
    let request = "uc-operator.dev/requestedAt=first";
    revalidate(env, name, &["annotate", "dbi", name, request]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_in_ten_days_warns_once() {
    let mut env = Env::new("expiry-soon", Scenario::default_for_tests()).await;
    let soon = Timestamp::now().as_millisecond() + 10 * DAY_MS;
    env.sim.set_token_expiry(SP_TOKEN, soon);
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    let dbi = enabled_and_rechecked(&env, "soon").await;
    let (status, message) = expiry_result(&dbi).expect("a credential expiry result");
    assert_eq!(status, TestStatus::Warning, "{message}");
    assert!(message.contains("in 10 days"), "{message}");
    assert_eq!(expires_at(&dbi), Some(soon / 1000));
    // Still Ready: a warning is no failure.
    let s = dbi.status.as_ref().unwrap();
    assert!(
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    );
    env.wait("soon", "the expiry event", Duration::from_secs(10), |_| {
        expiring_events(&env) == 1
    })
    .await;

    // Re-validated again (the Secret changed): the same credential is not announced again.
    let dbi = revalidate(
        &env,
        "soon",
        &["annotate", "secret", "sp-token", "touched=1"],
    )
    .await;
    assert_eq!(expiry_result(&dbi).map(|r| r.0), Some(TestStatus::Warning));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(expiring_events(&env), 1, "{:?}", env.event_reasons());
    env.assert_no_secret_leaks("").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_expiring_in_a_year_does_not_warn() {
    let mut env = Env::new("expiry-far", Scenario::default_for_tests()).await;
    let year = Timestamp::now().as_millisecond() + 365 * DAY_MS;
    env.sim.set_token_expiry(SP_TOKEN, year);
    env.secret("sp-token", "token", SP_TOKEN).await;
    env.start(&[]);
    let dbi = enabled_and_rechecked(&env, "far").await;
    assert_eq!(expiry_result(&dbi), None);
    assert_eq!(expires_at(&dbi), Some(year / 1000));
    assert_eq!(expiring_events(&env), 0, "{:?}", env.event_reasons());

    // Unless the operator is told to warn a year and a half ahead. The restarted operator acts
    // on a Secret change once its watch runs: touch the Secret until it re-validates.
    drop(env.operator.take());
    env.start(&["--credential-warning", "540d"]);
    let before = env.validated_at("far").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut touch = 2;
    let dbi = loop {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let touched = format!("touched={touch}");
        let args = [
            "annotate",
            "secret",
            "sp-token",
            &touched,
            "-n",
            &env.ns,
            "--overwrite",
        ];
        // A touch that fails (an API server busy with other tests) is tried again next round;
        // the deadline below is what fails the test.
        let out = env.cp.kubectl(&args);
        if !out.status.success() {
            eprintln!("kubectl annotate: {}", String::from_utf8_lossy(&out.stderr));
        }
        touch += 1;
        let dbi = env.get("far").await;
        if dbi
            .status
            .as_ref()
            .and_then(|s| s.last_validation_time.as_ref())
            .is_some_and(|t| t.0 > before)
        {
            break dbi;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never re-validated: {}",
            env.log_tail()
        );
    };
    // The status may be the one written just before the re-check's: wait for its result.
    let dbi = if expiry_result(&dbi).is_some() {
        dbi
    } else {
        env.wait("far", "a warning", Duration::from_secs(30), |d| {
            expiry_result(d).is_some()
        })
        .await
    };
    assert_eq!(expiry_result(&dbi).map(|r| r.0), Some(TestStatus::Warning));
    env.wait("far", "the expiry event", Duration::from_secs(10), |_| {
        expiring_events(&env) == 1
    })
    .await;
}
