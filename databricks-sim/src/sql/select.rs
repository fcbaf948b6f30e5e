//! `SELECT`: one relation at most (a stored table, a system table or `range()`), literals,
//! session functions and columns.

use serde_json::Value as Json;
use sqlparser::ast::{Expr, Query, SelectItem, SetExpr, TableFactor, UnaryOperator, Value};

use super::exec::{ExecContext, QueryResult, SqlError, current_catalog, object_name, unsupported};
use super::parse::name_parts;

pub(super) fn select(q: &Query, ctx: &mut ExecContext) -> Result<QueryResult, SqlError> {
    let SetExpr::Select(sel) = q.body.as_ref() else {
        return Err(unsupported("this query form"));
    };
    // The relation (at most one, no joins), resolved and privilege-checked.
    let mut table_columns: Option<Vec<(String, String)>> = None;
    if sel.from.len() > 1 || sel.from.iter().any(|f| !f.joins.is_empty()) {
        return Err(unsupported("joins"));
    }
    // Rows of a table-valued function; stored tables hold no data.
    let mut source_rows: Option<Vec<Vec<Json>>> = None;
    if let Some(from) = sel.from.first() {
        let TableFactor::Table { name, args, .. } = &from.relation else {
            return Err(unsupported("this FROM clause"));
        };
        let (c, s, t) = object_name(ctx, &name_parts(name))?;
        if let Some(args) = args {
            if name_parts(name) != ["range"] {
                return Err(unsupported("table-valued functions other than range()"));
            }
            table_columns = Some(vec![("id".into(), "BIGINT".into())]);
            source_rows = Some(range_rows(&args.args, ctx)?);
        } else {
            table_columns = Some(ctx.metastore.select_from(&ctx.caller, &c, &s, &t)?);
        }
    }
    let limit = limit_of(q);
    let Some(source) = source_rows else {
        // A SELECT without FROM yields one row; a stored table none.
        let (columns, row) = project(sel, ctx, table_columns.as_deref(), &[])?;
        let rows = if table_columns.is_some() {
            vec![]
        } else {
            vec![row]
        };
        return Ok(QueryResult { columns, rows });
    };
    let mut columns = Vec::new();
    let mut rows = Vec::new();
    for r in source.iter().take(limit.unwrap_or(usize::MAX)) {
        let (cols, row) = project(sel, ctx, table_columns.as_deref(), r)?;
        columns = cols;
        rows.push(row);
    }
    if rows.is_empty() {
        columns = project(sel, ctx, table_columns.as_deref(), &[Json::Null])?.0;
    }
    Ok(QueryResult { columns, rows })
}

/// `LIMIT n` when it is a plain number.
fn limit_of(q: &Query) -> Option<usize> {
    let text = q.limit_clause.as_ref()?.to_string();
    text.split_whitespace()
        .skip_while(|w| !w.eq_ignore_ascii_case("LIMIT"))
        .nth(1)?
        .parse()
        .ok()
}

/// `range(end)` or `range(start, end)`: ids `start..end` (at most a million, to stay small).
fn range_rows(
    args: &[sqlparser::ast::FunctionArg],
    ctx: &ExecContext,
) -> Result<Vec<Vec<Json>>, SqlError> {
    let mut nums = Vec::new();
    for a in args {
        let sqlparser::ast::FunctionArg::Unnamed(sqlparser::ast::FunctionArgExpr::Expr(e)) = a
        else {
            return Err(unsupported("this range() argument"));
        };
        let (v, _) = eval(e, ctx, None, &[])?;
        nums.push(
            v.as_i64()
                .ok_or_else(|| unsupported("a non-integer range() bound"))?,
        );
    }
    let (start, end) = match nums.as_slice() {
        [end] => (0, *end),
        [start, end] => (*start, *end),
        _ => return Err(unsupported("range() with a step")),
    };
    if end.saturating_sub(start) > 1_000_000 {
        return Err(unsupported("range() over a million rows"));
    }
    Ok((start..end).map(|i| vec![Json::from(i)]).collect())
}

/// (name, type) of each result column.
type Columns = Vec<(String, String)>;

