/// Why a payload could not be converted. Never carries a credential: the messages name places
/// and kinds of values, not the values of credential fields.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    #[error("invalid JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid YAML at line {line}, column {column}: {message}")]
    Yaml {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("invalid YAML: {0}")]
    YamlUnlocated(String),
    #[error(
        "unsupported integration type `{0}`: uc-operator import converts Databricks (Unity Catalog) integrations only"
    )]
    UnsupportedType(String),
    #[error("the payload holds no Databricks integration (found: {0})")]
    NoDatabricks(String),
    #[error("the payload holds {} Databricks integrations ({}): choose one with --id", .0.len(), .0.join(", "))]
    Ambiguous(Vec<String>),
    #[error("the payload holds no Databricks integration with id `{0}`")]
    IdNotFound(String),
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "invalid name `{0}`: a DatabricksIntegration name is lowercase letters, digits and '-', starts and ends with a letter or digit, at most 50 characters (Secret names derive from it)"
    )]
    InvalidName(String),
}

/// An `Invalid` error at `path` (a payload field such as `config.port`, or a flag).
pub(super) fn invalid(path: impl Into<String>, message: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}
