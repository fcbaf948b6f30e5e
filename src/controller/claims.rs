//! Workspace claims: which integration holds a workspace, recorded in objects only the operator
//! writes — one ConfigMap per workspace in the operator's own namespace, named after the
//! workspace id (or the host while the id is unknown). Nothing a tenant can write (spec, status,
//! annotations, labels, their ConfigMaps) takes, keeps or forges a claim:
//! - taken with create-if-absent once an integration passes validation, so of two created at
//!   once exactly one wins, and an enabled integration never loses its workspace to a newer one;
//! - released on deletion, or when the holder's spec points at another host;
//! - a claim whose holder no longer exists (deleted while the finalizer was bypassed) is stale
//!   and taken over.
//!
//! The same namespace keeps each integration's *record*: what the operator itself published and
//! saw applied of a manual script, from which later scripts are derived (never from text read
//! back out of the tenant's ConfigMap).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams, Preconditions,
};
use kube::{Resource, ResourceExt};

use super::flow;
use crate::api::{DatabricksIntegration, FIELD_MANAGER};

/// Labels every claim: the watch-free lookups select on it.
const CLAIM: &str = "uc-operator.dev/claim";
/// The holder's uid (a label, so its claims are found with one selector).
const HOLDER_UID: &str = "uc-operator.dev/holder-uid";
/// A hash of the host the claim was taken under (a label: hosts may be longer than 63).
const HOST_HASH: &str = "uc-operator.dev/host-hash";
const HOLDER: &str = "holder";
const HOST: &str = "host";
const WORKSPACE_ID: &str = "workspaceId";

/// The workspace as the claims know it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workspace {
    /// `host[:port]`, lower-cased: the spec's workspace.
    pub host: String,
    /// The workspace id Databricks reported (SCIM `Me`), once the tests reached it.
    pub id: Option<i64>,
}

impl Workspace {
    /// The claim's object name: one workspace, one name, whatever host it is reached by.
    fn object_name(&self) -> String {
        match self.id {
            Some(id) => format!("uc-claim-ws-{id}"),
            None => format!("uc-claim-host-{}", short_hash(&self.host)),
        }
    }
}

fn short_hash(s: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(s.as_bytes())[..10])
}

/// Who holds a workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// This integration, or nobody.
    Free,
    /// Another live integration, as `<namespace>/<name>`.
    Other(String),
}

pub struct Claims {
    api: Api<ConfigMap>,
    client: kube::Client,
}

