//! The rustls client configuration of the exporter: ring as the crypto
//! provider (reqwest is built without one), system or configured roots,
//! optional client identity for mTLS.

use std::sync::Arc;

use agent_otel_core::TlsMaterial;
use rustls::RootCertStore;

use crate::HttpExporterError;

/// Builds the rustls client configuration for `material`.
///
/// Roots: with a configured CA only that CA is trusted (like the OTLP
/// collector's `ca_file` and the Go/Java SDKs' `OTEL_EXPORTER_OTLP_CERTIFICATE`);
/// otherwise the system roots. `https` is false for `http://` endpoints, which
/// never use TLS: their configuration then holds no roots and skips loading
/// the system store.
pub(crate) fn client_config(
    material: &TlsMaterial,
    endpoint: &str,
    https: bool,
) -> Result<rustls::ClientConfig, HttpExporterError> {
    let roots = root_store(material, endpoint, https)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpExporterError::TlsMaterial {
            what: "crypto provider",
            reason: e.to_string(),
        })?
        .with_root_certificates(roots);
    let mut config = match &material.identity {
        Some(identity) => builder
            .with_client_auth_cert(
                identity.certificate_chain.clone(),
                identity.private_key.clone_key(),
            )
            .map_err(|e| HttpExporterError::TlsMaterial {
                what: "client-certificate/client-private-key",
                reason: e.to_string(),
            })?,
        None => builder.with_no_client_auth(),
    };
    // Same ALPN as reqwest's own rustls setup: HTTP/2 when the server offers it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

fn root_store(
    material: &TlsMaterial,
    endpoint: &str,
    https: bool,
) -> Result<RootCertStore, HttpExporterError> {
    let mut roots = RootCertStore::empty();
    if material.ca_pem.is_some() {
        let (added, _ignored) =
            roots.add_parsable_certificates(material.ca_certificates.iter().cloned());
        if added == 0 {
            return Err(HttpExporterError::TlsMaterial {
                what: "ca-certificate",
                reason: "no certificate in the file is a usable trust anchor".to_owned(),
            });
        }
    } else if https {
        // Errors for single unreadable files/certificates are tolerated as
        // long as some roots load (what every rustls-native-certs user does).
        let found = rustls_native_certs::load_native_certs();
        let (added, _ignored) = roots.add_parsable_certificates(found.certs);
        if added == 0 {
            return Err(HttpExporterError::NoRootCertificates {
                endpoint: endpoint.to_owned(),
            });
        }
    }
    Ok(roots)
}
