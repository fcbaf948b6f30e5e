//! Dereference: every Secret the spec references, read up front (own namespace only), and the
//! Databricks client of each connection.

use kube::ResourceExt;

use super::super::context::Context;
use crate::api::{Connection, DatabricksIntegration};
use crate::checks::Additional;
use crate::credentials::SecretReader;
use crate::databricks::WorkspaceClient;
use crate::failure::{Failure, Reason};

/// The clients of the main connection and of each additional one (with its catalogs).
pub struct Clients {
    pub main: WorkspaceClient,
    pub additional: Vec<Additional>,
}

pub async fn clients(ctx: &Context, dbi: &DatabricksIntegration) -> Result<Clients, Failure> {
    let mut secrets = SecretReader::new(ctx.kube.clone(), &dbi.namespace().unwrap_or_default());
    let main = client(ctx, &mut secrets, &dbi.spec.connection).await?;
    let mut additional = Vec::new();
    for c in dbi.spec.additional_workspace_connections.iter().flatten() {
        additional.push(Additional {
            client: client(ctx, &mut secrets, &c.connection).await?,
            catalogs: c.catalogs.clone(),
        });
    }
    Ok(Clients { main, additional })
}

/// The main connection's client only (deletion needs nothing else).
pub async fn main_client(
    ctx: &Context,
    dbi: &DatabricksIntegration,
) -> Result<WorkspaceClient, Failure> {
    let mut secrets = SecretReader::new(ctx.kube.clone(), &dbi.namespace().unwrap_or_default());
    client(ctx, &mut secrets, &dbi.spec.connection).await
}

/// The (cached) client of one connection, its Secrets resolved.
async fn client(
    ctx: &Context,
    secrets: &mut SecretReader,
    connection: &Connection,
) -> Result<WorkspaceClient, Failure> {
    let config = secrets.connection(connection).await?;
    ctx.databricks
        .get(config)
        .map_err(|e| Failure::user(Reason::InvalidConfiguration, e.to_string()))
}
