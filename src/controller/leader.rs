//! Lease-based leader election, done the way client-go's `leaderelection` package does it
//! (k8s.io/client-go/tools/leaderelection/leaderelection.go, `tryAcquireOrRenew`): updates of a
//! `coordination.k8s.io` Lease guarded by its resourceVersion, expiry judged on the local clock from
//! when this replica last saw the record change (replicas' clocks may disagree), and a local renew
//! deadline.
//!
//! It replaces kube-lease-manager, whose renewals never report a failure as a loss (a replica cut
//! off from the API server kept leading) and whose renew patch does not check who holds the Lease.
//!
//! A leader that has not renewed within the renew deadline, or finds the Lease held by someone
//! else, exits the process at once: in-flight reconciles must not keep talking to Databricks while
//! another replica leads. The pod restarts and waits as a standby.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::Client;
use kube::api::{Api, PostParams};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, sleep_until};
use tracing::{debug, error, info, warn};

use super::server::Shutdown;

/// The timings, all derived from `--lease-duration` in client-go's proportions (15 s lease, 10 s
/// renew deadline, 2 s retry period by default there).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timings {
    /// How long a Lease lasts without renewal: a standby takes over after this.
    pub duration: Duration,
    /// A leader that has not renewed for this long stops; shorter than `duration`, so it has
    /// stopped before a standby may take over.
    pub renew_deadline: Duration,
    /// Time between attempts (renewals, or a standby's checks).
    pub retry: Duration,
}

impl Timings {
    pub fn from_secs(secs: u64) -> Timings {
        let duration = Duration::from_secs(secs.max(1));
        Timings {
            duration,
            renew_deadline: duration * 2 / 3,
            retry: (duration / 6).max(Duration::from_millis(100)),
        }
    }
}

/// This process's Lease identity: the pod name (for people reading the Lease) and a suffix new
/// to every process (a container restarted in the same pod is another holder).
fn identity(pod: Option<&str>) -> String {
    let run = uuid::Uuid::new_v4().simple().to_string();
    match pod {
        Some(pod) => format!("{pod}_{}", &run[..8]),
        None => format!("uc-operator-{run}"),
    }
}

/// What an attempt does with the record it read.
#[derive(Debug, PartialEq)]
enum Step {
    Renew,
    Take,
    Wait { holder: String },
}

/// `unchanged_for`: how long this replica has seen this very record.
fn step(spec: &LeaseSpec, me: &str, unchanged_for: Duration, default: Duration) -> Step {
    let holder = spec.holder_identity.as_deref().unwrap_or("");
    if holder == me {
        return Step::Renew;
    }
    if holder.is_empty() {
        return Step::Take;
    }
    let lasts = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .map_or(default, Duration::from_secs);
    if unchanged_for >= lasts {
        Step::Take
    } else {
        Step::Wait {
            holder: holder.into(),
        }
    }
}

/// The result of one attempt that reached the API server.
#[derive(Debug, PartialEq)]
enum Outcome {
    Holding,
    HeldBy(String),
    /// Someone wrote the Lease between our read and our write: try again.
    Conflict,
}

struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    timings: Timings,
    /// The record as last seen, and when it was first seen so.
    observed: Option<(LeaseSpec, Instant)>,
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl Elector {
    async fn try_acquire_or_renew(&mut self) -> Result<Outcome, kube::Error> {
        let Some(mut lease) = self.api.get_opt(&self.name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(self.name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(self.record(&LeaseSpec::default(), true)),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(created) => Ok(self.written(created)),
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Outcome::Conflict),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let unchanged_for = match &self.observed {
            Some((seen, at)) if *seen == spec => at.elapsed(),
            _ => {
                self.observed = Some((spec.clone(), Instant::now()));
                Duration::ZERO
            }
        };
        let taking = match step(&spec, &self.identity, unchanged_for, self.timings.duration) {
            Step::Wait { holder } => return Ok(Outcome::HeldBy(holder)),
            Step::Renew => false,
            Step::Take => true,
        };
        lease.spec = Some(self.record(&spec, taking));
        // `lease` carries the resourceVersion we read: a concurrent write makes this a 409.
        match self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
        {
            Ok(written) => Ok(self.written(written)),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(Outcome::Conflict),
            Err(e) => Err(e),
        }
    }

    fn written(&mut self, lease: Lease) -> Outcome {
        self.observed = Some((lease.spec.unwrap_or_default(), Instant::now()));
        Outcome::Holding
    }

    fn record(&self, old: &LeaseSpec, taking: bool) -> LeaseSpec {
        let secs = i32::try_from(self.timings.duration.as_secs()).unwrap_or(i32::MAX);
        LeaseSpec {
            holder_identity: Some(self.identity.clone()),
            lease_duration_seconds: Some(secs),
            acquire_time: if taking {
                Some(now())
            } else {
                old.acquire_time.clone()
            },
            renew_time: Some(now()),
            lease_transitions: if taking {
                Some(old.lease_transitions.unwrap_or(0).saturating_add(1))
            } else {
                old.lease_transitions
            },
            ..old.clone()
        }
    }

    /// Hands the Lease over at once, as client-go's `ReleaseOnCancel`: no holder, one second.
    async fn release(&mut self) {
        let result = async {
            let mut lease = self.api.get(&self.name).await?;
            let spec = lease.spec.clone().unwrap_or_default();
            if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
                return Ok(());
            }
            lease.spec = Some(LeaseSpec {
                holder_identity: None,
                lease_duration_seconds: Some(1),
                renew_time: Some(now()),
                ..spec
            });
            self.api
                .replace(&self.name, &PostParams::default(), &lease)
                .await
                .map(|_| ())
        }
        .await;
        match result {
            Ok(()) => info!("released the leader Lease"),
            Err(e) => warn!(error = %e, "could not release the leader Lease; it expires instead"),
        }
    }
}

/// This replica's leadership, held until `release` (or until the process exits on loss).
pub struct Leadership {
    stop: watch::Sender<bool>,
    task: JoinHandle<Elector>,
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
        // The pod name, for people reading the Lease, plus a per-process suffix: a container
        // restarted after losing the Lease must not find its own name there and lead at once
        // while the pod it replaced may still believe it leads.
        let identity = identity(std::env::var("POD_NAME").ok().as_deref());
        let mut elector = Elector {
            api: Api::namespaced(client, namespace),
            name: lease.to_string(),
            identity: identity.clone(),
            timings: Timings::from_secs(duration_secs),
            observed: None,
        };
        info!(%identity, lease = %format!("{namespace}/{lease}"), "waiting to lead");
        let renewed = loop {
            let started = Instant::now();
            match elector.try_acquire_or_renew().await {
                Ok(Outcome::Holding) => break started,
                Ok(Outcome::HeldBy(holder)) => debug!(%holder, "the Lease is held"),
                Ok(Outcome::Conflict) => {}
                // Missing RBAC will not fix itself: refuse to start, with the reason.
                Err(kube::Error::Api(e)) if e.code == 403 => return Err(e.to_string()),
                Err(e) => warn!(error = %e, "reading the leader Lease failed; retrying"),
            }
            tokio::select! {
                _ = sleep(elector.timings.retry) => {},
                _ = shutdown.wait() => return Ok(None),
            }
        };
        info!(%identity, "leading");
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(keep_leading(elector, renewed, stopped));
        Ok(Some(Leadership { stop, task }))
    }

    /// Stops renewing and gives the Lease up, so a standby takes over at once.
    pub async fn release(self) {
        let _ = self.stop.send(true);
        if let Ok(mut elector) = self.task.await {
            elector.release().await;
        }
    }
}

