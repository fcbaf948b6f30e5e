//! The manual scripts as users get them: a comment header, one statement per line, and — when
//! the spec changed — the statements still to run.

use super::plan::{Mode, PRINCIPAL_PLACEHOLDER, SetupParams, cleanup_statements, setup_statements};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Setup,
    Cleanup,
}

/// The statements of a rendered script (one per line, `;`-terminated, `--` comments skipped).
pub fn statements_of(script: &str) -> Vec<String> {
    script
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("--"))
        .map(|l| l.trim_end_matches(';').to_string())
        .collect()
}

/// What a user still has to run when the script changed from `applied` to `new`: the new
/// statements, in order, then a `REVOKE` for each grant the new script no longer makes (turning
/// query audit off gives back its system-table grants).
pub fn pending_statements(applied: &[String], new: &[String]) -> Vec<String> {
    let mut out: Vec<String> = new
        .iter()
        .filter(|s| !applied.contains(s))
        .cloned()
        .collect();
    for old in applied.iter().filter(|s| !new.contains(s)) {
        if let Some((what, to)) = old
            .strip_prefix("GRANT ")
            .and_then(|r| r.rsplit_once(" TO "))
        {
            out.push(format!("REVOKE {what} FROM {to}"));
        }
    }
    out
}

/// The script of the statements still to run, with a header saying why.
pub fn render_pending(p: &SetupParams, statements: &[String]) -> String {
    let mut out = format!(
        "-- uc-operator: the spec of the DatabricksIntegration {} changed; run these statements\n\
         -- (the difference from the setup script last seen applied) as setup.sql says.\n\n",
        comment_safe(&p.id.resource())
    );
    for statement in statements {
        out.push_str(statement);
        out.push_str(";\n");
    }
    out
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
        Script::Cleanup => ("cleanup", cleanup_statements(p, Mode::Manual)),
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
        Script::Setup if p.audit => out.push_str(
            "-- Run in a Databricks SQL editor as a metastore admin: the query-audit GRANTs on the\n\
             -- system catalog need one. Every statement is safe to run again.\n",
        ),
        Script::Setup => out.push_str(
            "-- Run in a Databricks SQL editor as any user who holds CREATE CATALOG on the metastore\n\
             -- (a metastore admin works too); ownership moves to the service principal last.\n\
             -- Every statement is safe to run again.\n",
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
    use crate::setup::plan::{Mode, SetupParams, setup_statements, spec_hash};

    use crate::setup::plan::tests::params;

    #[test]
    fn a_changed_script_leaves_only_the_difference_to_run() {
        let off = SetupParams {
            audit: false,
            ..params()
        };
        let before = setup_statements(&off, Mode::Manual);
        let after = setup_statements(&params(), Mode::Manual);
        let on = pending_statements(&before, &after);
        assert_eq!(on.len(), 7, "{on:?}");
        assert!(on.iter().all(|s| s.starts_with("GRANT")));
        let back = pending_statements(&after, &before);
        assert_eq!(back.len(), 7, "{back:?}");
        assert!(back.contains(
            &"REVOKE SELECT ON TABLE `system`.`query`.`history` FROM `6b2c-app`".to_owned()
        ));
        assert!(pending_statements(&after, &after).is_empty());
        let script = render_script(&params(), Script::Setup, "h");
        assert_eq!(statements_of(&script), after);
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
