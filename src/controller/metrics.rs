//! Prometheus metrics: reconciles and their duration, failures by reason, Databricks requests by
//! endpoint and status, and integrations by phase (counted from the watch cache at scrape time, so
//! it can never drift from what the cluster holds).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kube::runtime::reflector::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::api::{DatabricksIntegration, Phase};
use crate::databricks::RequestEvent;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: String,
    method: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabels {
    scope: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PhaseLabels {
    phase: String,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Counter,
    reconcile_duration: Histogram,
    failures: Family<ReasonLabels, Counter>,
    deferred: Family<ScopeLabels, Counter>,
    requests: Family<RequestLabels, Counter>,
    request_duration: Family<EndpointLabels, Histogram>,
    phases: Arc<PhaseCollector>,
    leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("uc_operator");
        let reconciles = Counter::default();
        registry.register(
            "reconciles",
            "Reconciliations of DatabricksIntegrations",
            reconciles.clone(),
        );
        let reconcile_duration = Histogram::new(exponential_buckets(0.01, 2.0, 14));
        registry.register_with_unit(
            "reconcile_duration",
            "How long a reconciliation took",
            prometheus_client::registry::Unit::Seconds,
            reconcile_duration.clone(),
        );
        let failures = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "reconcile_failures",
            "Failed reconciliations by reason",
            failures.clone(),
        );
        let deferred = Family::<ScopeLabels, Counter>::default();
        registry.register(
            "reconciles_deferred",
            "Reconciles put back because their namespace or workspace was over its share of the workers",
            deferred.clone(),
        );
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "databricks_requests",
            "Requests to Databricks by endpoint, method and HTTP status (or the transport error)",
            requests.clone(),
        );
        let request_duration = Family::<EndpointLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.005, 2.0, 14))
        });
        registry.register_with_unit(
            "databricks_request_duration",
            "Duration of requests to Databricks by endpoint",
            prometheus_client::registry::Unit::Seconds,
            request_duration.clone(),
        );
        let phases = Arc::new(PhaseCollector::default());
        registry.register_collector(Box::new(phases.clone()));
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 when this replica reconciles (it leads, or runs without leader election), 0 while it waits",
            leader.clone(),
        );
        Metrics {
            registry,
            reconciles,
            reconcile_duration,
            failures,
            deferred,
            requests,
            request_duration,
            phases,
            leader,
        }
    }
}

/// The `status` label of a response: the codes Databricks and its gateways answer, by number;
/// anything else by class, so a hostile server cannot mint a label value per request.
fn status_label(code: u16) -> String {
    const KNOWN: &[u16] = &[
        200, 201, 204, 400, 401, 403, 404, 409, 413, 429, 500, 501, 502, 503, 504,
    ];
    if KNOWN.contains(&code) {
        code.to_string()
    } else {
        match code {
            100..=599 => format!("{}xx", code / 100),
            _ => "other".into(),
        }
    }
}

impl Metrics {
    pub fn reconciled(&self, took: Duration) {
        self.reconciles.inc();
        self.reconcile_duration.observe(took.as_secs_f64());
    }

    /// A reconcile put back by fair admission (`scope`: namespace or workspace).
    pub fn deferred(&self, scope: &'static str) {
        self.deferred.get_or_create(&ScopeLabels { scope }).inc();
    }

    pub fn failed(&self, reason: &str) {
        self.failures
            .get_or_create(&ReasonLabels {
                reason: reason.to_string(),
            })
            .inc();
    }

    /// Records one Databricks request; endpoints are route templates, never ids or secrets.
    pub fn databricks_request(&self, event: &RequestEvent) {
        let status = event
            .status
            .map_or_else(|| event.outcome.as_str().to_string(), status_label);
        self.requests
            .get_or_create(&RequestLabels {
                endpoint: event.endpoint.to_string(),
                method: event.method.to_string(),
                status,
            })
            .inc();
        self.request_duration
            .get_or_create(&EndpointLabels {
                endpoint: event.endpoint.to_string(),
            })
            .observe(event.duration.as_secs_f64());
    }

    /// Whether this replica reconciles: the "no replica leads" alert sums it over the replicas.
    pub fn set_leader(&self, leading: bool) {
        self.leader.set(i64::from(leading));
    }

    /// Lets `integrations{phase}` count the resources in the controller's cache.
    pub fn count_phases_from(&self, store: Store<DatabricksIntegration>) {
        let _ = self.phases.store.set(store);
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("metrics encode to a String");
        out
    }

    /// The classic Prometheus text format (0.0.4), for scrapers and tools (promtool) that do
    /// not ask for OpenMetrics.
    pub fn render_prometheus(&self) -> String {
        to_prometheus_text(&self.render())
    }
}

/// OpenMetrics names a counter family without `_total` in HELP/TYPE and has UNIT and EOF
/// lines; the Prometheus text format names the family as its samples and has neither.
fn to_prometheus_text(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| line.strip_prefix(p).map(|rest| (p, rest)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                let name = if counters.contains(name) {
                    format!("{name}_total")
                } else {
                    name.to_string()
                };
                out.push_str(&format!("{prefix}{name} {tail}\n"));
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_labels_are_a_closed_set() {
        assert_eq!(status_label(429), "429");
        assert_eq!(status_label(418), "4xx");
        assert_eq!(status_label(299), "2xx");
        assert_eq!(status_label(999), "other");
        let labels: std::collections::HashSet<String> = (0..=u16::MAX).map(status_label).collect();
        assert!(labels.len() <= 21, "{labels:?}");
    }

    #[test]
    fn prometheus_text_names_counters_like_their_samples() {
        let m = Metrics::default();
        m.failed("AuthenticationFailed");
        let text = m.render_prometheus();
        assert!(
            text.contains("# HELP uc_operator_reconcile_failures_total Failed"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE uc_operator_reconcile_failures_total counter"),
            "{text}"
        );
        assert!(
            text.contains(
                "uc_operator_reconcile_failures_total{reason=\"AuthenticationFailed\"} 1"
            )
        );
        assert!(!text.contains("# EOF") && !text.contains("# UNIT"));
        assert!(m.render().ends_with("# EOF\n"));
    }

    #[test]
    fn a_replica_says_whether_it_leads() {
        let m = Metrics::default();
        assert!(m.render_prometheus().contains("\nuc_operator_leader 0\n"));
        m.set_leader(true);
        assert!(m.render_prometheus().contains("\nuc_operator_leader 1\n"));
    }
}

#[derive(Debug, Default)]
struct PhaseCollector {
    store: OnceLock<Store<DatabricksIntegration>>,
}

impl Collector for PhaseCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let family = Family::<PhaseLabels, Gauge>::default();
        // Every phase is always present, so a dashboard sees zeros rather than gaps.
        for phase in Phase::ALL.iter().copied() {
            let _ = family.get_or_create(&PhaseLabels {
                phase: phase.as_str().to_string(),
            });
        }
        if let Some(store) = self.store.get() {
            for dbi in store.state() {
                if let Some(phase) = dbi.status.as_ref().and_then(|s| s.phase) {
                    family
                        .get_or_create(&PhaseLabels {
                            phase: phase.as_str().to_string(),
                        })
                        .inc();
                }
            }
        }
        let metric = encoder.encode_descriptor(
            "integrations",
            "DatabricksIntegrations by phase",
            None,
            family.metric_type(),
        )?;
        family.encode(metric)
    }
}
