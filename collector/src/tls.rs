//! TLS termination for both receivers: rustls (ring provider, chosen
//! explicitly) through one tokio-rustls acceptor per receiver.
//!
//! Each receiver's accept loop hands every TCP connection to its own
//! handshake task, so a slow, silent or failing client never holds up the
//! others. Completed handshakes are passed to the HTTP server (through
//! [`TlsListener`]) or the gRPC server (as its incoming stream); failed ones
//! are logged at debug level, counted and dropped.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ServerConfig, WebPkiClientVerifier};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

use crate::CollectorError;
use crate::connection::Guarded;
use crate::server::{Ctx, wait_shutdown};

/// A TLS connection over a guarded TCP connection.
pub(crate) type Tls = TlsStream<Guarded<TcpStream>>;

/// Longest time a client gets to complete its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Completed handshakes waiting for their server to pick them up.
const ACCEPTED_BACKLOG: usize = 64;

/// TLS material for the collector's receivers (both serve TLS when set).
///
/// All fields are PEM. `Debug` never prints the private key.
///
/// The endpoint accessors ([`Collector::http_logs_endpoint`] and friends)
/// name the server by IP (`https://127.0.0.1:PORT`), so a certificate for
/// loopback tests should carry an IP SAN `127.0.0.1` besides the DNS name
/// `localhost`; with a `localhost`-only certificate use the `..._for_host`
/// accessors (for example [`Collector::grpc_endpoint_for_host`]`("localhost")`).
///
/// [`Collector::http_logs_endpoint`]: crate::Collector::http_logs_endpoint
/// [`Collector::grpc_endpoint_for_host`]: crate::Collector::grpc_endpoint_for_host
#[derive(Clone, PartialEq, Eq)]
pub struct CollectorTls {
    /// The server certificate, then any intermediates (PEM, one or more
    /// `CERTIFICATE` blocks).
    pub certificate_chain_pem: Vec<u8>,
    /// The server certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub private_key_pem: Vec<u8>,
    /// `Some` enables mutual TLS: clients must present a certificate that
    /// chains to one of these CA certificates (PEM), or their handshake is
    /// refused. `None`: no client certificate is asked for.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl CollectorTls {
    /// Server-authenticated TLS with this certificate chain and key.
    pub fn new(
        certificate_chain_pem: impl Into<Vec<u8>>,
        private_key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        CollectorTls {
            certificate_chain_pem: certificate_chain_pem.into(),
            private_key_pem: private_key_pem.into(),
            client_ca_pem: None,
        }
    }

    /// Requires client certificates issued by these CA certificates (mTLS).
    #[must_use]
    pub fn with_client_ca(mut self, client_ca_pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca_pem = Some(client_ca_pem.into());
        self
    }
}

impl fmt::Debug for CollectorTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CollectorTls")
            .field(
                "certificate_chain_pem",
                &format_args!("<{} bytes>", self.certificate_chain_pem.len()),
            )
            .field("private_key_pem", &format_args!("<redacted>"))
            .field(
                "client_ca_pem",
                &self
                    .client_ca_pem
                    .as_ref()
                    .map(|pem| format!("<{} bytes>", pem.len())),
            )
            .finish()
    }
}

/// The rustls server configurations of both receivers.
#[derive(Clone)]
pub(crate) struct ServerConfigs {
    /// ALPN `h2`, `http/1.1`.
    pub(crate) http: Arc<ServerConfig>,
    /// ALPN `h2`.
    pub(crate) grpc: Arc<ServerConfig>,
}

fn tls_error(what: &str, reason: impl fmt::Display) -> CollectorError {
    CollectorError::Tls(format!("{what}: {reason}"))
}

fn certificates(what: &str, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, CollectorError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(what, e))?;
    if certs.is_empty() {
        return Err(tls_error(what, "no PEM certificate found"));
    }
    Ok(certs)
}

