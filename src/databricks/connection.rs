//! How to reach a workspace: host and port, the compute behind `httpPath`, and the credentials.

use futures::future::BoxFuture;

use crate::secret::SecretString;

/// The spec's default OAuth scope.
const DEFAULT_SCOPE: &str = "all-apis";

/// The Azure Databricks application id (databricks-sdk-go `common/environment/environments.go`,
/// the same in the public, government and China clouds).
const AZURE_DATABRICKS_APP_ID: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d";

/// Entra ID v2.0 wants `<resource>/.default` as the scope.
const AZURE_DATABRICKS_SCOPE: &str = "2ff814a6-3304-4ab8-85cb-cd0e6f879c1d/.default";

/// The Entra ID login hosts of the public, US government and China clouds
/// (databricks-sdk-go `common/environment/azure.go`, plus the older China endpoint).
const ENTRA_LOGIN_HOSTS: &[&str] = &[
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
];

/// A connection setting that cannot work, found before any request is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid workspaceUrl {url:?}: {reason}")]
    WorkspaceUrl { url: String, reason: &'static str },
    #[error(
        "invalid httpPath {path:?}: expected /sql/1.0/warehouses/<id> or \
         sql/protocolv1/o/<org-id>/<cluster-id>"
    )]
    HttpPath { path: String },
    #[error("invalid authorityUrl {url:?}: {reason}")]
    AuthorityUrl { url: String, reason: &'static str },
    #[error(
        "invalid publicCertificateThumbprint: expected 40 (SHA-1) or 64 (SHA-256) hex characters"
    )]
    Thumbprint,
    #[error("invalid private key: not a PEM-encoded RSA private key ({0})")]
    PrivateKey(String),
    #[error("invalid CA bundle: {0}")]
    CaBundle(String),
    #[error("invalid --allowed-hosts pattern {pattern:?}: {reason}")]
    AllowedHosts {
        pattern: String,
        reason: &'static str,
    },
}

/// The compute that runs SQL, from `httpPath`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Compute {
    Warehouse { id: String },
    Cluster { org_id: String, cluster_id: String },
}

/// Where a workload identity's tokens come from (a Kubernetes ServiceAccount, through the
/// TokenRequest API): this module knows nothing of Kubernetes, only that it gets a JWT for the
/// audience the identity provider trusts.
pub trait SubjectTokenSource: Send + Sync {
    /// A JWT to present as `subject_token` or `client_assertion`; cached by the source no longer
    /// than it lives. Its errors name the ServiceAccount, never the token.
    fn subject_token(&self) -> BoxFuture<'_, Result<SecretString, SubjectTokenError>>;
    /// What identifies the source (namespace, ServiceAccount and audience): two sources with
    /// the same identity give interchangeable tokens.
    fn identity(&self) -> &str;
}

/// Why no subject token could be had; the message is for the resource's status.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SubjectTokenError {
    pub message: String,
    /// Only a user can fix it (the ServiceAccount is gone, the audience refused), as opposed to
    /// an API server hiccup.
    pub permanent: bool,
}

/// A shared [`SubjectTokenSource`], compared and printed by its identity.
#[derive(Clone)]
pub struct SubjectTokens(pub std::sync::Arc<dyn SubjectTokenSource>);

impl std::fmt::Debug for SubjectTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SubjectTokens({})", self.0.identity())
    }
}

impl PartialEq for SubjectTokens {
    fn eq(&self, other: &Self) -> bool {
        self.0.identity() == other.0.identity()
    }
}

impl Eq for SubjectTokens {}

/// The credentials, with secret values already resolved from Kubernetes Secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthConfig {
    Token(SecretString),
    OAuthSecret {
        client_id: String,
        client_secret: SecretString,
        /// `None`: OIDC discovery on the workspace, falling back to `https://<host>/oidc/v1/token`.
        token_url: Option<String>,
        scope: String,
    },
    OAuthCertificate {
        client_id: String,
        thumbprint_hex: String,
        private_key_pem: SecretString,
        token_url: String,
        scope: String,
        /// The certificate (`tls.crt` next to the key), public: only its `notAfter` is read.
        certificate_pem: Option<String>,
    },
    /// Workload identity federation: a JWT from `subject` exchanged for an access token, at the
    /// workspace's (or a Databricks `token_url`'s) endpoint with the RFC 8693 token-exchange
    /// grant, or at an Entra `token_url` as a client assertion.
    OAuthFederated {
        client_id: String,
        token_url: Option<String>,
        scope: String,
        subject: SubjectTokens,
    },
}

