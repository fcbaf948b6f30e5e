//! The one integration test binary: every module shares the control-plane harness and the
//! simulator, so the suite builds a single test executable.

mod harness;

mod chart;
mod checks;
mod client;
mod controller;
mod crd;
mod hostile;
mod import;
mod reconcile;
mod setup_plan;
mod validate;
