//! The setup plan: the ordered, idempotent SQL that creates an integration's catalog and its
//! internal objects, and the script that removes them.

use sha2::{Digest, Sha256};

use super::quote::{quote_ident, quote_literal, quote_name};
pub use crate::api::SetupMode as Mode;
use crate::identity::IntegrationId;

/// The schema inside the integration's catalog that holds its internal objects.
pub const INTERNAL_SCHEMA: &str = "uc_operator_system";
/// The catalog tag that marks a catalog as owned by an integration; its value is the
/// integration's marker ([`IntegrationId::marker`]).
pub const TAG_KEY: &str = "uc_operator_integration";
/// Stands for the service principal where its application id is not known (offline scripts).
pub const PRINCIPAL_PLACEHOLDER: &str = "<SERVICE_PRINCIPAL_APPLICATION_ID>";
pub const PROFILES_TABLE: &str = "profiles";
pub const CURRENT_PROFILE_VIEW: &str = "current_profile";
/// The group every account user is in; it must hold nothing on the catalog.
pub const ACCOUNT_USERS: &str = "account users";
/// The system tables query audit reads.
pub const AUDIT_TABLES: [(&str, &str); 4] = [
    ("access", "audit"),
    ("access", "table_lineage"),
    ("access", "column_lineage"),
    ("query", "history"),
];

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SetupParams {
    pub id: IntegrationId,
    pub catalog: String,
    /// The catalog's `MANAGED LOCATION` (needed on metastores without root storage).
    pub storage_root: Option<String>,
    /// The service principal's application id; `None` puts [`PRINCIPAL_PLACEHOLDER`] in its place.
    pub principal: Option<String>,
    pub audit: bool,
}

impl SetupParams {
    /// The value of [`TAG_KEY`] on the catalog.
    pub fn tag_value(&self) -> String {
        self.id.marker()
    }

    pub fn principal_or_placeholder(&self) -> &str {
        self.principal.as_deref().unwrap_or(PRINCIPAL_PLACEHOLDER)
    }
}

/// The catalog's comment, written atomically with `CREATE CATALOG`: a crash before the tag is
/// set still leaves a catalog the retry recognises as this integration's.
pub fn catalog_comment(id: &IntegrationId) -> String {
    format!("{COMMENT_PREFIX}{}", id.marker())
}

const COMMENT_PREFIX: &str = "Managed by uc-operator for the integration ";

/// The marker an operator-written catalog comment names (in either form), if it is one.
pub fn comment_marker(comment: &str) -> Option<&str> {
    let marker = comment.strip_prefix(COMMENT_PREFIX)?.trim();
    (!marker.is_empty()).then_some(marker)
}

/// Whether `comment` is the one this integration's `CREATE CATALOG` wrote, today's or an
/// earlier release's (with the legacy marker).
pub fn is_own_comment(id: &IntegrationId, comment: Option<&str>) -> bool {
    comment
        .and_then(comment_marker)
        .is_some_and(|m| id.is_marker(m))
}

/// What automatic setup found before it runs, so it sends only what is still needed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Existing {
    /// The catalog exists (created earlier, or adopted).
    pub catalog: bool,
    /// It already carries the marker tag.
    pub tagged: bool,
}

struct Names {
    catalog: String,
    schema: String,
    table: String,
    view: String,
    default_schema: String,
    principal: String,
}

fn names(p: &SetupParams) -> Names {
    Names {
        catalog: quote_ident(&p.catalog),
        schema: quote_name(&[&p.catalog, INTERNAL_SCHEMA]),
        table: quote_name(&[&p.catalog, INTERNAL_SCHEMA, PROFILES_TABLE]),
        view: quote_name(&[&p.catalog, INTERNAL_SCHEMA, CURRENT_PROFILE_VIEW]),
        default_schema: quote_name(&[&p.catalog, "default"]),
        principal: quote_ident(p.principal_or_placeholder()),
    }
}

/// `CREATE CATALOG`, with the managed location when the spec has one (metastores without root
/// storage refuse a catalog without it, even with `IF NOT EXISTS`).
fn create_catalog(p: &SetupParams, n: &Names) -> String {
    let location = p
        .storage_root
        .as_deref()
        .map(|l| format!(" MANAGED LOCATION {}", quote_literal(l)))
        .unwrap_or_default();
    let comment = quote_literal(&catalog_comment(&p.id));
    format!(
        "CREATE CATALOG IF NOT EXISTS {}{location} COMMENT {comment}",
        n.catalog
    )
}

/// The marker tag, the internal schema and its objects.
fn objects(p: &SetupParams, n: &Names, tagged: bool) -> Vec<String> {
    let mut out = Vec::new();
    if !tagged {
        out.push(format!(
            "ALTER CATALOG {} SET TAGS ({} = {})",
            n.catalog,
            quote_literal(TAG_KEY),
            quote_literal(&p.tag_value())
        ));
    }
    let comment = quote_literal("Internal objects of uc-operator");
    out.push(format!(
        "CREATE SCHEMA IF NOT EXISTS {} COMMENT {comment}",
        n.schema
    ));
    out.push(format!(
        "CREATE TABLE IF NOT EXISTS {} (user_name STRING NOT NULL, profile STRING, updated_at TIMESTAMP)",
        n.table
    ));
    out.push(format!(
        "CREATE VIEW IF NOT EXISTS {} AS SELECT user_name, profile, updated_at FROM {} \
         WHERE user_name = current_user()",
        n.view, n.table
    ));
    out
}

