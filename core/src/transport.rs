//! Settings shared by the OTLP transports: headers with secret values,
//! compression, TLS material. They live in core so `config` and every
//! exporter agree on one definition.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A string that never shows up in `Debug` or `Display` output.
///
/// Used for header values (API keys, tokens). Read it with [`SecretString::expose`]
/// only where it goes on the wire.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretString(String);

impl SecretString {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself; call only to put it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"***\"")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Extra request headers (HTTP) or metadata (gRPC), values masked in `Debug`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Headers(Vec<(String, SecretString)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces `name` (compared case-insensitively; stored lowercase).
    pub fn insert(&mut self, name: impl Into<String>, value: SecretString) {
        let name = name.into().to_ascii_lowercase();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name, value)),
        }
    }

    /// The value for `name`, if set.
    pub fn get(&self, name: &str) -> Option<&SecretString> {
        let name = name.to_ascii_lowercase();
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Iterates `(lowercase name, value)` pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &SecretString)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Request body compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Send bodies as they are.
    #[default]
    None,
    /// gzip (`Content-Encoding: gzip`, gRPC `grpc-encoding: gzip`).
    Gzip,
}

/// OTLP/HTTP body encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HttpProtocol {
    /// `application/x-protobuf`.
    #[default]
    Binary,
    /// `application/json`, OTLP JSON mapping.
    Json,
}

/// TLS files for an OTLP transport. Paths are absolute (the config resolver
/// resolves them against the config file's folder).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsConfig {
    /// PEM file with the CA certificate(s) to trust instead of the system roots.
    pub ca_certificate: Option<PathBuf>,
    /// PEM file with the client certificate chain, for mTLS.
    pub client_certificate: Option<PathBuf>,
    /// PEM file with the client private key, for mTLS.
    pub client_private_key: Option<PathBuf>,
    /// Accept plaintext `http://` endpoints for gRPC (`OTEL_EXPORTER_OTLP_INSECURE`).
    pub insecure: bool,
}

/// TLS material read from the files of a [`TlsConfig`], parsed once: the
/// PEM bytes for stacks that take PEM (tonic) and the parsed DER for those
/// that take certificates (rustls).
#[derive(Default)]
pub struct TlsMaterial {
    /// PEM bytes of the trusted CA certificate(s).
    pub ca_pem: Option<Vec<u8>>,
    /// The same CA certificates, parsed (empty without a CA file).
    pub ca_certificates: Vec<CertificateDer<'static>>,
    /// The client certificate chain and private key.
    pub identity: Option<ClientIdentityPem>,
}

impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("ca_pem", &self.ca_pem.as_ref().map(Vec::len))
            .field("identity", &self.identity.is_some())
            .finish()
    }
}

/// A client certificate chain and its private key, as PEM and parsed.
pub struct ClientIdentityPem {
    /// Certificate chain, PEM.
    pub certificate_pem: Vec<u8>,
    /// Private key, PEM. Never printed.
    pub private_key_pem: Vec<u8>,
    /// The certificate chain, parsed.
    pub certificate_chain: Vec<CertificateDer<'static>>,
    /// The private key, parsed. Never printed.
    pub private_key: PrivateKeyDer<'static>,
}

/// Why TLS files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read.
    #[error("cannot read {what} file {path}: {source}")]
    Read {
        /// Which setting named the file (`ca-certificate`, ...).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The io error.
        source: std::io::Error,
    },
    /// The file holds no usable PEM item of the expected type.
    #[error("{what} file {path} holds no PEM {expected}; fix: point it at a PEM file")]
    Parse {
        /// Which setting named the file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What was expected (`certificate`, `private key`).
        expected: &'static str,
    },
    /// Only one half of the client identity was given.
    #[error("client-certificate and client-private-key go together; set both for mTLS or neither")]
    IncompleteIdentity,
}

impl TlsConfig {
    /// True when no TLS file is configured.
    pub fn is_empty(&self) -> bool {
        self.ca_certificate.is_none()
            && self.client_certificate.is_none()
            && self.client_private_key.is_none()
    }

    /// Reads every configured file and checks it parses as PEM of the right
    /// type, so a bad file fails when the exporter is built, not at first use.
    pub fn load(&self) -> Result<TlsMaterial, TlsError> {
        let (ca_pem, ca_certificates) = match &self.ca_certificate {
            Some(path) => {
                let (pem, certificates) = read_certificates("ca-certificate", path)?;
                (Some(pem), certificates)
            }
            None => (None, Vec::new()),
        };
        let identity = match (&self.client_certificate, &self.client_private_key) {
            (Some(cert), Some(key)) => {
                let (certificate_pem, certificate_chain) =
                    read_certificates("client-certificate", cert)?;
                let (private_key_pem, private_key) = read_private_key(key)?;
                Some(ClientIdentityPem {
                    certificate_pem,
                    private_key_pem,
                    certificate_chain,
                    private_key,
                })
            }
            (None, None) => None,
            _ => return Err(TlsError::IncompleteIdentity),
        };
        Ok(TlsMaterial {
            ca_pem,
            ca_certificates,
            identity,
        })
    }
}

/// Largest TLS file read (a full CA bundle is a few hundred KiB): a path
/// such as `/dev/zero` must not exhaust memory.
const MAX_TLS_FILE_BYTES: u64 = 4 * 1024 * 1024;

