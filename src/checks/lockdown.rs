//! The proven lockdown: who other than the service principal holds anything on the catalog and on
//! the objects setup created (direct grants, and ownership of those objects), read over REST with
//! no compute. Automatic setup repairs the grants over REST; ownership is only reported.

use futures::future::join_all;

use crate::databricks::{self, ErrorKind, Grantee, PermissionsChange, WorkspaceClient};
use crate::setup::{CURRENT_PROFILE_VIEW, INTERNAL_SCHEMA, PROFILES_TABLE};

/// Privileges someone other than the principal holds on one securable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForeignGrant {
    /// `catalog`, `schema` or `table` (views are tables to the permissions API).
    pub securable: &'static str,
    pub full_name: String,
    /// A principal by name, or a deleted one by its `principal_id`.
    pub grantee: Grantee,
    pub privileges: Vec<String>,
}

/// What breaks the promise "readable only by the service principal".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Drift {
    pub grants: Vec<ForeignGrant>,
    /// Objects setup created that someone else owns now: (object, owner).
    pub owners: Vec<(String, String)>,
    /// Objects setup creates that are missing (setup must run again, with compute).
    pub missing: Vec<String>,
}

impl Drift {
    pub fn is_empty(&self) -> bool {
        self.grants.is_empty() && self.owners.is_empty() && self.missing.is_empty()
    }

    /// `SELECT on table c.s.t to alice; USE_CATALOG on catalog c to account users`.
    pub fn describe_grants(grants: &[ForeignGrant]) -> String {
        let each: Vec<String> = grants
            .iter()
            .map(|g| {
                let privileges = g.privileges.join(", ");
                format!(
                    "{privileges} on {} {} to {}",
                    g.securable, g.full_name, g.grantee
                )
            })
            .collect();
        each.join("; ")
    }

    /// Every principal and privilege named, for the catalog test's message.
    pub fn describe(&self, catalog: &str) -> String {
        let mut parts = Vec::new();
        if !self.grants.is_empty() {
            let grants = Self::describe_grants(&self.grants);
            parts.push(format!(
                "catalog {catalog} is not readable only by the service principal: {grants}"
            ));
        }
        for (object, owner) in &self.owners {
            parts.push(format!(
                "{object} is owned by {owner}, not by the service principal"
            ));
        }
        if !self.missing.is_empty() {
            parts.push(format!("missing: {}", self.missing.join(", ")));
        }
        parts.join("; ")
    }
}

/// The securables setup creates, with their permissions-API type.
fn securables(catalog: &str) -> [(&'static str, String); 4] {
    let schema = format!("{catalog}.{INTERNAL_SCHEMA}");
    [
        ("catalog", catalog.to_string()),
        ("schema", schema.clone()),
        ("table", format!("{schema}.{PROFILES_TABLE}")),
        ("table", format!("{schema}.{CURRENT_PROFILE_VIEW}")),
    ]
}

fn same(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

/// Reads every grant and owner concurrently. A securable that is missing counts as missing.
pub async fn inspect(
    client: &WorkspaceClient,
    catalog: &str,
    principal: &str,
) -> Result<Drift, databricks::Error> {
    let all = securables(catalog);
    let grants = join_all(
        all.iter()
            .map(|(kind, name)| client.get_permissions(kind, name)),
    );
    let owners = join_all(all[1..].iter().map(|(kind, name)| async move {
        if *kind == "schema" {
            client
                .get_schema(name)
                .await
                .map(|s| s.and_then(|s| s.owner))
        } else {
            client
                .get_table(name)
                .await
                .map(|t| t.and_then(|t| t.owner))
        }
    }));
    let (grants, owners) = futures::join!(grants, owners);
    let mut drift = Drift::default();
    for ((kind, name), read) in all.iter().zip(grants) {
        let assignments = match read {
            Ok(a) => a,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for a in assignments {
            let grantee = a.grantee();
            let ours = matches!(&grantee, Grantee::Named(p) if same(p, principal));
            if !ours && !a.privileges.is_empty() {
                drift.grants.push(ForeignGrant {
                    securable: kind,
                    full_name: name.clone(),
                    grantee,
                    privileges: a.privileges,
                });
            }
        }
    }
    for ((_, name), owner) in all[1..].iter().zip(owners) {
        match owner? {
            None => drift.missing.push(name.clone()),
            Some(owner) if !same(&owner, principal) => drift.owners.push((name.clone(), owner)),
            Some(_) => {}
        }
    }
    Ok(drift)
}

/// Removes every foreign grant over REST (no compute), one PATCH per securable; a deleted
/// principal's by its `principal_id`. A grant naming neither (never seen) is left to the report:
/// a change needs one of them.
pub async fn repair(
    client: &WorkspaceClient,
    grants: &[ForeignGrant],
) -> Result<(), databricks::Error> {
    let mut by_securable: Vec<(&'static str, &str, Vec<PermissionsChange>)> = Vec::new();
    let named = grants
        .iter()
        .filter(|g| !matches!(&g.grantee, Grantee::Named(p) if p.is_empty()));
    for g in named {
        let change = PermissionsChange::remove(&g.grantee, g.privileges.clone());
        match by_securable
            .iter_mut()
            .find(|(k, n, _)| *k == g.securable && *n == g.full_name)
        {
            Some((_, _, changes)) => changes.push(change),
            None => by_securable.push((g.securable, &g.full_name, vec![change])),
        }
    }
    let patches = by_securable
        .iter()
        .map(|(kind, name, changes)| client.update_permissions(kind, name, changes));
    for result in join_all(patches).await {
        result?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drift_names_every_principal_and_privilege() {
        let drift = Drift {
            grants: vec![
                ForeignGrant {
                    securable: "table",
                    full_name: "c.s.t".into(),
                    grantee: Grantee::Named("alice@example.com".into()),
                    privileges: vec!["SELECT".into()],
                },
                ForeignGrant {
                    securable: "catalog",
                    full_name: "c".into(),
                    grantee: Grantee::Named("account users".into()),
                    privileges: vec!["USE_CATALOG".into()],
                },
            ],
            owners: vec![("c.s".into(), "bob".into())],
            missing: Vec::new(),
        };
        let text = drift.describe("c");
        for needle in [
            "SELECT on table c.s.t to alice@example.com",
            "USE_CATALOG on catalog c to account users",
            "c.s is owned by bob",
        ] {
            assert!(text.contains(needle), "{text}");
        }
        assert!(!drift.is_empty());
        assert!(Drift::default().is_empty());
    }
}
