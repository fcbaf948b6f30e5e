//! The reconcile's pure decisions, read from the resource alone (so they survive restarts) and
//! unit-tested: which flow it is in, whether it is due, whether compute may be started, whether
//! the flow was already announced, and which integration holds a workspace.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use kube::ResourceExt;

use crate::api::{DatabricksIntegration, Phase, TestStatus};
use crate::checks::{BASIC_CONNECTION_TEST, ComputePolicy};
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
fn basic_connection_passed(dbi: &DatabricksIntegration) -> bool {
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

/// The workspace a connection points at, as `host[:port]` lower-cased: the key of the
/// one-integration-per-workspace rule.
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

/// Whether an integration holds its workspace: only one that passed validation once (was
/// enabled, or is validated now) does, so a broken resource never blocks a later valid one.
fn holds_workspace(d: &DatabricksIntegration) -> bool {
    d.status.as_ref().is_some_and(|s| {
        s.bootstrap
            .as_ref()
            .is_some_and(|b| b.applied_spec_hash.is_some())
            || s.conditions
                .iter()
                .any(|c| c.type_ == super::status::VALIDATED && c.status == "True")
    })
}

/// The older integration among `others` that holds the same workspace, as (workspace,
/// `<namespace>/<name>`).
pub fn duplicate_of<'a>(
    dbi: &DatabricksIntegration,
    others: impl IntoIterator<Item = &'a DatabricksIntegration>,
) -> Option<(String, String)> {
    let key = workspace_key(dbi)?;
    let order = |d: &DatabricksIntegration| {
        (
            d.metadata.creation_timestamp.clone().map(|t| t.0),
            d.namespace().unwrap_or_default(),
            d.name_any(),
        )
    };
    others
        .into_iter()
        .filter(|o| o.uid() != dbi.uid() && o.metadata.deletion_timestamp.is_none())
        .filter(|o| holds_workspace(o))
        .filter(|o| workspace_key(o).as_ref() == Some(&key))
        .filter(|o| order(o) < order(dbi))
        .min_by_key(|o| order(o))
        .map(|o| {
            let name = format!("{}/{}", o.namespace().unwrap_or_default(), o.name_any());
            (key.clone(), name)
        })
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use serde_json::json;

    use super::*;
    use crate::api::{
        DatabricksIntegrationStatus, SetupMode, SetupStatus, ValidationResults, ValidationTest,
    };

    fn dbi(name: &str, url: &str, created: i64) -> DatabricksIntegration {
        let mut d: DatabricksIntegration = serde_json::from_value(json!({
            "apiVersion": "uc-operator.dev/v1alpha1",
            "kind": "DatabricksIntegration",
            "metadata": {"name": name, "namespace": "ns", "uid": name, "generation": 2},
            "spec": {
                "workspaceUrl": url,
                "httpPath": "/sql/1.0/warehouses/w",
                "authenticationType": "token",
                "tokenSecretRef": {"name": "t"},
                "catalog": "gov"
            }
        }))
        .unwrap();
        d.metadata.creation_timestamp = Some(Time(Timestamp::from_second(created).unwrap()));
        d
    }

    fn with_status(
        mut d: DatabricksIntegration,
        phase: Phase,
        observed: i64,
        set_up: bool,
    ) -> DatabricksIntegration {
        d.status = Some(DatabricksIntegrationStatus {
            phase: Some(phase),
            observed_generation: Some(observed),
            bootstrap: Some(SetupStatus {
                mode: SetupMode::Automatic,
                script_config_map: None,
                applied_spec_hash: set_up.then(|| "h".into()),
            }),
            ..Default::default()
        });
        d
    }

    #[test]
    fn flows_follow_the_status() {
        let d = dbi("a", "ws.cloud.databricks.com", 0);
        assert_eq!(Flow::of(&d), Flow::Create);
        assert_eq!(
            Flow::of(&with_status(d.clone(), Phase::CreateError, 2, true)),
            Flow::Create
        );
        // Enabled once, never set up (no hash): still a create.
        assert_eq!(
            Flow::of(&with_status(d.clone(), Phase::Enabled, 2, false)),
            Flow::Create
        );
        assert_eq!(
            Flow::of(&with_status(d.clone(), Phase::Enabled, 2, true)),
            Flow::Recheck
        );
        assert_eq!(
            Flow::of(&with_status(d.clone(), Phase::Enabled, 1, true)),
            Flow::Edit
        );
        assert_eq!(
            Flow::of(&with_status(d.clone(), Phase::EditError, 2, true)),
            Flow::Edit
        );
        assert_eq!(
            Flow::of(&with_status(d, Phase::RecurringValidationError, 2, true)),
            Flow::Recheck
        );
        assert_eq!(Flow::Recheck.error_phase(), Phase::RecurringValidationError);
        assert_eq!(Flow::Edit.in_progress_phase(), Phase::Editing);
        assert!(Flow::Recheck.announcement().is_none());
    }

    #[test]
    fn due_after_the_interval_only_when_enabled() {
        let mut d = with_status(
            dbi("a", "ws.cloud.databricks.com", 0),
            Phase::Enabled,
            2,
            true,
        );
        d.spec.revalidation_interval = "10m".into();
        let last = Timestamp::from_second(1_000).unwrap();
        d.status.as_mut().unwrap().last_validation_time = Some(Time(last));
        let at = |s: i64| Timestamp::from_second(1_000 + s).unwrap();
        let due = until_due("a", last, Duration::from_secs(600)).as_secs() as i64;
        assert!((300..900).contains(&due), "{due}");
        assert_eq!(
            not_due(&d, at(60)),
            Some(Duration::from_secs(due as u64 - 60))
        );
        assert_eq!(not_due(&d, at(due)), None);
        assert_eq!(not_due(&d, at(due + 1)), None);
        d.status.as_mut().unwrap().phase = Some(Phase::RecurringValidationError);
        assert_eq!(
            not_due(&d, at(60)),
            None,
            "a failing resource is always due"
        );
        assert_eq!(interval(&d), Duration::from_secs(600));
    }

    #[test]
    fn rechecks_of_integrations_created_together_spread_over_the_interval() {
        let interval = Duration::from_secs(3600);
        let last = Timestamp::from_second(1_700_000_000).unwrap();
        let waits: Vec<u64> = (0..200)
            .map(|i| until_due(&format!("uid-{i}"), last, interval).as_secs())
            .collect();
        assert!(waits.iter().all(|w| (1800..5400).contains(w)), "{waits:?}");
        // Every tenth of the interval gets some of the 200, none gets more than a fifth.
        let mut buckets = [0usize; 10];
        for w in &waits {
            buckets[((w - 1800) / 360) as usize] += 1;
        }
        assert!(buckets.iter().all(|&n| n > 0 && n < 40), "{buckets:?}");
        // Stable: the same resource gets the same slot again.
        assert_eq!(
            until_due("uid-7", last, interval),
            until_due("uid-7", last, interval)
        );
    }

    #[test]
    fn a_new_request_is_acted_on_once() {
        let mut d = with_status(
            dbi("a", "ws.cloud.databricks.com", 0),
            Phase::Enabled,
            2,
            true,
        );
        assert_eq!(new_request(&d), None);
        d.metadata.annotations =
            Some([(crate::api::REQUESTED_AT.to_string(), "t1".to_string())].into());
        assert_eq!(new_request(&d).as_deref(), Some("t1"));
        d.status.as_mut().unwrap().last_handled_reconcile_at = Some("t1".into());
        assert_eq!(new_request(&d), None);
    }

    #[test]
    fn compute_may_start_only_on_the_first_attempt_or_until_the_connection_passed() {
        let d = dbi("a", "ws.cloud.databricks.com", 0);
        assert_eq!(compute_policy(&d, Flow::Create), ComputePolicy::MayStart);
        let mut retry = with_status(d.clone(), Phase::CreateError, 2, false);
        assert!(announced(&retry, Flow::Create));
        assert_eq!(
            compute_policy(&retry, Flow::Create),
            ComputePolicy::MayStart
        );
        retry.status.as_mut().unwrap().validation_results = Some(ValidationResults {
            status: TestStatus::Failed,
            validation_tests: vec![ValidationTest {
                name: BASIC_CONNECTION_TEST.into(),
                status: TestStatus::Passed,
                message: None,
                result: None,
            }],
        });
        assert_eq!(
            compute_policy(&retry, Flow::Create),
            ComputePolicy::OnlyIfRunning
        );
        let enabled = with_status(d, Phase::Enabled, 2, true);
        assert_eq!(
            compute_policy(&enabled, Flow::Recheck),
            ComputePolicy::OnlyIfRunning
        );
    }

    #[test]
    fn announced_once_per_generation() {
        let d = dbi("a", "ws.cloud.databricks.com", 0);
        assert!(!announced(&d, Flow::Create));
        assert!(announced(
            &with_status(d.clone(), Phase::Creating, 2, false),
            Flow::Create
        ));
        assert!(!announced(
            &with_status(d.clone(), Phase::Creating, 1, false),
            Flow::Create
        ));
        assert!(!announced(
            &with_status(d, Phase::Enabled, 1, true),
            Flow::Edit
        ));
    }

    #[test]
    fn the_oldest_integration_holds_the_workspace() {
        let held = |d| with_status(d, Phase::Enabled, 2, true);
        let a = held(dbi("a", "https://WS.cloud.databricks.com:443", 10));
        let b = held(dbi("b", "ws.cloud.databricks.com", 20));
        let c = held(dbi("c", "ws.cloud.databricks.com:8443", 5));
        assert_eq!(
            workspace_key(&a).as_deref(),
            Some("ws.cloud.databricks.com")
        );
        assert_eq!(
            workspace_key(&c).as_deref(),
            Some("ws.cloud.databricks.com:8443")
        );
        let all = [a.clone(), b.clone(), c.clone()];
        assert_eq!(duplicate_of(&a, &all), None);
        assert_eq!(
            duplicate_of(&b, &all),
            Some(("ws.cloud.databricks.com".into(), "ns/a".into()))
        );
        assert_eq!(
            duplicate_of(&c, &all),
            None,
            "another port is another workspace"
        );
        let mut deleting = a.clone();
        deleting.metadata.deletion_timestamp = deleting.metadata.creation_timestamp.clone();
        assert_eq!(duplicate_of(&b, &[deleting]), None);
        // An older resource that never passed validation (wrong token) holds nothing.
        let broken = with_status(a, Phase::CreateError, 2, false);
        assert_eq!(duplicate_of(&b, &[broken]), None);
    }
}