/// Everyone else's access to the catalog, revoked: `REVOKE ALL PRIVILEGES` revokes the grant
/// and every privilege it implies, which were also granted one by one; `MANAGE` is not among
/// them (docs.databricks.com sql/language-manual/security-revoke), so it is revoked after, in a
/// stage of its own (two changes to one securable at once may conflict, `ABORTED`). Whatever a
/// workspace still leaves (older ones revoked only the `ALL PRIVILEGES` grant itself) the
/// lockdown check finds over REST and removes.
fn lockdown(n: &Names) -> Vec<String> {
    let everyone = quote_ident(ACCOUNT_USERS);
    vec![
        format!(
            "REVOKE ALL PRIVILEGES ON CATALOG {} FROM {everyone}",
            n.catalog
        ),
        format!("REVOKE MANAGE ON CATALOG {} FROM {everyone}", n.catalog),
    ]
}

/// The system tables query audit reads, granted to the principal (it cannot grant itself).
fn audit_grants(n: &Names) -> Vec<String> {
    let to = &n.principal;
    let mut out = vec![format!(
        "GRANT USE CATALOG ON CATALOG {} TO {to}",
        quote_ident("system")
    )];
    for schema in ["access", "query"] {
        let schema = quote_name(&["system", schema]);
        out.push(format!("GRANT USE SCHEMA ON SCHEMA {schema} TO {to}"));
    }
    for (schema, table) in AUDIT_TABLES {
        let table = quote_name(&["system", schema, table]);
        out.push(format!("GRANT SELECT ON TABLE {table} TO {to}"));
    }
    out
}

/// Ownership of every object the script created moves to the principal, innermost first and the
/// catalog last: until then the runner owns them and may still grant and revoke.
fn transfer_ownership(n: &Names) -> Vec<String> {
    let to = &n.principal;
    vec![
        format!("ALTER VIEW {} OWNER TO {to}", n.view),
        format!("ALTER TABLE {} OWNER TO {to}", n.table),
        format!("ALTER SCHEMA {} OWNER TO {to}", n.schema),
        // Databricks creates `default` with the catalog, owned by whoever created it.
        format!("ALTER SCHEMA {} OWNER TO {to}", n.default_schema),
        format!("ALTER CATALOG {} OWNER TO {to}", n.catalog),
    ]
}

/// What automatic setup runs as the service principal, given what already exists. Each
/// statement is idempotent, so an interrupted run is finished by the next one. The principal
/// creates the catalog, so it already owns it: ownership is never transferred (and never taken),
/// and a catalog it just created has no grants to revoke.
pub fn automatic_statements(p: &SetupParams, existing: Existing) -> Vec<String> {
    automatic_stages(p, existing).concat()
}

/// [`automatic_statements`] in stages: the statements of one stage depend only on earlier
/// stages, so they may run at once (the marker tag and the schema).
pub fn automatic_stages(p: &SetupParams, existing: Existing) -> Vec<Vec<String>> {
    let n = names(p);
    let mut stages = Vec::new();
    if !existing.catalog {
        stages.push(vec![create_catalog(p, &n)]);
    }
    let mut objects = objects(p, &n, existing.tagged).into_iter();
    // [tag], schema, table, view: the tag goes with the schema.
    let first = if existing.tagged { 1 } else { 2 };
    stages.push(objects.by_ref().take(first).collect());
    stages.extend(objects.map(|s| vec![s]));
    if existing.catalog {
        stages.extend(lockdown(&n).into_iter().map(|s| vec![s]));
    }
    stages
}

/// The manual setup script's statements, in order: a privileged user who holds only `CREATE
/// CATALOG` can run it all (every grant and revoke while they still own what they created,
/// ownership transferred last); the system-table grants of query audit need a metastore admin.
pub fn setup_statements(p: &SetupParams, mode: Mode) -> Vec<String> {
    if mode == Mode::Automatic {
        return automatic_statements(p, Existing::default());
    }
    let n = names(p);
    let mut out = vec![create_catalog(p, &n)];
    out.extend(objects(p, &n, false));
    out.extend(lockdown(&n));
    if p.audit {
        out.extend(audit_grants(&n));
    }
    out.extend(transfer_ownership(&n));
    out
}

/// What removes everything setup created: with `mode` manual and audit on, first the
/// system-table grants `setup.sql` made (a metastore admin runs both; revoking what was never
/// granted succeeds), innermost first; then the catalog. Automatic setup grants nothing outside
/// its catalog.
pub fn cleanup_statements(p: &SetupParams, mode: Mode) -> Vec<String> {
    let mut out = Vec::new();
    if mode == Mode::Manual && p.audit {
        let mut grants = audit_grants(&names(p));
        grants.reverse();
        out.extend(grants.iter().map(|g| revoke_of(g)));
    }
    out.push(format!(
        "DROP CATALOG IF EXISTS {} CASCADE",
        quote_ident(&p.catalog)
    ));
    out
}

/// `GRANT x ON y TO p` → `REVOKE x ON y FROM p`.
fn revoke_of(grant: &str) -> String {
    let body = grant.strip_prefix("GRANT ").unwrap_or(grant);
    match body.rsplit_once(" TO ") {
        Some((what, to)) => format!("REVOKE {what} FROM {to}"),
        None => format!("REVOKE {body}"),
    }
}

/// A hash of what the setup depends on; the status records which one was applied.
pub fn spec_hash(p: &SetupParams, mode: Mode) -> String {
    let mut h = Sha256::new();
    for field in [
        "v1",
        p.id.installation.as_str(),
        p.id.namespace.as_str(),
        p.id.name.as_str(),
        p.catalog.as_str(),
        p.storage_root.as_deref().unwrap_or(""),
        if p.audit { "audit" } else { "no-audit" },
        mode.as_str(),
    ] {
        h.update((field.len() as u64).to_le_bytes());
        h.update(field.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
pub(crate) mod tests;
