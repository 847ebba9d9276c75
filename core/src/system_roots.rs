//! The system's trusted root certificates, loaded once per process.
//!
//! Loading the platform store (`rustls-native-certs`: the CA bundle files,
//! or the OS keychain) costs milliseconds. Every exporter that needs it (the
//! HTTP and gRPC ones, for logs, traces and metrics) shares one copy, loaded
//! on the first TLS connection, which happens on the export worker: building
//! an exporter and starting [`Telemetry`](crate::Telemetry) never touch the
//! store, so the host thread never pays for it.

use std::sync::{Arc, OnceLock};

use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;

/// The system store held no usable root certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "no trusted root certificate found on this system ({found} found, {errors} load errors{first}); \
     fix: install the system CA bundle (or set SSL_CERT_FILE) or set tls ca-certificate"
)]
pub struct SystemRootsError {
    /// Certificates the store returned (none usable).
    pub found: usize,
    /// Files or certificates that could not be read.
    pub errors: usize,
    /// `: <first error>`, or empty.
    first: String,
}

static SYSTEM_ROOTS: OnceLock<Result<Arc<RootCertStore>, SystemRootsError>> = OnceLock::new();

/// The system's root certificates, loaded on the first call in the process
/// and shared by every later caller (a failure is remembered too: the store
/// does not change while the process runs).
pub fn system_roots() -> Result<Arc<RootCertStore>, SystemRootsError> {
    SYSTEM_ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let first = found.errors.first().map(ToString::to_string);
            roots_from(found.certs, found.errors.len(), first)
        })
        .clone()
}

/// Whether [`system_roots`] has already been called in this process.
pub fn system_roots_loaded() -> bool {
    SYSTEM_ROOTS.get().is_some()
}

/// A store of the certificates rustls can use; an error when none is.
/// Single unreadable files or certificates are tolerated as long as some
/// roots load (what every `rustls-native-certs` user does).
fn roots_from(
    certs: Vec<CertificateDer<'static>>,
    errors: usize,
    first_error: Option<String>,
) -> Result<Arc<RootCertStore>, SystemRootsError> {
    let found = certs.len();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(SystemRootsError {
            found,
            errors,
            first: first_error.map(|e| format!(": {e}")).unwrap_or_default(),
        });
    }
    Ok(Arc::new(roots))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_store_is_an_error_that_says_how_to_fix_it() {
        let err =
            roots_from(Vec::new(), 1, Some("cannot read /etc/ssl".into())).expect_err("no roots");
        assert_eq!((err.found, err.errors), (0, 1));
        let text = err.to_string();
        assert!(text.contains("cannot read /etc/ssl"), "{text}");
        assert!(text.contains("ca-certificate"), "{text}");
    }

    #[test]
    fn unparsable_certificates_alone_are_an_error() {
        let junk = CertificateDer::from(vec![0x30, 0x03, 0x01, 0x01, 0x00]);
        let err = roots_from(vec![junk], 0, None).expect_err("junk only");
        assert_eq!(err.found, 1);
    }

    #[test]
    fn the_store_is_loaded_once_and_shared() {
        let first = system_roots();
        assert!(system_roots_loaded());
        let second = system_roots();
        match (first, second) {
            (Ok(a), Ok(b)) => assert!(Arc::ptr_eq(&a, &b)),
            (Err(a), Err(b)) => assert_eq!(a, b),
            _ => panic!("the cached result changed"),
        }
    }
}
