//! The metastore of a workspace (its summary: no compute; it also proves the credentials) and
//! the service principal's identity (SCIM `Me`, which also names the workspace). Both are read
//! at once, by the caller.

use super::{CATALOG_VALIDATION, Findings, METASTORE_VALIDATION, Workspace};
use crate::databricks::{Error, ErrorKind, MetastoreSummary, ScimUser};
use crate::failure::Reason;

/// Records the main workspace and its metastore; `false` when authentication failed and nothing
/// else can run. `workspace_id` is what SCIM `Me` said, if it answered.
pub(super) fn metastore(
    host: String,
    summary: Result<Option<MetastoreSummary>, Error>,
    workspace_id: Option<i64>,
    f: &mut Findings,
) -> bool {
    let proceed = match summary {
        Ok(Some(s)) => {
            let message = match workspace_id {
                Some(id) => format!("metastore {} is assigned to workspace {id}", s.metastore_id),
                None => format!(
                    "metastore {} is assigned to workspace {host}",
                    s.metastore_id
                ),
            };
            f.passed(METASTORE_VALIDATION, Some(message), None);
            f.metastore = Some(s);
            true
        }
        Ok(None) => {
            f.failed_user(
                METASTORE_VALIDATION,
                Reason::MetastoreNotAssigned,
                format!(
                    "Error trying to get the current metastore info. No Unity Catalog metastore is assigned to workspace {host}: assign one in the account console"
                ),
            );
            true
        }
        Err(e) if e.kind() == ErrorKind::Unauthenticated => {
            let context = format!("authentication to {host} failed");
            f.failed_call(METASTORE_VALIDATION, &context, &e);
            false
        }
        Err(e) => {
            let context = "Error trying to get the current metastore info";
            f.failed_call(METASTORE_VALIDATION, context, &e);
            true
        }
    };
    f.workspaces.push(Workspace {
        host,
        workspace_id,
        metastore_id: f.metastore.as_ref().map(|s| s.metastore_id.clone()),
        ..Workspace::default()
    });
    proceed
}

/// The service principal (SCIM `Me`: its application id and groups); a failure is recorded.
/// The name goes into SQL that admins run, so it must look like what Databricks issues: an
/// application id (a UUID) or a user name (an e-mail address), nothing a workspace could use to
/// slip text into a script.
pub(super) fn principal(me: Result<ScimUser, Error>, f: &mut Findings) -> Option<ScimUser> {
    match me {
        Ok(me) if !is_principal_name(&me.user_name) => {
            f.failed_user(
                CATALOG_VALIDATION,
                crate::failure::Reason::UnexpectedResponse,
                "SCIM Me returned a principal name that is neither an application id nor a user name; it is not used in SQL",
            );
            None
        }
        Ok(me) => Some(me),
        Err(e) => {
            let context = "could not look up the service principal (SCIM Me)";
            f.failed_call(CATALOG_VALIDATION, context, &e);
            None
        }
    }
}

/// An application id or a user name: letters, digits and `@ . _ + -`, at most 255 characters.
pub fn is_principal_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '@' | '.' | '_' | '+' | '-'))
}

#[cfg(test)]
mod tests {
    use super::is_principal_name;

    #[test]
    fn only_application_ids_and_user_names_are_principals() {
        assert!(is_principal_name("6b2c0f4e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"));
        assert!(is_principal_name("first.last+ops@example.com"));
        for bad in [
            "",
            "x` TO `y`; DROP CATALOG c CASCADE; --",
            "a b",
            "a\nb",
            "a`b",
        ] {
            assert!(!is_principal_name(bad), "{bad:?}");
        }
    }
}
