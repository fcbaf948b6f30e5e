//! What the operator configures once for every client, and what each request reports.

use std::sync::Arc;
use std::time::Duration;

use super::hosts::AllowedHosts;
use super::retry::{PollPolicy, RetryPolicy};

/// What happened to one HTTP attempt, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A 2xx response.
    Success,
    /// A non-retryable error response.
    Error,
    /// A response or failure that is retried (or would be, inside the budget).
    Retryable,
    /// No response: connection failure or timeout.
    TransportError,
}

impl Outcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Error => "error",
            Outcome::Retryable => "retryable",
            Outcome::TransportError => "transport_error",
        }
    }
}

/// One HTTP attempt. `endpoint` is a route template, never a concrete path with ids or secrets.
#[derive(Debug, Clone)]
pub struct RequestEvent {
    pub endpoint: &'static str,
    pub method: &'static str,
    pub status: Option<u16>,
    pub duration: Duration,
    pub outcome: Outcome,
}

pub type Observer = Arc<dyn Fn(&RequestEvent) + Send + Sync>;

/// Settings shared by all clients the operator builds.
#[derive(Clone)]
pub struct ClientSettings {
    /// Extra trusted CA certificates (PEM), the operator's `--ca-bundle`.
    pub ca_bundle_pem: Option<String>,
    pub retry: RetryPolicy,
    pub poll: PollPolicy,
    pub observer: Option<Observer>,
    /// Hosts credentials may be sent to (`--allowed-hosts`); default the Databricks clouds.
    pub allowed_hosts: AllowedHosts,
    /// How many per-workspace clients (and their OAuth tokens) [`super::Clients`] keeps.
    pub max_cached_clients: usize,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            ca_bundle_pem: None,
            retry: RetryPolicy::default(),
            poll: PollPolicy::default(),
            observer: None,
            allowed_hosts: AllowedHosts::default(),
            // A client is taken once per reconcile and OAuth tokens live about an hour, the
            // usual re-validation interval: more would keep memory, not tokens worth reusing.
            max_cached_clients: 256,
        }
    }
}

impl std::fmt::Debug for ClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientSettings")
            .field("ca_bundle_pem", &self.ca_bundle_pem.as_ref().map(|_| "…"))
            .field("retry", &self.retry)
            .field("poll", &self.poll)
            .field("observer", &self.observer.is_some())
            .field("allowed_hosts", &self.allowed_hosts.to_string())
            .field("max_cached_clients", &self.max_cached_clients)
            .finish()
    }
}