impl Claims {
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Claims {
            api: Api::namespaced(client.clone(), namespace),
            client,
        }
    }

    /// Whether the claim's holder still exists, asked of the API server: the watch cache may
    /// not have every resource yet (just after a start), and a live holder must never lose its
    /// workspace.
    async fn holder_exists(&self, claim: &ConfigMap, uid: &str) -> Result<bool, kube::Error> {
        let holder = data(claim, HOLDER).unwrap_or_default();
        let Some((namespace, name)) = holder.split_once('/') else {
            return Ok(false);
        };
        let api: Api<DatabricksIntegration> = Api::namespaced(self.client.clone(), namespace);
        let current = api.get_opt(name).await?;
        Ok(current.is_some_and(|d| d.uid().as_deref() == Some(uid)))
    }

    /// Who holds `ws`. With `take`, a free workspace is claimed for `dbi` (create-if-absent: a
    /// concurrent creator makes this one see the winner). `alive` says from the watch cache
    /// whether a holder uid still exists; a claim of one the API server confirms gone is removed
    /// and retaken.
    pub async fn holder(
        &self,
        dbi: &DatabricksIntegration,
        ws: &Workspace,
        take: bool,
        alive: impl Fn(&str) -> bool,
    ) -> Result<Holder, kube::Error> {
        let name = ws.object_name();
        let uid = dbi.uid().unwrap_or_default();
        // Two rounds at most: a stale claim is removed once, then created afresh.
        for _ in 0..2 {
            let existing = match self.api.get_opt(&name).await? {
                Some(cm) => cm,
                None if !take => return Ok(Holder::Free),
                None => match self
                    .api
                    .create(&PostParams::default(), &claim(dbi, ws, &name))
                    .await
                {
                    Ok(_) => return Ok(Holder::Free),
                    Err(kube::Error::Api(e)) if e.code == 409 => self.api.get(&name).await?,
                    Err(e) => return Err(e),
                },
            };
            let holder_uid = existing
                .labels()
                .get(HOLDER_UID)
                .cloned()
                .unwrap_or_default();
            if holder_uid == uid {
                return Ok(Holder::Free);
            }
            if alive(&holder_uid) || self.holder_exists(&existing, &holder_uid).await? {
                let holder = data(&existing, HOLDER).unwrap_or_else(|| "unknown".into());
                return Ok(Holder::Other(holder));
            }
            self.remove(&existing).await?;
        }
        Ok(Holder::Free)
    }

    /// Another live integration that claimed the workspace under the same host: found before
    /// any request is sent to Databricks (a claim under another name of the workspace is found
    /// once the tests named its id).
    pub async fn holder_by_host(
        &self,
        dbi: &DatabricksIntegration,
        host: &str,
        alive: impl Fn(&str) -> bool,
    ) -> Result<Holder, kube::Error> {
        let uid = dbi.uid().unwrap_or_default();
        let selector = format!("{CLAIM}=true,{HOST_HASH}={}", short_hash(host));
        // A consistent read: the watch cache may not have a claim taken a moment ago.
        let claims = self
            .api
            .list(&ListParams::default().labels(&selector))
            .await?;
        let other = claims.items.iter().find(|cm| {
            let holder = cm.labels().get(HOLDER_UID).cloned().unwrap_or_default();
            holder != uid && alive(&holder)
        });
        Ok(match other {
            Some(cm) => Holder::Other(data(cm, HOLDER).unwrap_or_else(|| "unknown".into())),
            None => Holder::Free,
        })
    }

    /// Releases the claims `dbi` holds on workspaces other than `keep` (all of them without).
    pub async fn release(
        &self,
        dbi: &DatabricksIntegration,
        keep: Option<&Workspace>,
    ) -> Result<(), kube::Error> {
        let Some(uid) = dbi.uid() else {
            return Ok(());
        };
        let selector = format!("{CLAIM}=true,{HOLDER_UID}={uid}");
        let held = self
            .api
            .list(&ListParams::default().labels(&selector))
            .await?;
        for cm in held.items {
            let same = keep.is_some_and(|ws| {
                data(&cm, HOST).as_deref() == Some(ws.host.as_str())
                    || (ws.id.is_some() && data(&cm, WORKSPACE_ID) == ws.id.map(|i| i.to_string()))
            });
            if !same {
                self.remove(&cm).await?;
            }
        }
        Ok(())
    }

    /// Deletes one claim, only the version read (a new holder's claim is never removed).
    async fn remove(&self, cm: &ConfigMap) -> Result<(), kube::Error> {
        let params = DeleteParams {
            preconditions: Some(Preconditions {
                uid: cm.uid(),
                resource_version: cm.resource_version(),
            }),
            ..DeleteParams::default()
        };
        match self.api.delete(&cm.name_any(), &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl Claims {
    /// The record of `dbi` (empty when there is none).
    pub async fn record(
        &self,
        dbi: &DatabricksIntegration,
    ) -> Result<BTreeMap<String, String>, kube::Error> {
        let cm = self.api.get_opt(&record_name(dbi)).await?;
        Ok(cm.and_then(|c| c.data).unwrap_or_default())
    }

    /// Replaces the record of `dbi` (server-side apply under the operator's field manager).
    pub async fn save_record(
        &self,
        dbi: &DatabricksIntegration,
        data: BTreeMap<String, String>,
    ) -> Result<(), kube::Error> {
        let name = record_name(dbi);
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([(
                    HOLDER_UID.to_string(),
                    dbi.uid().unwrap_or_default(),
                )])),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        };
        let params = PatchParams::apply(FIELD_MANAGER).force();
        self.api.patch(&name, &params, &Patch::Apply(&cm)).await?;
        Ok(())
    }

    /// Removes the record of a deleted integration.
    pub async fn forget_record(&self, dbi: &DatabricksIntegration) -> Result<(), kube::Error> {
        match self
            .api
            .delete(&record_name(dbi), &DeleteParams::default())
            .await
        {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(e) => Err(e),
        }
    }
}

fn record_name(dbi: &DatabricksIntegration) -> String {
    format!("uc-record-{}", dbi.uid().unwrap_or_default())
}

/// The workspace of `dbi`'s spec, with the id the tests found (if they got that far).
pub fn workspace(dbi: &DatabricksIntegration, id: Option<i64>) -> Option<Workspace> {
    Some(Workspace {
        host: flow::workspace_key(dbi)?,
        id,
    })
}

fn data(cm: &ConfigMap, key: &str) -> Option<String> {
    cm.data.as_ref()?.get(key).cloned()
}

fn claim(dbi: &DatabricksIntegration, ws: &Workspace, name: &str) -> ConfigMap {
    let holder = format!("{}/{}", dbi.namespace().unwrap_or_default(), dbi.name_any());
    let mut data = BTreeMap::from([
        (HOLDER.to_string(), holder),
        (HOST.to_string(), ws.host.clone()),
    ]);
    if let Some(id) = ws.id {
        data.insert(WORKSPACE_ID.to_string(), id.to_string());
    }
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([
                (CLAIM.to_string(), "true".to_string()),
                (
                    HOLDER_UID.to_string(),
                    dbi.meta().uid.clone().unwrap_or_default(),
                ),
                (HOST_HASH.to_string(), short_hash(&ws.host)),
            ])),
            ..Default::default()
        },
        data: Some(data),
        ..Default::default()
    }
}
