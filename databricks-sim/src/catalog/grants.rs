//! Grants: direct, effective, and who may change them.

use super::{
    Caller, EffectivePrivilege, Grants, KNOWN_PRIVILEGES, Metastore, UcError, capitalize,
    grants_have,
};

/// Privileges `ALL PRIVILEGES` does not include (docs.databricks.com
/// sql/language-manual/security-revoke, manage-privileges/privileges "ALL PRIVILEGES").
const NOT_IN_ALL_PRIVILEGES: &[&str] = &["MANAGE", "EXTERNAL_USE_SCHEMA", "EXTERNAL_USE_LOCATION"];

/// Privileges each securable type takes (REST spelling), from "Privilege types by securable
/// object in Unity Catalog" (docs.databricks.com data-governance/unity-catalog/manage-privileges/
/// privileges). Anything else is "not applicable to this entity".
const METASTORE_PRIVILEGES: &[&str] = &[
    "CREATE_CATALOG",
    "CREATE_CLEAN_ROOM",
    "CREATE_CONNECTION",
    "CREATE_EXTERNAL_LOCATION",
    "CREATE_PROVIDER",
    "CREATE_RECIPIENT",
    "CREATE_SERVICE_CREDENTIAL",
    "CREATE_SHARE",
    "CREATE_STORAGE_CREDENTIAL",
    "MANAGE_ALLOWLIST",
    "SET_SHARE_PERMISSION",
    "USE_MARKETPLACE_ASSETS",
    "USE_PROVIDER",
    "USE_RECIPIENT",
    "USE_SHARE",
];
const SCHEMA_PRIVILEGES: &[&str] = &[
    "ALL_PRIVILEGES",
    "APPLY_TAG",
    "CREATE_FUNCTION",
    "CREATE_MATERIALIZED_VIEW",
    "CREATE_MODEL",
    "CREATE_TABLE",
    "CREATE_VOLUME",
    "EXECUTE",
    "EXTERNAL_USE_SCHEMA",
    "MANAGE",
    "MODIFY",
    "READ_VOLUME",
    "REFRESH",
    "SELECT",
    "USE_SCHEMA",
    "WRITE_VOLUME",
];
/// A catalog's: a schema's plus these.
const CATALOG_ONLY_PRIVILEGES: &[&str] = &["BROWSE", "CREATE_SCHEMA", "USE_CATALOG"];
const TABLE_PRIVILEGES: &[&str] = &["ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "MODIFY", "SELECT"];
const VIEW_PRIVILEGES: &[&str] = &["ALL_PRIVILEGES", "APPLY_TAG", "MANAGE", "SELECT"];
const FUNCTION_PRIVILEGES: &[&str] = &["ALL_PRIVILEGES", "EXECUTE", "MANAGE"];

impl Metastore {
    /// What may be granted on a securable of `kind` (a view, under `table`, takes no `MODIFY`).
    fn applicable_privileges(&self, kind: &str, full_name: &str) -> Vec<&'static str> {
        match kind {
            "metastore" => METASTORE_PRIVILEGES.to_vec(),
            "catalog" => [SCHEMA_PRIVILEGES, CATALOG_ONLY_PRIVILEGES].concat(),
            "schema" => SCHEMA_PRIVILEGES.to_vec(),
            "function" => FUNCTION_PRIVILEGES.to_vec(),
            _ => {
                let parts: Vec<&str> = full_name.split('.').collect();
                let view = match parts.as_slice() {
                    [c, s, t] => self
                        .lookup(c)
                        .and_then(|c| c.schemas.get(*s))
                        .is_some_and(|s| s.views.contains_key(*t)),
                    _ => false,
                };
                if view {
                    VIEW_PRIVILEGES
                } else {
                    TABLE_PRIVILEGES
                }
                .to_vec()
            }
        }
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
    /// Revoking `ALL_PRIVILEGES` also revokes what it implies (not `MANAGE`).
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
        let applicable = self.applicable_privileges(&kind, full_name);
        for p in add.iter().chain(remove) {
            if !KNOWN_PRIVILEGES.contains(&p.as_str()) || !applicable.contains(&p.as_str()) {
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
        // Revoking ALL PRIVILEGES revokes "both the ALL PRIVILEGES grant and any individual
        // privileges implied by it … Privileges that are not part of ALL PRIVILEGES, such as
        // MANAGE and EXTERNAL USE SCHEMA, are not affected" (docs.databricks.com
        // sql/language-manual/security-revoke).
        if remove.iter().any(|p| p == "ALL_PRIVILEGES") {
            entry.retain(|p| NOT_IN_ALL_PRIVILEGES.contains(&p.as_str()));
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
            ("catalog", [c]) => Some(&mut self.lookup_mut(c)?.grants),
            ("schema", [c, s]) => Some(&mut self.lookup_mut(c)?.schemas.get_mut(*s)?.grants),
            ("table" | "view", [c, s, t]) => {
                let sch = self.lookup_mut(c)?.schemas.get_mut(*s)?;
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
