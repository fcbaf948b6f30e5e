//! What the controller keeps per integration besides the watch cache, from the integrations'
//! own watch events, in a few words each:
//! - whether a change is one to act on (a new generation, finalizers or `requestedAt`; status
//!   writes are not) — the predicate filter, kept here instead of kube's per-object map;
//! - which integrations use a Secret (a rotation re-validates exactly those, without scanning
//!   every integration per Secret event);
//! - which integrations exist, by UID (workspace claims), and how many namespaces hold
//!   integrations (fair admission).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Mutex, OnceLock, RwLock};

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher::Event;

use crate::api::DatabricksIntegration;

type Ref = ObjectRef<DatabricksIntegration>;

#[derive(Default)]
pub struct Index {
    live: RwLock<Entries>,
    /// Built during a re-list, swapped in when it is complete (objects deleted while the watch
    /// was down then disappear from the index too).
    relist: Mutex<Option<Entries>>,
}

/// One integration, keyed by a hash of its namespace and name.
struct Entry {
    uid: u64,
    secrets: Vec<String>,
    /// A hash of what wakes a reconcile when it changes.
    trigger: u64,
}

#[derive(Default)]
struct Entries {
    of: HashMap<u64, Entry>,
    /// (namespace, Secret) → the names of the integrations that reference it.
    users: HashMap<(String, String), HashSet<String>>,
    uids: HashSet<u64>,
    per_namespace: HashMap<String, usize>,
}

/// A short, fixed-size stand-in for names and versions kept per integration or Secret. Keyed
/// per process: names are the tenants', and with a known key two of them could be chosen to
/// collide.
pub(super) fn hash(value: impl Hash) -> u64 {
    static KEYS: OnceLock<RandomState> = OnceLock::new();
    KEYS.get_or_init(RandomState::new).hash_one(value)
}

fn key(dbi: &DatabricksIntegration) -> u64 {
    hash((
        dbi.metadata.namespace.as_deref(),
        dbi.metadata.name.as_deref(),
    ))
}

/// What a reconcile acts on: a new generation (spec edits and deletion), finalizers, or a new
/// `uc-operator.dev/requestedAt` (annotations change no generation). The operator's own status
/// writes change none of them: a request it handled reads the same from the status (the cache
/// drops the annotation then, `cache.rs`).
fn trigger(dbi: &DatabricksIntegration) -> u64 {
    let handled = dbi
        .status
        .as_ref()
        .and_then(|s| s.last_handled_reconcile_at.as_ref());
    let requested = dbi.annotations().get(crate::api::REQUESTED_AT).or(handled);
    hash((dbi.metadata.generation, &dbi.metadata.finalizers, requested))
}

impl Entries {
    /// Records `dbi`; whether it is new or changed in what wakes a reconcile (compared with
    /// `before` during a re-list).
    fn insert(&mut self, dbi: &DatabricksIntegration, before: Option<u64>) -> bool {
        let (ns, name) = (dbi.namespace().unwrap_or_default(), dbi.name_any());
        let secrets = dbi.spec.secret_names();
        for secret in &secrets {
            self.users
                .entry((ns.clone(), secret.clone()))
                .or_default()
                .insert(name.clone());
        }
        *self.per_namespace.entry(ns).or_default() += 1;
        let uid = hash(dbi.uid().unwrap_or_default());
        self.uids.insert(uid);
        let trigger = trigger(dbi);
        self.of.insert(
            key(dbi),
            Entry {
                uid,
                secrets,
                trigger,
            },
        );
        before != Some(trigger)
    }

    /// `insert` of an object that may already be there (its old Secret users go first).
    fn replace(&mut self, dbi: &DatabricksIntegration) -> bool {
        let before = self.of.get(&key(dbi)).map(|e| e.trigger);
        self.remove(dbi);
        self.insert(dbi, before)
    }

    fn remove(&mut self, dbi: &DatabricksIntegration) {
        let Some(entry) = self.of.remove(&key(dbi)) else {
            return;
        };
        self.uids.remove(&entry.uid);
        let (ns, name) = (dbi.namespace().unwrap_or_default(), dbi.name_any());
        for secret in entry.secrets {
            let users_key = (ns.clone(), secret);
            if let Some(users) = self.users.get_mut(&users_key) {
                users.remove(&name);
                if users.is_empty() {
                    self.users.remove(&users_key);
                }
            }
        }
        if let Some(count) = self.per_namespace.get_mut(&ns) {
            *count -= 1;
            if *count == 0 {
                self.per_namespace.remove(&ns);
            }
        }
    }
}

