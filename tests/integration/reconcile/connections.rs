//! `status.connections` of a multi-workspace integration: one entry per workspace, the broken
//! one named with what failed.

use databricks_sim::{
    ADMIN_USER, CatalogSpec, MAIN_WORKSPACE_ID, METASTORE_ID, SP_APP_ID, SP_TOKEN, Scenario,
    WAREHOUSE_ID, WorkspaceSpec,
};
use serde_json::json;
use uc_operator::api::{Phase, TestStatus};

use crate::support::harness::{assert_success, control_plane};
use crate::support::in_process::Env;
use crate::support::manifests::token_connection;

/// A workspace with a warehouse and an OPEN catalog the service principal may govern.
fn workspace_with_catalog(scenario: Scenario, name: &str, id: i64, catalog: &str) -> Scenario {
    scenario
        .with_workspace(WorkspaceSpec::new(name, id).with_warehouse(WAREHOUSE_ID, "RUNNING"))
        .with_catalog(
            CatalogSpec::new(catalog, ADMIN_USER)
                .with_grant(SP_APP_ID, &databricks_sim::GOVERNANCE_PRIVILEGES),
        )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_name_the_broken_workspace() {
    let scenario = Scenario::default_for_tests();
    let scenario = workspace_with_catalog(scenario, "east", 2002, "east_data");
    let scenario = workspace_with_catalog(scenario, "west", 3003, "west_data");
    let env = Env::new("connections", scenario).await;
    env.secret("sp-token", SP_TOKEN).await;
    env.secret("west-token", "dapi-not-a-real-token").await;
    let connection = |workspace: &str, secret: &str, catalog: &str| {
        token_connection(&env.sim.workspace(workspace).host, secret, &[catalog])
    };
    let mut manifest = env.manifest("multi", "multi_catalog");
    manifest["spec"]["additionalWorkspaceConnections"] = json!([
        connection("east", "sp-token", "east_data"),
        connection("west", "west-token", "west_data"),
    ]);
    env.apply(&manifest).await;
    env.step("multi").await.result.unwrap();
    let step = env.step("multi").await;
    assert_eq!(step.phases().last(), Some(&Some(Phase::CreateError)));

    let dbi = env.get("multi").await;
    let connections = &dbi.status.as_ref().unwrap().connections;
    let hosts: Vec<&str> = connections
        .iter()
        .map(|c| c.workspace_url.as_str())
        .collect();
    let host = |w: &str| env.sim.workspace(w).host;
    assert_eq!(hosts, [host("main"), host("east"), host("west")]);
    let (main, east, west) = (&connections[0], &connections[1], &connections[2]);
    for (c, id) in [(main, MAIN_WORKSPACE_ID), (east, 2002)] {
        assert_eq!(c.status, Some(TestStatus::Passed), "{c:?}");
        assert_eq!(c.message, None, "{c:?}");
        assert_eq!(c.workspace_id, Some(id), "{c:?}");
        assert_eq!(c.metastore_id.as_deref(), Some(METASTORE_ID), "{c:?}");
        assert_eq!(c.principal.as_deref(), Some(SP_APP_ID), "{c:?}");
    }
    assert_eq!(west.status, Some(TestStatus::Failed), "{west:?}");
    let message = west.message.as_deref().unwrap_or_default();
    assert!(message.contains(&host("west")), "{message}");
    assert!(message.contains("authentication"), "{message}");
    assert!(!message.contains("dapi-not-a-real-token"));

    // `-o wide` has no connections column yet (src/api/types.rs): the status is what shows it.
    let args = ["get", "dbi", "multi", "-n", &env.ns, "-o", "wide"];
    let out = control_plane().kubectl(&args);
    assert_success(&out, "kubectl get -o wide");
    let table = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(table.contains("createError"), "{table}");
    env.assert_no_leak("dapi-not-a-real-token").await;
}
