//! Schemas and the objects in them: create, drop, owners, SELECT.

use super::{
    Caller, Catalog, Function, Grants, Metastore, ObjectKind, Schema, Table, UcError, grants_have,
    validate_name,
};

impl Metastore {
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
            return Err(not_owner(&full));
        }
        let s = self.checked_schema_mut(caller, catalog, schema)?;
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
    // Long: tables, views and functions share the checks; one place keeps them the same.
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
        let c = self.lookup(catalog).expect("checked");
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
        let c = self.lookup(catalog).expect("checked");
        if !(caller.metastore_admin
            || caller.is(&owner)
            || caller.is(&s.owner)
            || caller.is(&c.owner))
        {
            return Err(not_owner(&full));
        }
        let s = self.checked_schema_mut(caller, catalog, schema)?;
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
            .lookup(catalog)
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

    /// The schema the caller's checks already found, through the catalog's binding check.
    fn checked_schema_mut(
        &mut self,
        caller: &Caller,
        catalog: &str,
        schema: &str,
    ) -> Result<&mut Schema, UcError> {
        Ok(self
            .catalog_mut(caller, catalog)?
            .schemas
            .get_mut(schema)
            .expect("checked"))
    }
}

fn not_owner(full: &str) -> UcError {
    UcError::denied(format!(
        "Insufficient privileges: User is not an owner of {full}."
    ))
}
