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
pub(super) fn principal(me: Result<ScimUser, Error>, f: &mut Findings) -> Option<ScimUser> {
    match me {
        Ok(me) => Some(me),
        Err(e) => {
            let context = "could not look up the service principal (SCIM Me)";
            f.failed_call(CATALOG_VALIDATION, context, &e);
            None
        }
    }
}
