//! A string that holds a credential (token, client secret, private key).
//!
//! It has no `Serialize` and prints as `REDACTED` through `Debug` and `Display`, so a secret can
//! only reach a log line, an error message or a status field through an explicit `expose()`.

use std::fmt;

use serde::{Deserialize, Deserializer};

/// A secret value; `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself: only for the places that must send it (an HTTP header, a form body,
    /// a signing key) or hash it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for SecretString {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("REDACTED")
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let secret = SecretString::from("dapi-very-secret");
        for rendered in [
            format!("{secret}"),
            format!("{secret:?}"),
            format!("{secret:#?}"),
            format!("{:>40}", secret),
            format!("{:?}", Some(&secret)),
            format!("{:?}", vec![secret.clone()]),
        ] {
            assert!(!rendered.contains("very-secret"), "{rendered}");
            assert!(rendered.contains("REDACTED"));
        }
        assert_eq!(secret.expose(), "dapi-very-secret");
    }

    #[test]
    fn deserializes_from_a_string() {
        let secret: SecretString = serde_json::from_str("\"s3cr3t\"").unwrap();
        assert_eq!(secret.expose(), "s3cr3t");
        assert_eq!(
            SecretString::from(String::from("x")),
            SecretString::new("x")
        );
    }
}
