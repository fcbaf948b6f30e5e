//! TLS for Databricks and OAuth endpoints: rustls with the system roots and `--ca-bundle`.

use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;

use super::connection::ConfigError;

/// The system's trusted roots, loaded once per process.
fn native_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let loaded = rustls_native_certs::load_native_certs();
        if !loaded.errors.is_empty() {
            tracing::debug!(
                errors = loaded.errors.len(),
                "some system CA certificates could not be loaded"
            );
        }
        loaded.certs
    })
}

/// rustls with the ring provider, the system roots and the extra CA PEMs.
pub(crate) fn tls_config(ca_bundle_pem: Option<&str>) -> Result<rustls::ClientConfig, ConfigError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(native_roots().iter().cloned());
    if let Some(pem) = ca_bundle_pem {
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_bytes()) {
            let cert = cert.map_err(|e| ConfigError::CaBundle(e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| ConfigError::CaBundle(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(ConfigError::CaBundle("no PEM certificate found".into()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::CaBundle(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    // HTTP/2 where the workspace speaks it (they do): a reconcile's concurrent reads share one
    // connection instead of a TLS handshake each, which at N = 1,000 cut CPU per setup by 8%
    // and per re-validation by 23% at the same memory (docs/performance.md, "Issue 11, final").
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_ca_bundle_is_a_config_error() {
        assert!(matches!(
            tls_config(Some("not a pem")),
            Err(ConfigError::CaBundle(_))
        ));
        assert!(matches!(
            tls_config(Some("")),
            Err(ConfigError::CaBundle(_))
        ));
    }
}
