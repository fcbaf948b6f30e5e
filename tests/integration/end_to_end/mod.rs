//! The controller end to end: a real API server, the real `uc-operator run` process, and the
//! Databricks simulator (or hostile servers).

mod controller;
pub(crate) mod day_two;
mod leader;
mod tenancy;
