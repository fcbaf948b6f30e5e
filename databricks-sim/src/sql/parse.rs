//! Splits a script into statements and parses each one.
//!
//! sqlparser's Databricks dialect handles queries and most DDL, but not Unity Catalog's
//! catalog statements nor `GRANT ... ON CATALOG`, so those are recognised here with the
//! parser's own primitives and everything else goes through `Parser::parse_statement`.

use std::collections::HashMap;
use std::fmt;

use sqlparser::ast::{ObjectName, ObjectType, Query, SchemaName, Statement};
use sqlparser::dialect::DatabricksDialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan, Tokenizer, Whitespace};

/// A parsed statement the simulator understands; `Other` carries anything else sqlparser accepted.
#[derive(Clone, Debug, PartialEq)]
pub enum SqlStatement {
    /// `CREATE CATALOG [IF NOT EXISTS] c [MANAGED LOCATION '..'] [COMMENT '..']`
    CreateCatalog {
        name: String,
        if_not_exists: bool,
        managed_location: Option<String>,
        comment: Option<String>,
    },
    /// `DROP CATALOG [IF EXISTS] c [RESTRICT|CASCADE]`
    DropCatalog {
        name: String,
        if_exists: bool,
        cascade: bool,
    },
    /// `ALTER CATALOG c [SET] OWNER TO p`
    AlterCatalogOwner { name: String, owner: String },
    /// `ALTER CATALOG c SET TAGS ('k' = 'v', ...)`
    SetCatalogTags {
        name: String,
        tags: Vec<(String, String)>,
    },
    /// `ALTER CATALOG c UNSET TAGS ('k', ...)`
    UnsetCatalogTags { name: String, keys: Vec<String> },
    /// `COMMENT ON CATALOG c IS '..' | NULL`
    CommentOnCatalog {
        name: String,
        comment: Option<String>,
    },
    /// `ALTER SCHEMA c.s [SET] OWNER TO p`
    AlterSchemaOwner { name: Vec<String>, owner: String },
    /// `GRANT privs ON kind obj TO p`; privileges in REST spelling (`USE_CATALOG`).
    Grant {
        privileges: Vec<String>,
        securable: Securable,
        principal: String,
    },
    /// `REVOKE privs ON kind obj FROM p`
    Revoke {
        privileges: Vec<String>,
        securable: Securable,
        principal: String,
    },
    /// `CREATE SCHEMA [IF NOT EXISTS] [c.]s [COMMENT '..'] [MANAGED LOCATION '..']`
    CreateSchema {
        name: Vec<String>,
        if_not_exists: bool,
        comment: Option<String>,
        managed_location: Option<String>,
    },
    /// `ALTER TABLE|VIEW|FUNCTION name [SET] OWNER TO p`
    AlterObjectOwner {
        kind: SecurableKind,
        name: Vec<String>,
        owner: String,
    },
    /// `DROP SCHEMA [IF EXISTS] [c.]s [CASCADE]`
    DropSchema {
        name: Vec<String>,
        if_exists: bool,
        cascade: bool,
    },
    /// `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name (cols)`
    CreateTable {
        name: Vec<String>,
        if_not_exists: bool,
        or_replace: bool,
        columns: Vec<(String, String)>,
    },
    /// `CREATE [OR REPLACE] VIEW [IF NOT EXISTS] name AS query`
    CreateView {
        name: Vec<String>,
        if_not_exists: bool,
        or_replace: bool,
        query: Box<Query>,
    },
    /// `CREATE [OR REPLACE] FUNCTION name(..) RETURNS .. RETURN ..`
    CreateFunction {
        name: Vec<String>,
        if_not_exists: bool,
        or_replace: bool,
    },
    /// `DROP TABLE|VIEW|FUNCTION [IF EXISTS] name`
    DropObject {
        kind: SecurableKind,
        name: Vec<String>,
        if_exists: bool,
    },
    /// A query (`SELECT ...`).
    Query(Box<Query>),
    /// Anything else sqlparser parsed; executing it fails as unsupported.
    Other(Box<Statement>),
}