fn read_file(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    use std::io::Read as _;
    let error = |source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_TLS_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(error)?;
    if bytes.len() as u64 > MAX_TLS_FILE_BYTES {
        return Err(error(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("larger than {MAX_TLS_FILE_BYTES} bytes; not a PEM file"),
        )));
    }
    Ok(bytes)
}

/// A PEM file of certificates: its bytes and the parsed certificates.
type CertificatesPem = (Vec<u8>, Vec<CertificateDer<'static>>);

fn read_certificates(what: &'static str, path: &Path) -> Result<CertificatesPem, TlsError> {
    let pem = read_file(what, path)?;
    let parsed = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .ok()
        .filter(|certs| !certs.is_empty());
    match parsed {
        Some(certificates) => Ok((pem, certificates)),
        None => Err(TlsError::Parse {
            what,
            path: path.to_path_buf(),
            expected: "certificate",
        }),
    }
}

fn read_private_key(path: &Path) -> Result<(Vec<u8>, PrivateKeyDer<'static>), TlsError> {
    let what = "client-private-key";
    let pem = read_file(what, path)?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(key) => Ok((pem, key)),
        Err(_) => Err(TlsError::Parse {
            what,
            path: path.to_path_buf(),
            expected: "private key",
        }),
    }
}

/// `url` as it may be shown in messages and `Debug` output: the password
/// of its user-info (`scheme://user:password@host`), every query value
/// (`?api_key=***`; a query part without `=` entirely) and the fragment
/// (`#***`) replaced by `***`, and control characters escaped (`\u{a}`).
/// Works on text, so an unparsable URL is masked too; the user-info ends at
/// the last `@` before the path, query or fragment.
pub fn mask_url_credentials(url: &str) -> String {
    let masked = mask_query_and_fragment(&mask_user_info(url));
    if masked.contains(char::is_control) {
        masked
            .chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().collect()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        masked
    }
}

/// The query's values and the fragment of `url` replaced by `***`.
fn mask_query_and_fragment(url: &str) -> String {
    let Some(start) = url.find(['?', '#']) else {
        return url.to_owned();
    };
    let (head, tail) = url.split_at(start);
    let (query, fragment) = match tail.strip_prefix('?') {
        Some(rest) => match rest.find('#') {
            Some(hash) => (Some(&rest[..hash]), Some(&rest[hash + 1..])),
            None => (Some(rest), None),
        },
        None => (None, Some(&tail[1..])),
    };
    let mut out = head.to_owned();
    if let Some(query) = query {
        out.push('?');
        let parts: Vec<String> = query
            .split('&')
            .map(|part| match part.split_once('=') {
                Some((key, _)) => format!("{key}=***"),
                None if part.is_empty() => String::new(),
                None => "***".to_owned(),
            })
            .collect();
        out.push_str(&parts.join("&"));
    }
    if fragment.is_some() {
        out.push_str("#***");
    }
    out
}

/// The password of `url`'s user-info replaced by `***`.
fn mask_user_info(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &userinfo[..colon],
            &url[scheme_end + at..]
        ),
        None => url.to_owned(),
    }
}

/// Settings every OTLP exporter takes besides its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportOptions {
    /// Extra headers / metadata; values are secrets.
    pub headers: Headers,
    /// Body compression.
    pub compression: Compression,
    /// Per-request timeout (OTLP default 10 s).
    pub timeout: Duration,
    /// TLS files.
    pub tls: TlsConfig,
}

impl Default for TransportOptions {
    fn default() -> Self {
        Self {
            headers: Headers::new(),
            compression: Compression::None,
            timeout: Duration::from_secs(10),
            tls: TlsConfig::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mask_url_credentials as mask;

    #[test]
    fn url_passwords_are_masked_whatever_they_contain() {
        assert_eq!(mask("https://h:4318/v1/logs"), "https://h:4318/v1/logs");
        assert_eq!(mask("https://u@h/v1/logs"), "https://u@h/v1/logs");
        assert_eq!(mask("https://u:pw@h/v1/logs"), "https://u:***@h/v1/logs");
        assert_eq!(
            mask("https://user:p@ss@host:99999/v1/logs"),
            "https://user:***@host:99999/v1/logs"
        );
        assert_eq!(mask("https://u:a:b@h?x=@y"), "https://u:***@h?x=***");
        assert_eq!(mask("no scheme u:pw@h"), "no scheme u:pw@h");
    }

    #[test]
    fn query_values_and_fragments_are_masked_and_controls_escaped() {
        assert_eq!(
            mask("https://h/v1/logs?api_key=s3cret&tenant=a"),
            "https://h/v1/logs?api_key=***&tenant=***"
        );
        assert_eq!(mask("https://h/v1/logs?s3cret"), "https://h/v1/logs?***");
        assert_eq!(mask("https://h/v1/logs#s3cret"), "https://h/v1/logs#***");
        assert_eq!(
            mask("https://u:pw@h/p?k=v#f?x=y"),
            "https://u:***@h/p?k=***#***"
        );
        assert_eq!(mask("https://h/?"), "https://h/?");
        assert_eq!(mask("h:4318?token=t"), "h:4318?token=***");
        assert_eq!(
            mask("https://h/\u{1b}[2J\r\n"),
            "https://h/\\u{1b}[2J\\r\\n"
        );
    }
}
