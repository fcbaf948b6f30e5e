//! What is retried and how often: `Retry-After` (waited out, floored, capped), dropped
//! connections, 503s, the SDKs' transient codes and messages, and a spent budget.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use databricks_sim::{FaultKind, FaultRule, SP_APP_ID, SP_TOKEN, Scenario, Simulator};
use serde_json::json;
use uc_operator::databricks::{Error, ErrorKind, RequestEvent, WorkspaceClient};

use super::*;
use crate::support::hostile::{Hostile, Reply};

#[tokio::test]
async fn retry_after_is_waited_out() {
    let sim = start(Scenario::default_for_tests()).await;
    let statuses = |sim: &Simulator| -> Vec<u16> {
        let requests = sim.requests();
        requests
            .iter()
            .filter(|r| r.path == ME)
            .map(|r| r.status)
            .collect()
    };
    // A 2 s Retry-After does not fit a 1 s budget, although the 50 ms backoff would: the
    // client gives up at once instead of retrying early.
    sim.inject("main", FaultRule::too_many_requests(ME, 2).times(1));
    let mut s = settings(&sim);
    s.retry.total_budget = Duration::from_secs(1);
    let c = WorkspaceClient::new(config(&sim, warehouse(), token(SP_TOKEN)), &s).unwrap();
    let err = c.me().await.unwrap_err();
    assert!(
        matches!(err, Error::RetryBudgetExhausted { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(statuses(&sim), vec![429]);
    // With room for it, the wait is made and the retry succeeds.
    sim.clear_requests();
    sim.inject("main", FaultRule::too_many_requests(ME, 2).times(1));
    let c = client(&sim, token(SP_TOKEN));
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    assert_eq!(statuses(&sim), vec![429, 200]);
}

#[tokio::test]
async fn dropped_connections_and_503s_are_retried() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.inject(
        "main",
        FaultRule::new(ME, FaultKind::DropConnection).times(1),
    );
    sim.inject("main", FaultRule::unavailable(ME).times(1));
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let mut s = settings(&sim);
    s.observer = Some(Arc::new(move |e: &RequestEvent| {
        sink.lock()
            .unwrap()
            .push((e.endpoint, e.status, e.outcome.as_str()));
    }));
    let c = WorkspaceClient::new(config(&sim, warehouse(), token(SP_TOKEN)), &s).unwrap();
    assert_eq!(c.me().await.unwrap().user_name, SP_APP_ID);
    let events = events.lock().unwrap().clone();
    assert_eq!(events.len(), 3, "{events:?}");
    assert!(events.iter().all(|(endpoint, ..)| *endpoint == ME));
    assert_eq!(events.last().unwrap(), &(ME, Some(200), "success"));
}

#[tokio::test]
async fn a_spent_retry_budget_says_so() {
    let sim = start(Scenario::default_for_tests()).await;
    sim.inject("main", FaultRule::unavailable(ME));
    let mut s = settings(&sim);
    s.retry.total_budget = Duration::from_secs(5);
    s.retry.base_backoff = Duration::from_millis(100);
    s.retry.max_backoff = Duration::from_millis(100);
    let c = WorkspaceClient::new(config(&sim, warehouse(), token(SP_TOKEN)), &s).unwrap();
    let err = c.me().await.unwrap_err();
    let Error::RetryBudgetExhausted { attempts, last, .. } = &err else {
        panic!("expected RetryBudgetExhausted, got {err:?}");
    };
    // Every attempt reached the workspace, and more than one was made.
    let reached = sim.requests().iter().filter(|r| r.path == ME).count();
    assert_eq!(*attempts as usize, reached);
    assert!(*attempts >= 2, "{attempts}");
    assert!(
        last.contains("503") && last.contains("TEMPORARILY_UNAVAILABLE"),
        "{last}"
    );
    assert!(
        err.to_string().starts_with("retry budget ran out after"),
        "{err}"
    );
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_slow_answer_with_an_absurd_retry_after_ends_in_a_typed_error() {
    let server = Hostile::start(|_| {
        let busy = Reply::json(
            503,
            json!({"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}),
        )
        .with_header("retry-after", "18446744073709551615");
        Reply::Slow(Duration::from_millis(1100), Box::new(busy))
    });
    // With the default cap, and with none at all (the sum that used to overflow).
    for max_retry_after in [Duration::from_secs(60), Duration::MAX] {
        let mut s = settings_for(server.ca_pem());
        s.retry.max_retry_after = max_retry_after;
        let before = server.count(ME);
        let err = hostile_client_with(&server, warehouse(), s)
            .me()
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::RetryBudgetExhausted { attempts: 1, .. }),
            "{err:?}"
        );
        assert_eq!(
            server.count(ME) - before,
            1,
            "no retry it could not wait for"
        );
    }
}

#[tokio::test]
async fn a_retry_after_zero_storm_does_not_spin() {
    let server = Hostile::start(|_| {
        Reply::json(
            429,
            json!({"error_code": "REQUEST_LIMIT_EXCEEDED", "message": "slow down"}),
        )
        .with_header("retry-after", "0")
    });
    let mut s = settings_for(server.ca_pem());
    s.retry.total_budget = Duration::from_secs(3);
    s.retry.base_backoff = Duration::from_millis(300);
    s.retry.max_backoff = Duration::from_millis(300);
    let err = hostile_client_with(&server, warehouse(), s)
        .me()
        .await
        .unwrap_err();
    let Error::RetryBudgetExhausted { attempts, .. } = err else {
        panic!("expected RetryBudgetExhausted, got {err:?}");
    };
    let requests = server.count(ME);
    assert_eq!(attempts as usize, requests);
    // Each wait is at least the 300 ms backoff, so a 3 s budget holds at most 10 of them.
    assert!(requests <= 11, "{requests} requests");
}

#[tokio::test]
async fn the_sdks_transient_failures_are_retried_and_then_succeed() {
    let failures = [
        (503, "TEMPORARILY_UNAVAILABLE", "x"),
        (400, "WORKSPACE_TEMPORARILY_UNAVAILABLE", "x"),
        (400, "SERVICE_UNDER_MAINTENANCE", "x"),
        (400, "RESOURCE_EXHAUSTED", "x"),
        (400, "DEADLINE_EXCEEDED", "x"),
        (429, "REQUEST_LIMIT_EXCEEDED", "x"),
        (
            500,
            "INTERNAL_ERROR",
            "com.databricks.ClusterNotReadyException: not ready",
        ),
        (
            500,
            "INTERNAL_ERROR",
            "com.databricks.backend.manager.util.UnknownWorkerEnvironmentException: x",
        ),
        (
            400,
            "INVALID_STATE",
            "Cluster c does not have any associated worker environments",
        ),
        (504, "INTERNAL_ERROR", "Timed out after 60 seconds"),
        (500, "INTERNAL_ERROR", "rpc error: deadline exceeded"),
    ];
    for (status, code, message) in failures {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = calls.clone();
        let server = Hostile::start(move |_| {
            if seen.fetch_add(1, Ordering::SeqCst) == 0 {
                Reply::json(status, json!({"error_code": code, "message": message}))
            } else {
                scim_user()
            }
        });
        let me = hostile_client(&server).me().await;
        assert!(me.is_ok(), "{code} {message}: {me:?}");
        assert_eq!(server.count(ME), 2, "{code} {message}");
    }
    // And one that is not transient is not retried.
    let server = Hostile::start(|_| {
        Reply::json(
            400,
            json!({"error_code": "INVALID_PARAMETER_VALUE", "message": "bad"}),
        )
    });
    let err = hostile_client(&server).me().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert_eq!(server.count(ME), 1);
}