/// The kind of a Unity Catalog securable named in a GRANT or REVOKE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecurableKind {
    Metastore,
    Catalog,
    Schema,
    Table,
    View,
    Function,
}

impl SecurableKind {
    /// Upper-case SQL keyword (`CATALOG`).
    pub fn as_sql(self) -> &'static str {
        match self {
            SecurableKind::Metastore => "METASTORE",
            SecurableKind::Catalog => "CATALOG",
            SecurableKind::Schema => "SCHEMA",
            SecurableKind::Table => "TABLE",
            SecurableKind::View => "VIEW",
            SecurableKind::Function => "FUNCTION",
        }
    }
}

/// A securable: its kind and its (lower-cased) dotted name; empty for the metastore.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Securable {
    pub kind: SecurableKind,
    pub name: Vec<String>,
}

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

/// Parses the statements the dialect does not know; `None` when it is not one of them.
fn parse_uc_statement(p: &mut Parser) -> Result<Option<SqlStatement>, ParserError> {
    if p.parse_keywords(&[Keyword::CREATE, Keyword::CATALOG]) {
        let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = one_part(p)?;
        let mut managed_location = None;
        let mut comment = None;
        loop {
            if p.parse_keywords(&[Keyword::MANAGED, Keyword::LOCATION]) {
                managed_location = Some(literal(p)?);
            } else if p.parse_keyword(Keyword::COMMENT) {
                comment = Some(literal(p)?);
            } else {
                break;
            }
        }
        return Ok(Some(SqlStatement::CreateCatalog {
            name,
            if_not_exists,
            managed_location,
            comment,
        }));
    }
    if p.parse_keywords(&[Keyword::CREATE, Keyword::SCHEMA])
        || p.parse_keywords(&[Keyword::CREATE, Keyword::DATABASE])
    {
        return create_schema(p).map(Some);
    }
    if p.parse_keyword(Keyword::CREATE) {
        let or_replace = p.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
        let _ = p.parse_keyword(Keyword::TEMPORARY);
        if p.parse_keyword(Keyword::FUNCTION) {
            let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
            let name = object_name(p)?;
            // The signature and body are not modelled: check the shape and skip to the end.
            p.expect_token(&Token::LParen)?;
            let mut depth = 1;
            let mut returns = false;
            loop {
                let t = p.next_token();
                match &t.token {
                    Token::LParen => depth += 1,
                    Token::RParen => depth -= 1,
                    Token::EOF => {
                        if depth != 0 || !returns {
                            return p.expected("RETURNS", t);
                        }
                        p.prev_token();
                        break;
                    }
                    Token::Word(w) if depth == 0 && w.keyword == Keyword::RETURNS => returns = true,
                    _ => {}
                }
            }
            return Ok(Some(SqlStatement::CreateFunction {
                name,
                if_not_exists,
                or_replace,
            }));
        }
        return Ok(None);
    }
    if p.parse_keywords(&[Keyword::DROP, Keyword::CATALOG]) {
        let if_exists = p.parse_keywords(&[Keyword::IF, Keyword::EXISTS]);
        let name = one_part(p)?;
        let cascade = matches!(
            p.parse_one_of_keywords(&[Keyword::CASCADE, Keyword::RESTRICT]),
            Some(Keyword::CASCADE)
        );
        return Ok(Some(SqlStatement::DropCatalog {
            name,
            if_exists,
            cascade,
        }));
    }
    if p.parse_keywords(&[Keyword::ALTER, Keyword::CATALOG]) {
        let name = one_part(p)?;
        if p.parse_keyword(Keyword::UNSET) {
            expect_word(p, "TAGS")?;
            p.expect_token(&Token::LParen)?;
            let keys = p.parse_comma_separated(literal)?;
            p.expect_token(&Token::RParen)?;
            return Ok(Some(SqlStatement::UnsetCatalogTags { name, keys }));
        }
        let set = p.parse_keyword(Keyword::SET);
        if set && word(p, "TAGS") {
            p.expect_token(&Token::LParen)?;
            let tags = p.parse_comma_separated(|p| {
                let k = literal(p)?;
                p.expect_token(&Token::Eq)?;
                let v = literal(p)?;
                Ok((k, v))
            })?;
            p.expect_token(&Token::RParen)?;
            return Ok(Some(SqlStatement::SetCatalogTags { name, tags }));
        }
        p.expect_keywords(&[Keyword::OWNER, Keyword::TO])?;
        let owner = principal(p)?;
        return Ok(Some(SqlStatement::AlterCatalogOwner { name, owner }));
    }
    for (kw, kind) in [
        (Keyword::TABLE, SecurableKind::Table),
        (Keyword::VIEW, SecurableKind::View),
        (Keyword::FUNCTION, SecurableKind::Function),
    ] {
        if p.parse_keywords(&[Keyword::ALTER, kw]) {
            let name = object_name(p)?;
            let _ = p.parse_keyword(Keyword::SET);
            p.expect_keywords(&[Keyword::OWNER, Keyword::TO])?;
            let owner = principal(p)?;
            return Ok(Some(SqlStatement::AlterObjectOwner { kind, name, owner }));
        }
    }
    if p.parse_keywords(&[Keyword::ALTER, Keyword::SCHEMA])
        || p.parse_keywords(&[Keyword::ALTER, Keyword::DATABASE])
    {
        let name = object_name(p)?;
        let _ = p.parse_keyword(Keyword::SET);
        p.expect_keywords(&[Keyword::OWNER, Keyword::TO])?;
        let owner = principal(p)?;
        return Ok(Some(SqlStatement::AlterSchemaOwner { name, owner }));
    }
    if p.parse_keywords(&[Keyword::COMMENT, Keyword::ON, Keyword::CATALOG]) {
        let name = one_part(p)?;
        p.expect_keyword(Keyword::IS)?;
        let comment = if p.parse_keyword(Keyword::NULL) {
            None
        } else {
            Some(literal(p)?)
        };
        return Ok(Some(SqlStatement::CommentOnCatalog { name, comment }));
    }
    if let Some(kw) = p.parse_one_of_keywords(&[Keyword::GRANT, Keyword::REVOKE]) {
        let privileges = privileges(p)?;
        p.expect_keyword(Keyword::ON)?;
        let securable = securable(p)?;
        if kw == Keyword::GRANT {
            p.expect_keyword(Keyword::TO)?;
        } else {
            p.expect_keyword(Keyword::FROM)?;
        }
        let principal = principal(p)?;
        return Ok(Some(if kw == Keyword::GRANT {
            SqlStatement::Grant {
                privileges,
                securable,
                principal,
            }
        } else {
            SqlStatement::Revoke {
                privileges,
                securable,
                principal,
            }
        }));
    }
    // Not ours: the caller starts afresh with the dialect's parser.
    Ok(None)
}

