//! The in-memory Unity Catalog: one metastore shared by all workspaces, with ownership,
//! grants (REST privilege spellings), isolation and workspace bindings.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

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
}

/// A Unity Catalog error with both its REST and its SQL rendering.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UcError {
    pub status: u16,
    pub error_code: &'static str,
    pub sql_class: &'static str,
    pub sql_state: &'static str,
    pub message: String,
}

impl UcError {
    fn new(
        status: u16,
        error_code: &'static str,
        sql_class: &'static str,
        sql_state: &'static str,
        message: String,
    ) -> Self {
        UcError {
            status,
            error_code,
            sql_class,
            sql_state,
            message,
        }
    }
    /// 403 PERMISSION_DENIED / `[INSUFFICIENT_PERMISSIONS]` 42501.
    pub fn denied(message: String) -> Self {
        Self::new(
            403,
            "PERMISSION_DENIED",
            "INSUFFICIENT_PERMISSIONS",
            "42501",
            message,
        )
    }
    fn lacks(privilege: &str, kind: &str, name: &str) -> Self {
        Self::denied(format!(
            "Insufficient privileges: User does not have {} on {kind} '{name}'.",
            privilege.replace('_', " ")
        ))
    }
    /// 400 INVALID_PARAMETER_VALUE.
    pub fn invalid(message: String) -> Self {
        Self::new(
            400,
            "INVALID_PARAMETER_VALUE",
            "INVALID_PARAMETER_VALUE",
            "22023",
            message,
        )
    }
    fn no_catalog(name: &str) -> Self {
        Self::new(
            404,
            "CATALOG_DOES_NOT_EXIST",
            "NO_SUCH_CATALOG_EXCEPTION",
            "42704",
            format!("Catalog '{name}' does not exist."),
        )
    }
    fn no_schema(cat: &str, sch: &str) -> Self {
        Self::new(
            404,
            "SCHEMA_DOES_NOT_EXIST",
            "SCHEMA_NOT_FOUND",
            "42704",
            format!("Schema '{cat}.{sch}' does not exist."),
        )
    }
    /// 404 TABLE_DOES_NOT_EXIST / `[TABLE_OR_VIEW_NOT_FOUND]` 42P01.
    pub fn no_table(full: &str) -> Self {
        Self::new(
            404,
            "TABLE_DOES_NOT_EXIST",
            "TABLE_OR_VIEW_NOT_FOUND",
            "42P01",
            format!("The table or view {full} cannot be found."),
        )
    }
    fn not_accessible(name: &str) -> Self {
        Self::denied(format!(
            "Catalog '{name}' is not accessible in current workspace"
        ))
    }
    /// 404 PRINCIPAL_DOES_NOT_EXIST.
    pub fn no_principal(name: &str) -> Self {
        Self::new(
            404,
            "PRINCIPAL_DOES_NOT_EXIST",
            "PRINCIPAL_DOES_NOT_EXIST",
            "42704",
            format!("Could not find principal with name {name}."),
        )
    }
    /// 400 INVALID_STATE: a catalog without a location on a metastore without root storage.
    pub fn no_storage_root() -> Self {
        Self::new(
            400,
            "INVALID_STATE",
            "INVALID_STATE",
            "55000",
            "Metastore storage root URL does not exist. Please provide a storage location for \
             the catalog (for example 'CREATE CATALOG myCatalog MANAGED LOCATION \
             '<location-path>'). Alternatively set up a metastore root storage location to \
             provide a storage location for all catalogs in the metastore."
                .into(),
        )
    }
    /// The Databricks SQL error text: `[CLASS] message SQLSTATE: xxxxx`.
    pub fn sql_message(&self) -> String {
        format!(
            "[{}] {} SQLSTATE: {}",
            self.sql_class, self.message, self.sql_state
        )
    }
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
    /// Looks up a catalog the caller's workspace may use.
    pub fn catalog(&self, caller: &Caller, name: &str) -> Result<&Catalog, UcError> {
        let c = self
            .catalogs
            .get(name)
            .ok_or_else(|| UcError::no_catalog(name))?;
        if !c.accessible_from(caller.workspace_id) {
            return Err(UcError::not_accessible(name));
        }
        Ok(c)
    }

