//! The one integration test binary: every module shares the control-plane harness and the
//! simulator, so the suite builds a single test executable.

mod harness;

mod chart;
mod client;
mod controller;
mod crd;
mod hostile;
mod import;
mod setup_plan;
