//! The exporter conformance suite: what every exporter must do, whatever
//! its transport and signal.
//!
//! Like `object_store`'s `integration.rs`, each case is a function taking
//! the [`Target`] under test (a [`Transport`] × a [`Signal`]);
//! `tests/conformance.rs` calls every case for each of the nine targets.
//! The server is our collector (all three signals on both transports, with
//! faults scripted per signal), so what arrived is decoded with the
//! official `opentelemetry-proto` types and compared with what was sent.
//!
//! Most cases call [`Exporter::export`] directly and check the
//! [`ExportOutcome`]: the exporter's contract with the pipeline, which
//! owns retries and deadlines. Two run the exporter inside a
//! [`Telemetry`] pipeline: delivery after retries, and a shutdown deadline
//! against a collector that never answers. No case sleeps or measures
//! time: timeouts only bound how long a failing case can take.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value,
};
use agent_otel_collector::opentelemetry_proto::tonic::logs::v1::{
    LogRecord, ResourceLogs, ScopeLogs,
};
use agent_otel_collector::opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use agent_otel_collector::opentelemetry_proto::tonic::resource::v1::Resource;
use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use agent_otel_collector::{
    Answer, Collector, CollectorConfig, CollectorTls, Fault, ReceivedRequest,
};
use agent_otel_core::{
    ApiRequest, Batch, Compression, DropReason, ExportError, ExportOutcome, Exporter, FailureKind,
    FlushError, HttpProtocol, PipelineOptions, PipelineStats, RetryPolicy, SecretString,
    SessionMetadata, Signal, SignalExporters, SseEvent, Telemetry, TelemetryOptions, TlsConfig,
    TokenCounts, ToolResult, TransportOptions, WireFormat,
};
use agent_otel_exporter_grpc::{GrpcExporter, GrpcExporterConfig};
use agent_otel_exporter_http::{HttpExporter, HttpExporterConfig};
use prost::Message;
use tonic::Code;

use crate::{HeldPort, TestPki};

/// How an exporter talks to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// OTLP/HTTP with protobuf bodies.
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies.
    HttpJson,
    /// OTLP/gRPC.
    Grpc,
}

/// One exporter under test: a transport and the signal it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    /// The transport.
    pub transport: Transport,
    /// The signal.
    pub signal: Signal,
}

/// Per-attempt timeout of the exporters under test: long enough for any
/// loopback answer, short enough to bound a case that goes wrong.
const TIMEOUT: Duration = Duration::from_secs(10);
/// Per-attempt timeout against a collector that never answers.
const NEVER_ANSWER_TIMEOUT: Duration = Duration::from_millis(500);
/// How long a case waits for the collector to report something.
const WAIT: Duration = Duration::from_secs(10);

/// A decoded request of any signal, as sent or as received.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// `ExportLogsServiceRequest`.
    Logs(ExportLogsServiceRequest),
    /// `ExportTraceServiceRequest`.
    Traces(ExportTraceServiceRequest),
    /// `ExportMetricsServiceRequest`.
    Metrics(ExportMetricsServiceRequest),
}

