//! End-to-end tests over HTTPS against a running simulator, one module a subject.

#[path = "../common/mod.rs"]
mod common;

mod auth;
mod compute;
mod faults;
mod statements;
mod unity;
