//! Claim: the one-integration-per-workspace rule, decided by the operator's own claims
//! (`controller/claims.rs`), never by what a tenant can write. Runs once the tests named the
//! workspace (its id from SCIM `Me`), so two host names of one workspace are one workspace.

use super::super::claims::{self, Holder};
use super::super::context::Context;
use crate::api::DatabricksIntegration;
use crate::checks::Findings;
use crate::failure::{Failure, Reason};

/// Releases the claims the spec no longer points at, then takes the workspace when validation
/// passed; `DuplicateWorkspace` when another live integration holds it.
pub async fn settle(
    ctx: &Context,
    dbi: &DatabricksIntegration,
    findings: &Findings,
) -> Result<(), Failure> {
    let Some(ws) = claims::workspace(dbi, findings.main().workspace_id) else {
        return Ok(());
    };
    ctx.claims
        .release(dbi, Some(&ws))
        .await
        .map_err(kube_failure)?;
    let passed = findings.failure().is_none();
    let alive = |uid: &str| ctx.index.alive(uid);
    let holder = ctx.claims.holder(dbi, &ws, passed, alive).await;
    duplicate(&ws, holder.map_err(kube_failure)?)
}

/// Before any request: another live integration that claimed this host holds the workspace.
pub async fn before_tests(ctx: &Context, dbi: &DatabricksIntegration) -> Result<(), Failure> {
    let Some(ws) = claims::workspace(dbi, None) else {
        return Ok(());
    };
    let alive = |uid: &str| ctx.index.alive(uid);
    let holder = ctx.claims.holder_by_host(dbi, &ws.host, alive).await;
    duplicate(&ws, holder.map_err(kube_failure)?)
}

fn duplicate(ws: &claims::Workspace, holder: Holder) -> Result<(), Failure> {
    match holder {
        Holder::Free => Ok(()),
        Holder::Other(holder) => Err(Failure::user(
            Reason::DuplicateWorkspace,
            format!(
                "Databricks Unity Catalog integration already exists on {} ({holder})",
                ws.host
            ),
        )),
    }
}

/// While suspended nothing is asked of Databricks, but a spec pointing elsewhere still gives
/// back the workspaces it held.
pub async fn release_moved(ctx: &Context, dbi: &DatabricksIntegration) -> Result<(), Failure> {
    let current = claims::workspace(dbi, None);
    ctx.claims
        .release(dbi, current.as_ref())
        .await
        .map_err(kube_failure)
}

fn kube_failure(e: kube::Error) -> Failure {
    Failure::retry(
        Reason::KubernetesError,
        format!("could not read or write the workspace claim: {e}"),
    )
}
