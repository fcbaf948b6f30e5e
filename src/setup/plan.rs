//! The setup plan: the ordered, idempotent SQL that creates an integration's catalog and its
//! internal objects, and the script that removes them.

use sha2::{Digest, Sha256};

use super::quote::{quote_ident, quote_literal, quote_name};
pub use crate::api::SetupMode as Mode;
use crate::identity::IntegrationId;

/// The schema inside the integration's catalog that holds its internal objects.
pub const INTERNAL_SCHEMA: &str = "uc_operator_system";
/// The catalog tag that marks a catalog as owned by an integration; its value is the
/// integration's marker ([`IntegrationId::marker`]).
pub const TAG_KEY: &str = "uc_operator_integration";
/// Stands for the service principal where its application id is not known (offline scripts).
pub const PRINCIPAL_PLACEHOLDER: &str = "<SERVICE_PRINCIPAL_APPLICATION_ID>";
pub const PROFILES_TABLE: &str = "profiles";
pub const CURRENT_PROFILE_VIEW: &str = "current_profile";
/// The group every account user is in; it must hold nothing on the catalog.
pub const ACCOUNT_USERS: &str = "account users";
/// The privileges a catalog grant can carry, revoked one by one from `account users`.
pub const CATALOG_PRIVILEGES: [&str; 17] = [
    "USE CATALOG",
    "USE SCHEMA",
    "BROWSE",
    "SELECT",
    "MODIFY",
    "EXECUTE",
    "READ VOLUME",
    "WRITE VOLUME",
    "REFRESH",
    "APPLY TAG",
    "CREATE SCHEMA",
    "CREATE TABLE",
    "CREATE FUNCTION",
    "CREATE VOLUME",
    "CREATE MATERIALIZED VIEW",
    "CREATE MODEL",
    "MANAGE",
];
/// The system tables query audit reads.
pub const AUDIT_TABLES: [(&str, &str); 4] = [
    ("access", "audit"),
    ("access", "table_lineage"),
    ("access", "column_lineage"),
    ("query", "history"),
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SetupParams {
    pub id: IntegrationId,
    pub catalog: String,
    /// The catalog's `MANAGED LOCATION` (needed on metastores without root storage).
    pub storage_root: Option<String>,
    /// The service principal's application id; `None` puts [`PRINCIPAL_PLACEHOLDER`] in its place.
    pub principal: Option<String>,
    pub audit: bool,
}

impl SetupParams {
    /// The value of [`TAG_KEY`] on the catalog.
    pub fn tag_value(&self) -> String {
        self.id.marker()
    }

    pub fn principal_or_placeholder(&self) -> &str {
        self.principal.as_deref().unwrap_or(PRINCIPAL_PLACEHOLDER)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Setup,
    Cleanup,
}

/// The setup statements, in order. Each is idempotent, so the whole list can be re-run after a
/// crash at any point. Objects are created and tagged before ownership moves to the principal,
/// so that a privileged user running the manual script is never locked out half-way.
pub fn setup_statements(p: &SetupParams, mode: Mode) -> Vec<String> {
    let catalog = quote_ident(&p.catalog);
    let schema = quote_name(&[&p.catalog, INTERNAL_SCHEMA]);
    let table = quote_name(&[&p.catalog, INTERNAL_SCHEMA, PROFILES_TABLE]);
    let view = quote_name(&[&p.catalog, INTERNAL_SCHEMA, CURRENT_PROFILE_VIEW]);
    let principal = quote_ident(p.principal_or_placeholder());
    let comment = quote_literal(&format!(
        "Managed by uc-operator for the integration {}",
        p.tag_value()
    ));

    let mut out = vec![
        format!("CREATE CATALOG IF NOT EXISTS {catalog} COMMENT {comment}"),
        format!(
            "ALTER CATALOG {catalog} SET TAGS ({} = {})",
            quote_literal(TAG_KEY),
            quote_literal(&p.tag_value())
        ),
        // No COMMENT: sqlparser's Databricks dialect does not accept one on CREATE SCHEMA.
        format!("CREATE SCHEMA IF NOT EXISTS {schema}"),
        format!(
            "CREATE TABLE IF NOT EXISTS {table} (user_name STRING NOT NULL, profile STRING, updated_at TIMESTAMP)"
        ),
        format!(
            "CREATE VIEW IF NOT EXISTS {view} AS SELECT user_name, profile, updated_at FROM {table} \
             WHERE user_name = current_user()"
        ),
        format!("ALTER CATALOG {catalog} OWNER TO {principal}"),
        format!(
            "REVOKE ALL PRIVILEGES ON CATALOG {catalog} FROM {}",
            quote_ident(ACCOUNT_USERS)
        ),
        // Revoking ALL PRIVILEGES has not always removed privileges granted one by one.
        format!(
            "REVOKE {} ON CATALOG {catalog} FROM {}",
            CATALOG_PRIVILEGES.join(", "),
            quote_ident(ACCOUNT_USERS)
        ),
    ];
    // The principal cannot grant itself access to the system tables; the privileged user
    // running the manual script can.
    if mode == Mode::Manual && p.audit {
        out.push(format!(
            "GRANT USE CATALOG ON CATALOG {} TO {principal}",
            quote_ident("system")
        ));
        for schema in ["access", "query"] {
            out.push(format!(
                "GRANT USE SCHEMA ON SCHEMA {} TO {principal}",
                quote_name(&["system", schema])
            ));
        }
        for (schema, table) in AUDIT_TABLES {
            out.push(format!(
                "GRANT SELECT ON TABLE {} TO {principal}",
                quote_name(&["system", schema, table])
            ));
        }
    }
    out
}

/// What removes everything setup created.
pub fn cleanup_statements(p: &SetupParams) -> Vec<String> {
    vec![format!(
        "DROP CATALOG IF EXISTS {} CASCADE",
        quote_ident(&p.catalog)
    )]
}

/// A hash of what the setup depends on; the status records which one was applied.
pub fn spec_hash(p: &SetupParams, mode: Mode) -> String {
    let mut h = Sha256::new();
    for field in [
        "v1",
        p.id.installation.as_str(),
        p.id.namespace.as_str(),
        p.id.name.as_str(),
        p.catalog.as_str(),
        p.storage_root.as_deref().unwrap_or(""),
        if p.audit { "audit" } else { "no-audit" },
        mode.as_str(),
    ] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Names in `--` comments must not be able to end the comment.
fn comment_safe(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The manual setup (or cleanup) script: a comment header, then one statement per line, each
/// ending with `;`, runnable as it is in a Databricks SQL editor.
pub fn render_script(p: &SetupParams, script: Script, spec_hash: &str) -> String {
    let integration = comment_safe(&p.id.resource());
    let mut out = String::new();
    let (what, statements) = match script {
        Script::Setup => ("setup", setup_statements(p, Mode::Manual)),
        Script::Cleanup => ("cleanup", cleanup_statements(p)),
    };
    out.push_str(&format!(
        "-- uc-operator {what} script for the DatabricksIntegration {integration}\n"
    ));
    out.push_str(&format!("-- Catalog: {}\n", comment_safe(&p.catalog)));
    match &p.principal {
        Some(principal) => {
            out.push_str(&format!(
                "-- Service principal (application id): {}\n",
                comment_safe(principal)
            ));
        }
        None => {
            out.push_str(&format!(
                "-- Service principal: replace {PRINCIPAL_PLACEHOLDER} with the application id of the\n\
                 -- integration's service principal (or run `uc-operator script --principal <id>`).\n"
            ));
        }
    }
    out.push_str(&format!("-- Spec hash: {spec_hash}\n"));
    match script {
        Script::Setup => out.push_str(
            "-- Run as a metastore admin (or a user who may create catalogs and grant on the system\n\
             -- catalog) in a Databricks SQL editor; every statement is safe to run again.\n",
        ),
        Script::Cleanup => out.push_str(
            "-- Run as the catalog's owner or a metastore admin: this drops the catalog and everything in it.\n",
        ),
    }
    out.push('\n');
    for statement in statements {
        out.push_str(&statement);
        out.push_str(";\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params() -> SetupParams {
        SetupParams {
            id: crate::identity::IntegrationId::new("default", "team-a", "uc"),
            storage_root: None,
            catalog: "immuta_cat".into(),
            principal: Some("6b2c-app".into()),
            audit: true,
        }
    }

    #[test]
    fn statements_in_order() {
        let s = setup_statements(&params(), Mode::Automatic);
        assert_eq!(
            s[0],
            "CREATE CATALOG IF NOT EXISTS `immuta_cat` COMMENT 'Managed by uc-operator for the integration default/team-a/uc'"
        );
        assert_eq!(
            s[1],
            "ALTER CATALOG `immuta_cat` SET TAGS ('uc_operator_integration' = 'default/team-a/uc')"
        );
        assert!(s.contains(&"ALTER CATALOG `immuta_cat` OWNER TO `6b2c-app`".to_owned()));
        assert!(s.contains(
            &"REVOKE ALL PRIVILEGES ON CATALOG `immuta_cat` FROM `account users`".to_owned()
        ));
        assert!(
            s.iter().all(|x| !x.starts_with("GRANT")),
            "automatic mode grants nothing"
        );
        let m = setup_statements(&params(), Mode::Manual);
        assert_eq!(m.len(), s.len() + 7);
        assert!(m.contains(
            &"GRANT SELECT ON TABLE `system`.`query`.`history` TO `6b2c-app`".to_owned()
        ));
        let no_audit = SetupParams {
            audit: false,
            ..params()
        };
        assert_eq!(setup_statements(&no_audit, Mode::Manual).len(), s.len());
    }

    #[test]
    fn script_has_a_header_and_one_statement_per_line() {
        let p = SetupParams {
            principal: None,
            ..params()
        };
        let hash = spec_hash(&p, Mode::Manual);
        let script = render_script(&p, Script::Setup, &hash);
        assert!(
            script.starts_with(
                "-- uc-operator setup script for the DatabricksIntegration team-a/uc\n"
            )
        );
        assert!(script.contains(&format!("-- Spec hash: {hash}")));
        assert!(script.contains("replace <SERVICE_PRINCIPAL_APPLICATION_ID>"));
        let body: Vec<&str> = script
            .lines()
            .filter(|l| !l.starts_with("--") && !l.is_empty())
            .collect();
        assert_eq!(body.len(), setup_statements(&p, Mode::Manual).len());
        assert!(body.iter().all(|l| l.ends_with(';')));
        assert!(
            body.iter()
                .any(|l| l.contains("TO `<SERVICE_PRINCIPAL_APPLICATION_ID>`"))
        );
        let cleanup = render_script(&p, Script::Cleanup, &hash);
        assert!(cleanup.ends_with("DROP CATALOG IF EXISTS `immuta_cat` CASCADE;\n"));
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

    #[test]
    fn header_names_cannot_break_out_of_comments() {
        let p = SetupParams {
            catalog: "x\nDROP CATALOG y".into(),
            ..params()
        };
        let script = render_script(&p, Script::Setup, "h");
        let header: Vec<&str> = script.lines().take_while(|l| !l.is_empty()).collect();
        assert!(header.iter().all(|l| l.starts_with("-- ")), "{header:?}");
    }
}