/// Logs why and exits: the hard stop that keeps two leaders from working at once.
fn lose(why: &str) -> ! {
    error!(
        reason = why,
        "lost the leader Lease: exiting so that no work goes on while another replica leads"
    );
    std::process::exit(1)
}

/// Renews every retry period until stopped; exits the process on loss. `renewed`: when the
/// attempt that last succeeded started (the Lease was renewed no earlier than that).
async fn keep_leading(
    mut elector: Elector,
    mut renewed: Instant,
    mut stopped: watch::Receiver<bool>,
) -> Elector {
    let timings = elector.timings;
    loop {
        let deadline = renewed + timings.renew_deadline;
        tokio::select! {
            biased;
            _ = stopped.wait_for(|stop| *stop) => return elector,
            _ = sleep_until(deadline) => lose("not renewed within the renew deadline"),
            _ = sleep(timings.retry) => {},
        }
        let started = Instant::now();
        tokio::select! {
            biased;
            _ = sleep_until(deadline) => lose("not renewed within the renew deadline"),
            result = elector.try_acquire_or_renew() => match result {
                Ok(Outcome::Holding) => renewed = started,
                Ok(Outcome::HeldBy(holder)) => lose(&format!("the Lease is now held by {holder}")),
                Ok(Outcome::Conflict) => debug!("the Lease changed while renewing; retrying"),
                Err(e) => warn!(error = %e, "renewing the leader Lease failed; retrying"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: &str, secs: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(secs),
            ..LeaseSpec::default()
        }
    }

    const D: Duration = Duration::from_secs(15);

    #[test]
    fn a_lease_held_by_another_is_taken_only_after_it_went_unchanged_for_its_duration() {
        let other = held_by("other", 10);
        assert_eq!(
            step(&other, "me", Duration::from_secs(9), D),
            Step::Wait {
                holder: "other".into()
            }
        );
        // The record's own duration counts, not ours.
        assert_eq!(step(&other, "me", Duration::from_secs(10), D), Step::Take);
    }

    #[test]
    fn own_free_and_released_leases() {
        assert_eq!(step(&held_by("me", 15), "me", D * 10, D), Step::Renew);
        assert_eq!(
            step(&LeaseSpec::default(), "me", Duration::ZERO, D),
            Step::Take
        );
        let released = LeaseSpec {
            holder_identity: Some(String::new()),
            ..held_by("", 1)
        };
        assert_eq!(step(&released, "me", Duration::ZERO, D), Step::Take);
        // No duration in the record: ours applies.
        let bare = LeaseSpec {
            lease_duration_seconds: None,
            ..held_by("other", 0)
        };
        assert_eq!(
            step(&bare, "me", D - Duration::from_secs(1), D),
            Step::Wait {
                holder: "other".into()
            }
        );
        assert_eq!(step(&bare, "me", D, D), Step::Take);
    }

    #[test]
    fn a_restarted_container_does_not_renew_the_lease_its_predecessor_held() {
        let before = identity(Some("uc-operator-7d9f-abcde"));
        let after = identity(Some("uc-operator-7d9f-abcde"));
        assert!(before.starts_with("uc-operator-7d9f-abcde_"), "{before}");
        assert_ne!(before, after);
        // The predecessor's unexpired Lease is waited out, not renewed.
        assert_eq!(
            step(&held_by(&before, 15), &after, Duration::ZERO, D),
            Step::Wait { holder: before }
        );
    }

    #[test]
    fn the_renew_deadline_ends_before_the_lease_and_leaves_room_for_retries() {
        for secs in [1, 2, 6, 15, 60] {
            let t = Timings::from_secs(secs);
            assert!(t.renew_deadline < t.duration, "{t:?}");
            assert!(t.retry * 3 <= t.renew_deadline, "{t:?}");
        }
        assert_eq!(
            Timings::from_secs(15).renew_deadline,
            Duration::from_secs(10)
        );
        assert_eq!(Timings::from_secs(0), Timings::from_secs(1));
    }
}