/// Evaluates the projection over one source row.
fn project(
    sel: &sqlparser::ast::Select,
    ctx: &ExecContext,
    table_columns: Option<&[(String, String)]>,
    source: &[Json],
) -> Result<(Columns, Vec<Json>), SqlError> {
    let mut columns = Vec::new();
    let mut row = Vec::new();
    for item in &sel.projection {
        match item {
            SelectItem::UnnamedExpr(e) => {
                let (v, ty) = eval(e, ctx, table_columns, source)?;
                columns.push((column_name(e), ty));
                row.push(v);
            }
            SelectItem::ExprWithAlias { expr, alias } => {
                let (v, ty) = eval(expr, ctx, table_columns, source)?;
                columns.push((alias.value.clone(), ty));
                row.push(v);
            }
            SelectItem::ExprWithAliases { .. } => return Err(unsupported("multiple aliases")),
            SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => {
                let Some(cols) = table_columns else {
                    return Err(SqlError {
                        error_code: "BAD_REQUEST".into(),
                        message: "[INVALID_USAGE_OF_STAR_OR_REGEX] Invalid usage of '*' in SELECT without FROM. SQLSTATE: 42000".into(),
                        sql_state: "42000".into(),
                    });
                };
                for (i, c) in cols.iter().enumerate() {
                    columns.push(c.clone());
                    row.push(source.get(i).cloned().unwrap_or(Json::Null));
                }
            }
        }
    }
    Ok((columns, row))
}

fn column_name(e: &Expr) -> String {
    match e {
        Expr::Function(f) => format!("{}()", f.name.to_string().to_lowercase()),
        Expr::Identifier(i) => i.value.clone(),
        Expr::CompoundIdentifier(parts) => {
            parts.last().map(|i| i.value.clone()).unwrap_or_default()
        }
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => s.clone(),
            Value::Null => "NULL".into(),
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

// Long: one arm per expression kind the simulator evaluates.
fn eval(
    e: &Expr,
    ctx: &ExecContext,
    table: Option<&[(String, String)]>,
    row: &[Json],
) -> Result<(Json, String), SqlError> {
    match e {
        Expr::Value(v) => Ok(match &v.value {
            Value::Number(n, _) => {
                if let Ok(i) = n.parse::<i64>() {
                    let ty = if i32::try_from(i).is_ok() {
                        "INT"
                    } else {
                        "BIGINT"
                    };
                    (Json::from(i), ty.into())
                } else {
                    (
                        serde_json::from_str(n).unwrap_or(Json::String(n.clone())),
                        "DECIMAL".into(),
                    )
                }
            }
            Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => {
                (Json::String(s.clone()), "STRING".into())
            }
            Value::Boolean(b) => (Json::Bool(*b), "BOOLEAN".into()),
            Value::Null => (Json::Null, "VOID".into()),
            other => return Err(unsupported(&format!("literal {other}"))),
        }),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => {
            let (v, ty) = eval(expr, ctx, table, row)?;
            match v.as_i64() {
                Some(i) => Ok((Json::from(-i), ty)),
                None => Err(unsupported("this expression")),
            }
        }
        Expr::Nested(inner) => eval(inner, ctx, table, row),
        Expr::Function(f) => {
            let name = f.name.to_string().to_lowercase();
            let s = match name.as_str() {
                "current_user" | "session_user" | "user" => ctx.caller.principal.clone(),
                "current_metastore" => format!(
                    "{}:{}:{}",
                    ctx.metastore.cloud, ctx.metastore.region, ctx.metastore.id
                ),
                "current_catalog" => current_catalog(ctx),
                "current_schema" | "current_database" => {
                    ctx.schema.clone().unwrap_or_else(|| "default".into())
                }
                "current_version" => "databricks-sim".into(),
                "count" if table.is_some() => return Ok((Json::from(0), "BIGINT".into())),
                _ => {
                    return Err(SqlError {
                        error_code: "BAD_REQUEST".into(),
                        message: format!(
                            "[UNRESOLVED_ROUTINE] Cannot resolve routine `{name}` on search path [`system`.`builtin`, `system`.`session`]. SQLSTATE: 42883"
                        ),
                        sql_state: "42883".into(),
                    });
                }
            };
            Ok((Json::String(s), "STRING".into()))
        }
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => {
            let name = column_name(e).to_lowercase();
            let found = table.and_then(|cols| cols.iter().position(|(c, _)| *c == name));
            match found {
                Some(i) => Ok((
                    row.get(i).cloned().unwrap_or(Json::Null),
                    table.expect("found")[i].1.clone(),
                )),
                None => Err(SqlError {
                    error_code: "BAD_REQUEST".into(),
                    message: format!(
                        "[UNRESOLVED_COLUMN.WITHOUT_SUGGESTION] A column, variable, or function parameter with name `{name}` cannot be resolved. SQLSTATE: 42703"
                    ),
                    sql_state: "42703".into(),
                }),
            }
        }
        other => Err(unsupported(&format!("expression {other}"))),
    }
}
