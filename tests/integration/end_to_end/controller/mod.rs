//! The controller end to end: a real API server, the real `uc-operator run` process, and the
//! Databricks simulator.

use std::time::{Duration, Instant};

use databricks_sim::{
    CatalogSpec, FaultKind, FaultRule, METASTORE_ID, SP_APP_ID, SP_CLIENT_SECRET, SP_TOKEN,
    Scenario, WAREHOUSE_ID,
};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams};
use serde_json::json;
use uc_operator::api::{Phase, TestStatus};

use crate::support::databricks::run_as_admin;
use crate::support::harness::{Operator, control_plane};
use crate::support::spawned::{Env, TAG_KEY};
use crate::support::status::{condition_of, phase, validation_test};

/// A tool on PATH (`make test` installs promtool through hack/deps.sh).
fn which(tool: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(tool))
                .find(|p| p.exists())
        })
        .ok_or(())
}

fn catalog<'a>(
    sim: &'a databricks_sim::Snapshot,
    name: &str,
) -> Option<&'a databricks_sim::Catalog> {
    sim.catalogs.get(name)
}

mod expiry;
mod failures;
mod lifecycle;
mod operations;
mod setup;
mod workload_identity;