/// After `CREATE SCHEMA`: `[IF NOT EXISTS] name` and, in any order, `COMMENT '..'`,
/// `MANAGED LOCATION '..'`, `WITH DBPROPERTIES (..)` (docs.databricks.com
/// sql/language-manual/sql-ref-syntax-ddl-create-schema).
fn create_schema(p: &mut Parser) -> Result<SqlStatement, ParserError> {
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = object_name(p)?;
    let (mut comment, mut managed_location) = (None, None);
    loop {
        if p.parse_keyword(Keyword::COMMENT) {
            comment = Some(literal(p)?);
        } else if p.parse_keywords(&[Keyword::MANAGED, Keyword::LOCATION]) {
            managed_location = Some(literal(p)?);
        } else if p.parse_keyword(Keyword::WITH) {
            expect_word(p, "DBPROPERTIES")?;
            p.expect_token(&Token::LParen)?;
            p.parse_comma_separated(|p| {
                literal(p)?;
                p.expect_token(&Token::Eq)?;
                literal(p)
            })?;
            p.expect_token(&Token::RParen)?;
        } else {
            break;
        }
    }
    Ok(SqlStatement::CreateSchema {
        name,
        if_not_exists,
        comment,
        managed_location,
    })
}

/// Privilege names in SQL (`USE CATALOG`, `ALL PRIVILEGES`), returned in REST spelling.
fn privileges(p: &mut Parser) -> Result<Vec<String>, ParserError> {
    p.parse_comma_separated(|p| {
        let mut words = Vec::new();
        loop {
            let t = p.peek_token();
            match &t.token {
                Token::Word(w) if w.quote_style.is_none() && w.keyword != Keyword::ON => {
                    p.next_token();
                    words.push(w.value.to_uppercase());
                }
                _ => break,
            }
        }
        if words.is_empty() {
            return p.expected("a privilege", p.peek_token());
        }
        let name = words.join("_");
        Ok(if name == "ALL" {
            "ALL_PRIVILEGES".into()
        } else {
            name
        })
    })
}

