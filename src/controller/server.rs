//! The HTTP endpoints: Prometheus `/metrics`, and `/healthz` and `/readyz` for probes; plus the
//! process's shutdown signal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::sync::watch;

use super::RunError;
use super::metrics::Metrics;

/// What `/readyz` answers. A standby waiting for the Lease is ready: otherwise a rolling update
/// of a leader-elected Deployment deadlocks (the new pod waits for a Lease the old one keeps
/// until the new pod is ready), and a PodDisruptionBudget counts standbys as disrupted.
#[derive(Clone, Default)]
pub struct Readiness(Arc<AtomicU8>);

const STARTING: u8 = 0;
const STANDBY: u8 = 1;
const READY: u8 = 2;

impl Readiness {
    /// Waiting for the leader Lease.
    pub fn set_standby(&self) {
        self.0.store(STANDBY, Ordering::SeqCst);
    }
    /// Leading (or not electing), with the watch cache not synced yet.
    pub fn set_starting(&self) {
        self.0.store(STARTING, Ordering::SeqCst);
    }
    /// The watch cache has synced.
    pub fn set_ready(&self) {
        self.0.store(READY, Ordering::SeqCst);
    }

    fn answer(&self) -> (StatusCode, &'static str) {
        match self.0.load(Ordering::SeqCst) {
            READY => (StatusCode::OK, "ok"),
            STANDBY => (StatusCode::OK, "ok: standby, waiting for the leader Lease"),
            _ => (
                StatusCode::SERVICE_UNAVAILABLE,
                "watch cache not synced yet",
            ),
        }
    }
}

/// SIGTERM or Ctrl-C, shared by every part that must stop.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

pub fn shutdown_signal() -> Shutdown {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install the SIGTERM handler");
        tokio::select! {
            _ = term.recv() => {},
            _ = tokio::signal::ctrl_c() => {},
        }
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    Shutdown(rx)
}

/// OpenMetrics when the scraper asks for it (Prometheus does), else the classic text format.
async fn metrics(
    State(metrics): State<Arc<Metrics>>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    if openmetrics {
        (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            metrics.render(),
        )
    } else {
        (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            metrics.render_prometheus(),
        )
    }
}

async fn readyz(State(ready): State<Readiness>) -> impl IntoResponse {
    ready.answer()
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<tokio::net::TcpListener, RunError> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| RunError::Serve { what, addr, source })
}

/// Binds both listeners (so a bad address fails at start) and serves them in the background.
pub async fn spawn(
    metrics_addr: SocketAddr,
    health_addr: SocketAddr,
    metrics_state: Arc<Metrics>,
    ready: Readiness,
) -> Result<(), RunError> {
    let metrics_app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(metrics_state);
    let health_app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(ready);
    let m = bind("metrics", metrics_addr).await?;
    let h = bind("health", health_addr).await?;
    tracing::info!(%metrics_addr, %health_addr, "serving metrics and probes");
    tokio::spawn(async move { axum::serve(m, metrics_app).await });
    tokio::spawn(async move { axum::serve(h, health_app).await });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_standby_is_ready_and_a_leader_only_once_synced() {
        let ready = Readiness::default();
        assert_eq!(ready.answer().0, StatusCode::SERVICE_UNAVAILABLE);
        ready.set_standby();
        assert_eq!(ready.answer().0, StatusCode::OK);
        ready.set_starting();
        assert_eq!(ready.answer().0, StatusCode::SERVICE_UNAVAILABLE);
        ready.set_ready();
        assert_eq!(ready.answer(), (StatusCode::OK, "ok"));
    }
}
