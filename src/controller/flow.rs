//! The reconcile's pure decisions, read from the resource alone (so they survive restarts) and
//! unit-tested: which flow it is in, whether it is due, whether compute may be started, whether
//! the flow was already announced, and the host key of a workspace.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::api::{DatabricksIntegration, Phase, TestStatus};
use crate::checks::{BASIC_CONNECTION_TEST, ComputePolicy, Stage};
use crate::databricks::parse_workspace_url;
use crate::failure::Reason;

/// Which of the contract's three flows a reconcile is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    /// Never enabled yet: `creating` → `enabled` | `createError`.
    Create,
    /// A new generation after it was enabled: `editing` → `enabled` | `editError`.
    Edit,
    /// The periodic re-check of an unchanged spec: `enabled` | `recurringValidationError`.
    Recheck,
}

impl Flow {
    /// Decides the flow from the resource's own status.
    pub fn of(dbi: &DatabricksIntegration) -> Flow {
        let status = dbi.status.as_ref();
        let phase = status.and_then(|s| s.phase);
        let set_up = status
            .and_then(|s| s.bootstrap.as_ref())
            .is_some_and(|b| b.applied_spec_hash.is_some());
        if matches!(phase, None | Some(Phase::Creating | Phase::CreateError)) || !set_up {
            return Flow::Create;
        }
        let observed = status.and_then(|s| s.observed_generation);
        if observed != dbi.metadata.generation
            || matches!(phase, Some(Phase::Editing | Phase::EditError))
        {
            Flow::Edit
        } else {
            Flow::Recheck
        }
    }

    pub fn in_progress_phase(self) -> Phase {
        match self {
            Flow::Create => Phase::Creating,
            Flow::Edit => Phase::Editing,
            Flow::Recheck => Phase::Enabled,
        }
    }

    pub fn error_phase(self) -> Phase {
        match self {
            Flow::Create => Phase::CreateError,
            Flow::Edit => Phase::EditError,
            Flow::Recheck => Phase::RecurringValidationError,
        }
    }

    /// What the checks expect at this point of the integration's life.
    pub fn stage(self) -> Stage {
        match self {
            Flow::Create => Stage::Create,
            Flow::Edit => Stage::Edit,
            Flow::Recheck => Stage::Recheck,
        }
    }

    /// The reason and message a create or edit is announced with.
    pub fn announcement(self) -> Option<(Reason, &'static str)> {
        match self {
            Flow::Create => Some((Reason::Creating, "creating: validating the integration")),
            Flow::Edit => Some((
                Reason::Editing,
                "applying the changed spec: validating the integration",
            )),
            Flow::Recheck => None,
        }
    }
}

/// `revalidationInterval` as a duration; the API server guarantees the shape and minimum.
pub fn interval(dbi: &DatabricksIntegration) -> Duration {
    humantime::parse_duration(&dbi.spec.revalidation_interval)
        .unwrap_or(Duration::from_secs(3600))
        .max(Duration::from_secs(60))
}

/// How long until an enabled resource is due for re-validation at `now`, if it is not due yet.
pub fn not_due(dbi: &DatabricksIntegration, now: Timestamp) -> Option<Duration> {
    let status = dbi.status.as_ref()?;
    if status.phase != Some(Phase::Enabled) {
        return None;
    }
    let last = status.last_validation_time.as_ref()?.0;
    let since_last = now.duration_since(last).unsigned_abs();
    let wait = until_due(
        dbi.uid().as_deref().unwrap_or_default(),
        last,
        interval(dbi),
    );
    wait.checked_sub(since_last).filter(|d| !d.is_zero())
}

/// How long after a validation at `last` the next one is due: at this resource's own slot of
/// the interval (a stable offset from its uid), so integrations created together are re-checked
/// spread over the interval instead of all at once. Between half an interval and one and a half.
pub fn until_due(uid: &str, last: Timestamp, interval: Duration) -> Duration {
    let period = interval.as_secs().max(1);
    let offset = stable_hash(uid) % period;
    let last_secs = u64::try_from(last.as_second()).unwrap_or(0);
    // Seconds from `last` to the next instant whose position in the period is `offset`.
    let to_slot = (offset + period - last_secs % period) % period;
    let wait = if to_slot < period / 2 {
        to_slot + period
    } else {
        to_slot
    };
    Duration::from_secs(wait)
}

fn stable_hash(s: &str) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(s.as_bytes());
    u64::from_le_bytes(digest[..8].try_into().unwrap_or_default())
}

/// How long a new `requestedAt` must still wait at `now`: requests re-validate a resource at
/// most once per `spacing` (the contract's minute), counted from its last validation.
pub fn request_wait(
    dbi: &DatabricksIntegration,
    now: Timestamp,
    spacing: Duration,
) -> Option<Duration> {
    let last = dbi.status.as_ref()?.last_validation_time.as_ref()?.0;
    let since = Duration::try_from(now.duration_since(last)).unwrap_or(Duration::ZERO);
    spacing.checked_sub(since).filter(|d| !d.is_zero())
}

/// The `uc-operator.dev/requestedAt` value when it has not been acted on yet.
pub fn new_request(dbi: &DatabricksIntegration) -> Option<String> {
    let value = dbi.annotations().get(crate::api::REQUESTED_AT)?;
    let handled = dbi
        .status
        .as_ref()
        .and_then(|s| s.last_handled_reconcile_at.as_ref());
    (handled != Some(value)).then(|| value.clone())
}

/// Whether this generation's create or edit was already announced: a retry after a failure
/// keeps its error phase until it has a new outcome, so the phase does not flap.
pub fn announced(dbi: &DatabricksIntegration, flow: Flow) -> bool {
    dbi.status.as_ref().is_some_and(|s| {
        s.observed_generation == dbi.metadata.generation
            && matches!(s.phase, Some(p) if p == flow.in_progress_phase() || p == flow.error_phase())
    })
}

/// Starting compute is expected on the first attempt of a generation, and while the basic
/// connection has not passed yet; polls and retries otherwise leave stopped compute be.
pub fn compute_policy(dbi: &DatabricksIntegration, flow: Flow) -> ComputePolicy {
    if flow != Flow::Recheck && (!announced(dbi, flow) || !basic_connection_passed(dbi)) {
        ComputePolicy::MayStart
    } else {
        ComputePolicy::OnlyIfRunning
    }
}

/// Whether the last validation of the current generation passed `Basic Connection Test`.
pub(crate) fn basic_connection_passed(dbi: &DatabricksIntegration) -> bool {
    let Some(status) = dbi.status.as_ref() else {
        return false;
    };
    status.observed_generation == dbi.metadata.generation
        && status.validation_results.as_ref().is_some_and(|v| {
            v.validation_tests
                .iter()
                .any(|t| t.name == BASIC_CONNECTION_TEST && t.status == TestStatus::Passed)
        })
}

/// The workspace a connection points at, as `host[:port]` lower-cased: the key of a workspace
/// claim until Databricks names its workspace id (`claims.rs`).
pub fn workspace_key(dbi: &DatabricksIntegration) -> Option<String> {
    let c = &dbi.spec.connection;
    let (host, port) = parse_workspace_url(&c.workspace_url, u16::try_from(c.port).ok()?).ok()?;
    let host = host.to_ascii_lowercase();
    Some(if port == 443 {
        host
    } else {
        format!("{host}:{port}")
    })
}

#[cfg(test)]
pub(crate) mod tests;
