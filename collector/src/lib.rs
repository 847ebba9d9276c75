//! A small OTLP receiver (logs, metrics, traces) on loopback, over OTLP/HTTP
//! and OTLP/gRPC.
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
//! * HTTP `POST /v1/logs`, `/v1/metrics`, `/v1/traces` with
//!   `Content-Type: application/x-protobuf` (or
//!   `application/protobuf`) or `application/json` (OTLP JSON), optionally
//!   `Content-Encoding: gzip`. The answer is in the request's encoding.
//!   Other paths: 404; other methods: 405; other content types or encodings:
//!   415; undecodable bodies: 400; bodies (wire or decompressed) over
//!   [`CollectorConfig::max_body_bytes`]: 413. Those refused requests are not
//!   recorded and do not consume scripted faults.
//! * gRPC `opentelemetry.proto.collector.{logs,metrics,trace}.v1.
//!   {Logs,Metrics,Trace}Service/Export`, gzip accepted, responses
//!   compressed only when the client asks for it.
//!
//! # One API per signal
//!
//! | | logs | metrics | traces |
//! | --- | --- | --- | --- |
//! | HTTP endpoint | [`Collector::http_logs_endpoint`] | [`Collector::http_metrics_endpoint`] | [`Collector::http_traces_endpoint`] |
//! | requests | [`Collector::requests`] | [`Collector::metrics_requests`] | [`Collector::trace_requests`] |
//! | items (counted answers) | [`Collector::records`] | [`Collector::metrics`] | [`Collector::spans`] |
//! | item count | [`Collector::record_count`] | [`Collector::data_point_count`] | [`Collector::span_count`] |
//! | wait for items | [`Collector::wait_for_records`] | [`Collector::wait_for_data_points`] | [`Collector::wait_for_spans`] |
//! | wait for requests | [`Collector::wait_for_requests`] | [`Collector::wait_for_metrics_requests`] | [`Collector::wait_for_trace_requests`] |
//! | live feed | [`Collector::subscribe`] | [`Collector::subscribe_metrics`] | [`Collector::subscribe_traces`] |
//! | faults | [`Collector::push_fault`] | [`Collector::push_fault_for`]`(Signal::Metrics, ..)` | [`Collector::push_fault_for`]`(Signal::Traces, ..)` |
//!
//! [`Collector::counts`] gives `(requests, items)` of any [`Signal`].
//! Each signal has its own fault queue and default fault.
//!
//! # Bounded
//!
//! Whatever a client sends, the collector holds a bounded amount: at most
//! [`CollectorConfig::max_connections`] connections per receiver (more wait
//! in the listen backlog), closed when silent past
//! [`CollectorConfig::header_read_timeout`] (no first byte) or
//! [`CollectorConfig::idle_timeout`]; at most
//! [`CollectorConfig::max_concurrent_requests`] requests read and handled at
//! once; bodies up to [`CollectorConfig::max_body_bytes`]; and at most
//! [`CollectorConfig::max_values_per_request`] values (counted on the wire,
//! before decoding) and [`CollectorConfig::max_records_per_request`] records
//! per request (413 / `RESOURCE_EXHAUSTED` beyond, see
//! [`Collector::refused_oversized`]).
//!
//! # Write before acknowledge
//!
//! [`Collector::start_with_sink`] hands every request the collector would
//! accept to a [`Sink`] first; the client is answered 200 / `OK` only once
//! the sink returned `Ok`, and 503 / `UNAVAILABLE` (retryable) when it
//! failed. `agent-otel collect --db` keeps requests in SQLite this way.
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

mod connection;
mod fault;
mod http_server;
mod record;
mod server;
mod sink;
mod state;
#[cfg(feature = "test-pki")]
pub mod test_pki;
mod tls;
mod value_count;

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::watch;

pub use fault::{Answer, Fault};
pub use record::{
    OtlpRequest, ReceivedLogsRequest, ReceivedMetric, ReceivedMetricsRequest, ReceivedRecord,
    ReceivedRequest, ReceivedSpan, ReceivedTracesRequest, Signal, Transport, any_value_text,
    data_point_count,
};
pub use sink::{SignalRequest, Sink, SinkError};
pub use tls::CollectorTls;

