//! A small OTLP **logs** receiver on loopback, over OTLP/HTTP and OTLP/gRPC.
//!
//! It is the mock collector of agent-otel's tests and the local sink of the
//! `agent-otel collect` / `agent-otel demo` commands. The servers run on a
//! background thread with their own tokio runtime, so the API is synchronous
//! and works the same from a plain `fn main`, a `#[test]` or inside any tokio
//! runtime. Every blocking call is bounded by a timeout, and dropping the
//! [`Collector`] stops the servers (even with requests held open by
//! [`Fault::NeverAnswer`]).
//!
//! ```
//! use std::time::Duration;
//! use agent_otel_collector::{Collector, CollectorConfig, Fault};
//!
//! let collector = Collector::start(CollectorConfig::default())?;
//! println!("OTLP/HTTP: {}", collector.http_logs_endpoint().unwrap_or_default());
//! println!("OTLP/gRPC: {}", collector.grpc_endpoint().unwrap_or_default());
//! // The next request is refused with 503 / UNAVAILABLE, then all is accepted.
//! collector.push_fault(Fault::Unavailable { retry_after: Some(Duration::from_secs(1)) }, 1);
//! // ... point an exporter at it, then:
//! assert!(collector.wait_for_records(1, Duration::from_millis(10)).is_err());
//! # Ok::<(), agent_otel_collector::CollectorError>(())
//! ```
//!
//! What is served:
//!
//! * HTTP `POST /v1/logs` with `Content-Type: application/x-protobuf` (or
//!   `application/protobuf`) or `application/json` (OTLP JSON), optionally
//!   `Content-Encoding: gzip`. The answer is in the request's encoding.
//!   Other paths: 404; other methods: 405; other content types or encodings:
//!   415; undecodable bodies: 400; bodies (wire or decompressed) over
//!   [`CollectorConfig::max_body_bytes`]: 413. Those refused requests are not
//!   recorded and do not consume scripted faults.
//! * gRPC `opentelemetry.proto.collector.logs.v1.LogsService/Export`, gzip
//!   accepted, responses compressed only when the client asks for it.
//!
//! # TLS and mutual TLS
//!
//! Plaintext by default. With [`CollectorConfig::tls`] set to a
//! [`CollectorTls`] (PEM certificate chain and key), **both** receivers serve
//! TLS 1.2/1.3 only, through rustls with the *ring* crypto provider (chosen
//! explicitly; no process-wide default provider is needed or installed). The
//! HTTP receiver offers ALPN `h2` and `http/1.1`, the gRPC one `h2`. With
//! [`CollectorTls::client_ca_pem`] set, clients must present a certificate
//! issued by that CA (mutual TLS); [`ReceivedRequest::client_certificate`]
//! tells whether a request's client did.
//!
//! Unusable PEM material fails [`Collector::start`] with
//! [`CollectorError::Tls`]. Handshakes run off the accept loop, so a client
//! that fails its handshake (untrusted server certificate, missing or
//! untrusted client certificate, plaintext on the TLS port) or stalls in it
//! only loses its own connection; such connections are counted by
//! [`Collector::tls_handshake_failures`].
//!
//! The endpoint accessors then return `https://127.0.0.1:PORT...`, so the
//! server certificate should carry an IP SAN `127.0.0.1`; for a certificate
//! naming only `localhost` use [`Collector::http_logs_endpoint_for_host`],
//! [`Collector::http_base_endpoint_for_host`] or
//! [`Collector::grpc_endpoint_for_host`] with `"localhost"`.
//!
//! ```no_run
//! use agent_otel_collector::{Collector, CollectorConfig, CollectorTls};
//!
//! # fn pem(_: &str) -> Vec<u8> { Vec::new() }
//! let tls = CollectorTls::new(pem("server.crt"), pem("server.key"))
//!     .with_client_ca(pem("clients-ca.crt")); // omit for server-only TLS
//! let collector = Collector::start(CollectorConfig::default().with_tls(tls))?;
//! assert!(collector.grpc_endpoint().unwrap_or_default().starts_with("https://"));
//! # Ok::<(), agent_otel_collector::CollectorError>(())
//! ```

mod fault;
mod http_server;
mod record;
mod server;
mod state;
#[cfg(feature = "test-pki")]
pub mod test_pki;
mod tls;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

