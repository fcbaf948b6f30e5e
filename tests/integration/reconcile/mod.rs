//! The reconcile driven directly in the test process: a real API server and the in-process
//! simulator, `uc_operator::controller::reconcile` called once per step (no binary, no polling),
//! and each step's object writes read back from a watch, so their number and order are exact.

mod lifecycle;
mod lockdown;
mod manual_setup_over_time;
mod ownership;
mod strict_databricks;
