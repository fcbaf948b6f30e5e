//! `validate --secrets-dir DIR`: secret values from files `DIR/<secret-name>/<key>`, the layout
//! of Secrets mounted as volumes at `DIR/<secret-name>` and easy to write from CI secrets.

use std::path::PathBuf;

use crate::credentials::{SecretError, SecretSource, decode};
use crate::secret::SecretString;

pub struct SecretsDir {
    root: PathBuf,
}

impl SecretsDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn read(&self, name: &str, key: &str) -> Result<SecretString, SecretError> {
        let path = self.root.join(name).join(key);
        let error = |reason: String| SecretError::File {
            path: path.display().to_string(),
            reason,
        };
        // Names and keys come from the manifest: none may climb out of the directory.
        if !is_plain_segment(name) || !is_plain_segment(key) {
            return Err(error("not a Secret name and key".into()));
        }
        let bytes = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => error("not found".into()),
            _ => error(e.to_string()),
        })?;
        decode(&bytes).ok_or_else(|| error("is empty".into()))
    }
}

impl SecretSource for SecretsDir {
    async fn value(&mut self, name: &str, key: &str) -> Result<SecretString, SecretError> {
        self.read(name, key)
    }
}

/// Kubernetes Secret names and keys use `[-._a-zA-Z0-9]`; `.` and `..` are no file names.
fn is_plain_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[(&str, &str, &str)]) -> PathBuf {
        let root = std::env::temp_dir().join(format!("uc-secrets-dir-{}", uuid::Uuid::new_v4()));
        for (name, key, value) in files {
            std::fs::create_dir_all(root.join(name)).unwrap();
            std::fs::write(root.join(name).join(key), value).unwrap();
        }
        root
    }

    #[tokio::test]
    async fn values_are_read_trimmed_and_errors_name_the_file_only() {
        let root = dir_with(&[
            ("sp-token", "token", "dapi-123\n"),
            ("blank", "token", " \n"),
        ]);
        let mut dir = SecretsDir::new(&root);
        assert_eq!(
            dir.value("sp-token", "token").await.unwrap().expose(),
            "dapi-123"
        );

        let missing = dir
            .value("sp-token", "other")
            .await
            .unwrap_err()
            .to_string();
        assert!(missing.ends_with("sp-token/other: not found"), "{missing}");
        let blank = dir.value("blank", "token").await.unwrap_err().to_string();
        assert!(blank.ends_with("blank/token: is empty"), "{blank}");
        assert!(!missing.contains("dapi-123") && !blank.contains("dapi-123"));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[tokio::test]
    async fn names_cannot_leave_the_directory() {
        let root = dir_with(&[("inner", "token", "t")]);
        let mut dir = SecretsDir::new(root.join("inner"));
        for (name, key) in [
            ("..", "inner/token"),
            ("..", "token"),
            ("a/b", "c"),
            ("x", ""),
        ] {
            let e = dir.value(name, key).await.unwrap_err().to_string();
            assert!(e.contains("not a Secret name and key"), "{name}/{key}: {e}");
        }
        assert!(is_plain_segment(".dockerconfigjson"));
        std::fs::remove_dir_all(root).unwrap();
    }
}
