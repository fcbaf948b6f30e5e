//! The setup plan: pure domain logic between the CRD and the Databricks client. It turns an
//! integration's identity and settings into the SQL that sets up (or removes) its catalog.

mod plan;
mod quote;

pub use plan::{
    ACCOUNT_USERS, AUDIT_TABLES, CATALOG_PRIVILEGES, CURRENT_PROFILE_VIEW, INTERNAL_SCHEMA, Mode,
    PRINCIPAL_PLACEHOLDER, PROFILES_TABLE, Script, SetupParams, TAG_KEY, cleanup_statements,
    render_script, setup_statements, spec_hash,
};
pub use quote::{quote_ident, quote_literal, quote_name};