/// One request as the collector received it.
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Headers (HTTP) or ASCII metadata (gRPC), lowercase names.
    pub headers: Vec<(String, String)>,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Content-Encoding` (HTTP) or `grpc-encoding` (gRPC).
    pub content_encoding: Option<String>,
    /// Whether the client presented a certificate.
    pub client_certificate: bool,
    /// What the collector answered.
    pub answered: Answer,
    /// The decoded request.
    pub request: Request,
}

impl Arrival {
    fn from<R>(received: ReceivedRequest<R>, wrap: fn(R) -> Request) -> Self {
        Arrival {
            headers: received.headers,
            content_type: received.content_type,
            content_encoding: received.content_encoding,
            client_certificate: received.client_certificate,
            answered: received.answered,
            request: wrap(received.request),
        }
    }

    /// The value of header `name` (lowercase), if it arrived.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Target {
    /// Every transport × signal, the targets the suite runs for.
    pub fn all() -> Vec<Target> {
        let mut all = Vec::new();
        for transport in [
            Transport::HttpProtobuf,
            Transport::HttpJson,
            Transport::Grpc,
        ] {
            for signal in [Signal::Logs, Signal::Traces, Signal::Metrics] {
                all.push(Target { transport, signal });
            }
        }
        all
    }

    /// The signal as the collector names it.
    fn at_collector(self) -> agent_otel_collector::Signal {
        match self.signal {
            Signal::Logs => agent_otel_collector::Signal::Logs,
            Signal::Traces => agent_otel_collector::Signal::Traces,
            Signal::Metrics => agent_otel_collector::Signal::Metrics,
        }
    }

    fn is_grpc(self) -> bool {
        self.transport == Transport::Grpc
    }

    /// A collector with only this target's receiver, plaintext or `tls`.
    pub fn collector(self, tls: Option<CollectorTls>) -> Collector {
        let mut config = if self.is_grpc() {
            CollectorConfig::grpc_only()
        } else {
            CollectorConfig::http_only()
        };
        config.tls = tls;
        Collector::start(config).expect("the collector starts")
    }

    /// A plaintext collector with this target's receiver on `port`.
    pub fn collector_at(self, port: u16) -> Collector {
        let addr = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        let config = if self.is_grpc() {
            CollectorConfig {
                grpc_addr: addr,
                ..CollectorConfig::grpc_only()
            }
        } else {
            CollectorConfig {
                http_addr: addr,
                ..CollectorConfig::http_only()
            }
        };
        Collector::start(config).expect("the collector starts on the freed port")
    }

    /// The endpoint this target's exporter is configured with.
    pub fn endpoint(self, collector: &Collector) -> String {
        let endpoint = if self.is_grpc() {
            collector.grpc_endpoint()
        } else {
            collector.http_endpoint(self.at_collector())
        };
        endpoint.expect("the target's receiver is running")
    }

    /// The endpoint on a plaintext loopback `port`.
    pub fn endpoint_at(self, port: u16) -> String {
        if self.is_grpc() {
            format!("http://127.0.0.1:{port}")
        } else {
            format!("http://127.0.0.1:{port}{}", self.at_collector().http_path())
        }
    }

    /// Builds the exporter.
    pub fn exporter(self, endpoint: String, transport: TransportOptions) -> Box<dyn Exporter> {
        match self.transport {
            Transport::Grpc => Box::new(
                GrpcExporter::new(GrpcExporterConfig {
                    endpoint,
                    transport,
                })
                .expect("the gRPC exporter builds"),
            ),
            Transport::HttpProtobuf | Transport::HttpJson => Box::new(
                HttpExporter::new(HttpExporterConfig {
                    endpoint,
                    protocol: if self.transport == Transport::HttpJson {
                        HttpProtocol::Json
                    } else {
                        HttpProtocol::Binary
                    },
                    transport,
                })
                .expect("the HTTP exporter builds"),
            ),
        }
    }

    /// The request the cases send: a few records of the target's signal
    /// with attributes of every common shape.
    pub fn request(self) -> Request {
        match self.signal {
            Signal::Logs => Request::Logs(logs_request()),
            Signal::Traces => Request::Traces(traces_request()),
            Signal::Metrics => Request::Metrics(metrics_request()),
        }
    }

    /// [`Target::request`] as a batch, as the pipeline hands it over.
    pub fn batch(self) -> Batch {
        match self.request() {
            Request::Logs(request) => Batch::from_request(request),
            Request::Traces(request) => {
                let records = request
                    .resource_spans
                    .iter()
                    .flat_map(|r| &r.scope_spans)
                    .map(|s| s.spans.len())
                    .sum();
                encoded(Signal::Traces, &request, records)
            }
            Request::Metrics(request) => {
                let points = request
                    .resource_metrics
                    .iter()
                    .flat_map(|r| &r.scope_metrics)
                    .flat_map(|s| &s.metrics)
                    .map(|m| match &m.data {
                        Some(metric::Data::Sum(sum)) => sum.data_points.len(),
                        Some(metric::Data::Histogram(h)) => h.data_points.len(),
                        _ => 0,
                    })
                    .sum();
                encoded(Signal::Metrics, &request, points)
            }
        }
    }

    /// Every request of the target's signal the collector received.
    pub fn arrivals(self, collector: &Collector) -> Vec<Arrival> {
        match self.signal {
            Signal::Logs => collector
                .requests()
                .into_iter()
                .map(|r| Arrival::from(r, Request::Logs))
                .collect(),
            Signal::Traces => collector
                .trace_requests()
                .into_iter()
                .map(|r| Arrival::from(r, Request::Traces))
                .collect(),
            Signal::Metrics => collector
                .metrics_requests()
                .into_iter()
                .map(|r| Arrival::from(r, Request::Metrics))
                .collect(),
        }
    }

    /// The `Content-Type` this target sends.
    fn content_type(self) -> &'static str {
        match self.transport {
            Transport::HttpProtobuf => "application/x-protobuf",
            Transport::HttpJson => "application/json",
            Transport::Grpc => "application/grpc",
        }
    }

    /// The failure kind of a status answer on this transport.
    fn status_kind(self) -> FailureKind {
        if self.is_grpc() {
            FailureKind::GrpcStatus
        } else {
            FailureKind::HttpStatus
        }
    }
}

fn encoded<M: Message>(signal: Signal, request: &M, records: usize) -> Batch {
    Batch::from_encoded(
        signal,
        WireFormat::Protobuf,
        request.encode_to_vec().into(),
        records,
    )
}

fn string(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        key_strindex: 0,
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            string("service.name", "conformance"),
            string("note", "réparer ✓"),
        ],
        ..Resource::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "agent_otel.conformance".to_owned(),
        version: "1".to_owned(),
        ..InstrumentationScope::default()
    })
}

const T0: u64 = 1_764_000_000_000_000_000;

fn logs_request() -> ExportLogsServiceRequest {
    let record = |i: u8| LogRecord {
        time_unix_nano: T0 + u64::from(i),
        observed_time_unix_nano: T0 + u64::from(i),
        severity_number: 9,
        severity_text: "INFO".to_owned(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(format!(
                "codex.tool_result {i}"
            ))),
        }),
        attributes: vec![string("tool_name", "shell"), int("duration_ms", 42)],
        trace_id: vec![i; 16],
        span_id: vec![i; 8],
        flags: 1,
        ..LogRecord::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![record(1), record(2)],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

fn traces_request() -> ExportTraceServiceRequest {
    let span = |i: u8, parent: Option<u8>| Span {
        trace_id: vec![7; 16],
        span_id: vec![i; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: format!("execute_tool shell {i}"),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: T0,
        end_time_unix_nano: T0 + 1_000_000,
        attributes: vec![string("gen_ai.operation.name", "execute_tool")],
        status: Some(Status {
            message: String::new(),
            code: status::StatusCode::Ok as i32,
        }),
        ..Span::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![span(1, None), span(2, Some(1))],
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn metrics_request() -> ExportMetricsServiceRequest {
    let sum = Metric {
        name: "codex.token.usage".to_owned(),
        description: "tokens".to_owned(),
        unit: "{token}".to_owned(),
        data: Some(metric::Data::Sum(Sum {
            data_points: vec![NumberDataPoint {
                attributes: vec![string("type", "input")],
                start_time_unix_nano: T0,
                time_unix_nano: T0 + 60_000_000_000,
                value: Some(number_data_point::Value::AsInt(1234)),
                ..NumberDataPoint::default()
            }],
            aggregation_temporality: AggregationTemporality::Delta as i32,
            is_monotonic: true,
        })),
        ..Metric::default()
    };
    let histogram = Metric {
        name: "codex.api_request.duration".to_owned(),
        description: "latency".to_owned(),
        unit: "ms".to_owned(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: vec![HistogramDataPoint {
                attributes: vec![string("model", "gpt-5")],
                start_time_unix_nano: T0,
                time_unix_nano: T0 + 60_000_000_000,
                count: 3,
                sum: Some(1250.5),
                bucket_counts: vec![1, 1, 1],
                explicit_bounds: vec![100.0, 1000.0],
                min: Some(50.0),
                max: Some(900.25),
                ..HistogramDataPoint::default()
            }],
            aggregation_temporality: AggregationTemporality::Delta as i32,
        })),
        ..Metric::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                scope: scope(),
                metrics: vec![sum, histogram],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

fn options() -> TransportOptions {
    TransportOptions {
        timeout: TIMEOUT,
        ..TransportOptions::default()
    }
}

/// Exports the target's batch to `collector` with `transport`.
async fn export_with(
    target: Target,
    collector: &Collector,
    transport: TransportOptions,
) -> ExportOutcome {
    let exporter = target.exporter(target.endpoint(collector), transport);
    exporter.export(&target.batch()).await
}

#[track_caller]
fn assert_accepted_once(target: Target, collector: &Collector, context: &str) -> Arrival {
    let arrivals: Vec<Arrival> = target
        .arrivals(collector)
        .into_iter()
        .filter(|a| a.answered.counts_records())
        .collect();
    assert_eq!(arrivals.len(), 1, "{target:?} {context}: {arrivals:?}");
    let arrival = arrivals.into_iter().next().expect("one arrival");
    assert_eq!(arrival.request, target.request(), "{target:?} {context}");
    arrival
}

#[track_caller]
fn assert_nothing_accepted(target: Target, collector: &Collector, context: &str) {
    let accepted = target
        .arrivals(collector)
        .into_iter()
        .filter(|a| a.answered.counts_records())
        .count();
    assert_eq!(accepted, 0, "{target:?} {context}");
    assert_eq!(
        collector.counts(target.at_collector()).1,
        0,
        "{target:?} {context}"
    );
}

#[track_caller]
fn expect_retryable(outcome: ExportOutcome, context: &str) -> (ExportError, Option<Duration>) {
    match outcome {
        ExportOutcome::Retryable { error, retry_after } => (error, retry_after),
        other => panic!("{context}: expected a retryable outcome, got {other:?}"),
    }
}

#[track_caller]
fn expect_permanent(outcome: ExportOutcome, context: &str) -> ExportError {
    match outcome {
        ExportOutcome::Permanent { error } => error,
        other => panic!("{context}: expected a permanent outcome, got {other:?}"),
    }
}

/// Accepted: the request arrives once, decodes to exactly what was sent,
/// with the transport's content type, and the exporter says `Accepted`.
pub async fn accepted(target: Target) {
    let collector = target.collector(None);
    let outcome = export_with(target, &collector, options()).await;
    assert_eq!(outcome, ExportOutcome::Accepted, "{target:?}");
    let arrival = assert_accepted_once(target, &collector, "accepted");
    let content_type = arrival.content_type.unwrap_or_default();
    assert!(
        content_type.starts_with(target.content_type()),
        "{target:?}: content type {content_type}"
    );
    assert_eq!(arrival.content_encoding, None, "{target:?}");
    let counted = collector.counts(target.at_collector());
    assert_eq!(counted, (1, target.batch().len()), "{target:?}");
}

/// A retryable answer as the target's transport gives it, the outcome the
/// exporter must return, and a name for messages.
struct RetryableCase {
    fault: Fault,
    status: i32,
    kind: FailureKind,
    retry_after: Option<Duration>,
}

fn retryable_cases(target: Target) -> Vec<RetryableCase> {
    let mut cases = Vec::new();
    if target.is_grpc() {
        let delay = Duration::from_millis(1500);
        for code in [
            Code::Unavailable,
            Code::Cancelled,
            Code::Aborted,
            Code::OutOfRange,
            Code::DataLoss,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
        ] {
            let kind = if code == Code::DeadlineExceeded {
                FailureKind::Timeout
            } else {
                FailureKind::GrpcStatus
            };
            // RESOURCE_EXHAUSTED is retryable only with RetryInfo.
            let delays: &[Option<Duration>] = if code == Code::ResourceExhausted {
                &[Some(delay)]
            } else {
                &[None, Some(delay)]
            };
            for &retry_after in delays {
                cases.push(RetryableCase {
                    fault: Fault::GrpcStatus { code, retry_after },
                    status: code as i32,
                    kind,
                    retry_after,
                });
            }
        }
    } else {
        for status in [429_u16, 502, 503, 504] {
            for retry_after in [None, Some(2_u64)] {
                cases.push(RetryableCase {
                    fault: Fault::HttpStatus {
                        status,
                        retry_after: retry_after.map(|s| s.to_string()),
                    },
                    status: i32::from(status),
                    kind: FailureKind::HttpStatus,
                    retry_after: retry_after.map(Duration::from_secs),
                });
            }
        }
    }
    cases
}

/// Every retryable HTTP status (429, 502, 503, 504) / gRPC code
/// (UNAVAILABLE, CANCELLED, ABORTED, OUT_OF_RANGE, DATA_LOSS,
/// DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED with RetryInfo), with and without
/// a server delay (`Retry-After` / `RetryInfo`): `Retryable` with the
/// status and exactly the server's delay, nothing counted; the same batch
/// sent again is accepted once.
pub async fn retryable(target: Target) {
    let collector = target.collector(None);
    let exporter = target.exporter(target.endpoint(&collector), options());
    let batch = target.batch();
    for case in retryable_cases(target) {
        let context = format!("{target:?} {:?}", case.fault);
        collector.push_fault_for(target.at_collector(), case.fault.clone(), 1);
        let (error, retry_after) = expect_retryable(exporter.export(&batch).await, &context);
        assert_eq!(error.kind, case.kind, "{context}: {error}");
        assert_eq!(error.status, Some(case.status), "{context}: {error}");
        assert_eq!(retry_after, case.retry_after, "{context}");
        assert_nothing_accepted(target, &collector, &context);
        let refused = target.arrivals(&collector);
        assert_eq!(refused.len(), 1, "{context}");
        assert_eq!(refused[0].answered, Answer::Fault(case.fault), "{context}");
        // The retry of the same batch goes through.
        assert_eq!(
            exporter.export(&batch).await,
            ExportOutcome::Accepted,
            "{context}"
        );
        assert_accepted_once(target, &collector, &context);
        collector.clear();
    }
}

/// Permanent failures (HTTP 400, 401, 403, 404, 413, 500, 501 / gRPC
/// INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND,
/// FAILED_PRECONDITION, UNIMPLEMENTED, INTERNAL, UNKNOWN, and
/// RESOURCE_EXHAUSTED without RetryInfo): `Permanent` with the status and
/// the server's message, nothing counted.
pub async fn permanent(target: Target) {
    let collector = target.collector(None);
    let exporter = target.exporter(target.endpoint(&collector), options());
    let batch = target.batch();
    let cases: Vec<(Fault, i32, &str)> = if target.is_grpc() {
        [
            Code::InvalidArgument,
            Code::Unauthenticated,
            Code::PermissionDenied,
            Code::NotFound,
            Code::FailedPrecondition,
            Code::Unimplemented,
            Code::Internal,
            Code::Unknown,
            Code::ResourceExhausted,
        ]
        .into_iter()
        .map(|code| {
            let fault = Fault::GrpcStatus {
                code,
                retry_after: None,
            };
            (fault, code as i32, "scripted gRPC status")
        })
        .collect()
    } else {
        [400_u16, 401, 403, 404, 413, 500, 501]
            .into_iter()
            .map(|status| {
                let fault = Fault::HttpStatus {
                    status,
                    retry_after: None,
                };
                (fault, i32::from(status), "scripted HTTP status")
            })
            .collect()
    };
    for (fault, status, message) in cases {
        let context = format!("{target:?} {fault:?}");
        collector.push_fault_for(target.at_collector(), fault, 1);
        let error = expect_permanent(exporter.export(&batch).await, &context);
        assert_eq!(error.kind, target.status_kind(), "{context}: {error}");
        assert_eq!(error.status, Some(status), "{context}: {error}");
        assert!(error.message.contains(message), "{context}: {error}");
        assert_nothing_accepted(target, &collector, &context);
        collector.clear();
    }
}

/// Partial success: the collector keeps the request but rejects some
/// records; `PartiallyRejected` with its count and message.
pub async fn partial_success(target: Target) {
    let collector = target.collector(None);
    collector.push_fault_for(
        target.at_collector(),
        Fault::PartialSuccess {
            rejected: 1,
            message: "one record too old".to_owned(),
        },
        1,
    );
    let outcome = export_with(target, &collector, options()).await;
    assert_eq!(
        outcome,
        ExportOutcome::PartiallyRejected {
            rejected: 1,
            message: "one record too old".to_owned(),
        },
        "{target:?}"
    );
    assert_accepted_once(target, &collector, "partial success");
}

/// TLS files of a [`TestPki`], written to a temporary folder.
pub struct PkiFiles {
    dir: tempfile::TempDir,
    /// The certificates.
    pub pki: TestPki,
}

impl PkiFiles {
    /// Generates a PKI named `name` and writes the client's files.
    pub fn new(name: &str) -> Self {
        let pki = TestPki::generate(name);
        let dir = tempfile::tempdir().expect("a temporary folder");
        pki.write_client_files(dir.path())
            .expect("write the client's TLS files");
        Self { dir, pki }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// Trust this PKI's CA; present its client identity when `identity`.
    pub fn tls(&self, identity: bool) -> TlsConfig {
        TlsConfig {
            ca_certificate: Some(self.path("ca.pem")),
            client_certificate: identity.then(|| self.path("client.pem")),
            client_private_key: identity.then(|| self.path("client.key")),
            insecure: false,
        }
    }
}

fn with_tls(tls: TlsConfig) -> TransportOptions {
    TransportOptions { tls, ..options() }
}

/// TLS: with the collector's CA configured the request is accepted (no
/// client certificate is sent); with another CA, or with the system roots
/// (which do not hold the test CA), the outcome is a permanent `Tls`
/// failure and nothing arrives.
pub async fn tls(target: Target) {
    let server = PkiFiles::new("conformance");
    let other = PkiFiles::new("other");
    let collector = target.collector(Some(server.pki.collector_tls(false)));
    assert!(target.endpoint(&collector).starts_with("https://"));

    let outcome = export_with(target, &collector, with_tls(server.tls(false))).await;
    assert_eq!(outcome, ExportOutcome::Accepted, "{target:?} trusted CA");
    let arrival = assert_accepted_once(target, &collector, "trusted CA");
    assert!(!arrival.client_certificate, "{target:?}");
    collector.clear();

    let wrong_ca = export_with(target, &collector, with_tls(other.tls(false))).await;
    let error = expect_permanent(wrong_ca, &format!("{target:?} wrong CA"));
    assert_eq!(error.kind, FailureKind::Tls, "{target:?} wrong CA: {error}");

    // No ca-certificate: the process's system roots, loaded on this export.
    let system = export_with(target, &collector, options()).await;
    let error = expect_permanent(system, &format!("{target:?} system roots"));
    assert_eq!(
        error.kind,
        FailureKind::Tls,
        "{target:?} system roots: {error}"
    );
    collector
        .wait_for_tls_handshake_failures(1, WAIT)
        .expect("the collector saw the refused handshakes");
    assert_nothing_accepted(target, &collector, "untrusted server");
}

/// Mutual TLS: with the client identity the request is accepted and the
/// collector saw the certificate; without it, the collector refuses the
/// handshake and nothing is delivered: a permanent `Tls` failure (over
/// gRPC also a retryable `Connection` when the alert is lost: see the
/// comment below).
pub async fn mtls(target: Target) {
    let files = PkiFiles::new("conformance-mtls");
    let collector = target.collector(Some(files.pki.collector_tls(true)));

    let outcome = export_with(target, &collector, with_tls(files.tls(true))).await;
    assert_eq!(outcome, ExportOutcome::Accepted, "{target:?} with identity");
    let arrival = assert_accepted_once(target, &collector, "mTLS");
    assert!(arrival.client_certificate, "{target:?}");
    collector.clear();

    let without = export_with(target, &collector, with_tls(files.tls(false))).await;
    match without {
        ExportOutcome::Permanent { error } => {
            assert_eq!(error.kind, FailureKind::Tls, "{target:?}: {error}");
            assert!(
                error.message.contains("client-certificate"),
                "{target:?}: the fix is named: {error}"
            );
        }
        // Known gap, gRPC only: under TLS 1.3 the client's handshake is
        // complete before the server checks its (missing) certificate, and
        // the request is already written; when the server's
        // `certificate_required` alert arrives, hyper often reports the
        // request as cancelled by a closed connection and the alert is
        // lost, so the failure is a retryable `Connection`. The HTTP
        // exporter notes the server's certificate request during the
        // handshake and reports that closed connection as `Tls`; tonic
        // builds its own rustls configuration, so the gRPC exporter cannot
        // (yet). Either way nothing is delivered (checked below).
        ExportOutcome::Retryable { error, .. } if target.is_grpc() => {
            assert_eq!(error.kind, FailureKind::Connection, "{target:?}: {error}");
        }
        other => panic!("{target:?} without identity: {other:?}"),
    }
    collector
        .wait_for_tls_handshake_failures(1, WAIT)
        .expect("the collector refused the handshake");
    assert_nothing_accepted(target, &collector, "mTLS without identity");
}

/// gzip: the body arrives compressed (`Content-Encoding: gzip` /
/// `grpc-encoding: gzip`) and decodes to what was sent.
pub async fn gzip(target: Target) {
    let collector = target.collector(None);
    let transport = TransportOptions {
        compression: Compression::Gzip,
        ..options()
    };
    let outcome = export_with(target, &collector, transport).await;
    assert_eq!(outcome, ExportOutcome::Accepted, "{target:?}");
    let arrival = assert_accepted_once(target, &collector, "gzip");
    assert_eq!(
        arrival.content_encoding.as_deref(),
        Some("gzip"),
        "{target:?}"
    );
}

/// Headers: configured headers arrive with their values (as gRPC metadata
/// over gRPC), beside the exporter's `User-Agent`.
pub async fn headers(target: Target) {
    let collector = target.collector(None);
    let mut transport = options();
    transport
        .headers
        .insert("x-conformance-key", SecretString::new("key-7f3a"));
    transport
        .headers
        .insert("x-tenant", SecretString::new("team-a"));
    let outcome = export_with(target, &collector, transport).await;
    assert_eq!(outcome, ExportOutcome::Accepted, "{target:?}");
    let arrival = assert_accepted_once(target, &collector, "headers");
    assert_eq!(
        arrival.header("x-conformance-key"),
        Some("key-7f3a"),
        "{target:?}"
    );
    assert_eq!(arrival.header("x-tenant"), Some("team-a"), "{target:?}");
    let agent = arrival.header("user-agent").unwrap_or_default();
    assert!(agent.starts_with("agent-otel"), "{target:?}: {agent}");
}

/// A collector that never answers: the attempt ends at the exporter's
/// timeout as a retryable `Timeout`, nothing more counted. The connection
/// is made by a first, accepted export, so the timeout cut is the
/// request's, however slow the machine is to connect.
pub async fn never_answering(target: Target) {
    let collector = target.collector(None);
    let transport = TransportOptions {
        timeout: NEVER_ANSWER_TIMEOUT,
        ..TransportOptions::default()
    };
    let exporter = target.exporter(target.endpoint(&collector), transport);
    let batch = target.batch();
    assert_eq!(
        exporter.export(&batch).await,
        ExportOutcome::Accepted,
        "{target:?}"
    );
    collector.set_default_fault_for(target.at_collector(), Some(Fault::NeverAnswer));
    let outcome = exporter.export(&batch).await;
    let (error, retry_after) = expect_retryable(outcome, &format!("{target:?} never answers"));
    assert_eq!(error.kind, FailureKind::Timeout, "{target:?}: {error}");
    assert_eq!(retry_after, None, "{target:?}");
    assert_accepted_once(target, &collector, "never answers");
}

/// A collector that starts late: the first export finds the port closed
/// (retryable `Connection`); once the collector listens there, the same
/// exporter delivers the same batch.
pub async fn late_start(target: Target) {
    let held = HeldPort::new();
    let port = held.port();
    let exporter = target.exporter(target.endpoint_at(port), options());
    let batch = target.batch();
    let (error, _) = expect_retryable(
        exporter.export(&batch).await,
        &format!("{target:?} before start"),
    );
    assert_eq!(error.kind, FailureKind::Connection, "{target:?}: {error}");
    drop(held);
    let collector = target.collector_at(port);
    assert_eq!(
        exporter.export(&batch).await,
        ExportOutcome::Accepted,
        "{target:?} after start"
    );
    assert_accepted_once(target, &collector, "late start");
}

/// Through the pipeline: the target's exporter in its signal's slot of a
/// [`Telemetry`] with a short retry policy, one turn emitted.
fn pipeline(target: Target, collector: &Collector) -> Telemetry {
    let exporter = Some(target.exporter(target.endpoint(collector), options()));
    let mut exporters = SignalExporters {
        logs: None,
        traces: None,
        metrics: None,
    };
    match target.signal {
        Signal::Logs => exporters.logs = exporter,
        Signal::Traces => exporters.traces = exporter,
        Signal::Metrics => exporters.metrics = exporter,
    }
    let options = PipelineOptions {
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(50),
            budget: Duration::from_secs(20),
        },
        ..PipelineOptions::default()
    };
    Telemetry::with_exporters(TelemetryOptions::default(), exporters, options)
        .expect("the pipeline starts")
}

/// A turn with a request, its completion and a tool call: log records,
/// three spans, and data points of several instruments.
fn emit_turn(telemetry: &Telemetry) {
    let session = telemetry.session(SessionMetadata {
        conversation_id: "conv-conformance".into(),
        model: "gpt-5-codex".into(),
        ..SessionMetadata::default()
    });
    let turn = session.turn();
    turn.api_request(ApiRequest {
        attempt: 1,
        duration: Duration::from_millis(120),
        status_code: Some(200),
        ..ApiRequest::default()
    });
    turn.sse_event(SseEvent {
        kind: "response.completed",
        tokens: Some(TokenCounts {
            input: 10,
            output: 3,
            ..TokenCounts::default()
        }),
        ..SseEvent::default()
    });
    turn.tool_result(ToolResult {
        tool_name: "shell",
        call_id: "c1",
        arguments: "{}",
        duration: Duration::from_millis(30),
        success: true,
        output: "ok",
    });
    turn.end();
}

/// The target's signal's counters.
fn signal_stats(target: Target, telemetry: &Telemetry) -> PipelineStats {
    match target.signal {
        Signal::Logs => telemetry.stats(),
        Signal::Traces => telemetry.trace_stats(),
        Signal::Metrics => telemetry.metric_stats(),
    }
}

/// Through the pipeline: two retryable refusals, then the collector
/// accepts; everything emitted is delivered once, after exactly two
/// retries, counted as status failures of the target's transport.
pub fn delivered_after_retries(target: Target) {
    let collector = target.collector(None);
    collector.push_fault_for(
        target.at_collector(),
        Fault::Unavailable { retry_after: None },
        2,
    );
    let telemetry = pipeline(target, &collector);
    emit_turn(&telemetry);
    telemetry.shutdown(WAIT).expect("everything is delivered");
    let stats = signal_stats(target, &telemetry);
    assert!(stats.emitted > 0, "{target:?}: {stats:?}");
    assert_eq!(stats.exported, stats.emitted, "{target:?}: {stats:?}");
    assert_eq!(stats.retries, 2, "{target:?}: {stats:?}");
    assert_eq!(
        stats.failures(target.status_kind()),
        2,
        "{target:?}: {stats:?}"
    );
    let (requests, records) = collector.counts(target.at_collector());
    assert_eq!(requests, 3, "{target:?}: two refused, one accepted");
    assert_eq!(records as u64, stats.emitted, "{target:?}");
}

/// Through the pipeline: a collector that never answers cannot hold the
/// host past its shutdown deadline; what was cut is counted as dropped at
/// the deadline, and `shutdown` reports the timeout (logs; see below).
pub fn shutdown_deadline_bounds_a_silent_collector(target: Target) {
    let collector = target.collector(None);
    collector.set_default_fault_for(target.at_collector(), Some(Fault::NeverAnswer));
    let telemetry = pipeline(target, &collector);
    emit_turn(&telemetry);
    let result = telemetry.shutdown(Duration::from_millis(300));
    // What was cut at the deadline makes shutdown say so, whatever the signal.
    assert_eq!(result, Err(FlushError::Timeout), "{target:?}");
    assert!(
        telemetry.wait_stopped(WAIT),
        "{target:?}: the worker stops after the deadline"
    );
    let stats = signal_stats(target, &telemetry);
    assert!(stats.emitted > 0, "{target:?}: {stats:?}");
    assert_eq!(
        stats.dropped(DropReason::ShutdownDeadline),
        stats.emitted,
        "{target:?}: {stats:?}"
    );
    assert_eq!(collector.counts(target.at_collector()).1, 0, "{target:?}");
}
