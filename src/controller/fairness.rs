//! Fair admission: a reconcile starts only while its namespace and its workspace are within
//! their share of `--concurrency`; otherwise it is put back without doing anything, so that a
//! tenant with many integrations on slow endpoints cannot hold every worker.
//!
//! - A namespace alone in the cluster may use every worker. Once other namespaces hold
//!   integrations, one namespace holds at most three quarters of them (the rest stay free for
//!   the others' next reconcile), and no more than an equal share among the namespaces with
//!   reconciles in flight.
//! - A workspace (host and port) has at most `--workspace-concurrency` reconciles in flight,
//!   whichever namespaces they come from.
//!
//! A newcomer that finds every worker held waits for the first reconcile to end (at most
//! `--reconcile-timeout`), then gets its share.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// When a deferred reconcile asks again: soon (a place frees as soon as any reconcile ends),
/// spread so that the deferred ones do not all ask at once.
pub fn retry_in() -> Duration {
    Duration::from_secs(1).mul_f64(rand::random_range(0.8..1.2))
}

/// Why a reconcile was put back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deferred {
    /// Its namespace already holds this many workers, its share.
    Namespace { share: usize },
    /// Its workspace already has this many reconciles in flight.
    Workspace { cap: usize },
}

impl Deferred {
    pub fn scope(self) -> &'static str {
        match self {
            Deferred::Namespace { .. } => "namespace",
            Deferred::Workspace { .. } => "workspace",
        }
    }
}

pub struct Admission {
    concurrency: usize,
    per_workspace: usize,
    in_flight: Mutex<InFlight>,
}

#[derive(Default)]
struct InFlight {
    namespaces: HashMap<String, usize>,
    workspaces: HashMap<String, usize>,
}

/// A reconcile's place; given back when dropped (also when the reconcile is cancelled).
pub struct Permit<'a> {
    admission: &'a Admission,
    namespace: String,
    workspace: Option<String>,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut in_flight = self.admission.lock();
        release(&mut in_flight.namespaces, &self.namespace);
        if let Some(ws) = &self.workspace {
            release(&mut in_flight.workspaces, ws);
        }
    }
}

fn release(counts: &mut HashMap<String, usize>, key: &str) {
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// How many workers `namespace` may hold: all of them when it is the only namespace with
/// integrations; otherwise three quarters at most, and an equal part among the namespaces busy.
pub fn namespace_share(concurrency: usize, namespaces: usize, busy_others: usize) -> usize {
    if namespaces <= 1 {
        return concurrency.max(1);
    }
    let most = concurrency - concurrency / 4;
    let equal = concurrency / (busy_others + 1);
    most.min(equal).max(1)
}

impl Admission {
    pub fn new(concurrency: usize, per_workspace: usize) -> Self {
        Admission {
            concurrency: concurrency.max(1),
            per_workspace: per_workspace.max(1),
            in_flight: Mutex::default(),
        }
    }

    /// A place for a reconcile of an integration in `namespace` on `workspace`, when both are
    /// within their share; `namespaces` is how many namespaces hold integrations.
    pub fn admit(
        &self,
        namespace: &str,
        workspace: Option<&str>,
        namespaces: usize,
    ) -> Result<Permit<'_>, Deferred> {
        let mut in_flight = self.lock();
        if let Some(ws) = workspace {
            let running = in_flight.workspaces.get(ws).copied().unwrap_or(0);
            if running >= self.per_workspace {
                return Err(Deferred::Workspace {
                    cap: self.per_workspace,
                });
            }
        }
        let mine = in_flight.namespaces.get(namespace).copied().unwrap_or(0);
        let busy_others = in_flight.namespaces.len() - usize::from(mine > 0);
        let share = namespace_share(self.concurrency, namespaces, busy_others);
        if mine >= share {
            return Err(Deferred::Namespace { share });
        }
        *in_flight
            .namespaces
            .entry(namespace.to_string())
            .or_default() += 1;
        if let Some(ws) = workspace {
            *in_flight.workspaces.entry(ws.to_string()).or_default() += 1;
        }
        Ok(Permit {
            admission: self,
            namespace: namespace.to_string(),
            workspace: workspace.map(str::to_string),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_alone_may_use_every_worker() {
        assert_eq!(namespace_share(128, 1, 0), 128);
        assert_eq!(namespace_share(128, 0, 0), 128);
        let admission = Admission::new(4, 4);
        let held: Vec<_> = (0..4)
            .map(|i| admission.admit("a", Some(&format!("ws{i}")), 1).unwrap())
            .collect();
        assert_eq!(held.len(), 4);
    }

    #[test]
    fn with_other_namespaces_one_keeps_a_quarter_free_and_busy_ones_share_equally() {
        assert_eq!(namespace_share(128, 2, 0), 96);
        assert_eq!(namespace_share(128, 5, 1), 64);
        assert_eq!(namespace_share(128, 5, 3), 32);
        // Never nothing: even a thousand busy namespaces each get one worker.
        assert_eq!(namespace_share(128, 1000, 999), 1);
        assert_eq!(namespace_share(1, 2, 0), 1);

        let admission = Admission::new(4, 4);
        let a: Vec<_> = (0..3)
            .map(|i| admission.admit("a", Some(&format!("a{i}")), 2).unwrap())
            .collect();
        assert_eq!(
            admission.admit("a", Some("a3"), 2).err(),
            Some(Deferred::Namespace { share: 3 })
        );
        // The fourth worker is the other namespace's; once it is busy, `a` is over its half.
        let b = admission.admit("b", Some("b0"), 2).unwrap();
        drop(a);
        let _a0 = admission.admit("a", Some("a0"), 2).unwrap();
        let _a1 = admission.admit("a", Some("a1"), 2).unwrap();
        assert_eq!(
            admission.admit("a", Some("a2"), 2).err(),
            Some(Deferred::Namespace { share: 2 })
        );
        drop(b);
        assert!(admission.admit("a", Some("a2"), 2).is_ok());
    }

    #[test]
    fn a_workspace_has_at_most_its_cap_in_flight_from_any_namespace() {
        let admission = Admission::new(8, 2);
        let first = admission.admit("a", Some("ws"), 3).unwrap();
        let _second = admission.admit("b", Some("ws"), 3).unwrap();
        assert_eq!(
            admission.admit("c", Some("ws"), 3).err(),
            Some(Deferred::Workspace { cap: 2 })
        );
        assert!(admission.admit("c", Some("other"), 3).is_ok());
        drop(first);
        assert!(admission.admit("c", Some("ws"), 3).is_ok());
    }
}