fn securable(p: &mut Parser) -> Result<Securable, ParserError> {
    if word(p, "METASTORE") {
        return Ok(Securable {
            kind: SecurableKind::Metastore,
            name: vec![],
        });
    }
    let kind = match p.parse_one_of_keywords(&[
        Keyword::CATALOG,
        Keyword::SCHEMA,
        Keyword::DATABASE,
        Keyword::TABLE,
        Keyword::VIEW,
        Keyword::FUNCTION,
    ]) {
        Some(Keyword::CATALOG) => SecurableKind::Catalog,
        Some(Keyword::SCHEMA) | Some(Keyword::DATABASE) => SecurableKind::Schema,
        Some(Keyword::VIEW) => SecurableKind::View,
        Some(Keyword::FUNCTION) => SecurableKind::Function,
        // `ON t` without a kind means a table, as in Spark.
        _ => SecurableKind::Table,
    };
    Ok(Securable {
        kind,
        name: object_name(p)?,
    })
}

/// A principal: a backticked or bare identifier, or a string literal.
fn principal(p: &mut Parser) -> Result<String, ParserError> {
    let t = p.peek_token();
    match &t.token {
        Token::SingleQuotedString(s) => {
            p.next_token();
            Ok(s.clone())
        }
        Token::Word(w) if w.quote_style.is_some() => {
            p.next_token();
            Ok(w.value.clone())
        }
        Token::Word(_) => {
            // Bare principals can be dotted/hyphenated emails only when quoted; take one word.
            let id = p.parse_identifier()?;
            Ok(id.value)
        }
        _ => p.expected("a principal", t),
    }
}

fn object_name(p: &mut Parser) -> Result<Vec<String>, ParserError> {
    let name = p.parse_object_name(false)?;
    Ok(name_parts(&name))
}

fn one_part(p: &mut Parser) -> Result<String, ParserError> {
    let ident = p.parse_identifier()?;
    Ok(ident.value.to_lowercase())
}

/// A string literal; adjacent literals concatenate as in Spark.
fn literal(p: &mut Parser) -> Result<String, ParserError> {
    let mut s = p.parse_literal_string()?;
    while let Token::SingleQuotedString(next) = &p.peek_token().token {
        s.push_str(next);
        p.next_token();
    }
    Ok(s)
}

fn word(p: &mut Parser, w: &str) -> bool {
    match &p.peek_token().token {
        Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w) => {
            p.next_token();
            true
        }
        _ => false,
    }
}

