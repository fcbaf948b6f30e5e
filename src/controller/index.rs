//! What the controller looks up across resources, kept from the resource's own watch events:
//! which integrations use a Secret (a rotation re-validates exactly those, without scanning every
//! integration per Secret event), which integrations exist (by UID, for workspace claims) and how
//! many namespaces hold integrations (fair admission).

use std::collections::{HashMap, HashSet};
use std::sync::RwLock;

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
    relist: std::sync::Mutex<Option<Entries>>,
}

#[derive(Default)]
struct Entries {
    /// Each integration's UID and Secrets, to undo its entries when it changes or goes.
    entries_of: HashMap<(String, String), (String, Vec<String>)>,
    uids: HashSet<String>,
    /// (namespace, Secret) → the names of the integrations that reference it.
    users: HashMap<(String, String), HashSet<String>>,
    /// Integrations per namespace.
    per_namespace: HashMap<String, usize>,
}

impl Entries {
    fn insert(&mut self, dbi: &DatabricksIntegration) {
        self.remove(dbi);
        let (ns, name) = (dbi.namespace().unwrap_or_default(), dbi.name_any());
        let secrets = dbi.spec.secret_names();
        for secret in &secrets {
            self.users
                .entry((ns.clone(), secret.clone()))
                .or_default()
                .insert(name.clone());
        }
        *self.per_namespace.entry(ns.clone()).or_default() += 1;
        let uid = dbi.uid().unwrap_or_default();
        self.uids.insert(uid.clone());
        self.entries_of.insert((ns, name), (uid, secrets));
    }

    fn remove(&mut self, dbi: &DatabricksIntegration) {
        let (ns, name) = (dbi.namespace().unwrap_or_default(), dbi.name_any());
        let Some((uid, secrets)) = self.entries_of.remove(&(ns.clone(), name.clone())) else {
            return;
        };
        self.uids.remove(&uid);
        for secret in secrets {
            let key = (ns.clone(), secret);
            if let Some(users) = self.users.get_mut(&key) {
                users.remove(&name);
                if users.is_empty() {
                    self.users.remove(&key);
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
    /// Follows one event of the integrations' watch (before the cache sees it).
    pub fn observe(&self, event: &Event<DatabricksIntegration>) {
        let mut relist = self.relist.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            Event::Init => *relist = Some(Entries::default()),
            Event::InitApply(dbi) => match relist.as_mut() {
                Some(entries) => entries.insert(dbi),
                None => self.write().insert(dbi),
            },
            Event::InitDone => {
                if let Some(entries) = relist.take() {
                    *self.write() = entries;
                }
            }
            Event::Apply(dbi) => self.write().insert(dbi),
            Event::Delete(dbi) => self.write().remove(dbi),
        }
    }

    /// The integrations in `namespace` that reference the Secret `name`.
    pub fn users_of_secret(&self, namespace: &str, name: &str) -> Vec<Ref> {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        live.users
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
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        live.uids.contains(uid)
    }

    /// How many namespaces hold at least one integration.
    pub fn namespaces(&self) -> usize {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        live.per_namespace.len()
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
        index.observe(&Event::Apply(dbi("a", "one", "s")));
        index.observe(&Event::Apply(dbi("a", "two", "s")));
        index.observe(&Event::Apply(dbi("b", "three", "s")));
        assert_eq!(names(index.users_of_secret("a", "s")), ["one", "two"]);
        assert_eq!(names(index.users_of_secret("b", "s")), ["three"]);
        assert_eq!(index.namespaces(), 2);
        assert!(index.alive("three"));

        // An edit moves the reference; a deletion removes it.
        index.observe(&Event::Apply(dbi("a", "two", "other")));
        assert_eq!(names(index.users_of_secret("a", "s")), ["one"]);
        assert_eq!(names(index.users_of_secret("a", "other")), ["two"]);
        index.observe(&Event::Delete(dbi("b", "three", "s")));
        assert!(index.users_of_secret("b", "s").is_empty());
        assert_eq!(index.namespaces(), 1);
        assert!(!index.alive("three"));
        assert!(index.alive("two"), "an edit keeps the integration");
    }

    #[test]
    fn a_relist_forgets_what_was_deleted_while_the_watch_was_down() {
        let index = Index::default();
        index.observe(&Event::Apply(dbi("a", "gone", "s")));
        index.observe(&Event::Apply(dbi("b", "kept", "t")));
        index.observe(&Event::Init);
        index.observe(&Event::InitApply(dbi("b", "kept", "t")));
        // Until the re-list completes, the old entries still answer.
        assert_eq!(names(index.users_of_secret("a", "s")), ["gone"]);
        index.observe(&Event::InitDone);
        assert!(index.users_of_secret("a", "s").is_empty());
        assert_eq!(names(index.users_of_secret("b", "t")), ["kept"]);
        assert_eq!(index.namespaces(), 1);
    }
}
