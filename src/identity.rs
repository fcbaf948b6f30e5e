//! Which integration a catalog belongs to: the installation (one per cluster, `--installation-id`)
//! plus the resource's namespace and name. Its `marker` is what setup writes on the catalog (tag
//! and comment) and what ownership is judged by, so it is defined here and nowhere else.

/// The installation identity used when `--installation-id` is not given.
pub const DEFAULT_INSTALLATION: &str = "default";

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IntegrationId {
    pub installation: String,
    pub namespace: String,
    pub name: String,
}

impl IntegrationId {
    pub fn new(installation: &str, namespace: &str, name: &str) -> Self {
        IntegrationId {
            installation: installation.to_string(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// `<installation>/<namespace>/<name>`: unique across clusters sharing a metastore as long
    /// as their installation identities differ.
    pub fn marker(&self) -> String {
        format!("{}/{}/{}", self.installation, self.namespace, self.name)
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
}
