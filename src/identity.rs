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

    /// `<installation>:<namespace>:<name>`, each part with any character but `A-Z a-z 0-9 _ -`
    /// written `~XX` (its UTF-8 bytes in hex): unique across clusters sharing a metastore as long
    /// as their installation identities differ, and a value governed tags accept (they forbid
    /// `* . / < > % & ? \ =` in values).
    pub fn marker(&self) -> String {
        let parts = [&self.installation, &self.namespace, &self.name];
        parts.map(|p| escape(p)).join(":")
    }

    /// The marker of earlier releases, `<installation>/<namespace>/<name>`: still recognised on
    /// catalogs they set up, never written.
    pub fn legacy_marker(&self) -> String {
        format!("{}/{}/{}", self.installation, self.namespace, self.name)
    }

    /// Whether `value` is this integration's marker, in either form.
    pub fn is_marker(&self, value: &str) -> bool {
        value == self.marker() || value == self.legacy_marker()
    }

    /// `<namespace>/<name>`, for messages.
    pub fn resource(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
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
