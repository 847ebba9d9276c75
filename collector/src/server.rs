//! The server tasks: runtime plumbing and the OTLP/gRPC receiver.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tokio::sync::watch;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tonic::codec::CompressionEncoding;
use tonic::codegen::Service;
use tonic::server::NamedService;
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::connection::PlainListener;
use crate::fault::{Answer, Fault};
use crate::http_server::{CollectError, collect_limited, gunzip_limited, header_list};
use crate::record::{Signal, Transport};
use crate::state::{Incoming, Shared, Stored};
use crate::tls::{PeerInfo, ServerConfigs, TlsListener};
use crate::value_count;

/// Longest wait for in-flight requests once shutdown is signalled.
pub(crate) const DRAIN_GRACE: Duration = Duration::from_secs(2);
/// Once no request is in flight, how long answers may take to be written
/// and connections to close before the servers are torn down.
pub(crate) const SETTLE: Duration = Duration::from_millis(100);

/// The bounds every request and connection is held to (from
/// [`crate::CollectorConfig`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_records_per_request: usize,
    pub(crate) max_values_per_request: usize,
    pub(crate) max_connections: usize,
    pub(crate) header_read_timeout: Duration,
    pub(crate) idle_timeout: Duration,
}

/// Everything a request handler needs.
pub(crate) struct Ctx {
    pub(crate) shared: Arc<Shared>,
    pub(crate) max_body_bytes: usize,
    pub(crate) limits: Limits,
    /// One permit per request handled at once (both receivers).
    pub(crate) requests: Arc<tokio::sync::Semaphore>,
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Requests being handled right now (see [`InFlight`]).
    pub(crate) inflight: watch::Sender<usize>,
}

impl Ctx {
    /// Records a decoded request and returns the answer to give (see
    /// `Shared::receive`). With a sink, whose writes may block, this runs
    /// on a blocking thread, never on the runtime's workers.
    pub(crate) async fn receive<R: Stored>(&self, incoming: Incoming<R>) -> Answer {
        if !self.shared.has_sink() {
            return self.shared.receive(incoming);
        }
        let shared = Arc::clone(&self.shared);
        match tokio::task::spawn_blocking(move || shared.receive(incoming)).await {
            Ok(answer) => answer,
            Err(err) => {
                tracing::error!(%err, "the collector's sink task failed");
                Answer::NotStored("the store task failed".to_owned())
            }
        }
    }

    /// Waits for one of the request slots
    /// ([`crate::CollectorConfig::max_concurrent_requests`]).
    pub(crate) async fn request_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.requests).acquire_owned().await.ok()
    }

    /// Counts a request refused for holding too many records or values.
    pub(crate) fn note_oversized(&self) {
        self.shared.note(|st| st.refused_oversized += 1);
    }

    /// Marks a request as in flight until the returned guard is dropped.
    pub(crate) fn in_flight(self: &Arc<Self>) -> InFlight {
        self.inflight.send_modify(|n| *n += 1);
        InFlight(Arc::clone(self))
    }
}

