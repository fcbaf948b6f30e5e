//! Unity Catalog errors, rendered for REST and for SQL.

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
    pub(super) fn new(
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
    pub(super) fn lacks(privilege: &str, kind: &str, name: &str) -> Self {
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
    pub(super) fn no_catalog(name: &str) -> Self {
        Self::new(
            404,
            "CATALOG_DOES_NOT_EXIST",
            "NO_SUCH_CATALOG_EXCEPTION",
            "42704",
            format!("Catalog '{name}' does not exist."),
        )
    }
    pub(super) fn no_schema(cat: &str, sch: &str) -> Self {
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
    pub(super) fn not_accessible(name: &str) -> Self {
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
