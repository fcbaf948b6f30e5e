//! Client certificates for Entra-style JWT assertions in tests.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use rcgen::{CertificateParams, DnType, KeyPair};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use sha1::Digest as _;

/// A self-signed certificate and its RSA key.
#[derive(Clone, Debug)]
pub struct ClientCert {
    pub cert_pem: String,
    /// PKCS#8 PEM, RSA 2048.
    pub key_pem: String,
    /// Hex SHA-1 of the certificate DER (the `x5t` thumbprint, as Azure shows it).
    pub sha1_thumbprint_hex: String,
    /// Hex SHA-256 of the certificate DER (`x5t#S256`).
    pub sha256_thumbprint_hex: String,
}

/// A certificate for `common_name`; cached per name, since RSA key generation is slow
/// in debug builds. Different names get different keys.
pub fn client_certificate(common_name: &str) -> ClientCert {
    static CACHE: OnceLock<Mutex<HashMap<String, ClientCert>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().expect("cache lock").get(common_name) {
        return c.clone();
    }
    let cert = generate(common_name);
    cache
        .lock()
        .expect("cache lock")
        .insert(common_name.into(), cert.clone());
    cert
}

fn generate(common_name: &str) -> ClientCert {
    let key =
        rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key generation");
    let key_pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("PKCS#8 encoding")
        .to_string();
    let key_pair = KeyPair::from_pkcs8_pem_and_sign_algo(&key_pem, &rcgen::PKCS_RSA_SHA256)
        .expect("ring accepts the RSA key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let cert = params
        .self_signed(&key_pair)
        .expect("self-signed certificate");
    let der = cert.der().to_vec();
    ClientCert {
        cert_pem: cert.pem(),
        key_pem,
        sha1_thumbprint_hex: hex::encode(sha1::Sha1::digest(&der)),
        sha256_thumbprint_hex: hex::encode(sha2::Sha256::digest(&der)),
    }
}
