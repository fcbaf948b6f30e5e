//! Splits a script into statements and parses each one.
//!
//! sqlparser's Databricks dialect handles queries and most DDL, but not Unity Catalog's
//! catalog statements nor `GRANT ... ON CATALOG`, so those are recognised here with the
//! parser's own primitives and everything else goes through `Parser::parse_statement`.

use std::collections::HashMap;

use sqlparser::ast::{ObjectName, ObjectType, SchemaName, Statement};
use sqlparser::dialect::DatabricksDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

pub use super::ast::{Securable, SecurableKind, SqlStatement};
use super::uc_parse::parse_uc_statement;

/// A syntax error, rendered the way Databricks reports one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// `[PARSE_SYNTAX_ERROR] Syntax error at or near ... SQLSTATE: 42601`
    pub message: String,
    /// Always `42601`.
    pub sql_state: String,
}

impl ParseError {
    fn near(near: &str) -> ParseError {
        let near = if near.is_empty() || near == "EOF" {
            "end of input".to_string()
        } else {
            format!("'{near}'")
        };
        ParseError {
            message: format!(
                "[PARSE_SYNTAX_ERROR] Syntax error at or near {near}. SQLSTATE: 42601"
            ),
            sql_state: "42601".into(),
        }
    }

    fn from_parser(e: ParserError) -> ParseError {
        let text = e.to_string();
        // sqlparser says "Expected: X, found: Y at Line: 1, Column: 5".
        let near = text
            .split_once("found: ")
            .map(|(_, rest)| {
                rest.split(" at Line:")
                    .next()
                    .unwrap_or(rest)
                    .trim()
                    .to_string()
            })
            .unwrap_or_default();
        ParseError::near(&near)
    }
}

/// Parses a script of `;`-separated Databricks SQL statements.
pub fn parse(sql: &str) -> Result<Vec<SqlStatement>, ParseError> {
    parse_with_params(sql, &HashMap::new())
}

/// Like [`parse`], substituting named `:markers` with string literals (`None` = NULL).
pub fn parse_with_params(
    sql: &str,
    params: &HashMap<String, Option<String>>,
) -> Result<Vec<SqlStatement>, ParseError> {
    let dialect = DatabricksDialect {};
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| {
            let near = sql
                .lines()
                .nth(e.location.line.saturating_sub(1) as usize)
                .and_then(|l| l.get(e.location.column.saturating_sub(1) as usize..))
                .unwrap_or("")
                .chars()
                .take(20)
                .collect::<String>();
            ParseError::near(near.trim())
        })?;
    let tokens = merge_markers(tokens);
    let mut out = Vec::new();
    let mut current: Vec<TokenWithSpan> = Vec::new();
    for tok in tokens.into_iter().chain([TokenWithSpan::new_eof()]) {
        match &tok.token {
            Token::SemiColon | Token::EOF => {
                let meaningful = current
                    .iter()
                    .any(|t| !matches!(t.token, Token::Whitespace(_)));
                if meaningful {
                    out.push(parse_one(std::mem::take(&mut current))?);
                }
                current.clear();
            }
            Token::Placeholder(p) if p.starts_with(':') => {
                let name = &p[1..];
                let value = params.get(name).ok_or_else(|| ParseError {
                    message: format!(
                        "[UNBOUND_SQL_PARAMETER] Found the unbound parameter: {name}. SQLSTATE: 42P02"
                    ),
                    sql_state: "42P02".into(),
                })?;
                let token = match value {
                    Some(v) => Token::SingleQuotedString(v.clone()),
                    None => Token::make_keyword("NULL"),
                };
                current.push(TokenWithSpan::new(token, tok.span));
            }
            Token::Whitespace(Whitespace::SingleLineComment { .. })
            | Token::Whitespace(Whitespace::MultiLineComment(_)) => {}
            _ => current.push(tok),
        }
    }
    Ok(out)
}

