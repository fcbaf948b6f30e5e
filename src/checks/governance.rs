//! Governance preflight (`Governed catalog: <catalog>`): for each catalog the governance tool will
//! govern — `spec.governedCatalogs` in the main workspace and each connection's `catalogs` — what
//! its documented first step needs, read over REST with no compute: `USE CATALOG` and `MANAGE`
//! granted on the catalog itself (to the service principal, a group it belongs to or `account
//! users`; ownership holds every privilege), `USE SCHEMA`, `SELECT` and `MODIFY` effective on it,
//! a read-write binding to the connection's workspace where the catalog is `ISOLATED` and its
//! bindings can be read, and the connection's workspace on the main workspace's metastore.
//!
//! What the operator cannot tell is a `warning` that says so, never a failure: a privilege that a
//! group the principal may belong to holds (SCIM `Me` lists direct memberships only), grants or
//! bindings it may not read (bindings: only the owner or a metastore admin).

use super::{Findings, Workspace};
use crate::databricks::{self, ErrorKind, WorkspaceClient};
use crate::failure::Reason;
use crate::setup::quote_ident;

/// Granted on the catalog itself (not only inherited from the metastore).
const DIRECT: [&str; 2] = ["USE_CATALOG", "MANAGE"];
/// Effective on the catalog (granted there or inherited).
const EFFECTIVE: [&str; 3] = ["USE_SCHEMA", "SELECT", "MODIFY"];
/// Catalogs checked at once per connection.
const CONCURRENCY: usize = 8;

/// The name of the governance test of one catalog.
pub fn governed_test(catalog: &str) -> String {
    format!("Governed catalog: {catalog}")
}

/// One catalog, and the connection it is governed through.
struct Target<'a> {
    client: &'a WorkspaceClient,
    catalog: &'a str,
    workspace: &'a Workspace,
    /// The main workspace's metastore.
    metastore: Option<&'a str>,
}

/// Runs the test for the main workspace's `governed` catalogs and every connection's catalogs.
/// `clients`: the main client first, then one per connection, in `f.workspaces` order.
pub(super) async fn check(clients: &[&WorkspaceClient], governed: &[String], f: &mut Findings) {
    let metastore = f.metastore.as_ref().map(|m| m.metastore_id.clone());
    let workspaces = f.workspaces.clone();
    let mut targets = Vec::new();
    for (i, (client, ws)) in clients.iter().zip(&workspaces).enumerate() {
        let catalogs = if i == 0 { governed } else { &ws.catalogs };
        for catalog in catalogs {
            targets.push(Target {
                client,
                catalog,
                workspace: ws,
                metastore: metastore.as_deref(),
            });
        }
    }
    let mut outcomes = Vec::with_capacity(targets.len());
    for chunk in targets.chunks(CONCURRENCY) {
        let judged = futures::future::join_all(chunk.iter().map(Target::judge)).await;
        let names = chunk.iter().map(|t| governed_test(t.catalog));
        outcomes.extend(names.zip(judged));
    }
    for (name, outcome) in outcomes {
        match outcome {
            Outcome::Passed(m) => f.passed(&name, Some(m), None),
            Outcome::Warning(m) => f.warned(&name, m),
            Outcome::Skipped(m) => f.skipped(&name, m),
            Outcome::Failed(reason, m) => f.failed_user(&name, reason, m),
            Outcome::Error(context, e) => f.failed_call(&name, &context, &e),
        }
    }
}

enum Outcome {
    Passed(String),
    Warning(String),
    Skipped(String),
    Failed(Reason, String),
    Error(String, databricks::Error),
}

/// What the principal holds on the catalog, as far as it can be read.
#[derive(Default)]
struct Held {
    /// Privileges of the principal, its groups and `account users`.
    privileges: Vec<String>,
    /// Grantees that look like groups the principal is not known to be in, with what they hold.
    other_groups: Vec<(String, Vec<String>)>,
}

