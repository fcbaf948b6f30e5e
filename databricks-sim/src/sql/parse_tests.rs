//! Unit tests of the SQL parser.

use super::*;

fn one(sql: &str) -> SqlStatement {
    let mut v = parse(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert_eq!(v.len(), 1, "{sql}");
    v.remove(0)
}

#[test]
fn catalog_statements() {
    assert_eq!(
        one("CREATE CATALOG IF NOT EXISTS `My``Cat` MANAGED LOCATION 's3://b/p' COMMENT 'it\\'s'"),
        SqlStatement::CreateCatalog {
            name: "my`cat".into(),
            if_not_exists: true,
            managed_location: Some("s3://b/p".into()),
            comment: Some("it's".into()),
        }
    );
    assert_eq!(
        one("drop catalog if exists c cascade"),
        SqlStatement::DropCatalog {
            name: "c".into(),
            if_exists: true,
            cascade: true
        }
    );
    assert_eq!(
        one("DROP CATALOG c RESTRICT"),
        SqlStatement::DropCatalog {
            name: "c".into(),
            if_exists: false,
            cascade: false
        }
    );
    for sql in [
        "ALTER CATALOG c OWNER TO `6b2c-x`",
        "ALTER CATALOG c SET OWNER TO `6b2c-x`",
    ] {
        assert_eq!(
            one(sql),
            SqlStatement::AlterCatalogOwner {
                name: "c".into(),
                owner: "6b2c-x".into()
            }
        );
    }
    assert_eq!(
        one("ALTER CATALOG c SET TAGS ('owner' = 'ns/x', 'k2' = 'v' '2')"),
        SqlStatement::SetCatalogTags {
            name: "c".into(),
            tags: vec![("owner".into(), "ns/x".into()), ("k2".into(), "v2".into())]
        }
    );
    assert_eq!(
        one("ALTER CATALOG c UNSET TAGS ('owner')"),
        SqlStatement::UnsetCatalogTags {
            name: "c".into(),
            keys: vec!["owner".into()]
        }
    );
    assert_eq!(
        one("COMMENT ON CATALOG c IS 'x;y'"),
        SqlStatement::CommentOnCatalog {
            name: "c".into(),
            comment: Some("x;y".into())
        }
    );
}

#[test]
fn grants() {
    assert_eq!(
        one("GRANT USE CATALOG, create schema, ALL PRIVILEGES ON CATALOG `c` TO `account users`"),
        SqlStatement::Grant {
            privileges: vec![
                "USE_CATALOG".into(),
                "CREATE_SCHEMA".into(),
                "ALL_PRIVILEGES".into()
            ],
            securable: Securable {
                kind: SecurableKind::Catalog,
                name: vec!["c".into()]
            },
            principal: "account users".into()
        }
    );
    assert_eq!(
        one("REVOKE SELECT, MODIFY ON SCHEMA c.`S` FROM `a@b.com`"),
        SqlStatement::Revoke {
            privileges: vec!["SELECT".into(), "MODIFY".into()],
            securable: Securable {
                kind: SecurableKind::Schema,
                name: vec!["c".into(), "s".into()]
            },
            principal: "a@b.com".into()
        }
    );
    for (sql, kind) in [
        (
            "GRANT CREATE CATALOG ON METASTORE TO `x`",
            SecurableKind::Metastore,
        ),
        ("GRANT SELECT ON TABLE a.b.c TO `x`", SecurableKind::Table),
        ("GRANT SELECT ON VIEW a.b.c TO `x`", SecurableKind::View),
        (
            "GRANT EXECUTE ON FUNCTION a.b.c TO `x`",
            SecurableKind::Function,
        ),
    ] {
        match one(sql) {
            SqlStatement::Grant { securable, .. } => assert_eq!(securable.kind, kind),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
// Long: a table of statements and what each parses to.
fn dialect_statements() {
    assert!(matches!(
        one("CREATE SCHEMA IF NOT EXISTS c.s"),
        SqlStatement::CreateSchema { if_not_exists: true, ref name, .. } if name == &["c", "s"]
    ));
    assert_eq!(
        one("CREATE SCHEMA IF NOT EXISTS `c`.`s` COMMENT 'it\\'s' MANAGED LOCATION 's3://b/s'"),
        SqlStatement::CreateSchema {
            name: vec!["c".into(), "s".into()],
            if_not_exists: true,
            comment: Some("it's".into()),
            managed_location: Some("s3://b/s".into()),
        }
    );
    for (sql, kind) in [
        ("ALTER TABLE c.s.t OWNER TO `p`", SecurableKind::Table),
        ("ALTER VIEW c.s.v SET OWNER TO `p`", SecurableKind::View),
        ("ALTER FUNCTION c.s.f OWNER TO `p`", SecurableKind::Function),
    ] {
        assert_eq!(
            one(sql),
            SqlStatement::AlterObjectOwner {
                kind,
                name: vec![
                    "c".into(),
                    "s".into(),
                    sql.split(' ')
                        .nth(2)
                        .unwrap()
                        .rsplit('.')
                        .next()
                        .unwrap()
                        .into()
                ],
                owner: "p".into()
            },
            "{sql}"
        );
    }
    assert!(matches!(
        one("CREATE TABLE IF NOT EXISTS `c`.`s`.`Profiles` (user_name STRING, profile STRING)"),
        SqlStatement::CreateTable { ref name, ref columns, .. } if name[2] == "profiles" && columns.len() == 2
    ));
    assert!(matches!(
        one("CREATE OR REPLACE VIEW c.s.v AS SELECT * FROM c.s.t WHERE user_name = current_user()"),
        SqlStatement::CreateView {
            or_replace: true,
            ..
        }
    ));
    assert!(matches!(
        one("CREATE OR REPLACE FUNCTION c.s.f(x STRING) RETURNS STRING RETURN upper(x)"),
        SqlStatement::CreateFunction {
            or_replace: true,
            ..
        }
    ));
    assert!(matches!(
        one("DROP SCHEMA IF EXISTS c.s CASCADE"),
        SqlStatement::DropSchema {
            cascade: true,
            if_exists: true,
            ..
        }
    ));
    assert!(matches!(
        one("DROP TABLE c.s.t"),
        SqlStatement::DropObject {
            kind: SecurableKind::Table,
            ..
        }
    ));
    assert!(matches!(
        one("ALTER SCHEMA c.s OWNER TO `p`"),
        SqlStatement::AlterSchemaOwner { .. }
    ));
    assert!(matches!(one("SELECT 1"), SqlStatement::Query(_)));
}

#[test]
fn splits_respecting_quotes_and_comments() {
    let v = parse(
        "-- header; with semicolon\nCOMMENT ON CATALOG c IS 'a;b';\n/* x; */ SELECT `a;b` FROM t;\n;\nSELECT 'it\\'s;'",
    )
    .unwrap();
    assert_eq!(v.len(), 3);
}

#[test]
fn rejects_garbage() {
    for sql in [
        "garbage here",
        "CREATE CATALOG",
        "GRANT ON CATALOG c TO x",
        "SELECT 1 1 1",
        "ALTER CATALOG c OWNER x",
    ] {
        let e = parse(sql).unwrap_err();
        assert!(
            e.message
                .starts_with("[PARSE_SYNTAX_ERROR] Syntax error at or near"),
            "{sql}: {e}"
        );
        assert_eq!(e.sql_state, "42601");
    }
    assert!(parse("SELECT 'unterminated").is_err());
}

#[test]
fn substitutes_parameters() {
    let mut params = HashMap::new();
    params.insert("v".to_string(), Some("x'y".to_string()));
    let v = parse_with_params("SELECT :v", &params).unwrap();
    assert!(
        matches!(&v[0], SqlStatement::Query(q) if q.to_string().contains("x'y") || q.to_string().contains("x\\'y") || q.to_string().contains("x''y"))
    );
    assert!(parse_with_params("SELECT :missing", &params).is_err());
}

#[test]
fn what_a_setup_plan_may_emit() {
    for sql in [
        "CREATE CATALOG IF NOT EXISTS `c` MANAGED LOCATION 'abfss://x@y.dfs.core.windows.net/p' COMMENT 'm'",
        "CREATE SCHEMA IF NOT EXISTS `c`.`s` COMMENT 'internal'",
        "CREATE TABLE IF NOT EXISTS `c`.`s`.`t` (user_name STRING NOT NULL, profile STRING, updated_at TIMESTAMP) COMMENT 'x'",
        "CREATE VIEW IF NOT EXISTS `c`.`s`.`v` COMMENT 'x' AS SELECT user_name FROM `c`.`s`.`t` WHERE user_name = current_user()",
        "ALTER CATALOG `c` SET OWNER TO `p`",
        "ALTER TABLE `c`.`s`.`t` SET OWNER TO `p`",
        "GRANT USE SCHEMA, SELECT ON SCHEMA `c`.`s` TO `p`",
        "REVOKE ALL PRIVILEGES ON CATALOG `c` FROM `account users`",
        "GRANT SELECT ON TABLE `system`.`access`.`audit` TO `p`",
    ] {
        let v = parse(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(v.len(), 1, "{sql}");
        assert!(!matches!(v[0], SqlStatement::Other(_)), "{sql}: {:?}", v[0]);
    }
}