/// Keeps shutdown draining until the request it was made for is answered.
pub(crate) struct InFlight(Arc<Ctx>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.inflight.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// Resolves once shutdown is signalled (or the signalling side is gone).
pub(crate) async fn wait_shutdown(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// Runs both servers until shutdown, then drains them: waits (at most
/// [`DRAIN_GRACE`]) for the requests in flight to be answered, gives the
/// servers [`SETTLE`] to write answers and close connections, and returns.
/// Idle keep-alive connections do not hold shutdown up: the runtime's
/// shutdown drops whatever is left.
/// HTTP/2 flow-control windows of the gRPC receiver: a 4 MiB export request
/// arrives without waiting for window updates (h2's default is 64 KiB).
const GRPC_STREAM_WINDOW: u32 = 4 * 1024 * 1024;
const GRPC_CONNECTION_WINDOW: u32 = 8 * 1024 * 1024;

pub(crate) async fn run(
    ctx: Arc<Ctx>,
    http: Option<tokio::net::TcpListener>,
    grpc: Option<tokio::net::TcpListener>,
    tls: Option<ServerConfigs>,
) {
    let mut tasks = Vec::new();
    if let Some(listener) = http {
        let app = crate::http_server::router(Arc::clone(&ctx));
        let signal = wait_shutdown(ctx.shutdown.clone());
        let local = listener.local_addr();
        let (accept_loop, connections) = crate::connection::accept(listener, Arc::clone(&ctx));
        tasks.push(accept_loop);
        match &tls {
            None => tasks.push(tokio::spawn(async move {
                let Ok(local) = local else { return };
                let listener = PlainListener {
                    accepted: connections,
                    local,
                };
                if let Err(err) = axum::serve(listener, app)
                    .with_graceful_shutdown(signal)
                    .await
                {
                    tracing::warn!(%err, "OTLP/HTTP server stopped with an error");
                }
            })),
            Some(tls) => {
                let (accept_loop, accepted) =
                    crate::tls::accept(connections, Arc::clone(&tls.http), Arc::clone(&ctx));
                tasks.push(accept_loop);
                let listener = TlsListener { accepted };
                let app = app.into_make_service_with_connect_info::<PeerInfo>();
                tasks.push(tokio::spawn(async move {
                    if let Err(err) = axum::serve(listener, app)
                        .with_graceful_shutdown(signal)
                        .await
                    {
                        tracing::warn!(%err, "OTLP/HTTPS server stopped with an error");
                    }
                }));
            }
        }
    }
    if let Some(listener) = grpc {
        let limit = ctx.max_body_bytes;
        // The body of a unary call is one 5-byte prefix plus the (maybe
        // compressed) message; leave room for gzip's worst-case expansion of
        // incompressible data so the decoded-size limit is the one that bites.
        let wire_limit = limit.saturating_add(limit / 64).saturating_add(1024);
        let logs = WireSize {
            inner: LogsServiceServer::from_arc(Arc::new(GrpcLogs(Arc::clone(&ctx))))
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(usize::MAX),
            limit: wire_limit,
            ctx: Arc::clone(&ctx),
            signal: Signal::Logs,
        };
        let metrics = WireSize {
            inner: MetricsServiceServer::from_arc(Arc::new(GrpcMetrics(Arc::clone(&ctx))))
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(usize::MAX),
            limit: wire_limit,
            ctx: Arc::clone(&ctx),
            signal: Signal::Metrics,
        };
        let traces = WireSize {
            inner: TraceServiceServer::from_arc(Arc::new(GrpcTraces(Arc::clone(&ctx))))
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(usize::MAX),
            limit: wire_limit,
            ctx: Arc::clone(&ctx),
            signal: Signal::Traces,
        };
        let signal = wait_shutdown(ctx.shutdown.clone());
        let (accept_loop, connections) = crate::connection::accept(listener, Arc::clone(&ctx));
        tasks.push(accept_loop);
        match &tls {
            None => {
                let incoming = ReceiverStream::new(connections)
                    .map(|(conn, _peer)| Ok::<_, std::io::Error>(conn));
                tasks.push(tokio::spawn(async move {
                    if let Err(err) = tonic::transport::Server::builder()
                        .initial_stream_window_size(GRPC_STREAM_WINDOW)
                        .initial_connection_window_size(GRPC_CONNECTION_WINDOW)
                        .add_service(logs)
                        .add_service(metrics)
                        .add_service(traces)
                        .serve_with_incoming_shutdown(incoming, signal)
                        .await
                    {
                        tracing::warn!(%err, "OTLP/gRPC server stopped with an error");
                    }
                }));
            }
            Some(tls) => {
                let (accept_loop, accepted) =
                    crate::tls::accept(connections, Arc::clone(&tls.grpc), Arc::clone(&ctx));
                tasks.push(accept_loop);
                let incoming = ReceiverStream::new(accepted).map(Ok::<_, std::io::Error>);
                tasks.push(tokio::spawn(async move {
                    if let Err(err) = tonic::transport::Server::builder()
                        .initial_stream_window_size(GRPC_STREAM_WINDOW)
                        .initial_connection_window_size(GRPC_CONNECTION_WINDOW)
                        .add_service(logs)
                        .add_service(metrics)
                        .add_service(traces)
                        .serve_with_incoming_shutdown(incoming, signal)
                        .await
                    {
                        tracing::warn!(%err, "OTLP/gRPC (TLS) server stopped with an error");
                    }
                }));
            }
        }
    }
    wait_shutdown(ctx.shutdown.clone()).await;
    let mut inflight = ctx.inflight.subscribe();
    let drain = async {
        let _ = inflight.wait_for(|n| *n == 0).await;
        let settle = async {
            for task in tasks.iter_mut() {
                let _ = task.await;
            }
        };
        let _ = tokio::time::timeout(SETTLE, settle).await;
    };
    if tokio::time::timeout(DRAIN_GRACE, drain).await.is_err() {
        tracing::debug!("collector requests did not drain in time");
    }
    for task in &tasks {
        task.abort();
    }
}

/// The `LogsService` implementation.
struct GrpcLogs(Arc<Ctx>);
/// The `MetricsService` implementation.
struct GrpcMetrics(Arc<Ctx>);
/// The `TraceService` implementation.
struct GrpcTraces(Arc<Ctx>);

/// Size of the request body on the wire, put in the request extensions by
/// [`WireSize`].
#[derive(Clone, Copy)]
struct WireLen(usize);

#[tonic::async_trait]
impl LogsService for GrpcLogs {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        export(&self.0, request).await
    }
}

#[tonic::async_trait]
impl MetricsService for GrpcMetrics {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, Status> {
        export(&self.0, request).await
    }
}

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        export(&self.0, request).await
    }
}

