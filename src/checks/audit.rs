//! Query audit: the service principal can read the system tables (skipped when audit is off, and
//! when the compute is stopped and may not be started).

use super::{AUDIT_VALIDATION, Findings, Integration};
use crate::databricks::{ErrorKind, WorkspaceClient};
use crate::failure::Reason;

pub(super) async fn check(main: &WorkspaceClient, it: &Integration<'_>, f: &mut Findings) {
    if !it.audit {
        f.skipped(AUDIT_VALIDATION, "query audit is off");
        return;
    }
    if !f.compute_available {
        let message = "the compute is not running: not started (this check may not start compute)";
        f.skipped(AUDIT_VALIDATION, message);
        return;
    }
    let tables: Vec<String> = crate::setup::AUDIT_TABLES
        .iter()
        .map(|(schema, table)| format!("system.{schema}.{table}"))
        .collect();
    let mut missing = Vec::new();
    for table in &tables {
        let sql = format!("SELECT 1 FROM {table} LIMIT 1");
        match main.execute(&sql).await {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Sql && e.sql_state() == Some("42501") => {
                missing.push(format!("no SELECT on {table}"))
            }
            Err(e) if e.kind() == ErrorKind::Sql && e.sql_state() == Some("42P01") => {
                missing.push(format!("{table} not found (is the system schema enabled?)"))
            }
            Err(e) => {
                f.failed_call(AUDIT_VALIDATION, &format!("could not read {table}"), &e);
                return;
            }
        }
    }
    if missing.is_empty() {
        let message = format!("the service principal can read {}", tables.join(", "));
        f.passed(AUDIT_VALIDATION, Some(message), None);
    } else {
        f.failed_user(
            AUDIT_VALIDATION,
            Reason::InsufficientPrivileges,
            format!(
                "{}: grant USE CATALOG on system, USE SCHEMA on system.access and system.query, and SELECT on each table",
                missing.join("; ")
            ),
        );
    }
}
