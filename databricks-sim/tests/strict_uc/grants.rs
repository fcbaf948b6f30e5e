//! Grants: what `REVOKE ALL PRIVILEGES` takes away.

use crate::common::start;
use databricks_sim::*;

/// "Both the ALL PRIVILEGES grant and any individual privileges implied by it are revoked.
/// Privileges that are not part of ALL PRIVILEGES, such as MANAGE …, are not affected"
/// (docs.databricks.com sql/language-manual/security-revoke).
#[tokio::test]
async fn revoke_all_privileges_keeps_manage() {
    let s = Scenario::default_for_tests().with_catalog(
        CatalogSpec::new("c", SP_APP_ID)
            .with_grant("account users", &["ALL_PRIVILEGES", "SELECT", "MANAGE"]),
    );
    let t = start(s).await;
    let v = t
        .submit(
            SP_TOKEN,
            "REVOKE ALL PRIVILEGES ON CATALOG c FROM `account users`",
        )
        .await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{v}");
    let state = t.sim.state();
    let left: Vec<&String> = state.catalogs["c"].grants["account users"].iter().collect();
    assert_eq!(left, ["MANAGE"]);
    let v = t
        .submit(SP_TOKEN, "REVOKE MANAGE ON CATALOG c FROM `account users`")
        .await;
    assert_eq!(v["status"]["state"], "SUCCEEDED", "{v}");
    assert!(
        !t.sim.state().catalogs["c"]
            .grants
            .contains_key("account users")
    );
}