impl AuthConfig {
    /// Which kind of credential this is, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            AuthConfig::Token(_) => "personal access token",
            AuthConfig::OAuthSecret { .. } => "OAuth client secret",
            AuthConfig::OAuthCertificate { .. } => "OAuth client certificate",
            AuthConfig::OAuthFederated { .. } => "workload identity",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionConfig {
    pub host: String,
    pub port: u16,
    pub compute: Compute,
    pub auth: AuthConfig,
}

impl ConnectionConfig {
    /// `https://host[:port]`, without the port when it is 443.
    pub fn base_url(&self) -> String {
        if self.port == 443 {
            format!("https://{}", self.host)
        } else {
            format!("https://{}:{}", self.host, self.port)
        }
    }

    /// `host` or `host:port`: how the workspace is named in messages.
    pub fn display_host(&self) -> String {
        if self.port == 443 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Splits `workspaceUrl` (`host`, `host:port` or `https://host[:port]`) into host and port; a
/// port in the URL wins over `default_port`.
pub fn parse_workspace_url(url: &str, default_port: u16) -> Result<(String, u16), ConfigError> {
    let err = |reason| ConfigError::WorkspaceUrl {
        url: url.to_owned(),
        reason,
    };
    let trimmed = url.trim();
    let rest = match trimmed.split_once("://") {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => rest,
        Some(_) => return Err(err("only https:// is supported")),
        None => trimmed,
    };
    // A single trailing slash is what a browser copy gives; anything after it is a path.
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.contains(['/', '?', '#']) {
        return Err(err("must not contain a path, query or fragment"));
    }
    if rest.contains('@') {
        return Err(err("must not contain user information"));
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) => {
            let port: u16 = port
                .parse()
                .map_err(|_| err("the port is not a number from 1 to 65535"))?;
            if port == 0 {
                return Err(err("the port is not a number from 1 to 65535"));
            }
            (host, port)
        }
        None => (rest, default_port),
    };
    if host.is_empty() {
        return Err(err("the host is empty"));
    }
    if !host
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(err("the host has characters a host name cannot have"));
    }
    Ok((host.to_ascii_lowercase(), port))
}

/// Reads the warehouse or cluster from `httpPath` (leading slash optional).
pub fn parse_http_path(path: &str) -> Result<Compute, ConfigError> {
    let err = || ConfigError::HttpPath {
        path: path.to_owned(),
    };
    let trimmed = path.trim();
    let p = trimmed.strip_prefix('/').unwrap_or(trimmed);
    // ^/?sql/1\.0/(warehouses|endpoints)/([^/?]+)/?$
    for prefix in ["sql/1.0/warehouses/", "sql/1.0/endpoints/"] {
        if let Some(rest) = p.strip_prefix(prefix) {
            let id = rest.strip_suffix('/').unwrap_or(rest);
            if id.is_empty() || id.contains(['/', '?']) {
                return Err(err());
            }
            return Ok(Compute::Warehouse { id: id.to_owned() });
        }
    }
    // ^/?sql/protocolv1/o/(\d+)/([^/?&]+)
    if let Some(rest) = p.strip_prefix("sql/protocolv1/o/") {
        let (org_id, rest) = rest.split_once('/').ok_or_else(err)?;
        if org_id.is_empty() || !org_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let end = rest.find(['/', '?', '&']).unwrap_or(rest.len());
        let cluster_id = &rest[..end];
        if cluster_id.is_empty() {
            return Err(err());
        }
        return Ok(Compute::Cluster {
            org_id: org_id.to_owned(),
            cluster_id: cluster_id.to_owned(),
        });
    }
    Err(err())
}

/// Normalises a configured `authorityUrl`: `https://` is assumed when no scheme is given.
pub fn normalize_token_url(url: &str) -> Result<String, ConfigError> {
    let trimmed = url.trim();
    let err = |reason| ConfigError::AuthorityUrl {
        url: trimmed.to_owned(),
        reason,
    };
    let full = match trimmed.split_once("://") {
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => trimmed.to_owned(),
        Some(_) => return Err(err("only https:// is supported")),
        None => format!("https://{trimmed}"),
    };
    let host = full["https://".len()..]
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    if host.is_empty() {
        return Err(err("the host is empty"));
    }
    Ok(full)
}

/// Which Entra ID token endpoint a URL is: they take the client credentials in the form body
/// and an Azure resource, as a v2.0 `scope` or a v1 `resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Entra {
    /// `/<tenant>/oauth2/token`: `resource=<application id>` (databricks-sdk-go
    /// `config/auth_azure_client_secret.go` uses this form).
    V1,
    /// `/<tenant>/oauth2/v2.0/token`: `scope=<application id>/.default`.
    V2,
}

/// The Entra endpoint `url` is, by its path, or by its host for other paths on a login host.
/// Whether a configured `authorityUrl` is a Microsoft Entra ID token endpoint.
pub fn entra_authority(url: &str) -> bool {
    entra_endpoint(url).is_some()
}

