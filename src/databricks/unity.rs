//! Unity Catalog and SCIM calls (REST, no compute).

use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use super::error::Error;
use super::{WorkspaceClient, encode_segment};

const UC: &str = "/api/2.1/unity-catalog";

/// Workspace ids arrive as numbers, occasionally as strings.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| serde::de::Error::custom("not an integer")),
        Value::String(s) => s.parse().map_err(serde::de::Error::custom),
        _ => Err(serde::de::Error::custom("expected a workspace id")),
    }
}

/// `GET /metastore_summary`; `storage_root` is absent on metastores without root storage.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MetastoreSummary {
    pub metastore_id: String,
    /// The metastore admin (a user, service principal or group).
    #[serde(default)]
    pub owner: String,
    #[serde(default)]
    pub storage_root: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScimUser {
    /// For a service principal, its application id.
    #[serde(rename = "userName")]
    pub user_name: String,
    /// Display names of the groups the principal is a member of.
    #[serde(default, deserialize_with = "group_names")]
    pub groups: Vec<String>,
    /// The workspace answering (the `X-Databricks-Org-Id` response header), when it says.
    #[serde(skip)]
    pub workspace_id: Option<i64>,
}

/// SCIM `groups: [{display, value, …}]` as display names.
fn group_names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    struct Group {
        display: Option<String>,
    }
    let groups = Option::<Vec<Group>>::deserialize(d)?.unwrap_or_default();
    Ok(groups.into_iter().filter_map(|g| g.display).collect())
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogInfo {
    pub name: String,
    #[serde(default)]
    pub owner: Option<String>,
    /// The comment `CREATE CATALOG` wrote (setup puts its marker there).
    #[serde(default)]
    pub comment: Option<String>,
    /// `OPEN` or `ISOLATED`.
    #[serde(default)]
    pub isolation_mode: Option<String>,
    /// The catalog's managed location, when it has one of its own.
    #[serde(default)]
    pub storage_root: Option<String>,
}

impl CatalogInfo {
    pub fn is_isolated(&self) -> bool {
        self.isolation_mode.as_deref() == Some("ISOLATED")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SchemaInfo {
    pub name: String,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct TableInfo {
    pub name: String,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    /// `MANAGED`, `EXTERNAL`, `VIEW`, …
    #[serde(default)]
    pub table_type: Option<String>,
}

/// One grantee's direct grants. "For deleted principals, `principal` is empty while
/// `principal_id` is populated" (databricks-sdk-go `service/catalog/model.go`
/// `PrivilegeAssignment`): such a grant is named, and removed, by its id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PrivilegeAssignment {
    #[serde(default)]
    pub principal: String,
    /// Kept as sent (a number or a string), to be sent back the same way.
    #[serde(default)]
    pub principal_id: Option<Value>,
    #[serde(default)]
    pub privileges: Vec<String>,
}

impl PrivilegeAssignment {
    /// Whom the grant names: the principal, or a deleted one's id.
    pub fn grantee(&self) -> Grantee {
        match (&self.principal, &self.principal_id) {
            (name, Some(id)) if name.is_empty() => Grantee::Deleted(id.clone()),
            (name, _) => Grantee::Named(name.clone()),
        }
    }
}

/// A catalog tag as read over REST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatalogTag {
    Value(String),
    /// The catalog or the tag does not exist.
    Absent,
    /// The workspace does not serve entity tag assignments: whether the tag is there is unknown.
    NotServed,
}

impl CatalogTag {
    /// The value, when one was read.
    pub fn value(self) -> Option<String> {
        match self {
            CatalogTag::Value(v) => Some(v),
            _ => None,
        }
    }
}

/// Whom a grant names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grantee {
    Named(String),
    /// A deleted principal, known only by its `principal_id`.
    Deleted(Value),
}

impl std::fmt::Display for Grantee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Grantee::Named(name) => f.write_str(name),
            Grantee::Deleted(Value::String(id)) => {
                write!(f, "a deleted principal (principal_id {id})")
            }
            Grantee::Deleted(id) => write!(f, "a deleted principal (principal_id {id})"),
        }
    }
}

/// One grantee's grant changes (`PATCH /permissions/...`); REST privilege names
/// (`USE_CATALOG`, `SELECT`). "Only one of principal or principal_id should be specified, never
/// both" (databricks-sdk-go `PermissionsChange`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PermissionsChange {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

