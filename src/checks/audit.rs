//! Query audit: the service principal can read the system tables (skipped when audit is off).
//! Verified over REST on every check, compute or not: the effective privileges on each table
//! (`SELECT` on it, `USE SCHEMA` on its schema, `USE CATALOG` on `system`, inherited ones
//! included), held by the principal, a group SCIM `Me` lists for it, or `account users`. A
//! privilege only a group it may belong to holds, or privileges it may not read, is a `warning`.

use super::governance::looks_like_group;
use super::{AUDIT_VALIDATION, Findings, Integration};
use crate::databricks::{ErrorKind, WorkspaceClient};
use crate::failure::Reason;

/// What reading a system table needs, effective on the table.
const NEEDED: [&str; 3] = ["USE_CATALOG", "USE_SCHEMA", "SELECT"];

pub(super) async fn check(main: &WorkspaceClient, it: &Integration<'_>, f: &mut Findings) {
    if !it.audit {
        f.skipped(AUDIT_VALIDATION, "query audit is off");
        return;
    }
    let Some(principal) = f.main().principal else {
        f.skipped(
            AUDIT_VALIDATION,
            "skipped: the service principal is not known",
        );
        return;
    };
    let groups = f.main().groups;
    let mine = |name: &str| {
        name.eq_ignore_ascii_case(&principal)
            || name.eq_ignore_ascii_case(crate::setup::ACCOUNT_USERS)
            || groups.iter().any(|g| g.eq_ignore_ascii_case(name))
    };
    let tables: Vec<String> = crate::setup::AUDIT_TABLES
        .iter()
        .map(|(schema, table)| format!("system.{schema}.{table}"))
        .collect();
    let reads = futures::future::join_all(
        tables
            .iter()
            .map(|t| main.effective_permissions_of_all("table", t)),
    )
    .await;
    let mut missing = Vec::new();
    let mut unknown = Vec::new();
    for (table, read) in tables.iter().zip(reads) {
        let assignments = match read {
            Ok(a) => a,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                missing.push(format!("{table} not found (is the system schema enabled?)"));
                continue;
            }
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                unknown.push(format!("the privileges on {table} could not be read ({e})"));
                continue;
            }
            Err(e) => {
                f.failed_call(
                    AUDIT_VALIDATION,
                    &format!("could not read the privileges on {table}"),
                    &e,
                );
                return;
            }
        };
        let held = |who: &dyn Fn(&str) -> bool, privilege: &str| {
            assignments.iter().filter(|a| who(&a.principal)).any(|a| {
                a.privileges.iter().any(|p| {
                    p.privilege == privilege
                        || (p.privilege == "ALL_PRIVILEGES" && privilege != "MANAGE")
                })
            })
        };
        for privilege in NEEDED {
            if held(&mine, privilege) {
                continue;
            }
            let others: Vec<&str> = assignments
                .iter()
                .filter(|a| !mine(&a.principal) && looks_like_group(&a.principal))
                .filter(|a| held(&|n: &str| n == a.principal, privilege))
                .map(|a| a.principal.as_str())
                .collect();
            let what = match privilege {
                "SELECT" => format!("no SELECT on {table}"),
                p => format!("no {} for {table}", p.replace('_', " ")),
            };
            if others.is_empty() {
                missing.push(what);
            } else {
                unknown.push(format!(
                    "{what} of its own; {} holds it, which SCIM Me does not list among its groups",
                    others.join(", ")
                ));
            }
        }
    }
    if !missing.is_empty() {
        f.failed_user(
            AUDIT_VALIDATION,
            Reason::InsufficientPrivileges,
            format!(
                "{}: a metastore admin must run `GRANT USE CATALOG ON CATALOG `system` TO `{principal}``, `GRANT USE SCHEMA ON SCHEMA `system`.`access` TO `{principal}`` (and on system.query), and `GRANT SELECT ON TABLE … TO `{principal}`` for each table (setup.sql does)",
                missing.join("; ")
            ),
        );
    } else if !unknown.is_empty() {
        f.warned(
            AUDIT_VALIDATION,
            format!(
                "system table access could not be verified: {}",
                unknown.join("; ")
            ),
        );
    } else {
        let message = format!("the service principal can read {}", tables.join(", "));
        f.passed(AUDIT_VALIDATION, Some(message), None);
    }
}

/// `audit.workspaceIds` naming a workspace no connection reaches: a `warning` on the audit test
/// (run after the connections are known).
pub(super) fn workspaces(it: &Integration<'_>, f: &mut Findings) {
    if !it.audit || it.audit_workspaces.is_empty() {
        return;
    }
    let known: Vec<i64> = f.workspaces.iter().filter_map(|w| w.workspace_id).collect();
    let unknown: Vec<String> = it
        .audit_workspaces
        .iter()
        .filter(|id| !known.contains(id))
        .map(i64::to_string)
        .collect();
    let passed = f
        .tests
        .iter()
        .find(|t| t.name == AUDIT_VALIDATION)
        .is_some_and(|t| matches!(t.outcome, super::Outcome::Passed { .. }));
    if unknown.is_empty() || !passed {
        return;
    }
    let known: Vec<String> = known.iter().map(i64::to_string).collect();
    f.warned(
        AUDIT_VALIDATION,
        format!(
            "audit.workspaceIds names workspaces [{}] that none of the connections reaches (they reach [{}]): their queries are audited only if the system tables cover them; check the ids",
            unknown.join(", "),
            known.join(", ")
        ),
    );
}
