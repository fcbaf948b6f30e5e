//! Lease-based leader election (kube-lease-manager): of several replicas exactly one reconciles;
//! when it dies its Lease expires and a standby takes over.

use kube::Client;
use kube_lease_manager::LeaseManagerBuilder;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::info;

use super::server::Shutdown;

pub struct Leadership {
    rx: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<kube_lease_manager::LeaseManager>>,
}

impl Leadership {
    /// Waits until this replica holds the Lease; `None` when shut down first.
    pub async fn acquire(
        client: Client,
        namespace: &str,
        lease: &str,
        duration_secs: u64,
        shutdown: Shutdown,
    ) -> Result<Option<Leadership>, String> {
        let identity = std::env::var("POD_NAME")
            .unwrap_or_else(|_| format!("uc-operator-{}", uuid::Uuid::new_v4().simple()));
        let manager = LeaseManagerBuilder::new(client, lease)
            .with_namespace(namespace)
            .with_identity(identity.clone())
            .with_duration(duration_secs)
            .with_grace((duration_secs / 3).max(1))
            .with_field_manager("uc-operator")
            .build()
            .await
            .map_err(|e| e.to_string())?;
        let (mut rx, task) = manager.watch().await;
        info!(%identity, lease = %format!("{namespace}/{lease}"), "waiting to lead");
        loop {
            if *rx.borrow_and_update() {
                info!(%identity, "leading");
                return Ok(Some(Leadership { rx, task }));
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() {
                    return Err("the Lease task ended".into());
                },
                _ = shutdown.wait() => return Ok(None),
            }
        }
    }

    /// Resolves when the Lease is lost.
    pub fn lost(&self) -> impl std::future::Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.rx.clone();
        async move {
            while *rx.borrow_and_update() {
                if rx.changed().await.is_err() {
                    return;
                }
            }
        }
    }

    pub fn is_leader(&self) -> bool {
        *self.rx.borrow()
    }

    /// Gives the Lease up so a standby takes over at once rather than after it expires.
    pub async fn release(self) {
        drop(self.rx);
        let _ = self.task.await;
    }
}
