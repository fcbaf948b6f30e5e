//! The statements the simulator understands, as the parser hands them to the executor.

use std::fmt;

use sqlparser::ast::{Query, Statement};

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

impl fmt::Display for Securable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.as_sql(), self.name.join("."))
    }
}