pub use fault::{Answer, Fault};
pub use record::{ReceivedRecord, ReceivedRequest, Transport, any_value_text};
pub use tls::CollectorTls;

/// The OTLP wire types this crate speaks (re-exported for convenience).
pub use opentelemetry_proto;

use server::Ctx;
use state::Shared;

/// Default cap on request bodies: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// How long [`Collector::start`] waits for the server thread to be ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long dropping a [`Collector`] waits for its thread to finish.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Where and how the collector listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// OTLP/HTTP listen address; `None` disables the HTTP receiver.
    pub http_addr: Option<SocketAddr>,
    /// OTLP/gRPC listen address; `None` disables the gRPC receiver.
    pub grpc_addr: Option<SocketAddr>,
    /// Largest accepted request body. HTTP: on the wire and after
    /// decompression (413 beyond). gRPC: the decoded message size (tonic
    /// answers `OUT_OF_RANGE` beyond; the wire body may exceed it by gzip's
    /// worst-case overhead, else `RESOURCE_EXHAUSTED`).
    /// Default [`DEFAULT_MAX_BODY_BYTES`].
    pub max_body_bytes: usize,
    /// `Some`: both receivers serve TLS (mutual TLS when
    /// [`CollectorTls::client_ca_pem`] is set). `None` (the default):
    /// plaintext.
    pub tls: Option<CollectorTls>,
    /// Whether to keep every received request in memory for
    /// [`Collector::requests`], [`Collector::records`] and the vectors the
    /// `wait_for_*` methods return. Default `true`, as tests want.
    ///
    /// `false` suits a long-running sink that only reads
    /// [`Collector::subscribe`]: nothing is kept, so memory stays flat.
    /// Requests and records are still counted
    /// ([`Collector::request_count`], [`Collector::record_count`]),
    /// subscribers still get every request, scripted faults still apply and
    /// [`Collector::wait_for_requests`] / [`Collector::wait_for_records`]
    /// still wait on the counts; but [`Collector::requests`],
    /// [`Collector::records`] and the vectors the waits return are empty.
    pub keep_requests: bool,
}

fn loopback_ephemeral() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

impl Default for CollectorConfig {
    /// Both receivers on `127.0.0.1:0` (ephemeral ports), 64 MiB body cap,
    /// plaintext, requests kept.
    fn default() -> Self {
        CollectorConfig {
            http_addr: Some(loopback_ephemeral()),
            grpc_addr: Some(loopback_ephemeral()),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            tls: None,
            keep_requests: true,
        }
    }
}

impl CollectorConfig {
    /// Only the HTTP receiver, on an ephemeral loopback port.
    pub fn http_only() -> Self {
        CollectorConfig {
            grpc_addr: None,
            ..CollectorConfig::default()
        }
    }

    /// Only the gRPC receiver, on an ephemeral loopback port.
    pub fn grpc_only() -> Self {
        CollectorConfig {
            http_addr: None,
            ..CollectorConfig::default()
        }
    }

    /// This configuration with both receivers serving `tls`.
    #[must_use]
    pub fn with_tls(self, tls: CollectorTls) -> Self {
        CollectorConfig {
            tls: Some(tls),
            ..self
        }
    }
}

