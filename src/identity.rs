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

    /// `<installation>/<namespace>/<name>`: unique across clusters sharing a metastore as long
    /// as their installation identities differ. What setup writes.
    pub fn marker(&self) -> String {
        self.marker_under(&self.installation)
    }

    fn marker_under(&self, installation: &str) -> String {
        format!("{}/{}/{}", installation, self.namespace, self.name)
    }

    /// Every marker that names this integration: its own first, then those under the earlier
    /// identities it still recognises.
    pub fn markers(&self) -> Vec<String> {
        std::iter::once(&self.installation)
            .chain(&self.also)
            .map(|i| self.marker_under(i))
            .collect()
    }

    /// Whether `marker` names this integration.
    pub fn is_marker(&self, marker: &str) -> bool {
        self.markers().iter().any(|m| m == marker)
    }

    /// `<namespace>/<name>`, for messages.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_names_the_installation() {
        let a = IntegrationId::new("prod-eu", "team", "analytics");
        let b = IntegrationId::new("prod-us", "team", "analytics");
        assert_eq!(a.marker(), "prod-eu/team/analytics");
        assert_ne!(a.marker(), b.marker());
        assert_eq!(a.resource(), "team/analytics");
    }

    #[test]
    fn a_defaulted_installation_also_recognises_the_legacy_default_marker() {
        let defaulted = IntegrationId::of(&Installation::defaulted("uid-1"), "team", "a");
        assert_eq!(defaulted.marker(), "uid-1/team/a");
        assert!(defaulted.is_marker("uid-1/team/a"));
        assert!(defaulted.is_marker("default/team/a"));
        assert!(!defaulted.is_marker("uid-2/team/a"));
        assert!(!defaulted.is_marker("default/team/b"));

        // Pinned, only its own marker: another cluster's legacy catalogs are not its own.
        let pinned = IntegrationId::of(&Installation::pinned("prod"), "team", "a");
        assert_eq!(pinned.markers(), ["prod/team/a"]);
        assert!(!pinned.is_marker("default/team/a"));
    }
}
