//! The domain without Kubernetes: the Databricks client, the validation tests and the setup
//! plan, against the in-process simulator (and a hostile HTTPS server).

mod checks;
mod client;
mod setup_plan;