impl Target<'_> {
    async fn judge(&self) -> Outcome {
        let catalog = self.catalog;
        let host = self.client.host();
        let Some(principal) = self.workspace.principal.as_deref() else {
            return Outcome::Skipped("skipped: the service principal is not known".into());
        };
        if let (Some(main), Some(own)) = (self.metastore, self.workspace.metastore_id.as_deref())
            && !main.eq_ignore_ascii_case(own)
        {
            return Outcome::Failed(
                Reason::ValidationFailed,
                format!(
                    "catalog {catalog} is governed through {host}, which is on metastore {own}, not on the main workspace's metastore {main}: an integration governs one metastore; use a workspace on metastore {main}"
                ),
            );
        }
        let (info, direct, effective) = tokio::join!(
            self.client.get_catalog(catalog),
            self.client.get_permissions("catalog", catalog),
            self.client.effective_permissions_of_all("catalog", catalog),
        );
        let info = match info {
            Ok(Some(info)) => info,
            Ok(None) => {
                return Outcome::Failed(
                    Reason::CatalogNotFound,
                    format!("catalog {catalog} not found through {host}"),
                );
            }
            Err(e) if e.kind() == ErrorKind::PermissionDenied => {
                let grant = grant(catalog, principal, &["USE_CATALOG", "MANAGE"]);
                return Outcome::Failed(
                    Reason::InsufficientPrivileges,
                    format!(
                        "the service principal {principal} cannot read catalog {catalog} through {host} ({e}): run `{grant}` as its owner, and if it is ISOLATED bind it to that workspace"
                    ),
                );
            }
            Err(e) => {
                return Outcome::Error(
                    format!("could not read catalog {catalog} through {host}"),
                    e,
                );
            }
        };
        let owner = info.owner.clone().unwrap_or_default();
        let mine = |name: &str| self.is_mine(principal, name);
        let mut unknown = Vec::new();
        let mut problems = Vec::new();
        let mut missing = Vec::new();
        if !mine(&owner) {
            let direct = match direct {
                Ok(a) => Some(held(
                    a.iter().map(|a| (a.principal.as_str(), &a.privileges[..])),
                    &mine,
                )),
                Err(e) => {
                    unknown.push(format!("its grants could not be read ({e})"));
                    None
                }
            };
            let effective = match effective {
                Ok(a) => {
                    let each: Vec<(&str, Vec<String>)> = a
                        .iter()
                        .map(|a| {
                            let p = a.privileges.iter().map(|p| p.privilege.clone()).collect();
                            (a.principal.as_str(), p)
                        })
                        .collect();
                    Some(held(each.iter().map(|(p, v)| (*p, &v[..])), &mine))
                }
                Err(e) => {
                    unknown.push(format!("its effective privileges could not be read ({e})"));
                    None
                }
            };
            for (wanted, read) in [(&DIRECT[..], &direct), (&EFFECTIVE[..], &effective)] {
                let Some(read) = read else { continue };
                for privilege in wanted {
                    if has(&read.privileges, privilege) {
                        continue;
                    }
                    let through: Vec<&str> = read
                        .other_groups
                        .iter()
                        .filter(|(_, p)| has(p, privilege))
                        .map(|(g, _)| g.as_str())
                        .collect();
                    if through.is_empty() {
                        missing.push(*privilege);
                    } else {
                        unknown.push(format!("{} is held by {}, which SCIM Me does not list among the principal's groups (a nested or account-level membership would not show)", sql_privilege(privilege), through.join(", ")));
                    }
                }
            }
        }
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(|p| sql_privilege(p)).collect();
            problems.push(format!(
                "the service principal {principal} lacks {} on catalog {catalog} (USE CATALOG and MANAGE granted on the catalog itself, USE SCHEMA, SELECT and MODIFY effective on it): run `{}` as the catalog's owner",
                names.join(", "),
                grant(catalog, principal, &missing)
            ));
        }
        if info.is_isolated() {
            match self.client.catalog_bindings(catalog).await {
                Ok(bindings) => {
                    let own = self.workspace.workspace_id;
                    let binding = bindings.iter().find(|b| Some(b.workspace_id) == own);
                    if let Some(b) = binding.filter(|b| b.is_read_only()) {
                        problems.push(format!("catalog {catalog} is bound READ_ONLY to workspace {} ({host}): the governance tool cannot write policies there; bind it BINDING_TYPE_READ_WRITE", b.workspace_id));
                    }
                }
                Err(e) => unknown.push(format!(
                    "it is ISOLATED and its bindings could not be read (only its owner or a metastore admin may: {e}), so whether {host} may write to it is not known"
                )),
            }
        }
        let reason = if missing.is_empty() {
            Reason::ValidationFailed
        } else {
            Reason::InsufficientPrivileges
        };
        match (problems.is_empty(), unknown.is_empty()) {
            (false, _) => Outcome::Failed(reason, problems.join("; ")),
            (true, false) => Outcome::Warning(format!(
                "catalog {catalog}: not everything the governance tool needs could be verified: {}",
                unknown.join("; ")
            )),
            (true, true) => Outcome::Passed(format!(
                "the service principal may govern catalog {catalog} through {host}{}",
                if mine(&owner) { " (it owns it)" } else { "" }
            )),
        }
    }

    /// The principal itself, a group SCIM `Me` lists for it, or `account users`.
    fn is_mine(&self, principal: &str, name: &str) -> bool {
        name.eq_ignore_ascii_case(principal)
            || name.eq_ignore_ascii_case(crate::setup::ACCOUNT_USERS)
            || self
                .workspace
                .groups
                .iter()
                .any(|g| g.eq_ignore_ascii_case(name))
    }
}

