//! Workload identity: an integration with no Secret at all, authenticating as its namespace's
//! ServiceAccount. The real API server issues the tokens (TokenRequest) and is the issuer whose
//! published keys the simulator verifies them with, as Databricks and Entra do.

use databricks_sim::SP_CLIENT_ID;
use serde_json::Value;
use uc_operator::api::Phase;
use uc_operator::failure::Reason;

use crate::support::harness::control_plane;
use crate::support::in_process::Env;
use crate::support::status::phase;
use crate::support::workload_identity::{AUDIENCE, ENTRA_AUDIENCE, SA, trusting};

fn manifest(env: &Env, name: &str, sa: &str, audience: Option<&str>, entra: bool) -> Value {
    let host = env.sim.workspace("main").host;
    crate::support::workload_identity::manifest(name, &host, sa, audience, entra)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_serviceaccount_token_exchanged_at_the_workspace_enables_with_no_secret() {
    let env = Env::new_for("wi-exchange", |ns| trusting(ns, 0)).await;
    env.service_account(SA, true).await;
    env.apply(&manifest(&env, "wi", SA, Some(AUDIENCE), false))
        .await;
    env.enable("wi").await;

    let seen = env.sim.state().federated;
    assert_eq!(seen.len(), 1, "one exchange for the whole reconcile");
    let (issuer, _) = control_plane().public_issuer();
    let exchange = &seen[0];
    assert_eq!(exchange.grant, "token-exchange");
    assert_eq!(exchange.client_id, SP_CLIENT_ID);
    assert_eq!(exchange.issuer, issuer, "signed by the API server's key");
    assert!(exchange.key_id.is_some());
    assert_eq!(
        exchange.subject,
        format!("system:serviceaccount:{}:{SA}", env.ns)
    );
    assert_eq!(exchange.audiences, [AUDIENCE]);
    assert!(!exchange.client_secret_sent);
    env.assert_no_leak(&exchange.token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entra_federated_credential_accepts_the_serviceaccount_token_as_assertion() {
    let env = Env::new_for("wi-entra", |ns| trusting(ns, 0)).await;
    env.service_account(SA, true).await;
    // No audience: Entra's default.
    env.apply(&manifest(&env, "wi", SA, None, true)).await;
    env.enable("wi").await;
    let seen = env.sim.state().federated;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].grant, "client-assertion");
    assert_eq!(seen[0].audiences, [ENTRA_AUDIENCE]);
    assert_eq!(
        seen[0].subject,
        format!("system:serviceaccount:{}:{SA}", env.ns)
    );
    env.assert_no_leak(&seen[0].token).await;
}

/// Applies `m` and reconciles it to its first failure, which must be `reason` with a message
/// containing every one of `words`.
async fn fails(env: &Env, m: &Value, reason: Reason, words: &[&str]) {
    let failure = env.apply_until_failure("wi", m).await;
    assert_eq!(failure.reason, reason, "{}", failure.message);
    for w in words {
        assert!(failure.message.contains(w), "{w:?} in {}", failure.message);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_audience_is_refused_naming_the_audience() {
    let env = Env::new_for("wi-aud", |ns| trusting(ns, 0)).await;
    env.service_account(SA, true).await;
    let m = manifest(&env, "wi", SA, Some("someone-else"), false);
    fails(
        &env,
        &m,
        Reason::AuthenticationFailed,
        &["audience", "someone-else"],
    )
    .await;
    assert!(env.sim.state().federated.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_serviceaccounts_token_is_refused_naming_the_subject() {
    let env = Env::new_for("wi-sub", |ns| trusting(ns, 0)).await;
    env.service_account("other-app", true).await;
    let m = manifest(&env, "wi", "other-app", Some(AUDIENCE), false);
    let subject = format!("system:serviceaccount:{}:other-app", env.ns);
    fails(
        &env,
        &m,
        Reason::AuthenticationFailed,
        &["subject", &subject],
    )
    .await;
    // Entra answers with its own code.
    let env = Env::new_for("wi-sub-entra", |ns| trusting(ns, 0)).await;
    env.service_account("other-app", true).await;
    let m = manifest(&env, "wi", "other-app", None, true);
    fails(&env, &m, Reason::AuthenticationFailed, &["AADSTS70021"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refused_as_expired() {
    // The simulator's clock runs an hour ahead: the ten-minute token has expired.
    let env = Env::new_for("wi-exp", |ns| trusting(ns, 3600)).await;
    env.service_account(SA, true).await;
    let m = manifest(&env, "wi", SA, Some(AUDIENCE), false);
    fails(&env, &m, Reason::AuthenticationFailed, &["expired"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_unlabelled_serviceaccount_sends_nothing() {
    let env = Env::new_for("wi-optin", |ns| trusting(ns, 0)).await;
    let m = manifest(&env, "wi", SA, Some(AUDIENCE), false);
    let who = format!("ServiceAccount {}/{SA}", env.ns);
    fails(&env, &m, Reason::ServiceAccountNotFound, &[&who]).await;
    assert!(env.sim.requests().is_empty(), "nothing was sent");

    env.service_account(SA, false).await;
    let step = env.step("wi").await;
    assert_eq!(step.phases(), [Some(Phase::CreateError)]);
    let failure = step.failure();
    assert_eq!(failure.reason, Reason::CredentialNotLabelled);
    assert!(failure.message.contains(&who), "{}", failure.message);
    assert!(failure.message.contains("uc-operator.dev/credentials=true"));
    assert!(env.sim.requests().is_empty(), "nothing was sent");

    // Opted in: it works, with nothing else changed.
    env.service_account(SA, true).await;
    let step = env.step("wi").await;
    assert!(step.result.is_ok(), "{:?}", step.result);
    assert_eq!(phase(&env.get("wi").await), Some(Phase::Enabled));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clusters_own_issuer_is_never_an_audience() {
    let env = Env::new_for("wi-issuer", |ns| trusting(ns, 0)).await;
    env.service_account(SA, true).await;
    let (issuer, _) = control_plane().public_issuer();
    let m = manifest(&env, "wi", SA, Some(&issuer), false);
    fails(
        &env,
        &m,
        Reason::InvalidConfiguration,
        &["refused", "issuer"],
    )
    .await;
    assert!(env.sim.requests().is_empty(), "nothing was sent");
}