/// Why the collector could not start.
#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    /// Neither `http_addr` nor `grpc_addr` was set.
    #[error("no receiver configured: set http_addr, grpc_addr or both")]
    NoReceiver,
    /// A listen address could not be bound (for example, already in use).
    #[error("cannot listen for OTLP/{transport} on {addr}: {source}")]
    Bind {
        /// Which receiver.
        transport: Transport,
        /// The address asked for.
        addr: SocketAddr,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The server thread or its tokio runtime could not be created.
    #[error("cannot start the collector's server thread: {0}")]
    Runtime(#[source] std::io::Error),
    /// The server thread did not report ready in time.
    #[error("the collector's server thread did not start within {0:?}")]
    StartTimeout(Duration),
    /// [`CollectorConfig::tls`] is unusable: a PEM field holds no usable
    /// certificate or key, the key does not match the certificate, or the
    /// client CA is not a usable trust anchor. The message names the field;
    /// it never quotes key material.
    #[error("invalid collector TLS configuration: {0}")]
    Tls(String),
}

/// [`Collector::wait_for_records`], [`Collector::wait_for_requests`] or
/// [`Collector::wait_for_tls_handshake_failures`] gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {timeout:?} waiting for {expected} {what}: {arrived} arrived")]
pub struct WaitTimeout {
    /// What was waited for: `"records"`, `"requests"` or
    /// `"TLS handshake failures"`.
    pub what: &'static str,
    /// How many were expected.
    pub expected: usize,
    /// How many had arrived at the deadline.
    pub arrived: usize,
    /// The timeout that passed.
    pub timeout: Duration,
}

/// A running OTLP logs receiver. Dropping it stops the servers.
pub struct Collector {
    shared: Arc<Shared>,
    http_addr: Option<SocketAddr>,
    grpc_addr: Option<SocketAddr>,
    tls: bool,
    shutdown: watch::Sender<bool>,
    thread: Mutex<Option<JoinHandle<()>>>,
    finished: Mutex<Option<mpsc::Receiver<()>>>,
}

impl fmt::Debug for Collector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Collector")
            .field("http_addr", &self.http_addr)
            .field("grpc_addr", &self.grpc_addr)
            .field("tls", &self.tls)
            .field("request_count", &self.request_count())
            .field("record_count", &self.record_count())
            .finish_non_exhaustive()
    }
}

fn bind(transport: Transport, addr: SocketAddr) -> Result<TcpListener, CollectorError> {
    let err = |source| CollectorError::Bind {
        transport,
        addr,
        source,
    };
    let listener = TcpListener::bind(addr).map_err(err)?;
    listener.set_nonblocking(true).map_err(err)?;
    Ok(listener)
}

fn to_tokio(
    transport: Transport,
    listener: Option<(TcpListener, SocketAddr)>,
) -> Result<Option<tokio::net::TcpListener>, CollectorError> {
    listener
        .map(|(l, addr)| {
            tokio::net::TcpListener::from_std(l).map_err(|source| CollectorError::Bind {
                transport,
                addr,
                source,
            })
        })
        .transpose()
}

