//! Unity Catalog, SCIM and compute reads (and the catalog delete cleanup needs).

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::connection::Compute;
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

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MetastoreAssignment {
    pub metastore_id: String,
    #[serde(deserialize_with = "lenient_i64")]
    pub workspace_id: i64,
    #[serde(default)]
    pub default_catalog_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ScimUser {
    pub id: String,
    /// For a service principal, its application id.
    #[serde(rename = "userName")]
    pub user_name: String,
    #[serde(rename = "displayName", default)]
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CatalogInfo {
    pub name: String,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
    /// `OPEN` or `ISOLATED`.
    #[serde(default)]
    pub isolation_mode: Option<String>,
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    #[serde(default)]
    pub catalog_type: Option<String>,
    #[serde(default)]
    pub metastore_id: Option<String>,
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
    pub catalog_name: Option<String>,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PrivilegeAssignment {
    pub principal: String,
    #[serde(default)]
    pub privileges: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EffectivePrivilege {
    pub privilege: String,
    #[serde(default)]
    pub inherited_from_type: Option<String>,
    #[serde(default)]
    pub inherited_from_name: Option<String>,
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
    /// `BINDING_TYPE_READ_WRITE` or `BINDING_TYPE_READ_ONLY`.
    #[serde(default = "read_write")]
    pub binding_type: String,
}

fn read_write() -> String {
    "BINDING_TYPE_READ_WRITE".into()
}

/// The state of the connection's warehouse or cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComputeState {
    pub compute: Compute,
    /// The API's state name: `RUNNING`, `STOPPED`, `TERMINATED`, …
    pub state: String,
}

impl ComputeState {
    /// Whether SQL can run without starting (and paying for) the compute.
    pub fn is_running(&self) -> bool {
        self.state == "RUNNING"
    }
}

#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    next_page_token: Option<String>,
}

/// Reads pages under different list keys into [`Page`].
fn page<T: serde::de::DeserializeOwned>(
    mut v: Value,
    key: &str,
    endpoint: &'static str,
) -> Result<Page<T>, Error> {
    let items = v
        .get_mut(key)
        .map(Value::take)
        .filter(|i| !i.is_null())
        .unwrap_or(Value::Array(vec![]));
    let next_page_token = v
        .get("next_page_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_owned);
    let items = serde_json::from_value(items).map_err(|e| Error::Protocol {
        endpoint,
        message: format!("could not read {key}: {e}"),
    })?;
    Ok(Page {
        items,
        next_page_token,
    })
}

/// Securable types in REST paths are lower case (`catalog`, `schema`, `table`, …).
fn securable(kind: &str) -> String {
    kind.to_ascii_lowercase()
}

impl WorkspaceClient {
    /// The metastore assigned to this workspace; `None` when there is none.
    pub async fn current_metastore_assignment(&self) -> Result<Option<MetastoreAssignment>, Error> {
        let endpoint = "/api/2.1/unity-catalog/current-metastore-assignment";
        match self
            .call_json::<MetastoreAssignment>(Method::GET, endpoint, endpoint, vec![], None)
            .await
        {
            Ok(a) => {
                let _ = self.inner.workspace_id.set(a.workspace_id);
                Ok(Some(a))
            }
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The calling principal (SCIM `Me`); for a service principal `user_name` is its application id.
    pub async fn me(&self) -> Result<ScimUser, Error> {
        let endpoint = "/api/2.0/preview/scim/v2/Me";
        self.call_json(Method::GET, endpoint, endpoint, vec![], None)
            .await
    }

    pub async fn get_catalog(&self, name: &str) -> Result<Option<CatalogInfo>, Error> {
        let path = format!("{UC}/catalogs/{}", encode_segment(name));
        match self
            .call_json(
                Method::GET,
                "/api/2.1/unity-catalog/catalogs/{name}",
                &path,
                vec![],
                None,
            )
            .await
        {
            Ok(c) => Ok(Some(c)),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// All catalogs, following `next_page_token` through empty pages.
    pub async fn list_catalogs(&self, include_unbound: bool) -> Result<Vec<CatalogInfo>, Error> {
        let endpoint = "/api/2.1/unity-catalog/catalogs";
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("max_results", "100".to_owned())];
            if include_unbound {
                query.push(("include_unbound", "true".to_owned()));
            }
            if let Some(t) = token.take() {
                query.push(("page_token", t));
            }
            let v: Value = self
                .call_json(Method::GET, endpoint, endpoint, query, None)
                .await?;
            let p: Page<CatalogInfo> = page(v, "catalogs", endpoint)?;
            out.extend(p.items);
            match p.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// Deletes a catalog; `force` also deletes what it contains. A missing catalog is not an error.
    pub async fn delete_catalog(&self, name: &str, force: bool) -> Result<(), Error> {
        let path = format!("{UC}/catalogs/{}", encode_segment(name));
        let query = if force {
            vec![("force", "true".to_owned())]
        } else {
            vec![]
        };
        match self
            .call(
                Method::DELETE,
                "/api/2.1/unity-catalog/catalogs/{name}",
                &path,
                query,
                None,
            )
            .await
        {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    pub async fn list_schemas(&self, catalog: &str) -> Result<Vec<SchemaInfo>, Error> {
        let endpoint = "/api/2.1/unity-catalog/schemas";
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![
                ("catalog_name", catalog.to_owned()),
                ("max_results", "100".to_owned()),
            ];
            if let Some(t) = token.take() {
                query.push(("page_token", t));
            }
            let v: Value = self
                .call_json(Method::GET, endpoint, endpoint, query, None)
                .await?;
            let p: Page<SchemaInfo> = page(v, "schemas", endpoint)?;
            out.extend(p.items);
            match p.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// Direct grants on a securable (`catalog`, `schema`, `table`, …).
    pub async fn get_permissions(
        &self,
        securable_type: &str,
        full_name: &str,
    ) -> Result<Vec<PrivilegeAssignment>, Error> {
        let path = format!(
            "{UC}/permissions/{}/{}",
            encode_segment(&securable(securable_type)),
            encode_segment(full_name)
        );
        let endpoint = "/api/2.1/unity-catalog/permissions/{type}/{name}";
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let query = token
                .take()
                .map(|t| vec![("page_token", t)])
                .unwrap_or_default();
            let v: Value = self
                .call_json(Method::GET, endpoint, &path, query, None)
                .await?;
            let p: Page<PrivilegeAssignment> = page(v, "privilege_assignments", endpoint)?;
            out.extend(p.items);
            match p.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// What `principal` holds on a securable, inherited privileges included. Needs no compute.
    pub async fn effective_permissions(
        &self,
        securable_type: &str,
        full_name: &str,
        principal: &str,
    ) -> Result<Vec<EffectivePrivilegeAssignment>, Error> {
        let path = format!(
            "{UC}/effective-permissions/{}/{}",
            encode_segment(&securable(securable_type)),
            encode_segment(full_name)
        );
        let endpoint = "/api/2.1/unity-catalog/effective-permissions/{type}/{name}";
        let v: Value = self
            .call_json(
                Method::GET,
                endpoint,
                &path,
                vec![("principal", principal.to_owned())],
                None,
            )
            .await?;
        Ok(page(v, "privilege_assignments", endpoint)?.items)
    }

    /// The workspaces an `ISOLATED` catalog is bound to.
    pub async fn catalog_bindings(&self, name: &str) -> Result<Vec<CatalogBinding>, Error> {
        let path = format!("{UC}/bindings/catalog/{}", encode_segment(name));
        let endpoint = "/api/2.1/unity-catalog/bindings/catalog/{name}";
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let query = token
                .take()
                .map(|t| vec![("page_token", t)])
                .unwrap_or_default();
            let v: Value = self
                .call_json(Method::GET, endpoint, &path, query, None)
                .await?;
            let p: Page<CatalogBinding> = page(v, "bindings", endpoint)?;
            out.extend(p.items);
            match p.next_page_token {
                Some(t) => token = Some(t),
                None => return Ok(out),
            }
        }
    }

    /// The value of a tag on a catalog; `None` when the catalog or the tag does not exist.
    pub async fn get_catalog_tag(&self, catalog: &str, key: &str) -> Result<Option<String>, Error> {
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
            Ok(t) => Ok(Some(t.tag_value.unwrap_or_default())),
            Err(Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The state of the warehouse or cluster behind `httpPath`; reading it never starts it.
    pub async fn compute_state(&self) -> Result<ComputeState, Error> {
        #[derive(Deserialize)]
        struct State {
            state: Option<String>,
        }
        let compute = self.inner.config.compute.clone();
        let state: State = match &compute {
            Compute::Warehouse { id } => {
                let path = format!("/api/2.0/sql/warehouses/{}", encode_segment(id));
                self.call_json(
                    Method::GET,
                    "/api/2.0/sql/warehouses/{id}",
                    &path,
                    vec![],
                    None,
                )
                .await?
            }
            Compute::Cluster { cluster_id, .. } => {
                let endpoint = "/api/2.0/clusters/get";
                self.call_json(
                    Method::GET,
                    endpoint,
                    endpoint,
                    vec![("cluster_id", cluster_id.clone())],
                    None,
                )
                .await?
            }
        };
        Ok(ComputeState {
            compute,
            state: state.state.unwrap_or_else(|| "UNKNOWN".into()),
        })
    }
}