pub(crate) fn entra_endpoint(url: &str) -> Option<Entra> {
    let lower = url.to_ascii_lowercase();
    let rest = lower.strip_prefix("https://").unwrap_or(&lower);
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let path = path.trim_end_matches('/');
    if path.ends_with("oauth2/v2.0/token") {
        Some(Entra::V2)
    } else if path.ends_with("oauth2/token") {
        Some(Entra::V1)
    } else if ENTRA_LOGIN_HOSTS.contains(&host) {
        Some(Entra::V2)
    } else {
        None
    }
}

/// The v2.0 scope to ask Entra for: the Azure Databricks resource when the configured scope is
/// the Databricks default.
pub(crate) fn entra_scope(scope: &str) -> &str {
    if scope.is_empty() || scope == DEFAULT_SCOPE {
        AZURE_DATABRICKS_SCOPE
    } else {
        scope
    }
}

/// The v1 `resource`: a configured `<resource>/.default` scope names it; otherwise Azure
/// Databricks.
pub(crate) fn entra_resource(scope: &str) -> &str {
    match entra_scope(scope).strip_suffix("/.default") {
        Some(resource) if !resource.is_empty() => resource,
        _ => AZURE_DATABRICKS_APP_ID,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_urls() {
        let ok = |u: &str| parse_workspace_url(u, 443).unwrap();
        assert_eq!(
            ok("www.example.cloud.databricks.com"),
            ("www.example.cloud.databricks.com".into(), 443)
        );
        assert_eq!(ok("localhost:8443"), ("localhost".into(), 8443));
        assert_eq!(
            ok("https://Adb-1.azuredatabricks.net"),
            ("adb-1.azuredatabricks.net".into(), 443)
        );
        assert_eq!(ok("https://host:9443/"), ("host".into(), 9443));
        assert_eq!(
            parse_workspace_url("host", 8443).unwrap(),
            ("host".into(), 8443)
        );
        assert_eq!(
            parse_workspace_url("host:1234", 8443).unwrap(),
            ("host".into(), 1234)
        );
        for bad in [
            "http://host",
            "https://host/path",
            "host?x=1",
            "",
            "https://",
            "host:0",
            "host:x",
            "u@host",
            "ftp://h",
        ] {
            assert!(parse_workspace_url(bad, 443).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_paths() {
        let wh = |id: &str| Compute::Warehouse { id: id.into() };
        assert_eq!(
            parse_http_path("/sql/1.0/warehouses/abc123").unwrap(),
            wh("abc123")
        );
        assert_eq!(
            parse_http_path("sql/1.0/endpoints/abc123/").unwrap(),
            wh("abc123")
        );
        assert_eq!(
            parse_http_path("sql/protocolv1/o/0/0000-00000-abc123").unwrap(),
            Compute::Cluster {
                org_id: "0".into(),
                cluster_id: "0000-00000-abc123".into()
            }
        );
        assert_eq!(
            parse_http_path("/sql/protocolv1/o/1234/0000-00000-abc123/extra").unwrap(),
            Compute::Cluster {
                org_id: "1234".into(),
                cluster_id: "0000-00000-abc123".into()
            }
        );
        for bad in [
            "",
            "/sql/1.0/warehouses/",
            "/sql/1.0/warehouses/a/b",
            "sql/protocolv1/o/x1/c",
            "sql/protocolv1/o/1/",
            "/sql/2.0/warehouses/a",
        ] {
            assert!(parse_http_path(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_urls() {
        assert_eq!(
            normalize_token_url("login.microsoftonline.com/t/oauth2/v2.0/token").unwrap(),
            "https://login.microsoftonline.com/t/oauth2/v2.0/token"
        );
        assert!(normalize_token_url("http://x/token").is_err());
        let entra = |u: &str| entra_endpoint(u);
        assert_eq!(
            entra("https://login.microsoftonline.com/t/oauth2/v2.0/token"),
            Some(Entra::V2)
        );
        assert_eq!(
            entra("https://localhost:1/tenant/oauth2/v2.0/token"),
            Some(Entra::V2)
        );
        assert_eq!(
            entra("https://login.microsoftonline.us/t/oauth2/token"),
            Some(Entra::V1)
        );
        assert_eq!(
            entra("https://login.chinacloudapi.cn/t/other"),
            Some(Entra::V2)
        );
        assert_eq!(
            entra("https://LOGIN.PARTNER.MICROSOFTONLINE.CN:443/t"),
            Some(Entra::V2)
        );
        assert_eq!(entra("https://ws/oidc/v1/token"), None);
        assert_eq!(
            entra("https://login.microsoftonline.com.evil.com/oidc/v1/token"),
            None
        );
        assert_eq!(entra_scope("all-apis"), AZURE_DATABRICKS_SCOPE);
        assert_eq!(entra_scope("custom"), "custom");
        assert_eq!(entra_resource("all-apis"), AZURE_DATABRICKS_APP_ID);
        assert_eq!(entra_resource("abc/.default"), "abc");
        assert_eq!(entra_resource("custom"), AZURE_DATABRICKS_APP_ID);
    }
}
