//! The catalog setup: domain logic between the CRD and the Databricks client. `plan` turns an
//! integration's identity and settings into the SQL that sets up (or removes) its catalog (pure);
//! `script` renders the manual scripts (and what a changed spec still needs); `spec` derives
//! their inputs from a resource (also for the offline `script` command); `execute`
//! runs it, and drops the catalog on deletion.

mod execute;
mod plan;
mod quote;
mod script;
mod spec;

pub use execute::{Dropped, SetupError, drop_catalog, run};
pub use plan::{
    ACCOUNT_USERS, AUDIT_TABLES, CURRENT_PROFILE_VIEW, Existing, INTERNAL_SCHEMA, Mode,
    PRINCIPAL_PLACEHOLDER, PROFILES_TABLE, SetupParams, TAG_KEY, automatic_stages,
    automatic_statements, catalog_comment, cleanup_statements, comment_marker, is_own_comment,
    setup_statements, spec_hash,
};
pub use quote::{quote_ident, quote_literal, quote_name};
pub use script::{Script, pending_statements, render_pending, render_script, statements_of};
pub use spec::{applied_hash, integration_id, params, script};