fn expect_word(p: &mut Parser, w: &str) -> Result<(), ParserError> {
    if word(p, w) {
        Ok(())
    } else {
        p.expected(w, p.peek_token())
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

impl fmt::Display for Securable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_sql(), self.name.join("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(sql: &str) -> SqlStatement {
        let mut v = parse(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_eq!(v.len(), 1, "{sql}");
        v.remove(0)
    }

    #[test]
    fn catalog_statements() {
        assert_eq!(
            one(
                "CREATE CATALOG IF NOT EXISTS `My``Cat` MANAGED LOCATION 's3://b/p' COMMENT 'it\\'s'"
            ),
            SqlStatement::CreateCatalog {
                name: "my`cat".into(),
                if_not_exists: true,
                managed_location: Some("s3://b/p".into()),
                comment: Some("it's".into()),
            }
        );
        assert_eq!(
            one("drop catalog if exists c cascade"),
            SqlStatement::DropCatalog {
                name: "c".into(),
                if_exists: true,
                cascade: true
            }
        );
        assert_eq!(
            one("DROP CATALOG c RESTRICT"),
            SqlStatement::DropCatalog {
                name: "c".into(),
                if_exists: false,
                cascade: false
            }
        );
        for sql in [
            "ALTER CATALOG c OWNER TO `6b2c-x`",
            "ALTER CATALOG c SET OWNER TO `6b2c-x`",
        ] {
            assert_eq!(
                one(sql),
                SqlStatement::AlterCatalogOwner {
                    name: "c".into(),
                    owner: "6b2c-x".into()
                }
            );
        }
        assert_eq!(
            one("ALTER CATALOG c SET TAGS ('owner' = 'ns/x', 'k2' = 'v' '2')"),
            SqlStatement::SetCatalogTags {
                name: "c".into(),
                tags: vec![("owner".into(), "ns/x".into()), ("k2".into(), "v2".into())]
            }
        );
        assert_eq!(
            one("ALTER CATALOG c UNSET TAGS ('owner')"),
            SqlStatement::UnsetCatalogTags {
                name: "c".into(),
                keys: vec!["owner".into()]
            }
        );
        assert_eq!(
            one("COMMENT ON CATALOG c IS 'x;y'"),
            SqlStatement::CommentOnCatalog {
                name: "c".into(),
                comment: Some("x;y".into())
            }
        );
    }

    #[test]
    fn grants() {
        assert_eq!(
            one(
                "GRANT USE CATALOG, create schema, ALL PRIVILEGES ON CATALOG `c` TO `account users`"
            ),
            SqlStatement::Grant {
                privileges: vec![
                    "USE_CATALOG".into(),
                    "CREATE_SCHEMA".into(),
                    "ALL_PRIVILEGES".into()
                ],
                securable: Securable {
                    kind: SecurableKind::Catalog,
                    name: vec!["c".into()]
                },
                principal: "account users".into()
            }
        );
        assert_eq!(
            one("REVOKE SELECT, MODIFY ON SCHEMA c.`S` FROM `a@b.com`"),
            SqlStatement::Revoke {
                privileges: vec!["SELECT".into(), "MODIFY".into()],
                securable: Securable {
                    kind: SecurableKind::Schema,
                    name: vec!["c".into(), "s".into()]
                },
                principal: "a@b.com".into()
            }
        );
        for (sql, kind) in [
            (
                "GRANT CREATE CATALOG ON METASTORE TO `x`",
                SecurableKind::Metastore,
            ),
            ("GRANT SELECT ON TABLE a.b.c TO `x`", SecurableKind::Table),
            ("GRANT SELECT ON VIEW a.b.c TO `x`", SecurableKind::View),
            (
                "GRANT EXECUTE ON FUNCTION a.b.c TO `x`",
                SecurableKind::Function,
            ),
        ] {
            match one(sql) {
                SqlStatement::Grant { securable, .. } => assert_eq!(securable.kind, kind),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn dialect_statements() {
        assert!(matches!(
            one("CREATE SCHEMA IF NOT EXISTS c.s"),
            SqlStatement::CreateSchema { if_not_exists: true, ref name, .. } if name == &["c", "s"]
        ));
        assert_eq!(
            one("CREATE SCHEMA IF NOT EXISTS `c`.`s` COMMENT 'it\\'s' MANAGED LOCATION 's3://b/s'"),
            SqlStatement::CreateSchema {
                name: vec!["c".into(), "s".into()],
                if_not_exists: true,
                comment: Some("it's".into()),
                managed_location: Some("s3://b/s".into()),
            }
        );
        for (sql, kind) in [
            ("ALTER TABLE c.s.t OWNER TO `p`", SecurableKind::Table),
            ("ALTER VIEW c.s.v SET OWNER TO `p`", SecurableKind::View),
            ("ALTER FUNCTION c.s.f OWNER TO `p`", SecurableKind::Function),
        ] {
            assert_eq!(
                one(sql),
                SqlStatement::AlterObjectOwner {
                    kind,
                    name: vec![
                        "c".into(),
                        "s".into(),
                        sql.split(' ')
                            .nth(2)
                            .unwrap()
                            .rsplit('.')
                            .next()
                            .unwrap()
                            .into()
                    ],
                    owner: "p".into()
                },
                "{sql}"
            );
        }
        assert!(matches!(
            one("CREATE TABLE IF NOT EXISTS `c`.`s`.`Profiles` (user_name STRING, profile STRING)"),
            SqlStatement::CreateTable { ref name, ref columns, .. } if name[2] == "profiles" && columns.len() == 2
        ));
        assert!(matches!(
            one(
                "CREATE OR REPLACE VIEW c.s.v AS SELECT * FROM c.s.t WHERE user_name = current_user()"
            ),
            SqlStatement::CreateView {
                or_replace: true,
                ..
            }
        ));
        assert!(matches!(
            one("CREATE OR REPLACE FUNCTION c.s.f(x STRING) RETURNS STRING RETURN upper(x)"),
            SqlStatement::CreateFunction {
                or_replace: true,
                ..
            }
        ));
        assert!(matches!(
            one("DROP SCHEMA IF EXISTS c.s CASCADE"),
            SqlStatement::DropSchema {
                cascade: true,
                if_exists: true,
                ..
            }
        ));
        assert!(matches!(
            one("DROP TABLE c.s.t"),
            SqlStatement::DropObject {
                kind: SecurableKind::Table,
                ..
            }
        ));
        assert!(matches!(
            one("ALTER SCHEMA c.s OWNER TO `p`"),
            SqlStatement::AlterSchemaOwner { .. }
        ));
        assert!(matches!(one("SELECT 1"), SqlStatement::Query(_)));
    }

    #[test]
    fn splits_respecting_quotes_and_comments() {
        let v = parse(
            "-- header; with semicolon\nCOMMENT ON CATALOG c IS 'a;b';\n/* x; */ SELECT `a;b` FROM t;\n;\nSELECT 'it\\'s;'",
        )
        .unwrap();
        assert_eq!(v.len(), 3);
    }

    #[test]
    fn rejects_garbage() {
        for sql in [
            "garbage here",
            "CREATE CATALOG",
            "GRANT ON CATALOG c TO x",
            "SELECT 1 1 1",
            "ALTER CATALOG c OWNER x",
        ] {
            let e = parse(sql).unwrap_err();
            assert!(
                e.message
                    .starts_with("[PARSE_SYNTAX_ERROR] Syntax error at or near"),
                "{sql}: {e}"
            );
            assert_eq!(e.sql_state, "42601");
        }
        assert!(parse("SELECT 'unterminated").is_err());
    }

    #[test]
    fn substitutes_parameters() {
        let mut params = HashMap::new();
        params.insert("v".to_string(), Some("x'y".to_string()));
        let v = parse_with_params("SELECT :v", &params).unwrap();
        assert!(
            matches!(&v[0], SqlStatement::Query(q) if q.to_string().contains("x'y") || q.to_string().contains("x\\'y") || q.to_string().contains("x''y"))
        );
        assert!(parse_with_params("SELECT :missing", &params).is_err());
    }
}
