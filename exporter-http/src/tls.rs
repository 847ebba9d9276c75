//! The rustls client configuration of the exporter: ring as the crypto
//! provider (reqwest is built without one), system or configured roots,
//! optional client identity for mTLS.
//!
//! The system roots are the process-wide copy of
//! [`agent_otel_core::system_roots`], loaded on the first export (on the
//! pipeline's worker), never when the exporter is built.

use std::sync::Arc;

use agent_otel_core::{ClientIdentityPem, ExportError, FailureKind, TlsMaterial, system_roots};
use rustls::RootCertStore;

use crate::HttpExporterError;

/// Where the trusted roots of a connection come from.
pub(crate) enum Roots {
    /// `http://`: no TLS, no roots.
    None,
    /// Only the configured CA.
    Configured(Arc<RootCertStore>),
    /// The system's, loaded on first use.
    System,
}

/// What the client's TLS configuration is built from; checked by
/// [`TlsSetup::new`], so every configuration error surfaces when the
/// exporter is built, but the system roots are only loaded by
/// [`TlsSetup::client_config`].
pub(crate) struct TlsSetup {
    roots: Roots,
    identity: Option<ClientIdentityPem>,
}

impl TlsSetup {
    /// Checks `material`: a configured CA must hold a usable trust anchor
    /// and a client identity must be usable by rustls. `https` is false for
    /// `http://` endpoints, which never use TLS.
    pub(crate) fn new(material: TlsMaterial, https: bool) -> Result<Self, HttpExporterError> {
        let roots = if material.ca_pem.is_some() {
            let mut roots = RootCertStore::empty();
            let (added, _ignored) =
                roots.add_parsable_certificates(material.ca_certificates.iter().cloned());
            if added == 0 {
                return Err(HttpExporterError::TlsMaterial {
                    what: "ca-certificate",
                    reason: "no certificate in the file is a usable trust anchor".to_owned(),
                });
            }
            Roots::Configured(Arc::new(roots))
        } else if https {
            Roots::System
        } else {
            Roots::None
        };
        let setup = Self {
            roots,
            identity: material.identity,
        };
        // Builds a configuration without roots: rejects a client key that
        // does not match its certificate, or an unsupported key type, now.
        setup.build(Arc::new(RootCertStore::empty()))?;
        Ok(setup)
    }

    /// The rustls configuration, loading the system roots if they are
    /// needed and not loaded yet in this process. A store with no usable
    /// root is a TLS failure of the export.
    pub(crate) fn client_config(
        &self,
        endpoint: &str,
    ) -> Result<rustls::ClientConfig, ExportError> {
        let roots = match &self.roots {
            Roots::None => Arc::new(RootCertStore::empty()),
            Roots::Configured(roots) => Arc::clone(roots),
            Roots::System => system_roots().map_err(|e| {
                ExportError::new(FailureKind::Tls, format!("otlp-http `{endpoint}`: {e}"))
            })?,
        };
        self.build(roots)
            .map_err(|e| ExportError::new(FailureKind::Tls, format!("otlp-http `{endpoint}`: {e}")))
    }

    fn build(&self, roots: Arc<RootCertStore>) -> Result<rustls::ClientConfig, HttpExporterError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| HttpExporterError::TlsMaterial {
                what: "crypto provider",
                reason: e.to_string(),
            })?
            .with_root_certificates(roots);
        let mut config = match &self.identity {
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
}
