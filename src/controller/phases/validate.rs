//! Validate: the one-integration-per-workspace rule, then the validation tests.

use super::super::context::Context;
use super::super::flow::{self, Flow};
use super::dereference::Clients;
use crate::api::DatabricksIntegration;
use crate::checks::{self, Findings, Integration};
use crate::failure::{Failure, Reason};

/// `DuplicateWorkspace` when an older integration that passed validation holds the workspace.
pub fn one_per_workspace(ctx: &Context, dbi: &DatabricksIntegration) -> Result<(), Failure> {
    let others = ctx.store.state();
    match flow::duplicate_of(dbi, others.iter().map(|o| o.as_ref())) {
        Some((workspace, owner)) => Err(Failure::user(
            Reason::DuplicateWorkspace,
            format!("Databricks Unity Catalog integration already exists on {workspace} ({owner})"),
        )),
        None => Ok(()),
    }
}

pub async fn run(
    dbi: &DatabricksIntegration,
    clients: &Clients,
    it: &Integration<'_>,
    flow: Flow,
) -> Findings {
    let policy = flow::compute_policy(dbi, flow);
    checks::run(&clients.main, &clients.additional, it, policy).await
}
