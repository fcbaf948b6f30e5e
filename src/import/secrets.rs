//! The Secrets an import writes: one per connection and kind (`<prefix>-token`,
//! `<prefix>-oauth`), several keys each, with the keys the user must still fill.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::build::to_yaml;
use super::fields::Credential;

#[derive(Default)]
pub(super) struct Secrets {
    /// Secret name → key → value. Holds the payload's credentials: never printed but as YAML.
    data: BTreeMap<String, BTreeMap<String, String>>,
    /// Secret name → keys the user must fill.
    to_fill: BTreeMap<String, Vec<String>>,
}

impl Secrets {
    /// Stores a credential in `secret`/`key` (empty when the payload has none) and returns the
    /// note for the user, which names the Secret and never the value.
    pub(super) fn put(
        &mut self,
        secret: &str,
        key: &str,
        what: &str,
        where_: &str,
        cred: Credential,
    ) -> String {
        let data = self.data.entry(secret.to_string()).or_default();
        let why = match cred {
            Credential::Value(v) => {
                data.insert(key.to_string(), v.expose().to_string());
                return format!(
                    "{where_}: the {what} from the payload is in Secret {secret} (key {key})"
                );
            }
            Credential::Placeholder => "is a placeholder in the payload",
            Credential::Missing => "is not in the payload",
        };
        data.insert(key.to_string(), String::new());
        self.to_fill
            .entry(secret.to_string())
            .or_default()
            .push(key.to_string());
        format!(
            "{where_}: the {what} {why}: fill Secret {secret} (key {key}) before the integration can validate"
        )
    }

    /// The Secret objects in name order, and their YAML documents (each followed by `---`), a
    /// Secret with keys to fill preceded by a comment that says which.
    pub(super) fn finish(self, namespace: Option<&str>) -> (Vec<Secret>, String) {
        let mut yaml = String::new();
        let mut secrets = Vec::new();
        for (name, data) in self.data {
            let secret = Secret {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    namespace: namespace.map(str::to_string),
                    // Credentials opt in: without the label the operator refuses the Secret.
                    labels: Some(std::collections::BTreeMap::from([(
                        crate::credentials::CREDENTIALS_LABEL.to_string(),
                        "true".to_string(),
                    )])),
                    ..Default::default()
                },
                type_: Some("Opaque".into()),
                string_data: Some(data),
                ..Default::default()
            };
            if let Some(keys) = self.to_fill.get(&name) {
                yaml.push_str(&format!(
                    "# FILL IN before the integration can validate: {}\n",
                    keys.join(", ")
                ));
            }
            yaml.push_str(&to_yaml(&secret));
            yaml.push_str("---\n");
            secrets.push(secret);
        }
        (secrets, yaml)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;

    #[test]
    fn values_are_stored_and_absent_ones_marked_to_fill() {
        let mut s = Secrets::default();
        let kept = s.put(
            "x-oauth",
            "clientSecret",
            "OAuth client secret",
            "config",
            Credential::Value(SecretString::new("s3cret")),
        );
        assert_eq!(
            kept,
            "config: the OAuth client secret from the payload is in Secret x-oauth (key clientSecret)"
        );
        let placeholder = s.put(
            "x-oauth",
            "tls.key",
            "key",
            "config",
            Credential::Placeholder,
        );
        assert!(
            placeholder
                .contains("is a placeholder in the payload: fill Secret x-oauth (key tls.key)")
        );
        let missing = s.put("a-token", "token", "token", "c", Credential::Missing);
        assert!(missing.contains("is not in the payload"));
        assert!(!format!("{kept}{placeholder}{missing}").contains("s3cret"));

        let (secrets, yaml) = s.finish(Some("ns"));
        let names: Vec<_> = secrets
            .iter()
            .filter_map(|s| s.metadata.name.as_deref())
            .collect();
        assert_eq!(names, ["a-token", "x-oauth"]);
        let oauth = secrets[1].string_data.as_ref().unwrap();
        assert_eq!(
            (oauth["clientSecret"].as_str(), oauth["tls.key"].as_str()),
            ("s3cret", "")
        );
        assert_eq!(secrets[0].metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(
            yaml.matches("# FILL IN before the integration can validate: ")
                .count(),
            2
        );
        assert!(yaml.contains("validate: tls.key\n"));
        assert_eq!(yaml.matches("---\n").count(), 2);
    }

    #[test]
    fn a_secret_with_every_value_has_no_fill_in_comment() {
        let mut s = Secrets::default();
        s.put("t", "token", "token", "c", Credential::Value("v".into()));
        let (_, yaml) = s.finish(None);
        assert!(
            !yaml.contains("FILL IN") && !yaml.contains("namespace"),
            "{yaml}"
        );
    }
}