impl PermissionsChange {
    /// Removes `privileges` from `grantee`, naming it by name or, deleted, by id.
    pub fn remove(grantee: &Grantee, privileges: Vec<String>) -> Self {
        let (principal, principal_id) = match grantee {
            Grantee::Named(name) => (name.clone(), None),
            Grantee::Deleted(id) => (String::new(), Some(id.clone())),
        };
        PermissionsChange {
            principal,
            principal_id,
            remove: privileges,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EffectivePrivilege {
    pub privilege: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EffectivePrivilegeAssignment {
    pub principal: String,
    #[serde(default)]
    pub privileges: Vec<EffectivePrivilege>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogBinding {
    #[serde(deserialize_with = "lenient_i64")]
    pub workspace_id: i64,
    /// `BINDING_TYPE_READ_WRITE` or `BINDING_TYPE_READ_ONLY` (absent: read-write, as in the
    /// deprecated `workspace-bindings` API).
    #[serde(default)]
    pub binding_type: Option<String>,
}

impl CatalogBinding {
    pub fn is_read_only(&self) -> bool {
        self.binding_type.as_deref() == Some("BINDING_TYPE_READ_ONLY")
    }
}

/// Securable types in REST paths are lower case (`catalog`, `schema`, `table`, …).
fn securable_path(prefix: &str, kind: &str, full_name: &str) -> String {
    format!(
        "{UC}/{prefix}/{}/{}",
        encode_segment(&kind.to_ascii_lowercase()),
        encode_segment(full_name)
    )
}

/// `Ok(None)` for a not-found answer.
fn found<T>(result: Result<T, Error>) -> Result<Option<T>, Error> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

impl WorkspaceClient {
    /// The metastore assigned to this workspace: its id, owner (the metastore admin) and root
    /// storage; `None` when none is assigned (404 `METASTORE_DOES_NOT_EXIST`, "No metastore
    /// assigned for the current workspace.", as in terraform-provider-databricks#2061).
    pub async fn metastore_summary(&self) -> Result<Option<MetastoreSummary>, Error> {
        let endpoint = "/api/2.1/unity-catalog/metastore_summary";
        found(
            self.call_json(Method::GET, endpoint, endpoint, vec![], None)
                .await,
        )
    }

    /// The calling principal (SCIM `Me`); for a service principal `user_name` is its
    /// application id. The workspace id comes with it, in the `X-Databricks-Org-Id` response
    /// header, which is where databricks-sdk-go reads it (`CurrentWorkspaceID` in
    /// `workspace_functions.go`), so no other request is needed for it.
    pub async fn me(&self) -> Result<ScimUser, Error> {
        let endpoint = "/api/2.0/preview/scim/v2/Me";
        let resp = self
            .call_response(Method::GET, endpoint, endpoint, vec![], None)
            .await?;
        let mut me: ScimUser = super::parse_json(endpoint, &resp.body)?;
        me.workspace_id = resp
            .headers
            .get("x-databricks-org-id")
            .and_then(|v| v.to_str().ok()?.trim().parse().ok());
        if let Some(id) = me.workspace_id {
            let _ = self.inner.workspace_id.set(id);
        }
        Ok(me)
    }

    pub async fn get_catalog(&self, name: &str) -> Result<Option<CatalogInfo>, Error> {
        let path = format!("{UC}/catalogs/{}", encode_segment(name));
        let endpoint = "/api/2.1/unity-catalog/catalogs/{name}";
        found(
            self.call_json(Method::GET, endpoint, &path, vec![], None)
                .await,
        )
    }

    /// A catalog, `None` only on Databricks' own answer that it does not exist
    /// (`CATALOG_DOES_NOT_EXIST`): any other 404 (a gateway's page, `METASTORE_DOES_NOT_EXIST`,
    /// an API not served) is an error, so that a deletion never takes it for "already gone".
    pub async fn get_catalog_strict(&self, name: &str) -> Result<Option<CatalogInfo>, Error> {
        let path = format!("{UC}/catalogs/{}", encode_segment(name));
        let endpoint = "/api/2.1/unity-catalog/catalogs/{name}";
        match self
            .call_json(Method::GET, endpoint, &path, vec![], None)
            .await
        {
            Ok(info) => Ok(Some(info)),
            Err(Error::NotFound(api)) if api.code == "CATALOG_DOES_NOT_EXIST" => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Deletes a catalog; `force` also deletes what it contains. A missing catalog is not an error.
    pub async fn delete_catalog(&self, name: &str, force: bool) -> Result<(), Error> {
        let path = format!("{UC}/catalogs/{}", encode_segment(name));
        let endpoint = "/api/2.1/unity-catalog/catalogs/{name}";
        let query = if force {
            vec![("force", "true".to_owned())]
        } else {
            vec![]
        };
        found(
            self.call(Method::DELETE, endpoint, &path, query, None)
                .await,
        )
        .map(|_| ())
    }

    /// A schema by `catalog.schema`; `None` when it does not exist.
    pub async fn get_schema(&self, full_name: &str) -> Result<Option<SchemaInfo>, Error> {
        let path = format!("{UC}/schemas/{}", encode_segment(full_name));
        let endpoint = "/api/2.1/unity-catalog/schemas/{full_name}";
        found(
            self.call_json(Method::GET, endpoint, &path, vec![], None)
                .await,
        )
    }

    pub async fn list_schemas(&self, catalog: &str) -> Result<Vec<SchemaInfo>, Error> {
        let endpoint = "/api/2.1/unity-catalog/schemas";
        let query = vec![("catalog_name", catalog.to_owned())];
        self.paged(endpoint, endpoint, query, "schemas").await
    }

    /// A table or view by `catalog.schema.table`; `None` when it does not exist.
    pub async fn get_table(&self, full_name: &str) -> Result<Option<TableInfo>, Error> {
        let path = format!("{UC}/tables/{}", encode_segment(full_name));
        let endpoint = "/api/2.1/unity-catalog/tables/{full_name}";
        found(
            self.call_json(Method::GET, endpoint, &path, vec![], None)
                .await,
        )
    }

    pub async fn list_tables(&self, catalog: &str, schema: &str) -> Result<Vec<TableInfo>, Error> {
        let endpoint = "/api/2.1/unity-catalog/tables";
        // Columns and properties can be large and are not needed for names and owners.
        let query = vec![
            ("catalog_name", catalog.to_owned()),
            ("schema_name", schema.to_owned()),
            ("omit_columns", "true".to_owned()),
            ("omit_properties", "true".to_owned()),
        ];
        self.paged(endpoint, endpoint, query, "tables").await
    }

    /// Direct grants on a securable (`catalog`, `schema`, `table`, `function`, …).
    pub async fn get_permissions(
        &self,
        securable_type: &str,
        full_name: &str,
    ) -> Result<Vec<PrivilegeAssignment>, Error> {
        let path = securable_path("permissions", securable_type, full_name);
        let endpoint = "/api/2.1/unity-catalog/permissions/{type}/{name}";
        self.paged(endpoint, &path, vec![], "privilege_assignments")
            .await
    }

    /// Grants and revokes on a securable; returns the grants after the change.
    pub async fn update_permissions(
        &self,
        securable_type: &str,
        full_name: &str,
        changes: &[PermissionsChange],
    ) -> Result<Vec<PrivilegeAssignment>, Error> {
        #[derive(Deserialize)]
        struct Updated {
            #[serde(default)]
            privilege_assignments: Vec<PrivilegeAssignment>,
        }
        let path = securable_path("permissions", securable_type, full_name);
        let endpoint = "/api/2.1/unity-catalog/permissions/{type}/{name}";
        let body = json!({ "changes": changes });
        let updated: Updated = self
            .call_json(Method::PATCH, endpoint, &path, vec![], Some(body))
            .await?;
        Ok(updated.privilege_assignments)
    }

    /// What `principal` holds on a securable, inherited privileges included. Needs no compute.
    pub async fn effective_permissions(
        &self,
        securable_type: &str,
        full_name: &str,
        principal: &str,
    ) -> Result<Vec<EffectivePrivilegeAssignment>, Error> {
        let path = securable_path("effective-permissions", securable_type, full_name);
        let endpoint = "/api/2.1/unity-catalog/effective-permissions/{type}/{name}";
        let query = vec![("principal", principal.to_owned())];
        self.paged(endpoint, &path, query, "privilege_assignments")
            .await
    }

    /// What every grantee holds on a securable (each its own entry: a group's privileges are
    /// listed under the group), inherited privileges included. Needs no compute.
    pub async fn effective_permissions_of_all(
        &self,
        securable_type: &str,
        full_name: &str,
    ) -> Result<Vec<EffectivePrivilegeAssignment>, Error> {
        let path = securable_path("effective-permissions", securable_type, full_name);
        let endpoint = "/api/2.1/unity-catalog/effective-permissions/{type}/{name}";
        self.paged(endpoint, &path, vec![], "privilege_assignments")
            .await
    }

    /// The workspaces an `ISOLATED` catalog is bound to; needs its owner or a metastore admin.
    pub async fn catalog_bindings(&self, name: &str) -> Result<Vec<CatalogBinding>, Error> {
        let path = format!("{UC}/bindings/catalog/{}", encode_segment(name));
        let endpoint = "/api/2.1/unity-catalog/bindings/catalog/{name}";
        self.paged(endpoint, &path, vec![], "bindings").await
    }

    /// The value of a tag on a catalog, or why there is none: the catalog or the tag is absent,
    /// or this workspace does not serve entity tag assignments (`ENDPOINT_NOT_FOUND`, a bare
    /// 404), which says nothing about the tag.
    pub async fn get_catalog_tag(&self, catalog: &str, key: &str) -> Result<CatalogTag, Error> {
        #[derive(Deserialize)]
        struct TagAssignment {
            tag_value: Option<String>,
        }
        let path = format!(
            "{UC}/entity-tag-assignments/catalogs/{}/tags/{}",
            encode_segment(catalog),
            encode_segment(key)
        );
        let endpoint = "/api/2.1/unity-catalog/entity-tag-assignments/catalogs/{name}/tags/{key}";
        match self
            .call_json::<TagAssignment>(Method::GET, endpoint, &path, vec![], None)
            .await
        {
            Ok(t) => Ok(CatalogTag::Value(t.tag_value.unwrap_or_default())),
            Err(Error::NotFound(api)) if api.endpoint_not_served() => Ok(CatalogTag::NotServed),
            Err(Error::NotFound(_)) => Ok(CatalogTag::Absent),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_groups_are_display_names() {
        let me: ScimUser = serde_json::from_str(
            r#"{"userName":"app-1","groups":[{"display":"admins","value":"1"},{"value":"2"}]}"#,
        )
        .unwrap();
        assert_eq!(me.groups, ["admins"]);
        let me: ScimUser = serde_json::from_str(r#"{"userName":"app-1"}"#).unwrap();
        assert!(me.groups.is_empty());
    }

    #[test]
    fn permission_changes_leave_out_empty_lists() {
        let change = PermissionsChange {
            principal: "account users".into(),
            remove: vec!["SELECT".into()],
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(change).unwrap(),
            json!({"principal": "account users", "remove": ["SELECT"]})
        );
    }

    #[test]
    fn a_deleted_principal_is_named_and_removed_by_id() {
        let a: PrivilegeAssignment =
            serde_json::from_str(r#"{"principal":"","principal_id":4711,"privileges":["SELECT"]}"#)
                .unwrap();
        let grantee = a.grantee();
        assert_eq!(grantee, Grantee::Deleted(json!(4711)));
        assert_eq!(
            grantee.to_string(),
            "a deleted principal (principal_id 4711)"
        );
        let change = PermissionsChange::remove(&grantee, a.privileges);
        assert_eq!(
            serde_json::to_value(change).unwrap(),
            json!({"principal_id": 4711, "remove": ["SELECT"]})
        );
        let a: PrivilegeAssignment =
            serde_json::from_str(r#"{"principal_id":"abc","privileges":["SELECT"]}"#).unwrap();
        assert_eq!(
            a.grantee().to_string(),
            "a deleted principal (principal_id abc)"
        );
        let a: PrivilegeAssignment =
            serde_json::from_str(r#"{"principal":"bob","privileges":[]}"#).unwrap();
        assert_eq!(a.grantee(), Grantee::Named("bob".into()));
    }

    #[test]
    fn summaries_without_root_storage() {
        let s: MetastoreSummary =
            serde_json::from_str(r#"{"metastore_id":"m","owner":"admins"}"#).unwrap();
        assert_eq!(s.storage_root, None);
        assert_eq!(
            securable_path("permissions", "CATALOG", "a b"),
            "/api/2.1/unity-catalog/permissions/catalog/a%20b"
        );
    }
}
