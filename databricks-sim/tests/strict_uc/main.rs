//! Strictness rules of Unity Catalog (docs/simulator.md), one test each, over HTTPS.

#[path = "../common/mod.rs"]
mod common;

mod admins;
mod grants;
mod ownership;
mod scenario;
mod storage;
mod tags;
mod visibility;
