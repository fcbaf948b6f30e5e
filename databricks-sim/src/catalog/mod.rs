//! The in-memory Unity Catalog: one metastore shared by all workspaces, with ownership,
//! grants (REST privilege spellings), isolation and workspace bindings.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

mod catalogs;
mod error;
mod grants;
mod schemas;
mod system;

pub use error::UcError;
pub use system::{SYSTEM_OWNER, grant_read_access, system_catalog};

/// principal → privileges (REST spelling, `ALL_PRIVILEGES` for ALL PRIVILEGES).
pub type Grants = BTreeMap<String, BTreeSet<String>>;

/// The group every principal belongs to.
pub const ACCOUNT_USERS: &str = "account users";

/// The metastore and everything in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Metastore {
    pub id: String,
    pub name: String,
    pub cloud: String,
    pub region: String,
    pub owner: String,
    /// Root storage; without one, every catalog needs a managed location.
    pub storage_root: Option<String>,
    /// Direct metastore grants (e.g. `CREATE_CATALOG`).
    pub grants: Grants,
    pub catalogs: BTreeMap<String, Catalog>,
    /// The `system` catalog, kept apart: it is not listed and cannot be created or dropped.
    #[serde(default = "system_catalog")]
    pub system: Catalog,
}

/// A catalog.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Catalog {
    pub name: String,
    pub owner: String,
    pub comment: Option<String>,
    /// `OPEN` or `ISOLATED`.
    pub isolation_mode: String,
    /// workspace id → `BINDING_TYPE_READ_WRITE` | `BINDING_TYPE_READ_ONLY`.
    pub bindings: BTreeMap<i64, String>,
    pub tags: BTreeMap<String, String>,
    pub properties: BTreeMap<String, String>,
    pub grants: Grants,
    pub storage_root: Option<String>,
    pub created_at: i64,
    pub created_by: String,
    pub schemas: BTreeMap<String, Schema>,
}

/// A schema.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Schema {
    pub name: String,
    pub owner: String,
    pub comment: Option<String>,
    pub grants: Grants,
    pub tables: BTreeMap<String, Table>,
    pub views: BTreeMap<String, Table>,
    pub functions: BTreeMap<String, Function>,
}

/// A table or view.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    pub owner: String,
    /// (name, type) pairs.
    pub columns: Vec<(String, String)>,
    pub grants: Grants,
    /// SQL text of a view.
    pub view_definition: Option<String>,
}

/// A SQL function.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub owner: String,
    pub grants: Grants,
}

/// Who is asking, and from which workspace.
#[derive(Clone, Debug)]
pub struct Caller {
    /// Application id (or email).
    pub principal: String,
    /// Account groups it belongs to (`account users` is implied).
    pub groups: Vec<String>,
    /// The metastore owner, directly or through a group.
    pub metastore_admin: bool,
    pub system_tables_access: bool,
    pub workspace_id: i64,
    /// The caller's workspace is serverless with Default Storage.
    pub default_storage: bool,
}

/// Canonical REST privilege name from SQL or REST spelling.
pub fn normalize_privilege(p: &str) -> String {
    let p = p.trim().to_uppercase().replace([' ', '-'], "_");
    if p == "ALL" {
        "ALL_PRIVILEGES".into()
    } else {
        p
    }
}

/// Whether a grant to the caller, one of its groups or `account users` holds `privilege`.
fn grants_have(grants: &Grants, who: &Caller, privilege: &str) -> bool {
    grants.iter().any(|(p, privs)| {
        (who.is(p) || p == ACCOUNT_USERS)
            && (privs.contains(privilege)
                || (privs.contains("ALL_PRIVILEGES") && privilege != "MANAGE"))
    })
}

impl Caller {
    /// Whether `name` (a grantee or owner) is the caller or one of its groups.
    pub fn is(&self, name: &str) -> bool {
        self.principal.eq_ignore_ascii_case(name)
            || self.groups.iter().any(|g| g.eq_ignore_ascii_case(name))
    }
}

impl Catalog {
    /// A new catalog with the `default` and `information_schema` schemas Databricks creates.
    pub fn new(name: &str, owner: &str, now: i64) -> Catalog {
        let mut c = Catalog {
            name: name.into(),
            owner: owner.into(),
            comment: None,
            isolation_mode: "OPEN".into(),
            bindings: BTreeMap::new(),
            tags: BTreeMap::new(),
            properties: BTreeMap::new(),
            grants: Grants::new(),
            storage_root: None,
            created_at: now,
            created_by: owner.into(),
            schemas: BTreeMap::new(),
        };
        for s in ["default", "information_schema"] {
            c.schemas.insert(s.into(), Schema::new(s, owner));
        }
        c
    }

    /// Whether it holds anything beyond the built-in, empty schemas.
    pub fn is_empty(&self) -> bool {
        self.schemas
            .values()
            .all(|s| s.name == "information_schema" || (s.name == "default" && s.is_empty()))
    }

    /// Whether the workspace may use it (OPEN, or ISOLATED and bound).
    pub fn accessible_from(&self, workspace_id: i64) -> bool {
        self.isolation_mode != "ISOLATED" || self.bindings.contains_key(&workspace_id)
    }
}

impl Schema {
    /// An empty schema.
    pub fn new(name: &str, owner: &str) -> Schema {
        Schema {
            name: name.into(),
            owner: owner.into(),
            comment: None,
            grants: Grants::new(),
            tables: BTreeMap::new(),
            views: BTreeMap::new(),
            functions: BTreeMap::new(),
        }
    }
    /// Whether it holds no tables, views or functions.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty() && self.views.is_empty() && self.functions.is_empty()
    }
}