/// The dialect tokenizes `:name` as `:` + word; join them into a placeholder unless the colon
/// follows a word or value (a JSON path like `col:field`).
fn merge_markers(tokens: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut out: Vec<TokenWithSpan> = Vec::with_capacity(tokens.len());
    let mut iter = tokens.into_iter().peekable();
    while let Some(t) = iter.next() {
        if t.token == Token::Colon
            && let Some(TokenWithSpan {
                token: Token::Word(w),
                ..
            }) = iter.peek()
            && w.quote_style.is_none()
            && !matches!(
                out.last().map(|x| &x.token),
                Some(Token::Word(_)) | Some(Token::RParen) | Some(Token::RBracket)
            )
        {
            let name = w.value.clone();
            let next = iter.next().expect("peeked");
            out.push(TokenWithSpan::new(
                Token::Placeholder(format!(":{name}")),
                t.span.union(&next.span),
            ));
            continue;
        }
        out.push(t);
    }
    out
}

fn parse_one(tokens: Vec<TokenWithSpan>) -> Result<SqlStatement, ParseError> {
    let dialect = DatabricksDialect {};
    let mut p = Parser::new(&dialect).with_tokens_with_locations(tokens.clone());
    if let Some(stmt) = parse_uc_statement(&mut p).map_err(ParseError::from_parser)? {
        expect_end(&mut p)?;
        return Ok(stmt);
    }
    let mut p = Parser::new(&dialect).with_tokens_with_locations(tokens);
    let stmt = p.parse_statement().map_err(ParseError::from_parser)?;
    expect_end(&mut p)?;
    Ok(convert(stmt))
}

fn expect_end(p: &mut Parser) -> Result<(), ParseError> {
    let t = p.next_token();
    if t.token == Token::EOF {
        Ok(())
    } else {
        Err(ParseError::near(&t.token.to_string()))
    }
}

/// Lower-cased parts of a dotted name, as Unity Catalog normalises identifiers.
pub fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|part| match part.as_ident() {
            Some(i) => i.value.to_lowercase(),
            None => part.to_string().to_lowercase(),
        })
        .collect()
}

// Long: one arm per dialect statement the simulator models.
fn convert(stmt: Statement) -> SqlStatement {
    if let Statement::Drop {
        object_type,
        if_exists,
        names,
        cascade,
        ..
    } = &stmt
        && names.len() == 1
    {
        let name = name_parts(&names[0]);
        let (if_exists, cascade) = (*if_exists, *cascade);
        match object_type {
            ObjectType::Schema | ObjectType::Database => {
                return SqlStatement::DropSchema {
                    name,
                    if_exists,
                    cascade,
                };
            }
            ObjectType::Table | ObjectType::View => {
                let kind = if *object_type == ObjectType::Table {
                    SecurableKind::Table
                } else {
                    SecurableKind::View
                };
                return SqlStatement::DropObject {
                    kind,
                    name,
                    if_exists,
                };
            }
            _ => {}
        }
    }
    match stmt {
        Statement::Query(q) => SqlStatement::Query(q),
        Statement::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => {
            let name = match &schema_name {
                SchemaName::Simple(n) | SchemaName::NamedAuthorization(n, _) => name_parts(n),
                SchemaName::UnnamedAuthorization(i) => vec![i.value.to_lowercase()],
            };
            SqlStatement::CreateSchema {
                name,
                if_not_exists,
                comment: None,
                managed_location: None,
            }
        }
        Statement::CreateTable(t) => SqlStatement::CreateTable {
            name: name_parts(&t.name),
            if_not_exists: t.if_not_exists,
            or_replace: t.or_replace,
            columns: t
                .columns
                .iter()
                .map(|c| (c.name.value.to_lowercase(), c.data_type.to_string()))
                .collect(),
        },
        Statement::CreateView(v) => SqlStatement::CreateView {
            name: name_parts(&v.name),
            if_not_exists: v.if_not_exists,
            or_replace: v.or_replace,
            query: v.query,
        },
        Statement::CreateFunction(f) => SqlStatement::CreateFunction {
            name: name_parts(&f.name),
            if_not_exists: f.if_not_exists,
            or_replace: f.or_replace,
        },
        Statement::DropFunction(f) if f.func_desc.len() == 1 => SqlStatement::DropObject {
            kind: SecurableKind::Function,
            name: name_parts(&f.func_desc[0].name),
            if_exists: f.if_exists,
        },
        other => SqlStatement::Other(Box::new(other)),
    }
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
