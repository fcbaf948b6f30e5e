//! Unity Catalog statements sqlparser's Databricks dialect does not know (catalogs, GRANT and
//! REVOKE, owner changes, CREATE SCHEMA options), parsed with the parser's own primitives.

use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::parse::{Securable, SecurableKind, SqlStatement, name_parts};

/// Parses the statements the dialect does not know; `None` when it is not one of them (the
/// caller then starts afresh with the dialect's parser).
pub(super) fn parse_uc_statement(p: &mut Parser) -> Result<Option<SqlStatement>, ParserError> {
    if p.parse_keywords(&[Keyword::CREATE, Keyword::CATALOG]) {
        return create_catalog(p).map(Some);
    }
    if p.parse_keywords(&[Keyword::CREATE, Keyword::SCHEMA])
        || p.parse_keywords(&[Keyword::CREATE, Keyword::DATABASE])
    {
        return create_schema(p).map(Some);
    }
    if p.parse_keyword(Keyword::CREATE) {
        return create_function_or_view(p);
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
        return alter_catalog(p).map(Some);
    }
    if let Some(stmt) = alter_owner(p)? {
        return Ok(Some(stmt));
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
        return grant_or_revoke(p, kw == Keyword::GRANT).map(Some);
    }
    Ok(None)
}

/// After `CREATE CATALOG`: `[IF NOT EXISTS] c [MANAGED LOCATION '..'] [COMMENT '..']`.
fn create_catalog(p: &mut Parser) -> Result<SqlStatement, ParserError> {
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
    Ok(SqlStatement::CreateCatalog {
        name,
        if_not_exists,
        managed_location,
        comment,
    })
}

/// After `CREATE`: `[OR REPLACE] [TEMPORARY] FUNCTION ...` or `[OR REPLACE] VIEW ...`;
/// `None` for anything else.
fn create_function_or_view(p: &mut Parser) -> Result<Option<SqlStatement>, ParserError> {
    let or_replace = p.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
    if p.parse_keyword(Keyword::VIEW) {
        return create_view(p, or_replace).map(Some);
    }
    let _ = p.parse_keyword(Keyword::TEMPORARY);
    if !p.parse_keyword(Keyword::FUNCTION) {
        return Ok(None);
    }
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
    Ok(Some(SqlStatement::CreateFunction {
        name,
        if_not_exists,
        or_replace,
    }))
}

/// After `CREATE [OR REPLACE] VIEW`: `[IF NOT EXISTS] name [COMMENT '..'] [TBLPROPERTIES (..)]
/// AS query` (docs.databricks.com sql/language-manual/sql-ref-syntax-ddl-create-view; the
/// dialect parser refuses the COMMENT).
/// `('k' = 'v', ...)`: accepted and dropped, the simulator keeps no properties of these.
fn properties(p: &mut Parser) -> Result<(), ParserError> {
    p.expect_token(&Token::LParen)?;
    p.parse_comma_separated(|p| {
        literal(p)?;
        p.expect_token(&Token::Eq)?;
        literal(p)
    })?;
    p.expect_token(&Token::RParen)?;
    Ok(())
}

fn create_view(p: &mut Parser, or_replace: bool) -> Result<SqlStatement, ParserError> {
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = object_name(p)?;
    loop {
        if p.parse_keyword(Keyword::COMMENT) {
            literal(p)?;
        } else if p.parse_keyword(Keyword::TBLPROPERTIES) {
            properties(p)?;
        } else {
            break;
        }
    }
    p.expect_keyword(Keyword::AS)?;
    let query = p.parse_query()?;
    Ok(SqlStatement::CreateView {
        name,
        if_not_exists,
        or_replace,
        query,
    })
}

/// After `ALTER CATALOG`: `c UNSET TAGS (..)`, `c SET TAGS (..)` or `c [SET] OWNER TO p`.
fn alter_catalog(p: &mut Parser) -> Result<SqlStatement, ParserError> {
    let name = one_part(p)?;
    if p.parse_keyword(Keyword::UNSET) {
        expect_word(p, "TAGS")?;
        p.expect_token(&Token::LParen)?;
        let keys = p.parse_comma_separated(literal)?;
        p.expect_token(&Token::RParen)?;
        return Ok(SqlStatement::UnsetCatalogTags { name, keys });
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
        return Ok(SqlStatement::SetCatalogTags { name, tags });
    }
    p.expect_keywords(&[Keyword::OWNER, Keyword::TO])?;
    let owner = principal(p)?;
    Ok(SqlStatement::AlterCatalogOwner { name, owner })
}

/// `ALTER SCHEMA|DATABASE|TABLE|VIEW|FUNCTION name [SET] OWNER TO p`
/// (docs.databricks.com sql/language-manual: alter-schema, alter-table, alter-view).
fn alter_owner(p: &mut Parser) -> Result<Option<SqlStatement>, ParserError> {
    let kinds = [
        (Keyword::SCHEMA, None),
        (Keyword::DATABASE, None),
        (Keyword::TABLE, Some(SecurableKind::Table)),
        (Keyword::VIEW, Some(SecurableKind::View)),
        (Keyword::FUNCTION, Some(SecurableKind::Function)),
    ];
    for (kw, kind) in kinds {
        if p.parse_keywords(&[Keyword::ALTER, kw]) {
            let name = object_name(p)?;
            let _ = p.parse_keyword(Keyword::SET);
            p.expect_keywords(&[Keyword::OWNER, Keyword::TO])?;
            let owner = principal(p)?;
            return Ok(Some(match kind {
                None => SqlStatement::AlterSchemaOwner { name, owner },
                Some(kind) => SqlStatement::AlterObjectOwner { kind, name, owner },
            }));
        }
    }
    Ok(None)
}

/// After `GRANT`/`REVOKE`: `privs ON kind obj TO|FROM p`.
fn grant_or_revoke(p: &mut Parser, grant: bool) -> Result<SqlStatement, ParserError> {
    let privileges = privileges(p)?;
    p.expect_keyword(Keyword::ON)?;
    let securable = securable(p)?;
    p.expect_keyword(if grant { Keyword::TO } else { Keyword::FROM })?;
    let principal = principal(p)?;
    Ok(if grant {
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
    })
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
            properties(p)?;
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

pub(super) fn object_name(p: &mut Parser) -> Result<Vec<String>, ParserError> {
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