/// The `Export` call of every signal's service.
async fn export<R: Stored>(
    ctx: &Arc<Ctx>,
    request: tonic::Request<R>,
) -> Result<tonic::Response<R::Response>, Status> {
    let max_records = ctx.limits.max_records_per_request;
    if request.get_ref().item_count() > max_records {
        ctx.note_oversized();
        return Err(Status::resource_exhausted(format!(
            "the request holds more than {max_records} {}: split it",
            R::SIGNAL.items()
        )));
    }
    let body_len = request
        .extensions()
        .get::<WireLen>()
        .map_or_else(|| request.get_ref().encoded_len() + 5, |w| w.0);
    let client_certificate = request.peer_certs().is_some_and(|certs| !certs.is_empty());
    let (metadata, _, message) = request.into_parts();
    let meta = |name: &str| {
        metadata
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    };
    let content_type = meta("content-type");
    let content_encoding = meta("grpc-encoding");
    let answer = ctx
        .receive(Incoming {
            transport: Transport::Grpc,
            headers: header_list(&metadata.into_headers()),
            content_type,
            content_encoding,
            body_len,
            request: message,
            client_certificate,
        })
        .await;
    match answer {
        Answer::Accepted => Ok(tonic::Response::new(R::response(None))),
        Answer::Delayed(d) => {
            // Shutdown cuts the delay short: the request was recorded and fed
            // to the subscribers as accepted, so it is answered as such.
            tokio::select! {
                () = tokio::time::sleep(d) => {}
                () = wait_shutdown(ctx.shutdown.clone()) => {}
            }
            Ok(tonic::Response::new(R::response(None)))
        }
        Answer::PartialSuccess { rejected, message } => {
            Ok(tonic::Response::new(R::response(Some((rejected, message)))))
        }
        Answer::NotStored(message) => Err(Status::unavailable(format!(
            "the collector could not store the request: {message}"
        ))),
        Answer::Fault(Fault::NeverAnswer) => {
            wait_shutdown(ctx.shutdown.clone()).await;
            Err(shutting_down())
        }
        Answer::Fault(fault) => Err(fault_status(fault)),
    }
}

fn shutting_down() -> Status {
    Status::unavailable("collector shutting down")
}

/// The gRPC status for a refusing fault.
fn fault_status(fault: Fault) -> Status {
    match fault.refusal() {
        Some(refusal) => match refusal.retry_info {
            Some(delay) => Status::with_error_details(
                refusal.code,
                refusal.message,
                ErrorDetails::with_retry_info(delay),
            ),
            None => Status::new(refusal.code, refusal.message),
        },
        None if matches!(fault, Fault::NeverAnswer) => shutting_down(),
        // Accepting faults are normalised by `Answer::from_fault`.
        None => Status::ok(""),
    }
}

/// Buffers the request body (bounded) to learn its wire size before tonic
/// decodes it.
#[derive(Clone)]
struct WireSize<S> {
    inner: S,
    limit: usize,
    ctx: Arc<Ctx>,
    signal: Signal,
}

/// Whether the gRPC message in `body` (5-byte prefix, then the message,
/// gzip-compressed when the prefix says so) holds more values than allowed.
/// Bodies that are not one well-formed message are left to tonic.
fn too_many_values(ctx: &Ctx, signal: Signal, body: &[u8]) -> bool {
    let Some((&[flag, a, b, c, d], rest)) = body.split_first_chunk::<5>() else {
        return false;
    };
    let len = u32::from_be_bytes([a, b, c, d]) as usize;
    let Some(message) = rest.get(..len) else {
        return false;
    };
    let max = ctx.limits.max_values_per_request;
    if flag == 0 {
        return value_count::protobuf_exceeds(signal, message, max);
    }
    match gunzip_limited(message, ctx.max_body_bytes) {
        Ok(plain) => value_count::protobuf_exceeds(signal, &plain, max),
        Err(_) => false,
    }
}

impl<S: NamedService> NamedService for WireSize<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S> Service<http::Request<tonic::body::Body>> for WireSize<S>
where
    S: Service<
            http::Request<tonic::body::Body>,
            Response = http::Response<tonic::body::Body>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        // The clone is not ready; swap so the ready one is used.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limit = self.limit;
        let in_flight = self.ctx.in_flight();
        let ctx = Arc::clone(&self.ctx);
        let signal = self.signal;
        Box::pin(async move {
            let _in_flight = in_flight;
            // Bounded work: wait for a request slot before reading the body.
            let _slot = ctx.request_slot().await;
            let (mut parts, body) = req.into_parts();
            match collect_limited(axum::body::Body::new(body), limit).await {
                Ok(bytes) if too_many_values(&ctx, signal, &bytes) => {
                    ctx.note_oversized();
                    Ok(Status::resource_exhausted(format!(
                        "the request holds more than {} values: split it",
                        ctx.limits.max_values_per_request
                    ))
                    .into_http())
                }
                Ok(bytes) => {
                    parts.extensions.insert(WireLen(bytes.len()));
                    let body = tonic::body::Body::new(axum::body::Body::from(bytes));
                    inner.call(http::Request::from_parts(parts, body)).await
                }
                Err(CollectError::TooLarge) => Ok(Status::resource_exhausted(format!(
                    "request body exceeds the limit of {limit} bytes"
                ))
                .into_http()),
                Err(CollectError::Read(msg)) => Ok(Status::invalid_argument(format!(
                    "cannot read the request body: {msg}"
                ))
                .into_http()),
            }
        })
    }
}
