//! Injected faults: status codes, Retry-After and dropped connections.

use crate::common::start;
use databricks_sim::*;
use serde_json::Value;

#[tokio::test]
async fn faults_status_and_dropped_connections() {
    let t = start(Scenario::default_for_tests()).await;
    t.sim.inject(
        "main",
        FaultRule::too_many_requests("/api/2.0/preview", 2).times(1),
    );
    let r = t
        .send_get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me")
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "2");
    assert_eq!(
        r.json::<Value>().await.unwrap()["error_code"],
        "REQUEST_LIMIT_EXCEEDED"
    );
    assert_eq!(t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await.0, 200);
    t.sim.inject("main", FaultRule::unavailable(""));
    assert_eq!(t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await.0, 503);
    t.sim.clear_faults();
    t.sim.inject(
        "main",
        FaultRule::new("", FaultKind::DropConnection).times(1),
    );
    let r = t.send_get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await;
    assert!(r.is_err(), "expected a dropped connection, got {r:?}");
    assert_eq!(t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await.0, 200);
    assert!(t.sim.requests().iter().any(|r| r.status == 0));
}

/// The bench reads the critical path off these stamps: a request's answer comes after its
/// injected latency, and a request sent after an answer starts no earlier than it finished.
#[tokio::test]
async fn records_are_stamped_with_arrival_and_answer() {
    let t = start(Scenario::default_for_tests()).await;
    t.sim.inject(
        "main",
        FaultRule::new("", FaultKind::Latency { millis: 30 }),
    );
    for _ in 0..2 {
        let (status, _) = t.get(SP_TOKEN, "/api/2.0/preview/scim/v2/Me").await;
        assert_eq!(status, 200);
    }
    let log = t.sim.requests();
    assert_eq!(log.len(), 2, "{log:?}");
    for r in &log {
        assert!(r.start_ms > 0 && r.finish_ms - r.start_ms >= 30, "{r:?}");
    }
    assert!(log[1].start_ms >= log[0].finish_ms, "{log:?}");
}
