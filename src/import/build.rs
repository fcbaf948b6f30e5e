//! Building the `DatabricksIntegration` and its Secrets from the payload model, with the notes
//! that tell the user what is left to do.

use std::collections::BTreeMap;

use serde::Serialize;

use super::error::invalid;
use super::fields::{Credential, is_placeholder};
use super::names::{is_dns_name, is_namespace, name_from_host};
use super::payload::{ConnIn, OAuthIn, Payload};
use super::secrets::Secrets;
use super::{ImportError, Imported, Options, state};
use crate::api::{
    AdditionalWorkspaceConnection, AuthenticationType, ClientSecretRef, Connection,
    DEFAULT_CLIENT_SECRET_KEY, DEFAULT_PRIVATE_KEY_KEY, DEFAULT_REVALIDATION_INTERVAL,
    DEFAULT_SCOPE, DEFAULT_TOKEN_KEY, DatabricksIntegration, DatabricksIntegrationSpec,
    DeletionPolicy, OAuthClientConfig, PrivateKeySecretRef, TokenSecretRef,
};

/// Stands where the payload has no client id (an update that leaves the config out): accepted by
/// the schema, so the manifests apply, and reported so the user replaces it.
pub const CLIENT_ID_PLACEHOLDER: &str = "<CLIENT ID>";
/// Same for a missing certificate thumbprint.
pub const THUMBPRINT_PLACEHOLDER: &str = "<THUMBPRINT>";

/// Stands for the Entra ID tenant in a certificate connection's missing token endpoint.
pub const TENANT_PLACEHOLDER: &str = "TENANT-ID";

/// A credential's kind: the Secret it goes to (`<prefix>-token`, `<prefix>-oauth`, one per
/// connection), the CRD's default key for it, and what the notes call it.
#[derive(Clone, Copy)]
enum Kind {
    Token,
    ClientSecret,
    PrivateKey,
}

impl Kind {
    fn parts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Kind::Token => ("token", DEFAULT_TOKEN_KEY, "personal access token"),
            Kind::ClientSecret => ("oauth", DEFAULT_CLIENT_SECRET_KEY, "OAuth client secret"),
            Kind::PrivateKey => (
                "oauth",
                DEFAULT_PRIVATE_KEY_KEY,
                "certificate's private key",
            ),
        }
    }
}

/// Maps connections, collecting their Secrets and the notes.
#[derive(Default)]
struct Builder {
    secrets: Secrets,
    notes: Vec<String>,
}

impl Builder {
    /// The spec's connection; `prefix` names its Secrets (`<prefix>-token`, `<prefix>-oauth`).
    fn connection(&mut self, conn: ConnIn, prefix: &str) -> Connection {
        let at = conn.path.as_str();
        let mut out = Connection {
            workspace_url: conn.workspace_url.clone(),
            port: conn.port.unwrap_or(443),
            http_path: conn.http_path.clone(),
            authentication_type: conn.auth,
            token_secret_ref: None,
            oauth_client_config: None,
        };
        match conn.auth {
            AuthenticationType::Token => {
                let (name, key) = self.store(Kind::Token, prefix, at, conn.token);
                out.token_secret_ref = Some(TokenSecretRef { name, key });
                if conn.oauth.is_some() {
                    self.ignored(at, "oAuthClientConfig", "authenticationType is token");
                }
            }
            AuthenticationType::OAuthM2M => {
                if conn.token != Credential::Missing {
                    self.ignored(at, "token", "authenticationType is oAuthM2M");
                }
                let oauth = conn.oauth.unwrap_or_else(OAuthIn::empty);
                out.oauth_client_config = Some(self.oauth(oauth, prefix, at));
            }
        }
        out
    }

