//! Clients by connection: one shared transport for every workspace, and a bounded cache of the
//! per-workspace state (OAuth token caches), so memory does not grow with workspaces.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::WorkspaceClient;
use super::connection::{AuthConfig, Compute, ConfigError, ConnectionConfig};
use super::error::Error;
use super::hosts::HostRestriction;
use super::http::Transport;
use super::settings::ClientSettings;

/// A fingerprint of everything in a [`ConnectionConfig`], secret values included, so that a
/// rotated secret gives a new client. Never printed.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint([u8; 32]);

impl std::fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fingerprint(..)")
    }
}

impl Fingerprint {
    pub(crate) fn of(config: &ConnectionConfig, restrictions: &[HostRestriction]) -> Self {
        let mut h = Sha256::new();
        // Length-prefixed fields, so that no two configurations hash the same input.
        let mut field = |s: &str| {
            h.update((s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        field(&config.host);
        field(&config.port.to_string());
        match &config.compute {
            Compute::Warehouse { id } => {
                field("warehouse");
                field(id);
            }
            Compute::Cluster { org_id, cluster_id } => {
                field("cluster");
                field(org_id);
                field(cluster_id);
            }
        }
        match &config.auth {
            AuthConfig::Token(token) => {
                field("token");
                field(token.expose());
            }
            AuthConfig::OAuthSecret {
                client_id,
                client_secret,
                token_url,
                scope,
            } => {
                field("oauth-secret");
                field(client_id);
                field(client_secret.expose());
                field(token_url.as_deref().unwrap_or("\0discovery"));
                field(scope);
            }
            AuthConfig::OAuthCertificate {
                client_id,
                thumbprint_hex,
                private_key_pem,
                token_url,
                scope,
                certificate_pem,
            } => {
                field("oauth-certificate");
                field(certificate_pem.as_deref().unwrap_or(""));
                field(client_id);
                field(thumbprint_hex);
                field(private_key_pem.expose());
                field(token_url);
                field(scope);
            }
            AuthConfig::OAuthFederated {
                client_id,
                token_url,
                scope,
                subject,
            } => {
                field("oauth-federated");
                field(client_id);
                field(token_url.as_deref().unwrap_or("\0discovery"));
                field(scope);
                field(subject.0.identity());
            }
        }
        for r in restrictions {
            field(&r.source);
            field(&r.hosts.to_string());
        }
        Fingerprint(h.finalize().into())
    }
}

/// Clients by connection fingerprint: repeated reconciles with the same credentials reuse one
/// client (and its cached OAuth token); changed credentials get a new one. All share one
/// connection pool and TLS configuration.
pub struct Clients {
    settings: ClientSettings,
    /// Built once; a bad CA bundle is reported by every [`Clients::get`].
    transport: Result<Transport, ConfigError>,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    /// Each client with the tick of its last use.
    map: HashMap<Fingerprint, (WorkspaceClient, u64)>,
    tick: u64,
}

impl Clients {
    pub fn new(settings: ClientSettings) -> Self {
        Self {
            transport: Transport::new(&settings),
            settings,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// The client for `config`, cached. Never blocks on the network.
    pub fn get(&self, config: ConnectionConfig) -> Result<WorkspaceClient, Error> {
        self.get_restricted(config, Vec::new())
    }

    /// The client of a credential that also narrows where it may be sent.
    pub fn get_restricted(
        &self,
        config: ConnectionConfig,
        restrictions: Vec<HostRestriction>,
    ) -> Result<WorkspaceClient, Error> {
        let key = Fingerprint::of(&config, &restrictions);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.tick += 1;
        let tick = entries.tick;
        if let Some((client, used)) = entries.map.get_mut(&key) {
            *used = tick;
            return Ok(client.clone());
        }
        let transport = self.transport.clone().map_err(Error::Config)?;
        let transport = if restrictions.is_empty() {
            transport
        } else {
            transport.restricted(restrictions)
        };
        let client = WorkspaceClient::with_transport(config, transport, self.settings.poll)?;
        let cap = self.settings.max_cached_clients.max(1);
        while entries.map.len() >= cap {
            // Rotated credentials and workspaces not seen for long give way first.
            let Some(oldest) = entries
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            entries.map.remove(&oldest);
        }
        entries.map.insert(key, (client.clone(), tick));
        Ok(client)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .map
            .len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::secret::SecretString;

    fn config(host: &str, token: &str) -> ConnectionConfig {
        ConnectionConfig {
            host: host.into(),
            port: 8443,
            compute: Compute::Warehouse { id: "wh1".into() },
            auth: AuthConfig::Token(SecretString::from(token)),
        }
    }

    #[test]
    fn clients_are_reused_until_the_secret_changes() {
        let clients = Clients::new(ClientSettings::default());
        let a = clients.get(config("h", "one")).unwrap();
        let b = clients.get(config("h", "one")).unwrap();
        assert!(Arc::ptr_eq(&a.inner, &b.inner));
        let c = clients.get(config("h", "two")).unwrap();
        assert!(!Arc::ptr_eq(&a.inner, &c.inner));
        assert_eq!(clients.len(), 2);
        assert_eq!(
            format!("{:?}", Fingerprint::of(&config("h", "one"), &[])),
            "Fingerprint(..)"
        );
        assert!(!format!("{a:?}").contains("one"));
    }

    #[test]
    fn the_cache_is_bounded_and_keeps_the_recently_used() {
        let clients = Clients::new(ClientSettings {
            max_cached_clients: 3,
            ..ClientSettings::default()
        });
        let first = clients.get(config("w0", "t")).unwrap();
        for i in 1..3 {
            clients.get(config(&format!("w{i}"), "t")).unwrap();
        }
        // w0 used again: w1 is now the least recently used and goes first.
        clients.get(config("w0", "t")).unwrap();
        clients.get(config("w3", "t")).unwrap();
        let kept = clients.get(config("w0", "t")).unwrap();
        assert!(Arc::ptr_eq(&first.inner, &kept.inner), "w0 was kept");
        for i in 4..10 {
            clients.get(config(&format!("w{i}"), "t")).unwrap();
            assert!(clients.len() <= 3);
        }
        assert_eq!(clients.len(), 3);
        let again = clients.get(config("w0", "t")).unwrap();
        assert!(!Arc::ptr_eq(&first.inner, &again.inner), "w0 was evicted");
    }

    #[test]
    fn a_bad_ca_bundle_is_reported_by_get() {
        let clients = Clients::new(ClientSettings {
            ca_bundle_pem: Some("not a pem".into()),
            ..ClientSettings::default()
        });
        let err = clients.get(config("h", "t")).unwrap_err();
        assert!(
            matches!(err, Error::Config(ConfigError::CaBundle(_))),
            "{err:?}"
        );
        assert_eq!(clients.len(), 0);
    }
}