/// The OTLP wire types this crate speaks (re-exported for convenience).
pub use opentelemetry_proto;

use server::{Ctx, Limits};
use state::{Shared, SignalState, State};

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
    /// Most records (log records, metric data points, spans) one request
    /// may hold; more is refused with 413 / `RESOURCE_EXHAUSTED`.
    /// Default [`DEFAULT_MAX_RECORDS_PER_REQUEST`].
    pub max_records_per_request: usize,
    /// Most decoded values (every nested OTLP message: records, attributes,
    /// attribute values, events, links, data points, ...) one request may
    /// hold. Counted on the wire before the request is decoded, so a small
    /// body of many tiny records cannot expand into gigabytes of memory;
    /// more is refused with 413 / `RESOURCE_EXHAUSTED`.
    /// Default [`DEFAULT_MAX_VALUES_PER_REQUEST`].
    pub max_values_per_request: usize,
    /// Most requests handled at once (both receivers); more wait for a
    /// slot before their body is read. Default [`DEFAULT_MAX_CONCURRENT_REQUESTS`].
    pub max_concurrent_requests: usize,
    /// Most open connections (per receiver); more wait in the listen
    /// backlog until one closes. Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// How long a new connection may take to send its first complete
    /// request head (HTTP/1) or its first bytes (HTTP/2, TLS) before it is
    /// closed. Default [`DEFAULT_HEADER_READ_TIMEOUT`].
    pub header_read_timeout: Duration,
    /// How long a connection may stay without any byte read or written
    /// (and no request in progress) before it is closed.
    /// Default [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
}

/// Default [`CollectorConfig::max_records_per_request`]: 65,536.
pub const DEFAULT_MAX_RECORDS_PER_REQUEST: usize = 65_536;
/// Default [`CollectorConfig::max_values_per_request`]: 1,048,576.
pub const DEFAULT_MAX_VALUES_PER_REQUEST: usize = 1_048_576;
/// Default [`CollectorConfig::max_concurrent_requests`]: 16.
pub const DEFAULT_MAX_CONCURRENT_REQUESTS: usize = 16;
/// Default [`CollectorConfig::max_connections`]: 256.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// Default [`CollectorConfig::header_read_timeout`]: 10 s.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`CollectorConfig::idle_timeout`]: 60 s.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

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
            max_records_per_request: DEFAULT_MAX_RECORDS_PER_REQUEST,
            max_values_per_request: DEFAULT_MAX_VALUES_PER_REQUEST,
            max_concurrent_requests: DEFAULT_MAX_CONCURRENT_REQUESTS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
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
    /// What was waited for: `"records"`, `"requests"`, `"spans"`,
    /// `"data points"`, `"metrics requests"`, `"trace requests"`,
    /// `"TLS handshake failures"` or `"timed-out connections"`.
    pub what: &'static str,
    /// How many were expected.
    pub expected: usize,
    /// How many had arrived at the deadline.
    pub arrived: usize,
    /// The timeout that passed.
    pub timeout: Duration,
}

