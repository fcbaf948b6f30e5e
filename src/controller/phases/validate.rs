//! Validate: the validation tests, with the compute policy of the flow.

use super::super::flow::{self, Flow};
use super::dereference::Clients;
use crate::api::DatabricksIntegration;
use crate::checks::{self, Findings, Integration};

pub async fn run(
    dbi: &DatabricksIntegration,
    clients: &Clients,
    it: &Integration<'_>,
    flow: Flow,
) -> Findings {
    let policy = flow::compute_policy(dbi, flow);
    checks::run(&clients.main, &clients.additional, it, policy).await
}