    fn catalog_mut(&mut self, caller: &Caller, name: &str) -> Result<&mut Catalog, UcError> {
        self.catalog(caller, name)?;
        let c = self.catalogs.get_mut(name).expect("checked above");
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

    /// CREATE CATALOG / POST /catalogs. Returns false when it existed and `if_not_exists`.
    pub fn create_catalog(
        &mut self,
        caller: &Caller,
        name: &str,
        comment: Option<String>,
        storage_root: Option<String>,
        if_not_exists: bool,
        now: i64,
    ) -> Result<bool, UcError> {
        if !self.can_create_catalog(caller) {
            return Err(UcError::lacks("CREATE_CATALOG", "Metastore", &self.name));
        }
        validate_name(name)?;
        // Checked before IF NOT EXISTS: the statement fails even when the catalog exists.
        // Sources: dbdemos#139 (text), databricks/cli#5695 (400 INVALID_STATE),
        // lakehouse-industry-data-models PR #5 (order).
        if self.storage_root.is_none() && storage_root.is_none() {
            return Err(UcError::no_storage_root());
        }
        if self.catalogs.contains_key(name) {
            if if_not_exists {
                return Ok(false);
            }
            return Err(UcError::new(
                409,
                "CATALOG_ALREADY_EXISTS",
                "CATALOG_ALREADY_EXISTS",
                "42P04",
                format!("Catalog '{name}' already exists."),
            ));
        }
        let mut c = Catalog::new(name, &caller.principal, now);
        c.comment = comment;
        c.storage_root = storage_root;
        self.catalogs.insert(name.into(), c);
        Ok(true)
    }

    /// DROP CATALOG / DELETE /catalogs/{name}.
    pub fn drop_catalog(
        &mut self,
        caller: &Caller,
        name: &str,
        if_exists: bool,
        cascade: bool,
    ) -> Result<(), UcError> {
        let c = match self.catalog(caller, name) {
            Ok(c) => c,
            Err(e) if e.error_code == "CATALOG_DOES_NOT_EXIST" && if_exists => return Ok(()),
            Err(e) => return Err(e),
        };
        if !(caller.metastore_admin
            || caller.is(&c.owner)
            || grants_have(&c.grants, caller, "MANAGE"))
        {
            return Err(UcError::denied(format!(
                "Insufficient privileges: User is not an owner of Catalog '{name}'."
            )));
        }
        if !cascade && !c.is_empty() {
            return Err(UcError::new(
                400,
                "CATALOG_NOT_EMPTY",
                "CATALOG_NOT_EMPTY",
                "2BP01",
                format!("Cannot delete catalog '{name}' because it is not empty."),
            ));
        }
        self.catalogs.remove(name);
        Ok(())
    }

    /// Changes the owner (owner, MANAGE or admin only).
    pub fn set_catalog_owner(
        &mut self,
        caller: &Caller,
        name: &str,
        owner: &str,
    ) -> Result<(), UcError> {
        let admin = caller.metastore_admin;
        let c = self.catalog_mut(caller, name)?;
        if !(admin || caller.is(&c.owner) || grants_have(&c.grants, caller, "MANAGE")) {
            return Err(UcError::denied(format!(
                "Insufficient privileges: User is not an owner of Catalog '{name}'."
            )));
        }
        c.owner = owner.into();
        Ok(())
    }

    fn require_owner(&mut self, caller: &Caller, name: &str) -> Result<&mut Catalog, UcError> {
        let admin = caller.metastore_admin;
        let c = self.catalog_mut(caller, name)?;
        if admin || caller.is(&c.owner) || grants_have(&c.grants, caller, "MANAGE") {
            Ok(c)
        } else {
            Err(UcError::denied(format!(
                "Insufficient privileges: User is not an owner of Catalog '{name}'."
            )))
        }
    }

    /// Sets the comment (owner, MANAGE or admin).
    pub fn set_catalog_comment(
        &mut self,
        caller: &Caller,
        name: &str,
        comment: Option<String>,
    ) -> Result<(), UcError> {
        self.require_owner(caller, name)?.comment = comment;
        Ok(())
    }

    /// Sets OPEN/ISOLATED; going ISOLATED binds the calling workspace, as Databricks does.
    pub fn set_isolation_mode(
        &mut self,
        caller: &Caller,
        name: &str,
        mode: &str,
    ) -> Result<(), UcError> {
        let mode = mode.to_uppercase();
        if mode != "OPEN" && mode != "ISOLATED" {
            return Err(UcError::invalid(format!(
                "Invalid isolation mode '{mode}'."
            )));
        }
        let ws = caller.workspace_id;
        let c = self.require_owner(caller, name)?;
        if mode == "ISOLATED" && c.isolation_mode != "ISOLATED" {
            c.bindings
                .entry(ws)
                .or_insert_with(|| "BINDING_TYPE_READ_WRITE".into());
        }
        c.isolation_mode = mode;
        Ok(())
    }

    /// Sets or unsets tags (owner, APPLY_TAG or admin).
    pub fn change_tags(
        &mut self,
        caller: &Caller,
        name: &str,
        set: &[(String, String)],
        unset: &[String],
    ) -> Result<(), UcError> {
        let c = self.catalog(caller, name)?;
        if !(self.catalog_priv(caller, c, "APPLY_TAG")
            && self.catalog_priv(caller, c, "USE_CATALOG"))
        {
            return Err(UcError::lacks("APPLY_TAG", "Catalog", name));
        }
        let c = self.catalog_mut(caller, name)?;
        for (k, v) in set {
            c.tags.insert(k.clone(), v.clone());
        }
        for k in unset {
            c.tags.remove(k);
        }
        Ok(())
    }

    /// Replaces workspace bindings (owner or admin).
    pub fn update_bindings(
        &mut self,
        caller: &Caller,
        name: &str,
        add: &[(i64, String)],
        remove: &[i64],
    ) -> Result<(), UcError> {
        let c = self.require_owner(caller, name)?;
        for (id, ty) in add {
            c.bindings.insert(*id, ty.clone());
        }
        for id in remove {
            c.bindings.remove(id);
        }
        Ok(())
    }

    /// Creates a schema (catalog owner, or USE_CATALOG + CREATE_SCHEMA). Returns false if it existed.
    pub fn create_schema(
        &mut self,
        caller: &Caller,
        catalog: &str,
        schema: &str,
        comment: Option<String>,
        if_not_exists: bool,
    ) -> Result<bool, UcError> {
        let c = self.catalog(caller, catalog)?;
        self.require_use_catalog(caller, c)?;
        if c.schemas.contains_key(schema) {
            if if_not_exists {
                return Ok(false);
            }
            return Err(UcError::new(
                409,
                "SCHEMA_ALREADY_EXISTS",
                "SCHEMA_ALREADY_EXISTS",
                "42P06",
                format!("Schema '{catalog}.{schema}' already exists."),
            ));
        }
        if !self.catalog_priv(caller, c, "CREATE_SCHEMA") {
            return Err(UcError::lacks("CREATE_SCHEMA", "Catalog", catalog));
        }
        validate_name(schema)?;
        let c = self.catalog_mut(caller, catalog)?;
        let mut s = Schema::new(schema, &caller.principal);
        s.comment = comment;
        c.schemas.insert(schema.into(), s);
        Ok(true)
    }

    /// Looks up a schema the caller may use (USE_CATALOG and USE_SCHEMA, or ownership).
    pub fn schema(&self, caller: &Caller, catalog: &str, schema: &str) -> Result<&Schema, UcError> {
        let c = self.catalog(caller, catalog)?;
        let s = c
            .schemas
            .get(schema)
            .ok_or_else(|| UcError::no_schema(catalog, schema))?;
        if !self.schema_priv(caller, c, s, "USE_CATALOG") && !caller.is(&s.owner) {
            return Err(UcError::lacks("USE_CATALOG", "Catalog", catalog));
        }
        if !self.schema_priv(caller, c, s, "USE_SCHEMA") {
            return Err(UcError::lacks(
                "USE_SCHEMA",
                "Schema",
                &format!("{catalog}.{schema}"),
            ));
        }
        Ok(s)
    }

    /// DROP SCHEMA (schema or catalog owner, admin).
    pub fn drop_schema(
        &mut self,
        caller: &Caller,
        catalog: &str,
        schema: &str,
        if_exists: bool,
        cascade: bool,
    ) -> Result<(), UcError> {
        let c = self.catalog(caller, catalog)?;
        let Some(s) = c.schemas.get(schema) else {
            return if if_exists {
                Ok(())
            } else {
                Err(UcError::no_schema(catalog, schema))
            };
        };
        if !(caller.metastore_admin || caller.is(&c.owner) || caller.is(&s.owner)) {
            return Err(UcError::denied(format!(
                "Insufficient privileges: User is not an owner of Schema '{catalog}.{schema}'."
            )));
        }
        if !cascade && !s.is_empty() {
            return Err(UcError::new(
                400,
                "SCHEMA_NOT_EMPTY",
                "SCHEMA_NOT_EMPTY",
                "2BP01",
                format!("Cannot drop a schema `{catalog}`.`{schema}` because it contains objects."),
            ));
        }
        self.catalog_mut(caller, catalog)?.schemas.remove(schema);
        Ok(())
    }

    /// Whether the caller may manage the schema: its or its catalog's owner, MANAGE on
    /// either, or a metastore admin (docs.databricks.com data-governance/unity-catalog/
    /// manage-privileges/ownership: who can transfer ownership).
    fn manages_schema(&self, caller: &Caller, c: &Catalog, s: &Schema) -> bool {
        caller.metastore_admin
            || caller.is(&c.owner)
            || caller.is(&s.owner)
            || grants_have(&c.grants, caller, "MANAGE")
            || grants_have(&s.grants, caller, "MANAGE")
    }

    /// ALTER SCHEMA OWNER / PATCH /schemas/{full} {owner}.
    pub fn set_schema_owner(
        &mut self,
        caller: &Caller,
        catalog: &str,
        schema: &str,
        owner: &str,
    ) -> Result<(), UcError> {
        self.with_managed_schema(caller, catalog, schema, |s| s.owner = owner.into())
    }

    /// COMMENT ON SCHEMA / PATCH /schemas/{full} {comment}.
    pub fn set_schema_comment(
        &mut self,
        caller: &Caller,
        catalog: &str,
        schema: &str,
        comment: &str,
    ) -> Result<(), UcError> {
        self.with_managed_schema(caller, catalog, schema, |s| {
            s.comment = Some(comment.into())
        })
    }

    fn with_managed_schema(
        &mut self,
        caller: &Caller,
        catalog: &str,
        schema: &str,
        change: impl FnOnce(&mut Schema),
    ) -> Result<(), UcError> {
        let c = self.catalog(caller, catalog)?;
        let s = c
            .schemas
            .get(schema)
            .ok_or_else(|| UcError::no_schema(catalog, schema))?;
        if !self.manages_schema(caller, c, s) {
            return Err(UcError::denied(format!(
                "Insufficient privileges: User is not an owner of Schema '{catalog}.{schema}'."
            )));
        }
        let c = self.catalog_mut(caller, catalog)?;
        change(c.schemas.get_mut(schema).expect("checked"));
        Ok(())
    }

    /// ALTER TABLE|VIEW|FUNCTION ... OWNER TO / PATCH /tables/{full} {owner}: by the object's
    /// owner, MANAGE on it, whoever manages its schema, or a metastore admin. `kind: None`
    /// accepts a table or a view.
    pub fn set_object_owner(
        &mut self,
        caller: &Caller,
        kind: Option<ObjectKind>,
        catalog: &str,
        schema: &str,
        name: &str,
        owner: &str,
    ) -> Result<(), UcError> {
        let full = format!("{catalog}.{schema}.{name}");
        let c = self.catalog(caller, catalog)?;
        let s = c
            .schemas
            .get(schema)
            .ok_or_else(|| UcError::no_schema(catalog, schema))?;
        let found = match kind {
            Some(ObjectKind::Function) => s.functions.get(name).map(|f| (&f.owner, &f.grants)),
            Some(ObjectKind::View) => s.views.get(name).map(|t| (&t.owner, &t.grants)),
            Some(ObjectKind::Table) => s.tables.get(name).map(|t| (&t.owner, &t.grants)),
            None => s
                .tables
                .get(name)
                .or_else(|| s.views.get(name))
                .map(|t| (&t.owner, &t.grants)),
        };
        let Some((current, grants)) = found else {
            return Err(UcError::no_table(&full));
        };
        if !(self.manages_schema(caller, c, s)
            || caller.is(current)
            || grants_have(grants, caller, "MANAGE"))
        {
            return Err(UcError::denied(format!(
                "Insufficient privileges: User is not an owner of {full}."
            )));
        }
        let s = self
            .catalog_mut(caller, catalog)?
            .schemas
            .get_mut(schema)
            .expect("checked");
        let slot = match kind {
            Some(ObjectKind::Function) => s.functions.get_mut(name).map(|f| &mut f.owner),
            _ => match s.tables.get_mut(name) {
                Some(t) => Some(&mut t.owner),
                None => s.views.get_mut(name).map(|t| &mut t.owner),
            },
        };
        *slot.expect("checked") = owner.into();
        Ok(())
    }

    /// Creates a table, view or function in a schema; checks USE + CREATE_* privileges.
    #[allow(clippy::too_many_arguments)]
    pub fn create_object(
        &mut self,
        caller: &Caller,
        kind: ObjectKind,
        catalog: &str,
        schema: &str,
        name: &str,
        columns: Vec<(String, String)>,
        view_definition: Option<String>,
        if_not_exists: bool,
        or_replace: bool,
    ) -> Result<bool, UcError> {
        let s = self.schema(caller, catalog, schema)?;
        let c = &self.catalogs[catalog];
        let privilege = match kind {
            ObjectKind::Function => "CREATE_FUNCTION",
            _ => "CREATE_TABLE",
        };
        if !self.schema_priv(caller, c, s, privilege) {
            return Err(UcError::lacks(
                privilege,
                "Schema",
                &format!("{catalog}.{schema}"),
            ));
        }
        let exists = s.tables.contains_key(name)
            || s.views.contains_key(name)
            || s.functions.contains_key(name);
        if exists && if_not_exists {
            return Ok(false);
        }
        if exists && !or_replace {
            return Err(UcError::new(
                409,
                "TABLE_ALREADY_EXISTS",
                if kind == ObjectKind::Function {
                    "ROUTINE_ALREADY_EXISTS"
                } else {
                    "TABLE_OR_VIEW_ALREADY_EXISTS"
                },
                "42P07",
                format!("Cannot create `{catalog}`.`{schema}`.`{name}` because it already exists."),
            ));
        }
        let owner = caller.principal.clone();
        let s = self
            .catalog_mut(caller, catalog)?
            .schemas
            .get_mut(schema)
            .expect("checked");
        // Replacing keeps the owner and grants, as CREATE OR REPLACE does.
        let (owner, grants) = match (s.tables.get(name), s.views.get(name), s.functions.get(name)) {
            (Some(t), _, _) | (_, Some(t), _) => (t.owner.clone(), t.grants.clone()),
            (_, _, Some(f)) => (f.owner.clone(), f.grants.clone()),
            _ => (owner, Grants::new()),
        };
        match kind {
            ObjectKind::Function => {
                s.functions.insert(
                    name.into(),
                    Function {
                        name: name.into(),
                        owner,
                        grants,
                    },
                );
            }
            ObjectKind::Table | ObjectKind::View => {
                let t = Table {
                    name: name.into(),
                    owner,
                    columns,
                    grants,
                    view_definition,
                };
                if kind == ObjectKind::Table {
                    s.tables.insert(name.into(), t);
                } else {
                    s.views.insert(name.into(), t);
                }
            }
        }
        Ok(true)
    }

    /// Drops a table, view or function (its owner, the schema's or catalog's, or an admin).
    pub fn drop_object(
        &mut self,
        caller: &Caller,
        kind: ObjectKind,
        catalog: &str,
        schema: &str,
        name: &str,
        if_exists: bool,
    ) -> Result<(), UcError> {
        let full = format!("`{catalog}`.`{schema}`.`{name}`");
        let s = match self.schema(caller, catalog, schema) {
            Ok(s) => s,
            Err(_) if if_exists => return Ok(()),
            Err(e) => return Err(e),
        };
        let owner = match kind {
            ObjectKind::Table => s.tables.get(name).map(|t| t.owner.clone()),
            ObjectKind::View => s.views.get(name).map(|t| t.owner.clone()),
            ObjectKind::Function => s.functions.get(name).map(|f| f.owner.clone()),
        };
        let Some(owner) = owner else {
            return if if_exists {
                Ok(())
            } else {
                Err(UcError::no_table(&full))
            };
        };
        let c = &self.catalogs[catalog];
        if !(caller.metastore_admin
            || caller.is(&owner)
            || caller.is(&s.owner)
            || caller.is(&c.owner))
        {
            return Err(UcError::denied(format!(
                "Insufficient privileges: User is not an owner of {full}."
            )));
        }
        let s = self
            .catalog_mut(caller, catalog)?
            .schemas
            .get_mut(schema)
            .expect("checked");
        match kind {
            ObjectKind::Table => s.tables.remove(name).map(|_| ()),
            ObjectKind::View => s.views.remove(name).map(|_| ()),
            ObjectKind::Function => s.functions.remove(name).map(|_| ()),
        };
        Ok(())
    }

    /// A table or view the caller may SELECT from; returns its columns.
    pub fn select_from(
        &self,
        caller: &Caller,
        catalog: &str,
        schema: &str,
        name: &str,
    ) -> Result<Vec<(String, String)>, UcError> {
        let full = format!("`{catalog}`.`{schema}`.`{name}`");
        let c = self
            .catalogs
            .get(catalog)
            .ok_or_else(|| UcError::no_table(&full))?;
        if !c.accessible_from(caller.workspace_id) {
            return Err(UcError::not_accessible(catalog));
        }
        let s = c
            .schemas
            .get(schema)
            .ok_or_else(|| UcError::no_table(&full))?;
        let t = s
            .tables
            .get(name)
            .or_else(|| s.views.get(name))
            .ok_or_else(|| UcError::no_table(&full))?;
        self.schema(caller, catalog, schema)?;
        let ok = self.schema_priv(caller, c, s, "SELECT")
            || caller.is(&t.owner)
            || grants_have(&t.grants, caller, "SELECT");
        if !ok {
            return Err(UcError::lacks(
                "SELECT",
                "Table",
                &format!("{catalog}.{schema}.{name}"),
            ));
        }
        Ok(t.columns.clone())
    }

    /// The direct grants on a securable (for GET /permissions and checks).
    pub fn grants_of(
        &self,
        caller: &Caller,
        kind: &str,
        full_name: &str,
    ) -> Result<&Grants, UcError> {
        let parts: Vec<&str> = full_name.split('.').collect();
        match (kind, parts.as_slice()) {
            ("metastore", _) => Ok(&self.grants),
            ("catalog", [c]) => Ok(&self.catalog(caller, c)?.grants),
            ("schema", [c, s]) => Ok(&self
                .catalog(caller, c)?
                .schemas
                .get(*s)
                .ok_or_else(|| UcError::no_schema(c, s))?
                .grants),
            ("table" | "view", [c, s, t]) => {
                let sch = self
                    .catalog(caller, c)?
                    .schemas
                    .get(*s)
                    .ok_or_else(|| UcError::no_table(full_name))?;
                Ok(&sch
                    .tables
                    .get(*t)
                    .or_else(|| sch.views.get(*t))
                    .ok_or_else(|| UcError::no_table(full_name))?
                    .grants)
            }
            ("function", [c, s, f]) => {
                let sch = self
                    .catalog(caller, c)?
                    .schemas
                    .get(*s)
                    .ok_or_else(|| UcError::no_schema(c, s))?;
                Ok(&sch
                    .functions
                    .get(*f)
                    .ok_or_else(|| {
                        UcError::new(
                            404,
                            "FUNCTION_DOES_NOT_EXIST",
                            "ROUTINE_NOT_FOUND",
                            "42883",
                            format!("Function '{full_name}' does not exist."),
                        )
                    })?
                    .grants)
            }
            _ => Err(UcError::invalid(format!(
                "Invalid securable '{kind}' '{full_name}'."
            ))),
        }
    }

    /// Who owns the securable and its parents: whoever may grant on it.
    fn may_grant(&self, caller: &Caller, kind: &str, full_name: &str) -> Result<bool, UcError> {
        if caller.metastore_admin {
            return Ok(true);
        }
        if kind == "metastore" {
            return Ok(false);
        }
        let parts: Vec<&str> = full_name.split('.').collect();
        let c = self.catalog(caller, parts[0])?;
        if caller.is(&c.owner) || grants_have(&c.grants, caller, "MANAGE") {
            return Ok(true);
        }
        if let Some(s) = parts.get(1).and_then(|s| c.schemas.get(*s)) {
            if caller.is(&s.owner) || grants_have(&s.grants, caller, "MANAGE") {
                return Ok(true);
            }
            if let Some(t) = parts.get(2) {
                let owner = s
                    .tables
                    .get(*t)
                    .or_else(|| s.views.get(*t))
                    .map(|t| (&t.owner, &t.grants))
                    .or_else(|| s.functions.get(*t).map(|f| (&f.owner, &f.grants)));
                if let Some((o, g)) = owner
                    && (caller.is(o) || grants_have(g, caller, "MANAGE"))
                {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    /// Applies grant changes (owner, MANAGE or admin); revoking what was never granted succeeds.
    pub fn update_grants(
        &mut self,
        caller: &Caller,
        kind: &str,
        full_name: &str,
        principal: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), UcError> {
        let kind = kind.to_lowercase();
        self.grants_of(caller, &kind, full_name)?;
        if !self.may_grant(caller, &kind, full_name)? {
            let (k, what) = match kind.as_str() {
                "metastore" => ("Metastore", self.name.clone()),
                other => (other, full_name.to_string()),
            };
            return Err(UcError::lacks("MANAGE", &capitalize(k), &what));
        }
        for p in add.iter().chain(remove) {
            if !KNOWN_PRIVILEGES.contains(&p.as_str()) {
                return Err(UcError::invalid(format!(
                    "Privilege {p} is not applicable to this entity."
                )));
            }
        }
        let grants = self.grants_mut(&kind, full_name).expect("checked");
        let entry = grants.entry(principal.to_string()).or_default();
        for p in add {
            entry.insert(p.clone());
        }
        for p in remove {
            entry.remove(p);
        }
        if entry.is_empty() {
            grants.remove(principal);
        }
        Ok(())
    }

    fn grants_mut(&mut self, kind: &str, full_name: &str) -> Option<&mut Grants> {
        let parts: Vec<&str> = full_name.split('.').collect();
        match (kind, parts.as_slice()) {
            ("metastore", _) => Some(&mut self.grants),
            ("catalog", [c]) => Some(&mut self.catalogs.get_mut(*c)?.grants),
            ("schema", [c, s]) => Some(&mut self.catalogs.get_mut(*c)?.schemas.get_mut(*s)?.grants),
            ("table" | "view", [c, s, t]) => {
                let sch = self.catalogs.get_mut(*c)?.schemas.get_mut(*s)?;
                if sch.tables.contains_key(*t) {
                    Some(&mut sch.tables.get_mut(*t)?.grants)
                } else {
                    Some(&mut sch.views.get_mut(*t)?.grants)
                }
            }
            ("function", [c, s, f]) => Some(
                &mut self
                    .catalogs
                    .get_mut(*c)?
                    .schemas
                    .get_mut(*s)?
                    .functions
                    .get_mut(*f)?
                    .grants,
            ),
            _ => None,
        }
    }

    /// Effective privileges of `principal` on a securable: direct, and inherited from parents
    /// (metastore → catalog → schema), with where each came from.
    pub fn effective(
        &self,
        caller: &Caller,
        kind: &str,
        full_name: &str,
        principal: &str,
    ) -> Result<Vec<EffectivePrivilege>, UcError> {
        let kind = kind.to_lowercase();
        self.grants_of(caller, &kind, full_name)?;
        let parts: Vec<&str> = full_name.split('.').collect();
        let mut levels: Vec<(String, String)> = Vec::new();
        if kind == "metastore" {
            levels.push(("metastore".into(), self.id.clone()));
        } else {
            levels.push(("catalog".into(), parts[0].into()));
            if parts.len() >= 2 {
                levels.push(("schema".into(), format!("{}.{}", parts[0], parts[1])));
            }
            if parts.len() >= 3 {
                levels.push((kind.clone(), full_name.into()));
            }
        }
        let mut out = Vec::new();
        let last = levels.len() - 1;
        for (i, (k, n)) in levels.iter().enumerate() {
            let grants = self.grants_of(caller, k, n)?;
            for (p, privs) in grants {
                if p.eq_ignore_ascii_case(principal) {
                    for pr in privs {
                        let from = if i == last {
                            None
                        } else {
                            Some((k.to_uppercase(), n.clone()))
                        };
                        out.push((pr.clone(), from));
                    }
                }
            }
        }
        Ok(out)
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
