//! What every layer's tests share: one harness, fixtures and test servers.

pub mod harness;
pub mod hostile;
pub mod in_process;
pub mod proxy;
pub mod spawned;

mod self_test;
