//! The `system` catalog: owned by Databricks ("System user"), not listed, with the audit and
//! query-history tables (docs.databricks.com admin/system-tables). Only a metastore admin may
//! grant on it; `USE CATALOG`, `USE SCHEMA` and `SELECT` are needed to read a table.

use super::{Catalog, Grants, Schema, Table};

/// The owner Databricks shows for the system catalog.
pub const SYSTEM_OWNER: &str = "System user";

/// (schema, table, [(column, type)]).
type TableSpec = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Tables of the `system` catalog, with a few of their columns.
const TABLES: &[TableSpec] = &[
    (
        "access",
        "audit",
        &[
            ("event_time", "TIMESTAMP"),
            ("workspace_id", "BIGINT"),
            ("service_name", "STRING"),
            ("action_name", "STRING"),
        ],
    ),
    (
        "access",
        "table_lineage",
        &[
            ("event_time", "TIMESTAMP"),
            ("source_table_full_name", "STRING"),
            ("target_table_full_name", "STRING"),
        ],
    ),
    (
        "access",
        "column_lineage",
        &[
            ("event_time", "TIMESTAMP"),
            ("source_column_name", "STRING"),
            ("target_column_name", "STRING"),
        ],
    ),
    (
        "query",
        "history",
        &[
            ("statement_id", "STRING"),
            ("executed_by", "STRING"),
            ("statement_text", "STRING"),
        ],
    ),
];

/// A fresh `system` catalog, with no grants.
pub fn system_catalog() -> Catalog {
    let mut c = Catalog::new("system", SYSTEM_OWNER, 0);
    c.schemas.remove("default");
    for (schema, table, columns) in TABLES {
        let s = c
            .schemas
            .entry((*schema).into())
            .or_insert_with(|| Schema::new(schema, SYSTEM_OWNER));
        s.tables.insert(
            (*table).into(),
            Table {
                name: (*table).into(),
                owner: SYSTEM_OWNER.into(),
                columns: columns
                    .iter()
                    .map(|(n, t)| (n.to_string(), t.to_string()))
                    .collect(),
                grants: Grants::new(),
                view_definition: None,
            },
        );
    }
    c
}

/// Grants `principal` what reading every system table needs (a scenario's
/// `system_tables_access`).
pub fn grant_read_access(c: &mut Catalog, principal: &str) {
    let add = |g: &mut Grants, p: &str| {
        g.entry(principal.into()).or_default().insert(p.into());
    };
    add(&mut c.grants, "USE_CATALOG");
    for s in c.schemas.values_mut() {
        if s.name == "information_schema" {
            continue;
        }
        add(&mut s.grants, "USE_SCHEMA");
        for t in s.tables.values_mut() {
            add(&mut t.grants, "SELECT");
        }
    }
}
