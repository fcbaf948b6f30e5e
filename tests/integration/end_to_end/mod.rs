//! The controller end to end: a real API server, the real `uc-operator run` process, and the
//! Databricks simulator (or hostile servers).

mod controller;
mod leader;
mod suspend_and_requests;
mod tenancy;