/// A running OTLP receiver (logs, metrics, traces). Dropping it stops the
/// servers.
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
        Collector::start_inner(config, None)
    }

    /// [`Collector::start`] with a [`Sink`] that keeps every request the
    /// collector would accept **before** it is acknowledged (write before
    /// acknowledge): a sink error is answered 503 / `UNAVAILABLE`.
    pub fn start_with_sink(
        config: CollectorConfig,
        sink: Arc<dyn Sink>,
    ) -> Result<Collector, CollectorError> {
        Collector::start_inner(config, Some(sink))
    }

    fn start_inner(
        config: CollectorConfig,
        sink: Option<Arc<dyn Sink>>,
    ) -> Result<Collector, CollectorError> {
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

        let shared = Arc::new(Shared::new(config.keep_requests, sink));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let ctx = Arc::new(Ctx {
            shared: Arc::clone(&shared),
            max_body_bytes: config.max_body_bytes,
            limits: Limits {
                max_records_per_request: config.max_records_per_request,
                max_values_per_request: config.max_values_per_request,
                max_connections: config.max_connections,
                header_read_timeout: config.header_read_timeout,
                idle_timeout: config.idle_timeout,
            },
            requests: Arc::new(tokio::sync::Semaphore::new(
                config.max_concurrent_requests.max(1),
            )),
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
            .map(|base| format!("{base}{}", Signal::Logs.http_path()))
    }

    /// `http://ADDR:PORT/v1/metrics` (`https://` with TLS), the OTLP/HTTP
    /// metrics endpoint.
    pub fn http_metrics_endpoint(&self) -> Option<String> {
        self.http_endpoint(Signal::Metrics)
    }

    /// `http://ADDR:PORT/v1/traces` (`https://` with TLS), the OTLP/HTTP
    /// traces endpoint.
    pub fn http_traces_endpoint(&self) -> Option<String> {
        self.http_endpoint(Signal::Traces)
    }

    /// The OTLP/HTTP endpoint of `signal` (`http://ADDR:PORT/v1/<signal>`).
    pub fn http_endpoint(&self, signal: Signal) -> Option<String> {
        self.http_base_endpoint()
            .map(|base| format!("{base}{}", signal.http_path()))
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
            .map(|base| format!("{base}{}", Signal::Logs.http_path()))
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

    /// Every **logs** request received so far (accepted or not), in arrival
    /// order. Empty when [`CollectorConfig::keep_requests`] is `false`.
    /// [`Collector::metrics_requests`] and [`Collector::trace_requests`] are
    /// the other signals'.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.lock().logs.requests.clone()
    }

    /// Every metrics request received so far (accepted or not), in arrival
    /// order. Empty when [`CollectorConfig::keep_requests`] is `false`.
    pub fn metrics_requests(&self) -> Vec<ReceivedMetricsRequest> {
        self.shared.lock().metrics.requests.clone()
    }

    /// Every traces request received so far (accepted or not), in arrival
    /// order. Empty when [`CollectorConfig::keep_requests`] is `false`.
    pub fn trace_requests(&self) -> Vec<ReceivedTracesRequest> {
        self.shared.lock().traces.requests.clone()
    }

    /// The log records of every request whose answer counts them (accepted,
    /// delayed and partially successful ones; see [`Answer::counts_records`]),
    /// in arrival order. Empty when [`CollectorConfig::keep_requests`] is
    /// `false`.
    pub fn records(&self) -> Vec<ReceivedRecord> {
        let st = self.shared.lock();
        let mut out = Vec::with_capacity(st.logs.record_count);
        for req in counted(&st.logs) {
            req.push_records(&mut out);
        }
        out
    }

    /// The spans of every traces request whose answer counts them, in
    /// arrival order (as [`Collector::records`] for logs).
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let st = self.shared.lock();
        let mut out = Vec::with_capacity(st.traces.record_count);
        for req in counted(&st.traces) {
            req.push_spans(&mut out);
        }
        out
    }

    /// The metrics (each with its data points) of every metrics request
    /// whose answer counts them, in arrival order (as
    /// [`Collector::records`] for logs).
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        let st = self.shared.lock();
        let mut out = Vec::new();
        for req in counted(&st.metrics) {
            req.push_metrics(&mut out);
        }
        out
    }

    /// How many log records [`Collector::records`] would return (with
    /// [`CollectorConfig::keep_requests`]; counted either way).
    pub fn record_count(&self) -> usize {
        self.shared.lock().logs.record_count
    }

    /// How many spans [`Collector::spans`] would hold (counted either way).
    pub fn span_count(&self) -> usize {
        self.shared.lock().traces.record_count
    }

    /// How many data points the metrics of [`Collector::metrics`] hold
    /// (counted either way).
    pub fn data_point_count(&self) -> usize {
        self.shared.lock().metrics.record_count
    }

    /// How many logs requests were received, including refused ones
    /// (counted whatever [`CollectorConfig::keep_requests`] says).
    pub fn request_count(&self) -> usize {
        self.shared.lock().logs.request_count
    }

    /// How many requests of `signal` were received (including refused
    /// ones) and how many of its records (log records, data points, spans)
    /// were counted: `(requests, records)`.
    pub fn counts(&self, signal: Signal) -> (usize, usize) {
        state::counts(&self.shared.lock(), signal)
    }

    /// Requests refused (413 / `RESOURCE_EXHAUSTED`) because they held more
    /// records or values than [`CollectorConfig::max_records_per_request`]
    /// or [`CollectorConfig::max_values_per_request`] allow.
    pub fn refused_oversized(&self) -> usize {
        self.shared.lock().refused_oversized
    }

    /// Connections the collector closed because they stayed silent (or
    /// did not finish their request headers) past
    /// [`CollectorConfig::header_read_timeout`] /
    /// [`CollectorConfig::idle_timeout`].
    pub fn timed_out_connections(&self) -> usize {
        self.shared.lock().timed_out_connections
    }

    /// Waits until at least `n` connections were closed for silence (see
    /// [`Collector::timed_out_connections`]) and returns the count.
    pub fn wait_for_timed_out_connections(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<usize, WaitTimeout> {
        self.wait_count("timed-out connections", n, timeout, |st| {
            st.timed_out_connections
        })
    }

    fn wait_count(
        &self,
        what: &'static str,
        n: usize,
        timeout: Duration,
        count: impl Fn(&State) -> usize,
    ) -> Result<usize, WaitTimeout> {
        let (st, ok) = self.shared.wait_until(timeout, |st| count(st) >= n);
        let arrived = count(&st);
        if !ok {
            return Err(WaitTimeout {
                what,
                expected: n,
                arrived,
                timeout,
            });
        }
        Ok(arrived)
    }

    /// Waits until at least `n` log records are counted (see
    /// [`Collector::records`]) and returns them all (none without
    /// [`CollectorConfig::keep_requests`]), or gives up after `timeout`
    /// saying how many arrived.
    pub fn wait_for_records(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedRecord>, WaitTimeout> {
        self.wait_count("records", n, timeout, |st| st.logs.record_count)?;
        Ok(self.records())
    }

    /// Waits until at least `n` spans are counted (see
    /// [`Collector::spans`]) and returns them all, or gives up after
    /// `timeout` saying how many arrived.
    pub fn wait_for_spans(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedSpan>, WaitTimeout> {
        self.wait_count("spans", n, timeout, |st| st.traces.record_count)?;
        Ok(self.spans())
    }

    /// Waits until at least `n` metric data points are counted (see
    /// [`Collector::data_point_count`]) and returns the metrics received
    /// (see [`Collector::metrics`]), or gives up after `timeout` saying how
    /// many data points arrived.
    pub fn wait_for_data_points(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMetric>, WaitTimeout> {
        self.wait_count("data points", n, timeout, |st| st.metrics.record_count)?;
        Ok(self.metrics())
    }

    /// Waits until at least `n` logs requests (of any answer) arrived and
    /// returns them all (none without [`CollectorConfig::keep_requests`]),
    /// or gives up after `timeout` saying how many arrived.
    pub fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedRequest>, WaitTimeout> {
        self.wait_count("requests", n, timeout, |st| st.logs.request_count)?;
        Ok(self.requests())
    }

    /// Waits until at least `n` metrics requests (of any answer) arrived
    /// and returns them all, as [`Collector::wait_for_requests`] for logs.
    pub fn wait_for_metrics_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedMetricsRequest>, WaitTimeout> {
        self.wait_count("metrics requests", n, timeout, |st| {
            st.metrics.request_count
        })?;
        Ok(self.metrics_requests())
    }

    /// Waits until at least `n` traces requests (of any answer) arrived
    /// and returns them all, as [`Collector::wait_for_requests`] for logs.
    pub fn wait_for_trace_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<ReceivedTracesRequest>, WaitTimeout> {
        self.wait_count("trace requests", n, timeout, |st| st.traces.request_count)?;
        Ok(self.trace_requests())
    }

    /// Forgets the requests and records of every signal received so far and
    /// resets their counts. Scripted faults, the default faults and
    /// subscriptions are kept.
    pub fn clear(&self) {
        let mut st = self.shared.lock();
        st.logs.clear();
        st.metrics.clear();
        st.traces.clear();
    }

    /// A live feed of the **logs** requests received from now on (all of
    /// them, whatever the answer; check [`ReceivedRequest::answered`]). A
    /// request is fed before it is answered, so every request a client saw
    /// accepted is in the feed, including those in flight when the
    /// collector is dropped. The feed ends once a dropped collector's
    /// servers have stopped. The channel is unbounded: read it.
    pub fn subscribe(&self) -> mpsc::Receiver<ReceivedRequest> {
        let (tx, rx) = mpsc::channel();
        self.shared.lock().logs.subscribers.push(tx);
        rx
    }

    /// [`Collector::subscribe`] for metrics requests.
    pub fn subscribe_metrics(&self) -> mpsc::Receiver<ReceivedMetricsRequest> {
        let (tx, rx) = mpsc::channel();
        self.shared.lock().metrics.subscribers.push(tx);
        rx
    }

    /// [`Collector::subscribe`] for traces requests.
    pub fn subscribe_traces(&self) -> mpsc::Receiver<ReceivedTracesRequest> {
        let (tx, rx) = mpsc::channel();
        self.shared.lock().traces.subscribers.push(tx);
        rx
    }

    /// Scripts `fault` for the next `times` **logs** requests (after the
    /// faults already scripted); see [`Collector::push_fault_for`].
    pub fn push_fault(&self, fault: Fault, times: usize) {
        self.push_fault_for(Signal::Logs, fault, times);
    }

    /// Scripts `fault` for the next `times` requests of `signal` (after the
    /// faults already scripted for it). Each signal has its own queue,
    /// consumed first-in first-out by decoded requests of either transport;
    /// then normal acceptance resumes.
    pub fn push_fault_for(&self, signal: Signal, fault: Fault, times: usize) {
        let mut st = self.shared.lock();
        let faults = match signal {
            Signal::Logs => &mut st.logs.faults,
            Signal::Metrics => &mut st.metrics.faults,
            Signal::Traces => &mut st.traces.faults,
        };
        faults.extend(std::iter::repeat_n(fault, times));
    }

    /// Drops the scripted faults not consumed yet, of every signal.
    pub fn clear_faults(&self) {
        let mut st = self.shared.lock();
        st.logs.faults.clear();
        st.metrics.faults.clear();
        st.traces.faults.clear();
    }

    /// How many scripted faults are still to be consumed, all signals.
    pub fn pending_faults(&self) -> usize {
        let st = self.shared.lock();
        st.logs.faults.len() + st.metrics.faults.len() + st.traces.faults.len()
    }

    /// Sets the answer given to **logs** requests when no scripted fault is
    /// pending; see [`Collector::set_default_fault_for`].
    pub fn set_default_fault(&self, fault: Option<Fault>) {
        self.set_default_fault_for(Signal::Logs, fault);
    }

    /// Sets the answer given to requests of `signal` when no scripted fault
    /// is pending for it: `None` (the default) accepts; `Some(fault)`
    /// answers every such request with `fault` (for example a long outage)
    /// until reset.
    pub fn set_default_fault_for(&self, signal: Signal, fault: Option<Fault>) {
        let mut st = self.shared.lock();
        match signal {
            Signal::Logs => st.logs.default_fault = fault,
            Signal::Metrics => st.metrics.default_fault = fault,
            Signal::Traces => st.traces.default_fault = fault,
        }
    }
}

/// The kept requests of one signal whose answer counts their records.
fn counted<R>(slot: &SignalState<R>) -> impl Iterator<Item = &ReceivedRequest<R>> {
    slot.requests.iter().filter(|r| r.answered.counts_records())
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
