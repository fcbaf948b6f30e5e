//! The one integration test binary, laid out by layer (one executable, so the suite builds once):
//!
//! - `support`: the shared harness (control plane, spawned operator), builders, fixtures, the
//!   admin-SQL helper, the hostile HTTPS server and the TCP proxy;
//! - `domain`: the Databricks client, the validation tests and the setup plan against the
//!   in-process simulator, without Kubernetes;
//! - `reconcile`: `controller::reconcile` driven step by step in the test process against a real
//!   API server, each step's writes counted;
//! - `end_to_end`: the real `uc-operator run` process against the API server and the simulator;
//! - `packaging`: what ships beside the binary: the chart, the CRD, the Argo CD health check and
//!   the `validate` and `import` commands.

mod support;

mod domain;
mod end_to_end;
mod packaging;
mod reconcile;
