//! The scenario file carries the account-level properties.

use databricks_sim::*;

#[test]
fn scenario_yaml_carries_the_account_properties() {
    let s = Scenario::from_yaml(
        "metastore_id: m\nmetastore_storage_root: null\nmetastore_owner: admins-g\ncluster_start_polls: 3\nstatement_polls_past_wait: 2\nresult_chunk_rows: 7\ngenerated_workspaces: {count: 2}\nworkspaces: []\nprincipals: [{application_id: a@b.c, groups: [admins-g]}]\nfaults: [{path_prefix: /api/2.0/sql/statements, kind: {statement_failed: {error_code: TEMPORARILY_UNAVAILABLE}}, times: 1}]\n",
    )
    .unwrap();
    assert_eq!(s.metastore_storage_root, None);
    assert_eq!(s.metastore_owner.as_deref(), Some("admins-g"));
    assert_eq!(
        (
            s.cluster_start_polls,
            s.statement_polls_past_wait,
            s.result_chunk_rows
        ),
        (3, 2, 7)
    );
    assert_eq!(s.principals[0].groups, ["admins-g"]);
    let names: Vec<String> = s
        .expanded()
        .workspaces
        .iter()
        .map(|w| w.name.clone())
        .collect();
    assert_eq!(names, ["ws-0001", "ws-0002"]);
    // Without the field the metastore has root storage, so older scenarios keep working.
    let d = Scenario::from_yaml("workspaces: []").unwrap();
    assert_eq!(
        d.metastore_storage_root.as_deref(),
        Some(DEFAULT_STORAGE_ROOT)
    );
}