impl Collector {
    /// Binds the configured listeners and starts the servers on a background
    /// thread. Returns once both are accepting connections.
    pub fn start(config: CollectorConfig) -> Result<Collector, CollectorError> {
        if config.http_addr.is_none() && config.grpc_addr.is_none() {
            return Err(CollectorError::NoReceiver);
        }
        let tls = config.tls.as_ref().map(tls::server_configs).transpose()?;
        let tls_on = tls.is_some();
        let mut http = None;
        let mut grpc = None;
        if let Some(addr) = config.http_addr {
            let l = bind(Transport::Http, addr)?;
            let local = l.local_addr().map_err(|source| CollectorError::Bind {
                transport: Transport::Http,
                addr,
                source,
            })?;
            http = Some((l, local));
        }
        if let Some(addr) = config.grpc_addr {
            let l = bind(Transport::Grpc, addr)?;
            let local = l.local_addr().map_err(|source| CollectorError::Bind {
                transport: Transport::Grpc,
                addr,
                source,
            })?;
            grpc = Some((l, local));
        }
        let http_addr = http.as_ref().map(|(_, a)| *a);
        let grpc_addr = grpc.as_ref().map(|(_, a)| *a);

        let shared = Arc::new(Shared::new(config.keep_requests));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            shared: Arc::clone(&shared),
            max_body_bytes: config.max_body_bytes,
            shutdown: shutdown_rx,
            inflight: watch::channel(0).0,
        });
        let (ready_tx, ready_rx) = mpsc::channel::<Result<(), CollectorError>>();
        let (finished_tx, finished_rx) = mpsc::channel::<()>();

        let thread = std::thread::Builder::new()
            .name("agent-otel-collector".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .thread_name("agent-otel-collector-worker")
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(CollectorError::Runtime(e)));
                        return;
                    }
                };
                let listeners = {
                    let _guard = rt.enter();
                    to_tokio(Transport::Http, http)
                        .and_then(|h| Ok((h, to_tokio(Transport::Grpc, grpc)?)))
                };
                match listeners {
                    Ok((http, grpc)) => {
                        let _ = ready_tx.send(Ok(()));
                        rt.block_on(server::run(ctx, http, grpc, tls));
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                    }
                }
                rt.shutdown_timeout(Duration::from_millis(500));
                let _ = finished_tx.send(());
            })
            .map_err(CollectorError::Runtime)?;

        let collector = Collector {
            shared,
            http_addr,
            grpc_addr,
            tls: tls_on,
            shutdown,
            thread: Mutex::new(Some(thread)),
            finished: Mutex::new(Some(finished_rx)),
        };
        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => Ok(collector),
            Ok(Err(e)) => Err(e),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(CollectorError::StartTimeout(START_TIMEOUT))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(CollectorError::Runtime(
                std::io::Error::other("the server thread exited during start-up"),
            )),
        }
    }

    /// The bound OTLP/HTTP address, when the HTTP receiver runs.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The bound OTLP/gRPC address, when the gRPC receiver runs.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// Whether the receivers serve TLS ([`CollectorConfig::tls`]).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// `http://ADDR:PORT/v1/logs` (`https://` with TLS), the OTLP/HTTP logs
    /// endpoint.
    pub fn http_logs_endpoint(&self) -> Option<String> {
        self.http_base_endpoint()
            .map(|base| format!("{base}{}", http_server::LOGS_PATH))
    }

    /// `http://ADDR:PORT` (`https://` with TLS), the OTLP/HTTP base endpoint
    /// (the exporter appends `/v1/logs`, as with `OTEL_EXPORTER_OTLP_ENDPOINT`).
    pub fn http_base_endpoint(&self) -> Option<String> {
        self.http_addr.map(|a| format!("{}://{a}", self.scheme()))
    }

    /// `http://ADDR:PORT` (`https://` with TLS), the OTLP/gRPC endpoint.
    pub fn grpc_endpoint(&self) -> Option<String> {
        self.grpc_addr.map(|a| format!("{}://{a}", self.scheme()))
    }

    /// [`Collector::http_logs_endpoint`] naming the server `host` instead of
    /// its IP address, for example `https://localhost:PORT/v1/logs` to match
    /// a certificate issued for `localhost`. `host` is used as given (put
    /// IPv6 addresses in brackets).
    pub fn http_logs_endpoint_for_host(&self, host: &str) -> Option<String> {
        self.http_base_endpoint_for_host(host)
            .map(|base| format!("{base}{}", http_server::LOGS_PATH))
    }

    /// [`Collector::http_base_endpoint`] naming the server `host` (see
    /// [`Collector::http_logs_endpoint_for_host`]).
    pub fn http_base_endpoint_for_host(&self, host: &str) -> Option<String> {
        self.http_addr
            .map(|a| format!("{}://{host}:{}", self.scheme(), a.port()))
    }

    /// [`Collector::grpc_endpoint`] naming the server `host` (see
    /// [`Collector::http_logs_endpoint_for_host`]).
    pub fn grpc_endpoint_for_host(&self, host: &str) -> Option<String> {
        self.grpc_addr
            .map(|a| format!("{}://{host}:{}", self.scheme(), a.port()))
    }

    /// How many TLS connections (of either receiver) were dropped because
    /// their handshake failed: the client refused the server's certificate,
    /// presented no or an untrusted certificate under mutual TLS, spoke
    /// plaintext, or closed or stalled (10 s) before finishing. Not reset by
    /// [`Collector::clear`].
    pub fn tls_handshake_failures(&self) -> usize {
        self.shared.lock().tls_handshake_failures
    }

    /// Waits until at least `n` TLS handshakes failed (see
    /// [`Collector::tls_handshake_failures`]) and returns the count, or gives
    /// up after `timeout`. The server notices a failure after the client
    /// does, so wait rather than read the count right after a client error.
    pub fn wait_for_tls_handshake_failures(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<usize, WaitTimeout> {
        let (st, ok) = self
            .shared
            .wait_until(timeout, |st| st.tls_handshake_failures >= n);
        if !ok {
            return Err(WaitTimeout {
                what: "TLS handshake failures",
                expected: n,
                arrived: st.tls_handshake_failures,
                timeout,
            });
        }
        Ok(st.tls_handshake_failures)
    }

    /// Every request received so far (accepted or not), in arrival order.
    /// Empty when [`CollectorConfig::keep_requests`] is `false`.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The log records of every request whose answer counts them (accepted,
    /// delayed and partially successful ones; see [`Answer::counts_records`]),
    /// in arrival order. Empty when [`CollectorConfig::keep_requests`] is
    /// `false`.
    pub fn records(&self) -> Vec<ReceivedRecord> {
        let st = self.shared.lock();
        let mut out = Vec::with_capacity(st.record_count);
        for req in st.requests.iter().filter(|r| r.answered.counts_records()) {
            req.push_records(&mut out);
        }
        out
    }

    /// How many records [`Collector::records`] would return (with
    /// [`CollectorConfig::keep_requests`]; counted either way).
    pub fn record_count(&self) -> usize {
        self.shared.lock().record_count
    }

    /// How many requests were received, including refused ones (counted
    /// whatever [`CollectorConfig::keep_requests`] says).
    pub fn request_count(&self) -> usize {
        self.shared.lock().request_count
    }

    /// Waits until at least `n` records are counted (see
    /// [`Collector::records`]) and returns them all (none without
    /// [`CollectorConfig::keep_requests`]), or gives up after `timeout`
    /// saying how many arrived.
    pub fn wait_for_records(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedRecord>, WaitTimeout> {
        let (st, ok) = self.shared.wait_until(timeout, |st| st.record_count >= n);
        if !ok {
            return Err(WaitTimeout {
                what: "records",
                expected: n,
                arrived: st.record_count,
                timeout,
            });
        }
        drop(st);
        Ok(self.records())
    }

    /// Waits until at least `n` requests (of any answer) arrived and returns
    /// them all (none without [`CollectorConfig::keep_requests`]), or gives
    /// up after `timeout` saying how many arrived.
    pub fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedRequest>, WaitTimeout> {
        let (st, ok) = self.shared.wait_until(timeout, |st| st.request_count >= n);
        if !ok {
            return Err(WaitTimeout {
                what: "requests",
                expected: n,
                arrived: st.request_count,
                timeout,
            });
        }
        Ok(st.requests.clone())
    }

    /// Forgets the requests and records received so far and resets their
    /// counts. Scripted faults, the default fault and subscriptions are kept.
    pub fn clear(&self) {
        let mut st = self.shared.lock();
        st.requests.clear();
        st.request_count = 0;
        st.record_count = 0;
    }

    /// A live feed of the requests received from now on (all of them,
    /// whatever the answer; check [`ReceivedRequest::answered`]). A request
    /// is fed before it is answered, so every request a client saw accepted
    /// is in the feed, including those in flight when the collector is
    /// dropped. The feed ends once a dropped collector's servers have
    /// stopped.
    pub fn subscribe(&self) -> mpsc::Receiver<ReceivedRequest> {
        let (tx, rx) = mpsc::channel();
        self.shared.lock().subscribers.push(tx);
        rx
    }

    /// Scripts `fault` for the next `times` requests (after the faults
    /// already scripted). Faults are consumed first-in first-out by decoded
    /// requests of either transport; then normal acceptance resumes.
    pub fn push_fault(&self, fault: Fault, times: usize) {
        let mut st = self.shared.lock();
        st.faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Drops the scripted faults not consumed yet.
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// How many scripted faults are still to be consumed.
    pub fn pending_faults(&self) -> usize {
        self.shared.lock().faults.len()
    }

    /// Sets the answer given when no scripted fault is pending: `None`
    /// (the default) accepts; `Some(fault)` answers every such request with
    /// `fault` (for example a long outage) until reset.
    pub fn set_default_fault(&self, fault: Option<Fault>) {
        self.shared.lock().default_fault = fault;
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
        // The live feeds end only once the servers have drained: a request
        // in flight now still reaches the subscribers before it is answered.
        let finished = self
            .finished
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let thread = self
            .thread
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let done = match finished {
            Some(rx) => !matches!(
                rx.recv_timeout(STOP_TIMEOUT),
                Err(mpsc::RecvTimeoutError::Timeout)
            ),
            None => true,
        };
        match thread {
            Some(handle) if done => {
                let _ = handle.join();
            }
            Some(_) => {
                tracing::warn!(
                    "collector thread did not stop within {STOP_TIMEOUT:?}; detaching it"
                );
            }
            None => {}
        }
        // End live feeds; a request a detached server still receives is
        // refused (see `Shared::receive`), never accepted unseen.
        self.shared.close();
    }
}
