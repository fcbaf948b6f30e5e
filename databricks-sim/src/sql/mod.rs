//! Databricks SQL: parsing ([`parse`]) and execution against the in-memory model (`exec`).

mod exec;
mod parse;

pub(crate) use exec::{ExecContext, QueryResult, SqlError, execute};
pub use parse::{
    ParseError, Securable, SecurableKind, SqlStatement, name_parts, parse, parse_with_params,
};
