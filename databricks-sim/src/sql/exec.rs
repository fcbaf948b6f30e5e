//! Executes parsed statements against the in-memory Unity Catalog.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::parse::{SecurableKind, SqlStatement};
use super::select::select;
use crate::catalog::{ACCOUNT_USERS, Caller, Metastore, ObjectKind, UcError, normalize_privilege};

/// Everything a statement may consult or change.
pub(crate) struct ExecContext<'a> {
    pub caller: Caller,
    pub metastore: &'a mut Metastore,
    /// Lower-cased names that are valid principals.
    pub principals: &'a BTreeSet<String>,
    pub catalog: Option<String>,
    pub schema: Option<String>,
    pub now: i64,
}

/// A statement's result: typed columns and JSON rows (numbers stay numbers for the command API).
#[derive(Clone, Debug, Default)]
pub(crate) struct QueryResult {
    pub columns: Vec<(String, String)>,
    pub rows: Vec<Vec<Json>>,
}

/// A failed statement as the Statement Execution API reports it.
#[derive(Clone, Debug)]
pub(crate) struct SqlError {
    pub error_code: String,
    pub message: String,
    pub sql_state: String,
}

impl From<UcError> for SqlError {
    fn from(e: UcError) -> Self {
        SqlError {
            error_code: match e.status {
                404 => "NOT_FOUND".into(),
                409 => "ALREADY_EXISTS".into(),
                _ => "BAD_REQUEST".into(),
            },
            message: e.sql_message(),
            sql_state: e.sql_state.into(),
        }
    }
}

pub(super) fn unsupported(what: &str) -> SqlError {
    SqlError {
        error_code: "BAD_REQUEST".into(),
        message: format!(
            "[UNSUPPORTED_FEATURE] The feature is not supported: {what} (databricks-sim). SQLSTATE: 0A000"
        ),
        sql_state: "0A000".into(),
    }
}

/// Runs one statement.
// Long: one arm per statement kind: a dispatch table; splitting it would only scatter it.
pub(crate) fn execute(stmt: &SqlStatement, ctx: &mut ExecContext) -> Result<QueryResult, SqlError> {
    let caller = ctx.caller.clone();
    let ok = Ok(QueryResult::default());
    match stmt {
        SqlStatement::Query(q) => select(q, ctx),
        SqlStatement::CreateCatalog {
            name,
            if_not_exists,
            managed_location,
            comment,
        } => {
            ctx.metastore.create_catalog(
                &caller,
                name,
                comment.clone(),
                managed_location.clone(),
                *if_not_exists,
                ctx.now,
            )?;
            ok
        }
        SqlStatement::DropCatalog {
            name,
            if_exists,
            cascade,
        } => {
            ctx.metastore
                .drop_catalog(&caller, name, *if_exists, *cascade)?;
            ok
        }
        SqlStatement::AlterCatalogOwner { name, owner } => {
            check_principal(ctx, owner)?;
            ctx.metastore.set_catalog_owner(&caller, name, owner)?;
            ok
        }
        SqlStatement::SetCatalogTags { name, tags } => {
            ctx.metastore.change_tags(&caller, name, tags, &[])?;
            ok
        }
        SqlStatement::UnsetCatalogTags { name, keys } => {
            ctx.metastore.change_tags(&caller, name, &[], keys)?;
            ok
        }
        SqlStatement::CommentOnCatalog { name, comment } => {
            ctx.metastore
                .set_catalog_comment(&caller, name, comment.clone())?;
            ok
        }
        SqlStatement::AlterSchemaOwner { name, owner } => {
            check_principal(ctx, owner)?;
            let (c, s) = schema_name(ctx, name)?;
            ctx.metastore.set_schema_owner(&caller, &c, &s, owner)?;
            ok
        }
        SqlStatement::Grant {
            privileges,
            securable,
            principal,
        }
        | SqlStatement::Revoke {
            privileges,
            securable,
            principal,
        } => {
            check_principal(ctx, principal)?;
            let full = match securable.kind {
                SecurableKind::Metastore => ctx.metastore.id.clone(),
                SecurableKind::Catalog => one_name(&securable.name)?,
                SecurableKind::Schema => {
                    let (c, s) = schema_name(ctx, &securable.name)?;
                    format!("{c}.{s}")
                }
                _ => {
                    let (c, s, t) = object_name(ctx, &securable.name)?;
                    format!("{c}.{s}.{t}")
                }
            };
            let kind = securable.kind.as_sql().to_lowercase();
            let privs: Vec<String> = privileges.iter().map(|p| normalize_privilege(p)).collect();
            let (add, remove) = if matches!(stmt, SqlStatement::Grant { .. }) {
                (privs, vec![])
            } else {
                (vec![], privs)
            };
            ctx.metastore
                .update_grants(&caller, &kind, &full, principal, &add, &remove)?;
            ok
        }
        SqlStatement::CreateSchema {
            name,
            if_not_exists,
            comment,
            managed_location: _,
        } => {
            let (c, s) = schema_name(ctx, name)?;
            ctx.metastore
                .create_schema(&caller, &c, &s, comment.clone(), *if_not_exists)?;
            ok
        }
        SqlStatement::AlterObjectOwner { kind, name, owner } => {
            check_principal(ctx, owner)?;
            let (c, s, t) = object_name(ctx, name)?;
            let kind = object_kind(*kind);
            ctx.metastore
                .set_object_owner(&caller, Some(kind), &c, &s, &t, owner)?;
            ok
        }
        SqlStatement::DropSchema {
            name,
            if_exists,
            cascade,
        } => {
            let (c, s) = schema_name(ctx, name)?;
            ctx.metastore
                .drop_schema(&caller, &c, &s, *if_exists, *cascade)?;
            ok
        }
        SqlStatement::CreateTable {
            name,
            if_not_exists,
            or_replace,
            columns,
        } => {
            let (c, s, t) = object_name(ctx, name)?;
            ctx.metastore.create_object(
                &caller,
                ObjectKind::Table,
                &c,
                &s,
                &t,
                columns.clone(),
                None,
                *if_not_exists,
                *or_replace,
            )?;
            ok
        }
        SqlStatement::CreateView {
            name,
            if_not_exists,
            or_replace,
            query,
        } => {
            let (c, s, t) = object_name(ctx, name)?;
            // Resolve the view's query first: a view over a missing table fails to create.
            let result = select(query, ctx)?;
            ctx.metastore.create_object(
                &caller,
                ObjectKind::View,
                &c,
                &s,
                &t,
                result.columns,
                Some(query.to_string()),
                *if_not_exists,
                *or_replace,
            )?;
            ok
        }
        SqlStatement::CreateFunction {
            name,
            if_not_exists,
            or_replace,
        } => {
            let (c, s, t) = object_name(ctx, name)?;
            ctx.metastore.create_object(
                &caller,
                ObjectKind::Function,
                &c,
                &s,
                &t,
                vec![],
                None,
                *if_not_exists,
                *or_replace,
            )?;
            ok
        }
        SqlStatement::DropObject {
            kind,
            name,
            if_exists,
        } => {
            let (c, s, t) = object_name(ctx, name)?;
            let kind = object_kind(*kind);
            ctx.metastore
                .drop_object(&caller, kind, &c, &s, &t, *if_exists)?;
            ok
        }
        SqlStatement::Other(s) => {
            let text = s.to_string();
            let head: String = text
                .split_whitespace()
                .take(2)
                .collect::<Vec<_>>()
                .join(" ");
            Err(unsupported(&head))
        }
    }
}