impl Metastore {
    /// A catalog by name, `system` included.
    pub fn lookup(&self, name: &str) -> Option<&Catalog> {
        if name == "system" {
            return Some(&self.system);
        }
        self.catalogs.get(name)
    }

    fn lookup_mut(&mut self, name: &str) -> Option<&mut Catalog> {
        if name == "system" {
            return Some(&mut self.system);
        }
        self.catalogs.get_mut(name)
    }

    /// Looks up a catalog the caller's workspace may use.
    pub fn catalog(&self, caller: &Caller, name: &str) -> Result<&Catalog, UcError> {
        let c = self.lookup(name).ok_or_else(|| UcError::no_catalog(name))?;
        if !c.accessible_from(caller.workspace_id) {
            return Err(UcError::not_accessible(name));
        }
        Ok(c)
    }

    fn catalog_mut(&mut self, caller: &Caller, name: &str) -> Result<&mut Catalog, UcError> {
        self.catalog(caller, name)?;
        let c = self.lookup_mut(name).expect("checked above");
        if c.bindings.get(&caller.workspace_id).map(String::as_str)
            == Some("BINDING_TYPE_READ_ONLY")
            && c.isolation_mode == "ISOLATED"
        {
            return Err(UcError::denied(format!(
                "Catalog '{name}' is read-only in current workspace"
            )));
        }
        Ok(c)
    }

    /// Whether the caller holds `privilege` on the catalog (owner, admin, grant).
    pub fn catalog_priv(&self, caller: &Caller, c: &Catalog, privilege: &str) -> bool {
        caller.metastore_admin || caller.is(&c.owner) || grants_have(&c.grants, caller, privilege)
    }

    fn schema_priv(&self, caller: &Caller, c: &Catalog, s: &Schema, privilege: &str) -> bool {
        self.catalog_priv(caller, c, privilege)
            || caller.is(&s.owner)
            || grants_have(&s.grants, caller, privilege)
    }

    /// Whether the caller may see the catalog at all: metastore admin, owner (or a group that
    /// owns it), or `USE CATALOG` / `BROWSE` (directly, through a group, `account users` or
    /// `ALL PRIVILEGES`). Privileges on schemas inside do not make a catalog visible.
    /// Source: docs.databricks.com data-governance/unity-catalog/manage-privileges/privileges
    /// (BROWSE, USE CATALOG); dbdemos#74 for the refusal's text.
    pub fn can_browse(&self, caller: &Caller, c: &Catalog) -> bool {
        caller.metastore_admin
            || caller.is(&c.owner)
            || grants_have(&c.grants, caller, "USE_CATALOG")
            || grants_have(&c.grants, caller, "BROWSE")
    }

    /// Whether the caller sees the catalog only through `BROWSE` (CatalogInfo `browse_only`).
    pub fn browse_only(&self, caller: &Caller, c: &Catalog) -> bool {
        !(caller.metastore_admin
            || caller.is(&c.owner)
            || grants_have(&c.grants, caller, "USE_CATALOG"))
            && grants_have(&c.grants, caller, "BROWSE")
    }

    fn require_use_catalog(&self, caller: &Caller, c: &Catalog) -> Result<(), UcError> {
        if self.catalog_priv(caller, c, "USE_CATALOG") {
            Ok(())
        } else {
            Err(UcError::lacks("USE_CATALOG", "Catalog", &c.name))
        }
    }

    /// Whether the caller may create catalogs.
    pub fn can_create_catalog(&self, caller: &Caller) -> bool {
        caller.metastore_admin || grants_have(&self.grants, caller, "CREATE_CATALOG")
    }
}

/// A privilege and, when inherited, the (type, name) it comes from.
pub type EffectivePrivilege = (String, Option<(String, String)>);

/// Objects inside a schema.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObjectKind {
    Table,
    View,
    Function,
}

/// Privileges Unity Catalog accepts (REST spelling).
pub const KNOWN_PRIVILEGES: &[&str] = &[
    "ALL_PRIVILEGES",
    "APPLY_TAG",
    "BROWSE",
    "CREATE",
    "CREATE_CATALOG",
    "CREATE_CONNECTION",
    "CREATE_EXTERNAL_LOCATION",
    "CREATE_FUNCTION",
    "CREATE_MANAGED_STORAGE",
    "CREATE_MATERIALIZED_VIEW",
    "CREATE_MODEL",
    "CREATE_SCHEMA",
    "CREATE_SHARE",
    "CREATE_STORAGE_CREDENTIAL",
    "CREATE_TABLE",
    "CREATE_VOLUME",
    "EXECUTE",
    "MANAGE",
    "MANAGE_ALLOWLIST",
    "MODIFY",
    "READ_FILES",
    "READ_VOLUME",
    "REFRESH",
    "SELECT",
    "USAGE",
    "USE_CATALOG",
    "USE_CONNECTION",
    "USE_MARKETPLACE_ASSETS",
    "USE_PROVIDER",
    "USE_RECIPIENT",
    "USE_SCHEMA",
    "USE_SHARE",
    "WRITE_FILES",
    "WRITE_VOLUME",
];

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn validate_name(name: &str) -> Result<(), UcError> {
    if name.is_empty() || name.len() > 255 || name.contains(['.', ' ', '/']) {
        return Err(UcError::invalid(format!("Invalid name '{name}'.")));
    }
    Ok(())
}
