//! Which integration a catalog belongs to: the installation (one per cluster, `--installation-id`)
//! plus the resource's namespace and name. Its `marker` is what setup writes on the catalog (tag
//! and comment) and what ownership is judged by, so it is defined here and nowhere else.

/// The installation identity earlier releases used when `--installation-id` was not given;
/// catalogs they created carry markers under it.
pub const LEGACY_DEFAULT_INSTALLATION: &str = "default";

/// The installation identity of the offline commands (`script`, `validate`) when none is given.
pub const DEFAULT_INSTALLATION: &str = LEGACY_DEFAULT_INSTALLATION;

/// The namespace whose UID is the default installation identity: every cluster has it, it is
/// never deleted, and its UID differs between clusters.
pub const CLUSTER_ID_NAMESPACE: &str = "kube-system";

/// The identity this process writes markers under, and the ones whose markers it also takes as
/// its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installation {
    pub id: String,
    /// Earlier identities still recognised (the legacy default, when the identity was defaulted).
    pub also: Vec<String>,
}

impl Installation {
    /// Given with `--installation-id`: only markers under it are this installation's.
    pub fn pinned(id: &str) -> Self {
        Installation {
            id: id.to_string(),
            also: Vec::new(),
        }
    }

    /// Defaulted to the cluster's identity (the `kube-system` UID). Earlier releases defaulted
    /// to `default`; catalogs they created stay this installation's, so an upgrade keeps them.
    pub fn defaulted(cluster_uid: &str) -> Self {
        Installation {
            id: cluster_uid.to_string(),
            also: vec![LEGACY_DEFAULT_INSTALLATION.to_string()],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IntegrationId {
    pub installation: String,
    pub namespace: String,
    pub name: String,
    /// Other installation ids whose markers also name this integration (see [`Installation`]).
    pub also: Vec<String>,
}

impl IntegrationId {
    pub fn new(installation: &str, namespace: &str, name: &str) -> Self {
        IntegrationId {
            installation: installation.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
            also: Vec::new(),
        }
    }

    /// The integration under `installation`, recognising its earlier identities too.
    pub fn of(installation: &Installation, namespace: &str, name: &str) -> Self {
        IntegrationId {
            also: installation.also.clone(),
            ..Self::new(&installation.id, namespace, name)
        }
    }

    /// `<installation>:<namespace>:<name>`, each part with any character but `A-Z a-z 0-9 _ -`
    /// written `~XX` (its UTF-8 bytes in hex): unique across clusters sharing a metastore as long
    /// as their installation identities differ, and a value governed tags accept (they forbid
    /// `* . / < > % & ? \ =` in values). What setup writes.
    pub fn marker(&self) -> String {
        marker_under(&self.installation, &self.namespace, &self.name)
    }

    /// The marker of earlier releases, `<installation>/<namespace>/<name>`: still recognised on
    /// catalogs they set up, never written.
    pub fn legacy_marker(&self) -> String {
        legacy_under(&self.installation, &self.namespace, &self.name)
    }

    /// Every marker that names this integration: its own first, then the earlier form, then
    /// both forms under the earlier identities it still recognises.
    pub fn markers(&self) -> Vec<String> {
        std::iter::once(&self.installation)
            .chain(&self.also)
            .flat_map(|i| {
                [
                    marker_under(i, &self.namespace, &self.name),
                    legacy_under(i, &self.namespace, &self.name),
                ]
            })
            .collect()
    }

    /// Whether `value` names this integration, in any form it recognises.
    pub fn is_marker(&self, value: &str) -> bool {
        self.markers().iter().any(|m| m == value)
    }

    /// `<namespace>/<name>`, for messages.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

fn marker_under(installation: &str, namespace: &str, name: &str) -> String {
    [installation, namespace, name].map(escape).join(":")
}

fn legacy_under(installation: &str, namespace: &str, name: &str) -> String {
    format!("{installation}/{namespace}/{name}")
}

/// A marker part with every character outside `A-Z a-z 0-9 _ -` written `~XX`.
fn escape(part: &str) -> String {
    let mut out = String::with_capacity(part.len());
    for c in part.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else {
            let mut buf = [0; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("~{b:02x}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_the_installation() {
        let a = IntegrationId::new("prod-eu", "team", "analytics");
        let b = IntegrationId::new("prod-us", "team", "analytics");
        assert_eq!(a.marker(), "prod-eu:team:analytics");
        assert_ne!(a.marker(), b.marker());
        // Today's catalogs carry the earlier form: still this integration's.
        assert!(a.is_marker("prod-eu/team/analytics") && a.is_marker(&a.marker()));
        assert!(!a.is_marker(&b.marker()) && !a.is_marker(&b.legacy_marker()));
        assert_eq!(a.resource(), "team/analytics");
    }

    #[test]
    fn a_defaulted_installation_also_recognises_the_legacy_default_marker() {
        let defaulted = IntegrationId::of(&Installation::defaulted("uid-1"), "team", "a");
        assert_eq!(defaulted.marker(), "uid-1:team:a");
        assert!(defaulted.is_marker("uid-1/team/a"));
        assert!(defaulted.is_marker("uid-1:team:a"));
        assert!(defaulted.is_marker("default:team:a"));
        assert!(defaulted.is_marker("default/team/a"));
        assert!(!defaulted.is_marker("uid-2/team/a"));
        assert!(!defaulted.is_marker("default/team/b"));

        // Pinned, only its own marker: another cluster's legacy catalogs are not its own.
        let pinned = IntegrationId::of(&Installation::pinned("prod"), "team", "a");
        assert_eq!(pinned.markers(), ["prod:team:a", "prod/team/a"]);
        assert!(!pinned.is_marker("default/team/a"));
    }

    /// Governed tags forbid `* . / < > % & ? \ =` in values; the escape keeps parts apart.
    #[test]
    fn the_marker_is_a_governed_tag_value_and_unambiguous() {
        let id = IntegrationId::new("eu/prod:1", "team", "sales.v2");
        let marker = id.marker();
        assert_eq!(marker, "eu~2fprod~3a1:team:sales~2ev2");
        assert!(!marker.contains(['*', '.', '/', '<', '>', '%', '&', '?', '\\', '=']));
        let a = IntegrationId::new("a:b", "c", "d");
        let b = IntegrationId::new("a", "b", "c:d");
        assert_ne!(a.marker(), b.marker());
    }
}
