//! One-namespace mode: the RoleBinding that grants the operator its rights in the watched
//! namespace lives in that namespace, so deleting the namespace deletes it too — and with it the
//! rights to finish the deletions there (status, finalizer), which would then hang for ever. The
//! chart gives that RoleBinding the finalizer [`HOLD`]; the operator lets it go once no resource of
//! the namespace still waits for its cleanup, or at once when the namespace itself stays (the
//! release is being uninstalled).

use std::time::Duration;

use futures::TryStreamExt;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::api::rbac::v1::RoleBinding;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, ResourceExt};
use tracing::{info, warn};

use crate::api::{DatabricksIntegration, FINALIZER};

/// The finalizer the chart puts on the watched namespace's RoleBinding.
pub const HOLD: &str = "uc-operator.dev/rbac";

/// How often a held binding is re-checked while deletions are still running.
const RECHECK: Duration = Duration::from_secs(2);

/// Whether the held binding may go now: only once it is being deleted, and then when its
/// namespace stays or no resource there still waits for its cleanup.
pub fn may_release(binding_deleted: bool, namespace_stays: bool, waiting: usize) -> bool {
    binding_deleted && (namespace_stays || waiting == 0)
}

/// Watches the RoleBinding `name` of `namespace` and releases it when [`may_release`] says so.
/// Runs until the process ends; errors are logged and retried.
pub async fn hold(client: Client, namespace: String, name: String) {
    let bindings: Api<RoleBinding> = Api::namespaced(client.clone(), &namespace);
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher(bindings.clone(), config)
        .default_backoff()
        .applied_objects();
    let mut stream = std::pin::pin!(stream);
    loop {
        match stream.try_next().await {
            Ok(Some(rb)) if held_and_deleted(&rb) => {
                release(&client, &bindings, &namespace, &name).await;
            }
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(e) => warn!(error = %e, binding = %name, "watching the RoleBinding failed"),
        }
    }
}

fn held_and_deleted(rb: &RoleBinding) -> bool {
    rb.metadata.deletion_timestamp.is_some() && rb.finalizers().iter().any(|f| f == HOLD)
}

/// Waits until the binding may go, then removes [`HOLD`] from it.
async fn release(client: &Client, bindings: &Api<RoleBinding>, namespace: &str, name: &str) {
    let dbis: Api<DatabricksIntegration> = Api::namespaced(client.clone(), namespace);
    let mut said = None;
    loop {
        let stays = namespace_stays(client, namespace).await;
        match waiting(&dbis).await {
            Ok(n) if may_release(true, stays, n) => break,
            // Said when the count changes, not every few seconds.
            Ok(n) if said != Some(n) => {
                said = Some(n);
                info!(waiting = n, binding = %name, "holding the RoleBinding until the deletions in its namespace finish");
            }
            Ok(_) => {}
            Err(e) => warn!(error = %e, "listing the resources of the namespace failed"),
        }
        tokio::time::sleep(RECHECK).await;
    }
    match remove_hold(bindings, name).await {
        Ok(()) => info!(binding = %name, "released the RoleBinding"),
        // The watch sees the binding again if it is still held: the next event retries.
        Err(e) => warn!(error = %e, binding = %name, "releasing the RoleBinding failed"),
    }
}

/// Resources of the namespace still carrying the cleanup finalizer.
async fn waiting(dbis: &Api<DatabricksIntegration>) -> Result<usize, kube::Error> {
    let list = dbis.list(&Default::default()).await?;
    Ok(list
        .items
        .iter()
        .filter(|d| d.finalizers().iter().any(|f| f == FINALIZER))
        .count())
}

/// Whether the namespace is not being deleted. Unknown (the read failed) counts as being
/// deleted: the binding is then held until the deletions finish, which is never wrong.
async fn namespace_stays(client: &Client, namespace: &str) -> bool {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.get_opt(namespace).await {
        Ok(Some(ns)) => ns.metadata.deletion_timestamp.is_none(),
        Ok(None) => false,
        Err(e) => {
            warn!(error = %e, %namespace, "reading the namespace failed");
            false
        }
    }
}

/// Removes [`HOLD`], guarded by the resourceVersion read (a conflict is retried).
async fn remove_hold(bindings: &Api<RoleBinding>, name: &str) -> Result<(), kube::Error> {
    loop {
        let Some(rb) = bindings.get_opt(name).await? else {
            return Ok(());
        };
        let rest: Vec<String> = rb
            .finalizers()
            .iter()
            .filter(|f| *f != HOLD)
            .cloned()
            .collect();
        if rest.len() == rb.finalizers().len() {
            return Ok(());
        }
        let patch = serde_json::json!({
            "metadata": {"finalizers": rest, "resourceVersion": rb.resource_version()}
        });
        match bindings
            .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
            other => return other.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::may_release;

    #[test]
    fn a_binding_goes_only_when_deleted_and_nothing_waits_or_the_namespace_stays() {
        assert!(!may_release(false, true, 0), "not being deleted: kept");
        assert!(!may_release(false, false, 0));
        // A namespace teardown: held while a resource still waits for its cleanup.
        assert!(!may_release(true, false, 2));
        assert!(may_release(true, false, 0));
        // An uninstall (the namespace stays): released at once.
        assert!(may_release(true, true, 2));
    }
}
