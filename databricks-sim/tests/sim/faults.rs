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