    fn oauth(&mut self, o: OAuthIn, prefix: &str, at: &str) -> OAuthClientConfig {
        let client_id = self.given_or(o.client_id, at, "clientId", CLIENT_ID_PLACEHOLDER);
        let mut cfg = OAuthClientConfig {
            client_id,
            client_secret_ref: None,
            authority_url: o.authority_url.filter(|u| !u.trim().is_empty()),
            scope: o.scope.unwrap_or_else(|| DEFAULT_SCOPE.into()),
            use_certificate: o.use_certificate,
            public_certificate_thumbprint: None,
            private_key_secret_ref: None,
            // Immuta payloads have no workload identity: they always carry a credential.
            workload_identity: None,
        };
        if !o.use_certificate {
            let secret = o.client_secret;
            let (name, key) = self.store(Kind::ClientSecret, prefix, at, secret);
            cfg.client_secret_ref = Some(ClientSecretRef { name, key });
            if o.private_key != Credential::Missing {
                self.ignored(at, "oauthPrivateKey", "useCertificate is false");
            }
            return cfg;
        }
        if cfg.authority_url.is_none() {
            // Entra ID certificate credentials need the tenant's token endpoint.
            self.notes.push(format!(
                "{at}: oAuthClientConfig.authorityUrl is not in the payload: replace {TENANT_PLACEHOLDER} in the DatabricksIntegration with the Entra ID tenant"
            ));
            cfg.authority_url = Some(format!(
                "https://login.microsoftonline.com/{TENANT_PLACEHOLDER}/oauth2/v2.0/token"
            ));
        }
        let thumbprint = "publicCertificateThumbprint";
        cfg.public_certificate_thumbprint =
            Some(self.given_or(o.thumbprint, at, thumbprint, THUMBPRINT_PLACEHOLDER));
        let (name, key) = self.store(Kind::PrivateKey, prefix, at, o.private_key);
        cfg.private_key_secret_ref = Some(PrivateKeySecretRef { name, key });
        if o.client_secret != Credential::Missing {
            self.ignored(at, "clientSecret", "useCertificate is true");
        }
        cfg
    }

    /// Puts a credential in its Secret, notes it, and returns the Secret's name and key for the
    /// spec's reference.
    fn store(&mut self, kind: Kind, prefix: &str, at: &str, cred: Credential) -> (String, String) {
        let (suffix, key, what) = kind.parts();
        let name = format!("{prefix}-{suffix}");
        let note = self.secrets.put(&name, key, what, at, cred);
        self.notes.push(note);
        (name, key.to_string())
    }

    /// The payload's value of `oAuthClientConfig.<field>`, or `placeholder` with a note.
    fn given_or(
        &mut self,
        value: Option<String>,
        at: &str,
        field: &str,
        placeholder: &str,
    ) -> String {
        match value {
            Some(v) if !is_placeholder(&v) => v,
            other => {
                let why = if other.is_some() {
                    "a placeholder"
                } else {
                    "not in the payload"
                };
                self.notes.push(format!(
                    "{at}: oAuthClientConfig.{field} is {why}: replace {placeholder} in the DatabricksIntegration"
                ));
                placeholder.to_string()
            }
        }
    }

    fn ignored(&mut self, at: &str, field: &str, because: &str) {
        self.notes
            .push(format!("{at}: {field} is ignored because {because}"));
    }
}

/// The resource name (`--name`, else from the host) after checking it and the namespace.
fn name_of(payload: &Payload, options: &Options) -> Result<String, ImportError> {
    let name = match &options.name {
        Some(n) if !is_dns_name(n) => return Err(ImportError::InvalidName(n.clone())),
        Some(n) => n.clone(),
        None => name_from_host(&payload.main.workspace_url),
    };
    match &options.namespace {
        Some(ns) if !is_namespace(ns) => Err(invalid(
            "--namespace",
            format!("`{ns}` is not a namespace name"),
        )),
        _ => Ok(name),
    }
}

pub(super) fn build(payload: Payload, options: &Options) -> Result<Imported, ImportError> {
    let name = name_of(&payload, options)?;
    let carried = state::carry(
        payload.status.as_deref(),
        payload.auto_bootstrap,
        &payload.catalog,
        &name,
        options.storage_root.as_deref(),
    )?;
    let mut b = Builder::default();
    let connection = b.connection(payload.main, &name);
    let additional: Vec<_> = (payload.additional.into_iter().enumerate())
        .map(|(i, (conn, catalogs))| AdditionalWorkspaceConnection {
            connection: b.connection(conn, &format!("{name}-{}", i + 1)),
            catalogs,
        })
        .collect();
    if !payload.ignored.is_empty() {
        b.notes.push(format!(
            "not mapped (no DatabricksIntegration field): {}",
            payload.ignored.join(", ")
        ));
    }
    b.notes.extend(carried.notes);
    let spec = DatabricksIntegrationSpec {
        connection,
        catalog: payload.catalog,
        auto_bootstrap: payload.auto_bootstrap,
        audit: payload.audit,
        additional_workspace_connections: (!additional.is_empty()).then_some(additional),
        deletion_policy: DeletionPolicy::Delete,
        revalidation_interval: DEFAULT_REVALIDATION_INTERVAL.into(),
        storage_root: carried.storage_root,
        adopt_existing_catalog: carried.adopt_existing_catalog,
        governed_catalogs: None,
        suspend: carried.suspend,
    };
    let mut integration = DatabricksIntegration::new(&name, spec);
    integration.metadata.namespace = options.namespace.clone();
    if let Some(id) = &payload.id {
        integration.metadata.annotations = Some(BTreeMap::from([(
            "uc-operator.dev/imported-from".to_string(),
            format!("integration {id}"),
        )]));
    }
    let (secrets, mut manifests) = b.secrets.finish(options.namespace.as_deref());
    manifests.push_str(&to_yaml(&integration));
    Ok(Imported {
        manifests,
        notes: b.notes,
        integration,
        secrets,
    })
}

