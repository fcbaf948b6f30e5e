//! Hostile tenants, faults and ownership: nothing one tenant does takes down, robs or blocks
//! another.

mod endpoints;
mod fairness;
mod hosts;
mod installations;
mod teardown;
