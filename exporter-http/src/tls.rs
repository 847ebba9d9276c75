//! The rustls client configuration of the exporter: ring as the crypto
//! provider (reqwest is built without one), system or configured roots,
//! optional client identity for mTLS.
//!
//! The system roots are the process-wide copy of
//! [`agent_otel_core::system_roots`], loaded on the first export (on the
//! pipeline's worker), never when the exporter is built.
//!
//! Without a client identity, the configuration notes when a server asks
//! for a client certificate ([`CertificateRequests`]): under TLS 1.3 the
//! server checks it only after our handshake is complete and the request
//! written, so its `certificate_required` alert is often lost and the
//! refusal reaches us as a closed connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use agent_otel_core::{ClientIdentityPem, ExportError, FailureKind, TlsMaterial, system_roots};
use rustls::RootCertStore;
use rustls::client::ResolvesClientCert;
use rustls::sign::CertifiedKey;

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
    requests: Arc<CertificateRequests>,
}

/// What servers said about client certificates, for an exporter without a
/// client identity: whether one asked for a certificate during a
/// handshake, and whether one answered a request anyway (client
/// authentication optional).
#[derive(Debug, Default)]
pub(crate) struct CertificateRequests {
    asked: AtomicBool,
    answered_without: AtomicBool,
}

impl CertificateRequests {
    /// Notes that a server answered a request (any status): it does not
    /// require a client certificate.
    pub(crate) fn answered(&self) {
        if self.asked.load(Ordering::Acquire) {
            self.answered_without.store(true, Ordering::Release);
        }
    }

    /// Whether a server asked for a client certificate and never answered
    /// without one: a connection it closes right after the handshake is
    /// then its refusal of the missing certificate.
    pub(crate) fn required(&self) -> bool {
        self.asked.load(Ordering::Acquire) && !self.answered_without.load(Ordering::Acquire)
    }
}

/// The client-certificate resolver of an exporter without an identity: it
/// has no certificate to give (as rustls' own `with_no_client_auth`) and
/// notes the request.
#[derive(Debug)]
struct NoCertificate(Arc<CertificateRequests>);

impl ResolvesClientCert for NoCertificate {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        self.0.asked.store(true, Ordering::Release);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
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
            requests: Arc::default(),
        };
        // Builds a configuration without roots: rejects a client key that
        // does not match its certificate, or an unsupported key type, now.
        setup.build(Arc::new(RootCertStore::empty()))?;
        Ok(setup)
    }

    /// What servers said about client certificates (see
    /// [`CertificateRequests`]); never set with a client identity.
    pub(crate) fn certificate_requests(&self) -> &CertificateRequests {
        &self.requests
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
            None => builder
                .with_client_cert_resolver(Arc::new(NoCertificate(Arc::clone(&self.requests)))),
        };
        // Same ALPN as reqwest's own rustls setup: HTTP/2 when the server offers it.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_request_is_a_requirement_until_the_server_answers_without_one() {
        let requests = Arc::new(CertificateRequests::default());
        assert!(!requests.required(), "no server asked yet");
        requests.answered();
        assert!(!requests.required());

        let resolver = NoCertificate(Arc::clone(&requests));
        assert!(!resolver.has_certs());
        assert!(resolver.resolve(&[], &[]).is_none(), "nothing to give");
        assert!(requests.required(), "asked, never answered");

        // Client authentication is optional on this server: it answered.
        requests.answered();
        assert!(!requests.required());
        resolver.resolve(&[], &[]);
        assert!(
            !requests.required(),
            "it answered without a certificate before"
        );
    }
}