pub(super) fn to_yaml<T: Serialize>(v: &T) -> String {
    serde_yaml::to_string(v).expect("Kubernetes objects serialize to YAML")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::SecretString;

    fn conn(auth: AuthenticationType, token: Credential, oauth: Option<OAuthIn>) -> ConnIn {
        ConnIn {
            path: "config".into(),
            workspace_url: "w.cloud.databricks.com".into(),
            port: None,
            http_path: "/sql/1.0/warehouses/a".into(),
            auth,
            token,
            oauth,
        }
    }

    #[test]
    fn a_token_connection_refers_to_its_secret_and_drops_oauth_settings() {
        let mut b = Builder::default();
        let token = Credential::Value(SecretString::new("dapi-x"));
        let c = b.connection(
            conn(AuthenticationType::Token, token, Some(OAuthIn::empty())),
            "p",
        );
        assert_eq!(c.port, 443);
        let r = c.token_secret_ref.unwrap();
        assert_eq!(
            (r.name.as_str(), r.key.as_str()),
            ("p-token", DEFAULT_TOKEN_KEY)
        );
        assert!(c.oauth_client_config.is_none());
        assert_eq!(
            b.notes[1],
            "config: oAuthClientConfig is ignored because authenticationType is token"
        );
    }

    #[test]
    fn an_oauth_connection_uses_the_crd_defaults_and_drops_a_token() {
        let mut b = Builder::default();
        let c = b.connection(
            conn(AuthenticationType::OAuthM2M, Credential::Placeholder, None),
            "p",
        );
        assert!(c.token_secret_ref.is_none());
        let o = c.oauth_client_config.unwrap();
        assert_eq!(o.scope, DEFAULT_SCOPE);
        assert_eq!(o.client_secret_ref.unwrap().key, DEFAULT_CLIENT_SECRET_KEY);
        assert_eq!(
            b.notes[0],
            "config: token is ignored because authenticationType is oAuthM2M"
        );
    }

    #[test]
    fn a_certificate_keeps_its_key_under_the_crd_default_and_drops_a_secret() {
        let mut b = Builder::default();
        let o = OAuthIn {
            client_id: Some("app".into()),
            client_secret: Credential::Placeholder,
            authority_url: Some("https://login.example/t".into()),
            use_certificate: true,
            thumbprint: Some("AB".into()),
            ..OAuthIn::empty()
        };
        let cfg = b.oauth(o, "p", "config");
        assert_eq!(
            cfg.private_key_secret_ref.unwrap().key,
            DEFAULT_PRIVATE_KEY_KEY
        );
        assert_eq!(cfg.public_certificate_thumbprint.as_deref(), Some("AB"));
        assert!(cfg.client_secret_ref.is_none());
        assert!(
            b.notes
                .iter()
                .any(|n| n.ends_with("clientSecret is ignored because useCertificate is true"))
        );
    }

    #[test]
    fn given_values_are_kept_and_absent_ones_replaced_with_a_note() {
        let mut b = Builder::default();
        assert_eq!(
            b.given_or(Some("app".into()), "c", "clientId", "<ID>"),
            "app"
        );
        assert!(b.notes.is_empty());
        assert_eq!(
            b.given_or(Some("<x>".into()), "c", "clientId", "<ID>"),
            "<ID>"
        );
        assert_eq!(b.given_or(None, "c", "clientId", "<ID>"), "<ID>");
        assert_eq!(
            b.notes,
            [
                "c: oAuthClientConfig.clientId is a placeholder: replace <ID> in the DatabricksIntegration",
                "c: oAuthClientConfig.clientId is not in the payload: replace <ID> in the DatabricksIntegration"
            ]
        );
    }
}
