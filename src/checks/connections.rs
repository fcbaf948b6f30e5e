//! Each additional workspace connection (its metastore) and each catalog listed for it (reachable
//! through a connection's workspace).

use super::{Additional, Findings, Workspace, catalog_access_test, connection_test};
use crate::databricks::{ErrorKind, WorkspaceClient};
use crate::failure::Reason;

pub(super) async fn check(main: &WorkspaceClient, additional: &[Additional], f: &mut Findings) {
    if additional.is_empty() {
        return;
    }
    for a in additional {
        let mut ws = connection(&a.client, f).await;
        ws.catalogs = a.catalogs.clone();
        f.workspaces.push(ws);
    }
    // Workspaces reachable through any connection, by id.
    let reachable: Vec<(i64, String)> = f
        .workspaces
        .iter()
        .filter_map(|w| Some((w.workspace_id?, w.host.clone())))
        .collect();
    let ids: Vec<Option<i64>> = f
        .workspaces
        .iter()
        .skip(1)
        .map(|w| w.workspace_id)
        .collect();
    for (a, own_id) in additional.iter().zip(ids) {
        for catalog in &a.catalogs {
            let access = Access {
                main,
                client: &a.client,
                own_id,
                reachable: &reachable,
            };
            access.check(catalog, f).await;
        }
    }
}

async fn connection(client: &WorkspaceClient, f: &mut Findings) -> Workspace {
    let host = client.host();
    let name = connection_test(&host);
    let mut ws = Workspace {
        host: host.clone(),
        ..Workspace::default()
    };
    // The metastore and who the credentials are on this workspace (`status.connections` shows
    // it: a connection may authenticate as another principal than the main one), at once.
    let (summary, me) = tokio::join!(client.metastore_summary(), client.me());
    match summary {
        Ok(Some(s)) => {
            ws.metastore_id = Some(s.metastore_id.clone());
            match me {
                Ok(me) => {
                    ws.workspace_id = me.workspace_id;
                    ws.principal = Some(me.user_name);
                    ws.groups = me.groups;
                    let message = match me.workspace_id {
                        Some(id) => format!("workspace {id} (metastore {})", s.metastore_id),
                        None => format!("workspace {host} (metastore {})", s.metastore_id),
                    };
                    f.passed(&name, Some(message), None);
                }
                Err(e) => {
                    let context = "could not look up the service principal (SCIM Me)";
                    f.failed_call(&name, context, &e);
                }
            }
        }
        Ok(None) => f.failed_user(
            &name,
            Reason::MetastoreNotAssigned,
            "no Unity Catalog metastore is assigned to this workspace",
        ),
        Err(e) => f.failed_call(&name, &format!("could not reach {host}"), &e),
    }
    ws
}

/// Where one catalog of a connection may be reached from.
struct Access<'a> {
    main: &'a WorkspaceClient,
    client: &'a WorkspaceClient,
    own_id: Option<i64>,
    reachable: &'a [(i64, String)],
}

impl Access<'_> {
    /// Reachable is what the connection's workspace shows the principal (the catalog GET through
    /// it); bindings are read only to explain a catalog it does not show, and when they cannot be
    /// read (only the owner or a metastore admin may) the message is just shorter.
    async fn check(&self, catalog: &str, f: &mut Findings) {
        let name = catalog_access_test(catalog);
        let host = self.client.host();
        let refused = match self.client.get_catalog(catalog).await {
            Ok(Some(info)) => {
                let how = if info.is_isolated() {
                    "ISOLATED"
                } else {
                    "OPEN"
                };
                let workspace = self
                    .own_id
                    .map(|id| format!(" (workspace {id})"))
                    .unwrap_or_default();
                let message =
                    format!("catalog {catalog} is {how} and reachable through {host}{workspace}");
                f.passed(&name, Some(message), None);
                return;
            }
            Ok(None) => None,
            Err(e) if e.kind() == ErrorKind::PermissionDenied => Some(e),
            Err(e) => {
                let context = format!("could not read catalog {catalog} through {host}");
                f.failed_call(&name, &context, &e);
                return;
            }
        };
        match self.bindings(catalog).await {
            Some(bound) => self.judge(catalog, &bound, f),
            // Its owner or a metastore admin could say where it is bound; the principal cannot.
            None => match refused {
                Some(e) => f.failed_user(
                    &name,
                    Reason::CatalogNotReachable,
                    format!("catalog {catalog} is not accessible through {host} ({e}); only its owner or a metastore admin can read which workspaces it is bound to"),
                ),
                None => {
                    let message = format!("catalog {catalog} not found through {host}");
                    f.failed_user(&name, Reason::CatalogNotFound, message);
                }
            },
        }
    }

    /// The workspaces the catalog is bound to, if either connection may read them.
    async fn bindings(&self, catalog: &str) -> Option<Vec<i64>> {
        let read = match self.client.catalog_bindings(catalog).await {
            Ok(b) => Ok(b),
            Err(_) => self.main.catalog_bindings(catalog).await,
        };
        read.ok()
            .map(|b| b.into_iter().map(|b| b.workspace_id).collect())
    }

    /// A catalog its own connection does not show, explained by its bindings.
    fn judge(&self, catalog: &str, bound: &[i64], f: &mut Findings) {
        let name = catalog_access_test(catalog);
        let host = self.client.host();
        if let Some((id, via)) = self.reachable.iter().find(|(id, _)| bound.contains(id)) {
            f.warned(&name, format!("catalog {catalog} is bound to workspaces [{}]: reachable through {via} (workspace {id}), not through {host} where it is listed", list(bound)));
        } else {
            let reach: Vec<i64> = self.reachable.iter().map(|(id, _)| *id).collect();
            f.failed_user(
                &name,
                Reason::CatalogNotReachable,
                format!(
                    "catalog {catalog} is bound to workspaces [{}], none of which the connections reach (they reach [{}]): add a connection to one of them or bind the catalog to a reachable workspace",
                    list(bound),
                    list(&reach)
                ),
            );
        }
    }
}

fn list(ids: &[i64]) -> String {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    ids.join(", ")
}
