//! Re-validation triggers: a change to a referenced Secret (rotation) or to the operator's own
//! ConfigMap (edited or deleted by someone else) re-validates the resources concerned now.
//! Only metadata is watched: the operator never caches Secret values.

use std::sync::Arc;

use futures::{Stream, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::{Api, PartialObjectMeta};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};

use super::config_map::MANAGED_BY;
use super::context::Context;
use crate::api::DatabricksIntegration;

type Ref = ObjectRef<DatabricksIntegration>;

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = kube::core::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Every change to a Secret labelled as a credential (labelling one, or removing the label, counts
/// as a change too); a deleted Secret is also forgotten, so what is remembered of Secrets stays
/// bounded by the credential Secrets that exist.
pub fn secrets(
    client: &Client,
    namespace: Option<&str>,
    ctx: Arc<Context>,
) -> impl Stream<Item = Result<PartialObjectMeta<Secret>, watcher::Error>> + Send + 'static {
    let secrets: Api<PartialObjectMeta<Secret>> = api(client, namespace);
    let selector = format!("{}=true", crate::credentials::CREDENTIALS_LABEL);
    watcher(secrets, watcher::Config::default().labels(&selector))
        .default_backoff()
        .map_ok(move |event| {
            if let watcher::Event::Delete(s) = &event {
                let ns = s.namespace().unwrap_or_default();
                ctx.deleted("Secret", &ns, &s.name_any());
            }
            futures::stream::iter(match event {
                watcher::Event::Apply(s)
                | watcher::Event::InitApply(s)
                | watcher::Event::Delete(s) => Some(Ok(s)),
                _ => None,
            })
        })
        .try_flatten()
}

pub fn config_maps(
    client: &Client,
    namespace: Option<&str>,
) -> impl Stream<Item = Result<PartialObjectMeta<ConfigMap>, watcher::Error>> + Send + 'static {
    let cms: Api<PartialObjectMeta<ConfigMap>> = api(client, namespace);
    let selector = format!("{}={}", MANAGED_BY.0, MANAGED_BY.1);
    watcher(cms, watcher::Config::default().labels(&selector))
        .default_backoff()
        .touched_objects()
}

/// The resources a Secret change concerns; forced to re-validate when it really changed.
pub fn on_secret(ctx: &Context, secret: &PartialObjectMeta<Secret>) -> Vec<Ref> {
    let ns = secret.namespace().unwrap_or_default();
    let refs = ctx.index.users_of_secret(&ns, &secret.name_any());
    if ctx.changed("Secret", ns, secret.name_any(), secret.resource_version()) {
        ctx.force(refs.clone());
    }
    refs
}

/// The owner of a ConfigMap that someone else edited or deleted (a deletion has a new
/// resourceVersion too): it re-publishes. The operator's own writes are recorded and do not count.
pub fn on_config_map(ctx: &Context, cm: &PartialObjectMeta<ConfigMap>) -> Vec<Ref> {
    let ns = cm.namespace().unwrap_or_default();
    if !ctx.changed(
        "ConfigMap",
        ns.clone(),
        cm.name_any(),
        cm.resource_version(),
    ) {
        return Vec::new();
    }
    let refs: Vec<Ref> = cm
        .owner_references()
        .iter()
        .filter(|o| o.kind == "DatabricksIntegration")
        .map(|o| ObjectRef::new(&o.name).within(&ns))
        .collect();
    ctx.force(refs.clone());
    refs
}