/// Validates `tls` and builds the server configurations, with the ring
/// crypto provider (never the process-wide default).
pub(crate) fn server_configs(tls: &CollectorTls) -> Result<ServerConfigs, CollectorError> {
    let chain = certificates("certificate_chain_pem", &tls.certificate_chain_pem)?;
    // Never quote key material in the error.
    let key = PrivateKeyDer::from_pem_slice(&tls.private_key_pem)
        .map_err(|_| tls_error("private_key_pem", "no usable PEM private key found"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    provider
        .key_provider
        .load_private_key(key.clone_key())
        .map_err(|_| {
            tls_error(
                "private_key_pem",
                "not a supported private key (RSA, ECDSA P-256/P-384 or Ed25519)",
            )
        })?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error("crypto provider", e))?;
    let builder = match &tls.client_ca_pem {
        Some(pem) => {
            let mut roots = RootCertStore::empty();
            let (added, _ignored) =
                roots.add_parsable_certificates(certificates("client_ca_pem", pem)?);
            if added == 0 {
                return Err(tls_error(
                    "client_ca_pem",
                    "no certificate is a usable trust anchor",
                ));
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| tls_error("client_ca_pem", e))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut http = builder.with_single_cert(chain, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => tls_error(
            "private_key_pem",
            "the key does not belong to the first certificate of certificate_chain_pem",
        ),
        other => tls_error("certificate_chain_pem/private_key_pem", other),
    })?;
    let mut grpc = http.clone();
    http.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    grpc.alpn_protocols = vec![b"h2".to_vec()];
    Ok(ServerConfigs {
        http: Arc::new(http),
        grpc: Arc::new(grpc),
    })
}

/// Whether the peer of `stream` presented a (verified) certificate.
pub(crate) fn has_client_certificate<IO>(stream: &TlsStream<IO>) -> bool {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .is_some_and(|certs| !certs.is_empty())
}

/// Runs the TLS handshake of every connection `connections` yields (the
/// receiver's bounded accept loop); returns the task and the completed
/// handshakes. The task ends at shutdown or once the receiver is dropped.
pub(crate) fn accept(
    mut connections: mpsc::Receiver<(Guarded<TcpStream>, SocketAddr)>,
    config: Arc<ServerConfig>,
    ctx: Arc<Ctx>,
) -> (tokio::task::JoinHandle<()>, mpsc::Receiver<Tls>) {
    let (tx, rx) = mpsc::channel(ACCEPTED_BACKLOG);
    let acceptor = TlsAcceptor::from(config);
    let task = tokio::spawn(async move {
        loop {
            let accepted = tokio::select! {
                accepted = connections.recv() => accepted,
                () = wait_shutdown(ctx.shutdown.clone()) => return,
                () = tx.closed() => return,
            };
            let Some((tcp, peer)) = accepted else { return };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            let ctx = Arc::clone(&ctx);
            tokio::spawn(async move {
                let handshake = acceptor.accept(tcp).into_fallible();
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(stream)) => {
                        // Fails only when the server stopped; the connection is
                        // then dropped.
                        let _ = tx.send(stream).await;
                    }
                    Ok(Err((err, tcp))) => {
                        handshake_failed(&ctx, peer, &err);
                        close_gracefully(tcp).await;
                    }
                    Err(_) => handshake_failed(&ctx, peer, &"timed out"),
                }
            });
        }
    });
    (task, rx)
}

/// How long a refused client gets to read our alert and close its side.
const LINGER: Duration = Duration::from_secs(2);

/// Closes a connection whose handshake failed so the client reads our TLS
/// alert: rustls has queued the alert; we send FIN, then read and discard
/// what the client already sent (its first request, under TLS 1.3) until
/// it closes or [`LINGER`] passes. Dropping the socket with unread bytes
/// would make the kernel answer with a reset that destroys the alert, and
/// the client would report a bare "connection reset" instead of the
/// certificate problem.
async fn close_gracefully(mut tcp: Guarded<TcpStream>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _ = tcp.shutdown().await;
    let mut sink = [0u8; 4096];
    let drain = async {
        while let Ok(n) = tcp.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

fn handshake_failed(ctx: &Ctx, peer: SocketAddr, err: &dyn fmt::Display) {
    tracing::debug!(%peer, %err, "collector TLS handshake failed; connection dropped");
    ctx.shared.note_tls_handshake_failure();
}

/// A TLS connection's peer, as seen by the HTTP handlers (through
/// `ConnectInfo<PeerInfo>`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerInfo {
    /// Whether the client presented a certificate.
    pub(crate) client_certificate: bool,
}

/// The completed handshakes of the HTTP receiver, as an axum listener.
pub(crate) struct TlsListener {
    pub(crate) accepted: mpsc::Receiver<Tls>,
}

impl axum::serve::Listener for TlsListener {
    type Io = Tls;
    type Addr = PeerInfo;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(stream) => {
                let info = PeerInfo {
                    client_certificate: has_client_certificate(&stream),
                };
                (stream, info)
            }
            // The accept loop ended (shutdown): nothing more will come.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(PeerInfo {
            client_certificate: false,
        })
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for PeerInfo
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        *stream.remote_addr()
    }
}