impl Index {
    /// Follows one event of the integrations' watch; the object when it should be reconciled
    /// (new, or changed in what wakes a reconcile).
    pub fn follow(&self, event: Event<DatabricksIntegration>) -> Option<DatabricksIntegration> {
        let mut relist = self.relist.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Init => {
                *relist = Some(Entries::default());
                None
            }
            Event::InitApply(dbi) => {
                let changed = match relist.as_mut() {
                    Some(entries) => {
                        let before = self.read().of.get(&key(&dbi)).map(|e| e.trigger);
                        entries.insert(&dbi, before)
                    }
                    None => self.write().replace(&dbi),
                };
                changed.then_some(dbi)
            }
            Event::InitDone => {
                if let Some(entries) = relist.take() {
                    *self.write() = entries;
                }
                None
            }
            Event::Apply(dbi) => self.write().replace(&dbi).then_some(dbi),
            Event::Delete(dbi) => {
                self.write().remove(&dbi);
                None
            }
        }
    }

    /// The integrations in `namespace` that reference the Secret `name`.
    pub fn users_of_secret(&self, namespace: &str, name: &str) -> Vec<Ref> {
        self.read()
            .users
            .get(&(namespace.to_string(), name.to_string()))
            .map(|users| {
                users
                    .iter()
                    .map(|n| ObjectRef::new(n).within(namespace))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether an integration with this UID exists.
    pub fn alive(&self, uid: &str) -> bool {
        self.read().uids.contains(&hash(uid))
    }

    /// How many namespaces hold at least one integration.
    pub fn namespaces(&self) -> usize {
        self.read().per_namespace.len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.live.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.live.write().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dbi(ns: &str, name: &str, secret: &str) -> DatabricksIntegration {
        let mut d = crate::controller::flow::tests::dbi(name, "https://ws.cloud.databricks.com", 1);
        d.metadata.namespace = Some(ns.into());
        d.spec.connection.token_secret_ref.as_mut().unwrap().name = secret.into();
        d
    }

    fn names(refs: Vec<Ref>) -> Vec<String> {
        let mut n: Vec<String> = refs.into_iter().map(|r| r.name).collect();
        n.sort();
        n
    }

    #[test]
    fn a_secret_maps_to_the_integrations_of_its_namespace_that_use_it() {
        let index = Index::default();
        index.follow(Event::Apply(dbi("a", "one", "s")));
        index.follow(Event::Apply(dbi("a", "two", "s")));
        index.follow(Event::Apply(dbi("b", "three", "s")));
        assert_eq!(names(index.users_of_secret("a", "s")), ["one", "two"]);
        assert_eq!(names(index.users_of_secret("b", "s")), ["three"]);
        assert_eq!(index.namespaces(), 2);
        assert!(index.alive("three"));

        // An edit moves the reference; a deletion removes it.
        index.follow(Event::Apply(dbi("a", "two", "other")));
        assert_eq!(names(index.users_of_secret("a", "s")), ["one"]);
        assert_eq!(names(index.users_of_secret("a", "other")), ["two"]);
        index.follow(Event::Delete(dbi("b", "three", "s")));
        assert!(index.users_of_secret("b", "s").is_empty());
        assert_eq!(index.namespaces(), 1);
        assert!(!index.alive("three"));
        assert!(index.alive("two"), "an edit keeps the integration");
    }

    #[test]
    fn only_generations_finalizers_and_requests_wake_a_reconcile() {
        let index = Index::default();
        let mut d = dbi("a", "one", "s");
        assert!(index.follow(Event::Apply(d.clone())).is_some(), "new");
        d.status = Some(Default::default());
        assert!(
            index.follow(Event::Apply(d.clone())).is_none(),
            "a status write"
        );
        d.metadata.generation = Some(3);
        assert!(index.follow(Event::Apply(d.clone())).is_some(), "an edit");
        d.metadata.finalizers = Some(vec!["uc-operator.dev/cleanup".into()]);
        assert!(
            index.follow(Event::Apply(d.clone())).is_some(),
            "a finalizer"
        );
        let requested = crate::api::REQUESTED_AT.to_string();
        d.metadata.annotations = Some([(requested.clone(), "1".into())].into());
        assert!(index.follow(Event::Apply(d.clone())).is_some(), "a request");
        assert!(index.follow(Event::Apply(d.clone())).is_none(), "the same");
        // Handled: the status says so and the cache drops the annotation; nothing to wake.
        d.status = Some(crate::api::DatabricksIntegrationStatus {
            last_handled_reconcile_at: Some("1".into()),
            ..Default::default()
        });
        crate::controller::cache::trim(&mut d);
        assert!(d.metadata.annotations.is_none());
        assert!(index.follow(Event::Apply(d.clone())).is_none(), "handled");
        d.metadata.annotations = Some([(requested, "2".into())].into());
        assert!(index.follow(Event::Apply(d.clone())).is_some(), "a new one");
        // A re-list wakes only what changed while the watch was down.
        index.follow(Event::Init);
        assert!(index.follow(Event::InitApply(d.clone())).is_none());
        d.metadata.generation = Some(4);
        let other = dbi("a", "two", "s");
        index.follow(Event::InitDone);
        index.follow(Event::Init);
        assert!(index.follow(Event::InitApply(d)).is_some());
        assert!(index.follow(Event::InitApply(other)).is_some(), "new");
        index.follow(Event::InitDone);
    }

    #[test]
    fn a_relist_forgets_what_was_deleted_while_the_watch_was_down() {
        let index = Index::default();
        index.follow(Event::Apply(dbi("a", "gone", "s")));
        index.follow(Event::Apply(dbi("b", "kept", "t")));
        index.follow(Event::Init);
        index.follow(Event::InitApply(dbi("b", "kept", "t")));
        // Until the re-list completes, the old entries still answer.
        assert_eq!(names(index.users_of_secret("a", "s")), ["gone"]);
        index.follow(Event::InitDone);
        assert!(index.users_of_secret("a", "s").is_empty());
        assert!(!index.alive("gone"));
        assert_eq!(names(index.users_of_secret("b", "t")), ["kept"]);
        assert_eq!(index.namespaces(), 1);
    }
}
