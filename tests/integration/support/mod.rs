//! What every layer's tests share: one harness (the control plane and the spawned operator),
//! the two test environments (in-process reconcile, spawned binary), the manifest builders, the
//! status readers, the admin-SQL helper, and the hostile HTTPS server and TCP proxy.

pub mod databricks;
pub mod harness;
pub mod hostile;
pub mod in_process;
pub mod manifests;
pub mod proxy;
pub mod spawned;
pub mod status;
pub mod workload_identity;

mod self_test;
