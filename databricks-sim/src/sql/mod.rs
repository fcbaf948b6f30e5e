//! Databricks SQL: parsing ([`parse`]) and execution against the in-memory model (`exec`).

mod ast;
mod exec;
mod parse;
mod select;
mod uc_parse;

pub(crate) use exec::{ExecContext, QueryResult, SqlError, execute};
pub use parse::{
    ParseError, Securable, SecurableKind, SqlStatement, name_parts, parse, parse_with_params,
};
