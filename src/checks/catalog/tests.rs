//! Who a catalog belongs to, and who is a metastore admin.
use super::*;
use crate::identity::IntegrationId;

fn it(id: &IntegrationId) -> Integration<'_> {
    Integration {
        id,
        catalog: "gov",
        automatic: true,
        audit: false,
        check_lockdown: true,
        adopt: false,
        storage_root: None,
        after_setup: false,
        credential_warning: crate::checks::DEFAULT_CREDENTIAL_WARNING,
        governed: &[],
        audit_workspaces: &[],
    }
}

#[test]
fn the_metastore_owner_or_its_group_is_an_admin() {
    let summary = databricks::MetastoreSummary {
        metastore_id: "m".into(),
        owner: "uc-admins".into(),
        storage_root: None,
    };
    let groups = ["uc-admins".to_string()];
    let admin = |principal, groups: &'static [String]| Admin {
        summary: &summary,
        principal,
        groups,
    };
    assert!(
        Admin {
            summary: &summary,
            principal: "sp",
            groups: &groups
        }
        .is_admin()
    );
    assert!(!admin("sp", &[]).is_admin());
    assert!(admin("UC-ADMINS", &[]).is_admin());
}

#[test]
fn ownership_needs_the_marker_and_the_principal() {
    let id = IntegrationId::new("default", "team", "a");
    let marker = id.marker();
    let it = it(&id);
    assert_eq!(
        classify(&it, "sp", "SP", Some(&marker), false),
        CatalogState::Ours
    );
    // A forged marker on someone else's catalog never makes it ours.
    assert_eq!(
        classify(&it, "sp", "alice", Some(&marker), true),
        CatalogState::NotOwned {
            owner: "alice".into()
        }
    );
    // Another installation's marker for the same namespace and name is not ours.
    assert_eq!(
        classify(&it, "sp", "sp", Some("other/team/a"), false),
        CatalogState::OtherIntegration {
            id: "other/team/a".into()
        }
    );
    assert_eq!(
        classify(&it, "sp", "alice", None, false),
        CatalogState::Foreign {
            owner: "alice".into()
        }
    );
}

#[test]
fn an_untagged_catalog_of_the_principal_is_ours_only_if_we_created_it_or_adopt_it() {
    let id = IntegrationId::new("default", "team", "a");
    let plain = it(&id);
    assert_eq!(
        classify(&plain, "sp", "sp", None, true),
        CatalogState::OursUntagged
    );
    assert_eq!(
        classify(&plain, "sp", "sp", None, false),
        CatalogState::NotAdopted
    );
    let adopting = Integration {
        adopt: true,
        ..plain
    };
    assert_eq!(
        classify(&adopting, "sp", "sp", None, false),
        CatalogState::OursUntagged
    );
}

#[test]
fn a_comment_naming_another_integration_is_its_marker() {
    let id = IntegrationId::new("default", "ns", "mine");
    let other = IntegrationId::new("default", "ns", "theirs");
    let it = Integration {
        adopt: true,
        ..it(&id)
    };
    let theirs = crate::setup::catalog_comment(&other);
    assert_eq!(other_marker(Some(&theirs), &it), Some(other.marker()));
    let ours = crate::setup::catalog_comment(&id);
    assert_eq!(other_marker(Some(&ours), &it), None);
    assert_eq!(other_marker(Some("a team's own catalog"), &it), None);
    assert_eq!(other_marker(None, &it), None);
}

#[test]
fn a_defaulted_installation_owns_catalogs_marked_under_the_legacy_default() {
    use crate::identity::Installation;
    let id = IntegrationId::of(&Installation::defaulted("uid-1"), "team", "a");
    let legacy = IntegrationId::new("default", "team", "a");
    let it = it(&id);
    assert_eq!(
        classify(&it, "sp", "sp", Some(&legacy.marker()), false),
        CatalogState::Ours
    );
    // Created by an earlier release and not tagged yet: its comment names the legacy marker.
    let comment = crate::setup::catalog_comment(&legacy);
    assert!(crate::setup::is_own_comment(&id, Some(&comment)));
    assert_eq!(other_marker(Some(&comment), &it), None);
    // Pinned, the legacy marker is another integration's (another cluster's, perhaps).
    let pinned = IntegrationId::of(&Installation::pinned("prod"), "team", "a");
    assert!(!crate::setup::is_own_comment(&pinned, Some(&comment)));
    assert_eq!(
        classify(
            &super::tests::it(&pinned),
            "sp",
            "sp",
            Some(&legacy.marker()),
            false
        ),
        CatalogState::OtherIntegration {
            id: legacy.marker()
        }
    );
}

/// Catalogs set up by earlier releases carry `<installation>/<namespace>/<name>` in their tag
/// and comment: still this integration's; another integration's old marker is still not.
#[test]
fn the_legacy_marker_is_still_recognised() {
    let id = IntegrationId::new("default", "team", "a");
    let it = it(&id);
    let legacy = id.legacy_marker();
    assert_eq!(legacy, "default/team/a");
    assert_eq!(
        classify(&it, "sp", "sp", Some(&legacy), false),
        CatalogState::Ours
    );
    let old_comment = format!("Managed by uc-operator for the integration {legacy}");
    assert!(crate::setup::is_own_comment(&id, Some(&old_comment)));
    assert!(crate::setup::is_own_comment(
        &id,
        Some(&crate::setup::catalog_comment(&id))
    ));
    assert_eq!(other_marker(Some(&old_comment), &it), None);
    let theirs = "Managed by uc-operator for the integration default/team/b";
    assert_eq!(
        other_marker(Some(theirs), &it),
        Some("default/team/b".to_string())
    );
    assert!(!crate::setup::is_own_comment(&id, Some(theirs)));
}
