//! The reconcile driven directly in the test process: a real API server and the in-process
//! simulator, `uc_operator::controller::reconcile` called once per step (no binary, no polling),
//! and each step's object writes read back from a watch, so their number and order are exact.
//!
//! Beside the lifecycle, the rules where real Databricks is strict (root-less metastores,
//! terminated clusters, other teams' ISOLATED catalogs, metastore admins, transient failures, the
//! manual script run by a non-admin; `docs/simulator.md` lists each rule and its source), catalog
//! ownership, the proven lockdown, manual setup over time, `requestedAt` and connections.

mod catalog_access;
mod connections;
mod governance;
mod lifecycle;
mod lockdown;
mod manual_script_by_a_non_admin;
mod manual_setup_over_time;
mod ownership;
mod requested_at;
mod storage_root;
mod tenant_boundaries;
mod terminated_cluster;
mod transient_failures;
mod workload_identity;