/// What the principal's own entries hold, and what other groups hold.
fn held<'a>(
    entries: impl Iterator<Item = (&'a str, &'a [String])>,
    mine: &(dyn Fn(&str) -> bool + Sync),
) -> Held {
    let mut out = Held::default();
    for (grantee, privileges) in entries {
        if mine(grantee) {
            out.privileges.extend(privileges.iter().cloned());
        } else if looks_like_group(grantee) {
            out.other_groups
                .push((grantee.to_string(), privileges.to_vec()));
        }
    }
    out
}

/// `ALL PRIVILEGES` implies every privilege but `MANAGE` (docs.databricks.com
/// sql/language-manual/security-revoke).
fn has(privileges: &[String], wanted: &str) -> bool {
    privileges
        .iter()
        .any(|p| p == wanted || (p == "ALL_PRIVILEGES" && wanted != "MANAGE"))
}

/// Users are emails and service principals application ids (UUIDs); any other grantee is a
/// group (an empty one is a deleted principal).
pub(super) fn looks_like_group(grantee: &str) -> bool {
    let uuid = grantee.len() == 36 && grantee.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    !grantee.is_empty() && !grantee.contains('@') && !uuid
}

fn sql_privilege(p: &str) -> String {
    p.replace('_', " ")
}

/// `GRANT USE CATALOG, MANAGE ON CATALOG `c` TO `sp``.
fn grant(catalog: &str, principal: &str, privileges: &[&str]) -> String {
    let names: Vec<String> = privileges.iter().map(|p| sql_privilege(p)).collect();
    format!(
        "GRANT {} ON CATALOG {} TO {}",
        names.join(", "),
        quote_ident(catalog),
        quote_ident(principal)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_privileges_imply_everything_but_manage() {
        let all = vec!["ALL_PRIVILEGES".to_string()];
        assert!(has(&all, "SELECT") && has(&all, "USE_CATALOG"));
        assert!(!has(&all, "MANAGE"));
    }

    #[test]
    fn grantees_that_are_groups() {
        assert!(looks_like_group("data-engineers"));
        assert!(!looks_like_group("alice@example.com"));
        assert!(!looks_like_group("6b2c4d8e-1f3a-4b5c-9d7e-0a1b2c3d4e5f"));
        assert!(!looks_like_group(""));
    }

    #[test]
    fn the_fixing_grant_is_sql() {
        assert_eq!(
            grant("sales", "6b2c", &["USE_CATALOG", "MANAGE"]),
            "GRANT USE CATALOG, MANAGE ON CATALOG `sales` TO `6b2c`"
        );
    }
}
