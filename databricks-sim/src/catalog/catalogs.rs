//! Catalog operations: create, drop, owner, comment, isolation, tags, bindings.

use super::{Caller, Catalog, Metastore, UcError, grants_have, validate_name};

impl Metastore {
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
        // lakehouse-industry-data-models PR #5 (order). A serverless workspace with Default
        // Storage needs no location ("You do not need to specify a location for the catalog",
        // docs.databricks.com storage/default-storage).
        let on_default_storage = self.storage_root.is_none() && storage_root.is_none();
        if on_default_storage && !caller.default_storage {
            return Err(UcError::no_storage_root());
        }
        if self.catalogs.contains_key(name) || name == "system" {
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
        if on_default_storage {
            // "By default, catalogs that use default storage are only accessible from the
            // workspace where they are created" (docs.databricks.com storage/default-storage).
            c.isolation_mode = "ISOLATED".into();
            c.bindings
                .insert(caller.workspace_id, "BINDING_TYPE_READ_WRITE".into());
        }
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
        if name == "system" {
            return Err(UcError::denied(
                "Insufficient privileges: the system catalog cannot be dropped.".into(),
            ));
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
}
