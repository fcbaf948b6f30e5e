//! The setup plan's statements, stage by stage.
use super::*;

/// The parameters the plan's and the scripts' tests share.
pub(crate) fn params() -> SetupParams {
    SetupParams {
        id: crate::identity::IntegrationId::new("default", "team-a", "uc"),
        storage_root: None,
        catalog: "immuta_cat".into(),
        principal: Some("6b2c-app".into()),
        audit: true,
    }
}

#[test]
fn automatic_setup_sends_only_what_is_needed_and_never_moves_ownership() {
    let fresh = automatic_statements(&params(), Existing::default());
    assert_eq!(
        fresh[0],
        "CREATE CATALOG IF NOT EXISTS `immuta_cat` COMMENT 'Managed by uc-operator for the integration default:team-a:uc'"
    );
    assert_eq!(
        fresh[1],
        "ALTER CATALOG `immuta_cat` SET TAGS ('uc_operator_integration' = 'default:team-a:uc')"
    );
    assert_eq!(fresh.len(), 5, "{fresh:?}");
    assert!(
        fresh
            .iter()
            .all(|x| !x.contains("OWNER") && !x.starts_with("GRANT"))
    );
    assert!(
        fresh.iter().all(|x| !x.starts_with("REVOKE")),
        "a new catalog has no grants"
    );
    // Re-run over an existing, tagged catalog: no CREATE CATALOG (a root-less metastore
    // refuses it even with IF NOT EXISTS), no tag, but the lockdown again.
    let again = automatic_statements(
        &params(),
        Existing {
            catalog: true,
            tagged: true,
        },
    );
    assert!(
        again
            .iter()
            .all(|x| !x.starts_with("CREATE CATALOG") && !x.contains("SET TAGS"))
    );
    assert!(again.contains(
        &"REVOKE ALL PRIVILEGES ON CATALOG `immuta_cat` FROM `account users`".to_owned()
    ));
}

#[test]
fn a_fresh_setup_takes_four_round_trips() {
    let stages = automatic_stages(&params(), Existing::default());
    let sizes: Vec<usize> = stages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [1, 2, 1, 1], "{stages:?}");
    assert!(stages[1][0].contains("SET TAGS") && stages[1][1].starts_with("CREATE SCHEMA"));
    let again = automatic_stages(
        &params(),
        Existing {
            catalog: true,
            tagged: true,
        },
    );
    // Two changes to one securable at once may conflict (ABORTED): the revokes run in turn,
    // and REVOKE ALL PRIVILEGES already covers every privilege but MANAGE.
    let revokes: Vec<&Vec<String>> = again
        .iter()
        .filter(|stage| stage.iter().any(|s| s.starts_with("REVOKE")))
        .collect();
    assert_eq!(
        revokes,
        [
            &vec!["REVOKE ALL PRIVILEGES ON CATALOG `immuta_cat` FROM `account users`".to_owned()],
            &vec!["REVOKE MANAGE ON CATALOG `immuta_cat` FROM `account users`".to_owned()],
        ]
    );
}

#[test]
fn the_managed_location_goes_into_create_catalog() {
    let p = SetupParams {
        storage_root: Some("s3://bucket/uc".into()),
        ..params()
    };
    let s = setup_statements(&p, Mode::Manual);
    assert!(
        s[0].contains(" MANAGED LOCATION 's3://bucket/uc' COMMENT "),
        "{}",
        s[0]
    );
}

#[test]
fn the_manual_script_grants_first_and_transfers_ownership_last() {
    let m = setup_statements(&params(), Mode::Manual);
    let first_owner = m.iter().position(|x| x.contains(" OWNER TO ")).unwrap();
    let last_grant = m
        .iter()
        .rposition(|x| x.starts_with("GRANT") || x.starts_with("REVOKE"))
        .unwrap();
    assert!(last_grant < first_owner, "{m:?}");
    assert_eq!(
        m.last().unwrap(),
        "ALTER CATALOG `immuta_cat` OWNER TO `6b2c-app`",
        "the catalog moves last"
    );
    assert_eq!(m.iter().filter(|x| x.contains(" OWNER TO ")).count(), 5);
    assert!(
        m.contains(&"GRANT SELECT ON TABLE `system`.`query`.`history` TO `6b2c-app`".to_owned())
    );
    let no_audit = SetupParams {
        audit: false,
        ..params()
    };
    assert_eq!(setup_statements(&no_audit, Mode::Manual).len(), m.len() - 7);
}

#[test]
fn hash_tracks_setup_inputs_only() {
    let p = params();
    let h = spec_hash(&p, Mode::Automatic);
    assert_eq!(h.len(), 64);
    assert_eq!(
        h,
        spec_hash(
            &SetupParams {
                principal: None,
                ..p.clone()
            },
            Mode::Automatic
        )
    );
    assert_ne!(h, spec_hash(&p, Mode::Manual));
    assert_ne!(
        h,
        spec_hash(
            &SetupParams {
                audit: false,
                ..p.clone()
            },
            Mode::Automatic
        )
    );
    assert_ne!(
        h,
        spec_hash(
            &SetupParams {
                catalog: "other".into(),
                ..p
            },
            Mode::Automatic
        )
    );
}

/// `cleanup.sql` revokes what `setup.sql` granted for query audit, then drops the catalog.
#[test]
fn the_cleanup_script_revokes_the_audit_grants() {
    let p = SetupParams {
        audit: true,
        ..params()
    };
    let setup = setup_statements(&p, Mode::Manual);
    let cleanup = cleanup_statements(&p, Mode::Manual);
    let grants: Vec<&String> = setup.iter().filter(|s| s.starts_with("GRANT ")).collect();
    assert!(!grants.is_empty());
    for g in grants {
        let revoke = g
            .replacen("GRANT ", "REVOKE ", 1)
            .replacen(" TO ", " FROM ", 1);
        assert!(cleanup.contains(&revoke), "{revoke} not in {cleanup:?}");
    }
    assert!(cleanup.last().unwrap().starts_with("DROP CATALOG"));
    // Automatic setup grants nothing outside its catalog: only the drop.
    assert_eq!(cleanup_statements(&p, Mode::Automatic).len(), 1);
}
