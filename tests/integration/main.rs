//! The one integration test binary: every module shares the control-plane harness and the
//! simulator, so the suite builds a single test executable.

mod harness;

mod argocd;
mod chart;
mod chart_install;
mod checks;
mod client;
mod control_plane;
mod controller;
mod crd;
mod day_two;
mod hostile;
mod hostile_tenants;
mod import;
mod leader;
mod lockdown;
mod operations;
mod proxy;
mod real_databricks;
mod reconcile;
mod rollout;
mod setup_plan;
mod validate;
