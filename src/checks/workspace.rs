//! The metastore assignment (no compute; it also proves the credentials) and the service
//! principal's identity.

use super::{CATALOG_VALIDATION, Findings, METASTORE_VALIDATION, Workspace};
use crate::databricks::{ErrorKind, ScimUser, WorkspaceClient};
use crate::failure::Reason;

/// Records the main workspace; `false` when authentication failed and nothing else can run.
pub(super) async fn metastore(main: &WorkspaceClient, f: &mut Findings) -> bool {
    let host = main.host();
    let mut ws = Workspace {
        host: host.clone(),
        ..Workspace::default()
    };
    let proceed = match main.current_metastore_assignment().await {
        Ok(Some(a)) => {
            ws.workspace_id = Some(a.workspace_id);
            ws.metastore_id = Some(a.metastore_id.clone());
            let message = format!(
                "metastore {} is assigned to workspace {}",
                a.metastore_id, a.workspace_id
            );
            f.passed(METASTORE_VALIDATION, Some(message), None);
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
    f.workspaces.push(ws);
    proceed
}

/// The service principal (SCIM `Me`: its application id and groups); a failure is recorded.
pub(super) async fn principal(main: &WorkspaceClient, f: &mut Findings) -> Option<ScimUser> {
    match main.me().await {
        Ok(me) => Some(me),
        Err(e) => {
            let context = "could not look up the service principal (SCIM Me)";
            f.failed_call(CATALOG_VALIDATION, context, &e);
            None
        }
    }
}
