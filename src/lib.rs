//! uc-operator: a Kubernetes operator for a Databricks Unity Catalog integration.
//!
//! The layout follows the architecture: `api` is the Kubernetes side (the CRD), `databricks` the
//! Databricks side (an HTTP client that knows nothing of Kubernetes), `checks` and `setup` the
//! domain logic between them (the validation tests, the setup plan), `credentials` resolves the
//! Secrets a spec references (for the controller and the CLI alike), `controller` wires them into
//! a reconcile loop, and `cli` holds every subcommand.
#![forbid(unsafe_code)]

pub mod api;
pub mod checks;
pub mod cli;
pub mod controller;
pub mod credentials;
pub mod databricks;
pub mod failure;
pub mod identity;
pub mod import;
pub mod secret;
pub mod setup;
pub mod telemetry;
pub mod workload_identity;