fn check_principal(ctx: &ExecContext, principal: &str) -> Result<(), SqlError> {
    let p = principal.to_lowercase();
    if p == ACCOUNT_USERS || ctx.principals.contains(&p) {
        Ok(())
    } else {
        Err(UcError::no_principal(principal).into())
    }
}

fn one_name(name: &[String]) -> Result<String, SqlError> {
    match name {
        [c] => Ok(c.clone()),
        _ => Err(UcError::invalid(format!("Invalid catalog name '{}'.", name.join("."))).into()),
    }
}

pub(super) fn current_catalog(ctx: &ExecContext) -> String {
    ctx.catalog
        .clone()
        .unwrap_or_else(|| "hive_metastore".into())
}

fn schema_name(ctx: &ExecContext, name: &[String]) -> Result<(String, String), SqlError> {
    match name {
        [s] => Ok((current_catalog(ctx), s.clone())),
        [c, s] => Ok((c.clone(), s.clone())),
        _ => Err(UcError::invalid(format!("Invalid schema name '{}'.", name.join("."))).into()),
    }
}

pub(super) fn object_name(
    ctx: &ExecContext,
    name: &[String],
) -> Result<(String, String, String), SqlError> {
    match name {
        [t] => Ok((
            current_catalog(ctx),
            ctx.schema.clone().unwrap_or_else(|| "default".into()),
            t.clone(),
        )),
        [s, t] => Ok((current_catalog(ctx), s.clone(), t.clone())),
        [c, s, t] => Ok((c.clone(), s.clone(), t.clone())),
        _ => Err(UcError::invalid(format!("Invalid name '{}'.", name.join("."))).into()),
    }
}

/// The object a securable kind names; tables stand for anything that is not a view or function.
fn object_kind(kind: SecurableKind) -> ObjectKind {
    match kind {
        SecurableKind::View => ObjectKind::View,
        SecurableKind::Function => ObjectKind::Function,
        _ => ObjectKind::Table,
    }
}
