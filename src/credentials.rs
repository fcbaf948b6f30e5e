//! Credentials: read the Secrets a spec references (only in the resource's own namespace) and
//! turn each connection into a [`ConnectionConfig`] for the Databricks client. The values come
//! from a [`SecretSource`]: the cluster ([`SecretReader`]) or, for `uc-operator validate
//! --secrets-dir`, files.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Secret, ServiceAccount};
use kube::ResourceExt;
use kube::api::Api;

use crate::api::{AuthenticationType, Connection};
use crate::databricks::{
    AllowedHosts, AuthConfig, ConfigError, ConnectionConfig, HostRestriction, SubjectTokens,
    entra_authority, parse_http_path, parse_workspace_url,
};

/// A Secret is a credential only when it carries this label set to `"true"` (opt in), so
/// naming a Secret in a spec is not a way to send another application's token anywhere.
pub const CREDENTIALS_LABEL: &str = "uc-operator.dev/credentials";
/// Comma-separated host patterns a credential Secret may additionally be limited to.
pub const ALLOWED_HOSTS_ANNOTATION: &str = "uc-operator.dev/allowed-hosts";
use crate::failure::{Failure, Reason};
use crate::secret::SecretString;

/// Why a connection could not be built; messages name the Secret and key, never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("Secret {namespace}/{name} not found")]
    NotFound { namespace: String, name: String },
    #[error(
        "Secret {namespace}/{name} is not labelled {CREDENTIALS_LABEL}=true: the operator uses only Secrets that opt in as credentials (kubectl label secret {name} -n {namespace} {CREDENTIALS_LABEL}=true)"
    )]
    NotLabelled { namespace: String, name: String },
    #[error("ServiceAccount {namespace}/{name} (workloadIdentity.serviceAccountName) not found")]
    ServiceAccountNotFound { namespace: String, name: String },
    #[error(
        "ServiceAccount {namespace}/{name} is not labelled {CREDENTIALS_LABEL}=true: the operator requests tokens only for ServiceAccounts that opt in as credentials (kubectl label serviceaccount {name} -n {namespace} {CREDENTIALS_LABEL}=true)"
    )]
    ServiceAccountNotLabelled { namespace: String, name: String },
    /// An audience the Kubernetes API server accepts, or one that could not be checked.
    #[error("{0}")]
    Audience(String),
    /// `validate --secrets-dir` has no API server to request ServiceAccount tokens from.
    #[error(
        "workloadIdentity needs the cluster's TokenRequest API: run validate with a kubeconfig, without --secrets-dir"
    )]
    NoTokenRequest,
    #[error("Secret {namespace}/{name}: annotation {ALLOWED_HOSTS_ANNOTATION}: {source}")]
    Annotation {
        namespace: String,
        name: String,
        #[source]
        source: ConfigError,
    },
    #[error("Secret {namespace}/{name} has no key {key:?}")]
    MissingKey {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("Secret {namespace}/{name} key {key:?} is empty")]
    Empty {
        namespace: String,
        name: String,
        key: String,
    },
    /// The API server's rules make this unreachable; kept so a bypass still fails cleanly.
    #[error("{0} is required")]
    Required(&'static str),
    #[error("{field}: {source}")]
    Config {
        field: &'static str,
        #[source]
        source: ConfigError,
    },
    /// A file of `validate --secrets-dir` (missing, unreadable or empty).
    #[error("secret file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("could not read ServiceAccount {namespace}/{name}: {source}")]
    KubeServiceAccount {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("could not read Secret {namespace}/{name}: {source}")]
    Kube {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}

impl From<SecretError> for Failure {
    /// Only a user can fix a missing Secret or a bad configuration; an API hiccup is retried.
    fn from(e: SecretError) -> Failure {
        let message = e.to_string();
        match e {
            SecretError::NotFound { .. }
            | SecretError::MissingKey { .. }
            | SecretError::Empty { .. }
            | SecretError::File { .. } => Failure::user(Reason::SecretNotFound, message),
            SecretError::NotLabelled { .. } | SecretError::ServiceAccountNotLabelled { .. } => {
                Failure::user(Reason::CredentialNotLabelled, message)
            }
            SecretError::ServiceAccountNotFound { .. } => {
                Failure::user(Reason::ServiceAccountNotFound, message)
            }
            SecretError::NoTokenRequest => Failure::user(Reason::InvalidConfiguration, message),
            // An issuer that could not be read is retried; a refused audience waits for a fix.
            SecretError::Audience(_) if message.starts_with("could not") => {
                Failure::retry(Reason::KubernetesError, message)
            }
            SecretError::Audience(_) => Failure::user(Reason::InvalidConfiguration, message),
            SecretError::Annotation { .. } => Failure::user(Reason::InvalidConfiguration, message),
            SecretError::Config { .. } | SecretError::Required(_) => {
                Failure::user(Reason::InvalidConfiguration, message)
            }
            SecretError::Kube { .. } | SecretError::KubeServiceAccount { .. } => {
                Failure::retry(Reason::KubernetesError, message)
            }
        }
    }
}

/// Where the secret values of a spec come from.
pub trait SecretSource {
    /// The value of `key` in the Secret `name`; errors name the Secret and key, never a value.
    fn value(
        &mut self,
        name: &str,
        key: &str,
    ) -> impl Future<Output = Result<SecretString, SecretError>> + Send;

    /// Where the Secret `name` (already read) lets its values go, beyond `--allowed-hosts`.
    fn restriction(&self, _name: &str) -> Result<Option<HostRestriction>, SecretError> {
        Ok(None)
    }

    /// The tokens of the ServiceAccount `name` for `audience` (workload identity), once it is
    /// known to exist, to have opted in, and the audience to be safe; with where its
    /// annotation lets them go.
    fn workload_identity(
        &mut self,
        _name: &str,
        _audience: &str,
    ) -> impl Future<Output = Result<(SubjectTokens, Option<HostRestriction>), SecretError>> + Send
    {
        async { Err(SecretError::NoTokenRequest) }
    }
}

/// A secret's bytes as a value, `None` when blank. Trailing newlines creep in from `kubectl
/// create secret --from-file` and from files a CI job writes.
pub fn decode(bytes: &[u8]) -> Option<SecretString> {
    let value = String::from_utf8_lossy(bytes).trim().to_string();
    (!value.is_empty()).then(|| SecretString::new(value))
}

/// Reads Secrets once per reconcile, however many connections share one.
pub struct SecretReader {
    client: kube::Client,
    api: Api<Secret>,
    namespace: String,
    cache: BTreeMap<String, Option<Secret>>,
}

impl SecretSource for SecretReader {
    async fn value(&mut self, name: &str, key: &str) -> Result<SecretString, SecretError> {
        self.read(name, key).await
    }

    fn restriction(&self, name: &str) -> Result<Option<HostRestriction>, SecretError> {
        let Some(Some(secret)) = self.cache.get(name) else {
            return Ok(None);
        };
        annotated_restriction(secret, &format!("Secret {}/{name}", self.namespace), || {
            (self.namespace.clone(), name.to_string())
        })
    }

    async fn workload_identity(
        &mut self,
        name: &str,
        audience: &str,
    ) -> Result<(SubjectTokens, Option<HostRestriction>), SecretError> {
        let who = || (self.namespace.clone(), name.to_string());
        let sa = Api::<ServiceAccount>::namespaced(self.client.clone(), &self.namespace)
            .get_opt(name)
            .await
            .map_err(|source| SecretError::KubeServiceAccount {
                namespace: self.namespace.clone(),
                name: name.to_string(),
                source,
            })?;
        let Some(sa) = sa else {
            let (namespace, name) = who();
            return Err(SecretError::ServiceAccountNotFound { namespace, name });
        };
        // The same opt-in as a Secret: naming a ServiceAccount must not borrow its identity.
        if sa.labels().get(CREDENTIALS_LABEL).map(String::as_str) != Some("true") {
            let (namespace, name) = who();
            return Err(SecretError::ServiceAccountNotLabelled { namespace, name });
        }
        let source = format!("ServiceAccount {}/{name}", self.namespace);
        let restriction = annotated_restriction(&sa, &source, who)?;
        crate::workload_identity::check_audience(&self.client, audience)
            .await
            .map_err(SecretError::Audience)?;
        let tokens = crate::workload_identity::service_account_tokens(
            self.client.clone(),
            &self.namespace,
            name,
            audience,
        );
        Ok((tokens, restriction))
    }
}

/// The restriction the allowed-hosts annotation of a credential object (Secret or
/// ServiceAccount) puts on where it may go: one mechanism for both.
fn annotated_restriction(
    object: &impl ResourceExt,
    source: &str,
    who: impl Fn() -> (String, String),
) -> Result<Option<HostRestriction>, SecretError> {
    let Some(list) = object.annotations().get(ALLOWED_HOSTS_ANNOTATION) else {
        return Ok(None);
    };
    let hosts = AllowedHosts::parse(list).map_err(|source| {
        let (namespace, name) = who();
        SecretError::Annotation {
            namespace,
            name,
            source,
        }
    })?;
    Ok(Some(HostRestriction {
        source: source.to_string(),
        hosts,
    }))
}

impl SecretReader {
    pub fn new(client: kube::Client, namespace: &str) -> Self {
        Self {
            api: Api::namespaced(client.clone(), namespace),
            client,
            namespace: namespace.to_string(),
            cache: BTreeMap::new(),
        }
    }

    async fn read(&mut self, name: &str, key: &str) -> Result<SecretString, SecretError> {
        if !self.cache.contains_key(name) {
            let secret = self
                .api
                .get_opt(name)
                .await
                .map_err(|source| SecretError::Kube {
                    namespace: self.namespace.clone(),
                    name: name.to_string(),
                    source,
                })?;
            self.cache.insert(name.to_string(), secret);
        }
        let secret = self.cache[name]
            .as_ref()
            .ok_or_else(|| SecretError::NotFound {
                namespace: self.namespace.clone(),
                name: name.to_string(),
            })?;
        if secret.labels().get(CREDENTIALS_LABEL).map(String::as_str) != Some("true") {
            return Err(SecretError::NotLabelled {
                namespace: self.namespace.clone(),
                name: name.to_string(),
            });
        }
        let bytes = secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .map(|b| b.0.clone())
            .or_else(|| {
                secret
                    .string_data
                    .as_ref()
                    .and_then(|d| d.get(key))
                    .map(|s| s.clone().into_bytes())
            })
            .ok_or_else(|| SecretError::MissingKey {
                namespace: self.namespace.clone(),
                name: name.to_string(),
                key: key.to_string(),
            })?;
        decode(&bytes).ok_or_else(|| SecretError::Empty {
            namespace: self.namespace.clone(),
            name: name.to_string(),
            key: key.to_string(),
        })
    }

    /// Builds the client configuration of one connection of the spec, with the restrictions
    /// its Secrets carry.
    pub async fn connection(
        &mut self,
        c: &Connection,
    ) -> Result<(ConnectionConfig, Vec<HostRestriction>), SecretError> {
        resolve(self, c).await
    }
}

/// One connection's client configuration and the host restrictions its Secrets carry.
pub async fn resolve(
    secrets: &mut impl SecretSource,
    c: &Connection,
) -> Result<(ConnectionConfig, Vec<HostRestriction>), SecretError> {
    let (config, mut restrictions) = connection_with(secrets, c).await?;
    for name in c.secret_names() {
        restrictions.extend(secrets.restriction(&name)?);
    }
    Ok((config, restrictions))
}

/// Builds the client configuration of one connection of the spec, its secrets from `secrets`.
pub async fn connection(
    secrets: &mut impl SecretSource,
    c: &Connection,
) -> Result<ConnectionConfig, SecretError> {
    Ok(connection_with(secrets, c).await?.0)
}

/// The client configuration, with the restriction a workload identity's ServiceAccount carries.
// Long: one match over the two authentication types and their three credential kinds.
async fn connection_with(
    secrets: &mut impl SecretSource,
    c: &Connection,
) -> Result<(ConnectionConfig, Vec<HostRestriction>), SecretError> {
    let mut restrictions = Vec::new();
    let config = |field| move |source| SecretError::Config { field, source };
    let port = u16::try_from(c.port).unwrap_or(443);
    let (host, port) =
        parse_workspace_url(&c.workspace_url, port).map_err(config("workspaceUrl"))?;
    let compute = parse_http_path(&c.http_path).map_err(config("httpPath"))?;
    let auth = match c.authentication_type {
        AuthenticationType::Token => {
            // The API server guarantees the reference exists for token authentication.
            let r = c
                .token_secret_ref
                .as_ref()
                .ok_or(SecretError::Required("tokenSecretRef"))?;
            AuthConfig::Token(secrets.value(&r.name, &r.key).await?)
        }
        AuthenticationType::OAuthM2M => {
            let o = c
                .oauth_client_config
                .as_ref()
                .ok_or(SecretError::Required("oAuthClientConfig"))?;
            if let Some(wi) = &o.workload_identity {
                let entra = o.authority_url.as_deref().is_some_and(entra_authority);
                let audience = match (&wi.audience, entra) {
                    (Some(a), _) => a.clone(),
                    (None, true) => crate::api::ENTRA_TOKEN_EXCHANGE_AUDIENCE.to_string(),
                    (None, false) => {
                        return Err(SecretError::Required(
                            "oAuthClientConfig.workloadIdentity.audience",
                        ));
                    }
                };
                let (subject, restriction) = secrets
                    .workload_identity(&wi.service_account_name, &audience)
                    .await?;
                restrictions.extend(restriction);
                AuthConfig::OAuthFederated {
                    client_id: o.client_id.clone(),
                    token_url: o.authority_url.clone(),
                    scope: o.scope.clone(),
                    subject,
                }
            } else if o.use_certificate {
                let key = o
                    .private_key_secret_ref
                    .as_ref()
                    .ok_or(SecretError::Required(
                        "oAuthClientConfig.privateKeySecretRef",
                    ))?;
                let token_url = o
                    .authority_url
                    .clone()
                    .ok_or(SecretError::Required("oAuthClientConfig.authorityUrl"))?;
                AuthConfig::OAuthCertificate {
                    client_id: o.client_id.clone(),
                    thumbprint_hex: o.public_certificate_thumbprint.clone().unwrap_or_default(),
                    private_key_pem: secrets.value(&key.name, &key.key).await?,
                    token_url,
                    scope: o.scope.clone(),
                    // Optional: only its expiry is reported (checks/expiry.rs).
                    certificate_pem: secrets
                        .value(&key.name, "tls.crt")
                        .await
                        .ok()
                        .map(|c| c.expose().to_string()),
                }
            } else {
                let secret = o
                    .client_secret_ref
                    .as_ref()
                    .ok_or(SecretError::Required("oAuthClientConfig.clientSecretRef"))?;
                AuthConfig::OAuthSecret {
                    client_id: o.client_id.clone(),
                    client_secret: secrets.value(&secret.name, &secret.key).await?,
                    token_url: o.authority_url.clone(),
                    scope: o.scope.clone(),
                }
            }
        }
    };
    let config = ConnectionConfig {
        host,
        port,
        compute,
        auth,
    };
    Ok((config, restrictions))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Secrets as (name, key) → value.
    struct Fake(BTreeMap<(String, String), String>);

    impl SecretSource for Fake {
        async fn value(&mut self, name: &str, key: &str) -> Result<SecretString, SecretError> {
            let v = self.0.get(&(name.to_string(), key.to_string()));
            v.map(|v| SecretString::new(v.clone()))
                .ok_or_else(|| SecretError::MissingKey {
                    namespace: "ns".into(),
                    name: name.into(),
                    key: key.into(),
                })
        }
    }

    #[tokio::test]
    async fn the_certificate_next_to_the_key_is_read_when_there_is_one() {
        let c: Connection = serde_json::from_value(serde_json::json!({
            "workspaceUrl": "adb-1.2.azuredatabricks.net",
            "httpPath": "/sql/1.0/warehouses/abc",
            "authenticationType": "oAuthM2M",
            "oAuthClientConfig": {
                "clientId": "app", "useCertificate": true, "publicCertificateThumbprint": "ab",
                "privateKeySecretRef": {"name": "sp"},
                "authorityUrl": "login.microsoftonline.com/t/oauth2/v2.0/token",
            },
        }))
        .unwrap();
        let key = ("sp".to_string(), "tls.key".to_string());
        let mut only_key = Fake(BTreeMap::from([(key.clone(), "KEY".to_string())]));
        let cert_of = |config: ConnectionConfig| match config.auth {
            AuthConfig::OAuthCertificate {
                certificate_pem, ..
            } => certificate_pem,
            other => panic!("{}", other.kind()),
        };
        assert_eq!(cert_of(connection(&mut only_key, &c).await.unwrap()), None);
        let crt = ("sp".to_string(), "tls.crt".to_string());
        let mut both = Fake(BTreeMap::from([(key, "KEY".into()), (crt, "CERT".into())]));
        assert_eq!(
            cert_of(connection(&mut both, &c).await.unwrap()),
            Some("CERT".into())
        );
    }
}
