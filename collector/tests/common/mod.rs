//! Shared helpers for the collector's loopback tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write as _;
use std::thread::JoinHandle;
use std::time::Duration;

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use agent_otel_collector::opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value,
};
use agent_otel_collector::opentelemetry_proto::tonic::logs::v1::{
    LogRecord, ResourceLogs, ScopeLogs,
};
use agent_otel_collector::opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, metric,
    number_data_point,
};
use agent_otel_collector::opentelemetry_proto::tonic::resource::v1::Resource;
use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};

/// A generous bound for anything that should be quick.
pub const BOUND: Duration = Duration::from_secs(20);

pub fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

pub fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.to_owned())
}

/// A request with `n` `codex.tool_result` records.
pub fn sample_request(n: usize) -> ExportLogsServiceRequest {
    let records = (0..n)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            event_name: "codex.tool_result".to_owned(),
            severity_text: "INFO".to_owned(),
            body: Some(AnyValue {
                value: Some(s("tool ran")),
            }),
            attributes: vec![
                kv("event.name", s("codex.tool_result")),
                kv("tool_name", s("shell")),
                kv("call_id", s(&format!("call-{i}"))),
                kv("duration_ms", any_value::Value::IntValue(40 + i as i64)),
                kv("success", s("true")),
                kv("sandboxed", any_value::Value::BoolValue(true)),
            ],
            trace_id: vec![7; 16],
            span_id: vec![9; 8],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s("codex-cli")), kv("env", s("test"))],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                scope: Some(InstrumentationScope {
                    name: "agent-otel".to_owned(),
                    version: "0.1.0".to_owned(),
                    ..Default::default()
                }),
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

/// A plain-http reqwest client (a crypto provider must exist to build one).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().timeout(BOUND).build().unwrap()
}

/// A current-thread runtime for the clients (the collector has its own).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// POSTs `body` as `application/x-protobuf` to `endpoint` from a new thread
/// with its own runtime, so the caller's thread stays free to block on the
/// collector. The thread returns the answer's status, or the client error
/// when no answer came.
pub fn post_in_thread(
    endpoint: String,
    body: Vec<u8>,
) -> JoinHandle<Result<reqwest::StatusCode, reqwest::Error>> {
    std::thread::spawn(move || {
        runtime().block_on(async {
            http_client()
                .post(endpoint)
                .header("content-type", "application/x-protobuf")
                .body(body)
                .send()
                .await
                .map(|r| r.status())
        })
    })
}

/// Exports `requests` in order over one gRPC connection to `endpoint` from a
/// new thread with its own runtime. The thread panics if it cannot connect
/// and returns the first non-OK status, or `Ok` once every export succeeded.
pub fn export_grpc_in_thread(
    endpoint: String,
    requests: Vec<ExportLogsServiceRequest>,
) -> JoinHandle<Result<(), tonic::Status>> {
    std::thread::spawn(move || {
        runtime().block_on(async {
            let mut cl = LogsServiceClient::connect(endpoint).await.unwrap();
            for req in requests {
                cl.export(req).await?;
            }
            Ok(())
        })
    })
}

/// A traces request with `n` spans of one trace (`execute_tool shell`).
pub fn sample_traces(n: usize) -> ExportTraceServiceRequest {
    let spans = (0..n)
        .map(|i| Span {
            trace_id: vec![7; 16],
            span_id: vec![i as u8 + 1; 8],
            parent_span_id: if i == 0 { Vec::new() } else { vec![1; 8] },
            name: format!("execute_tool shell-{i}"),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 1_000_000,
            end_time_unix_nano: 1_700_000_000_000_000_000 + (i as u64 + 1) * 1_000_000,
            attributes: vec![kv("gen_ai.tool.name", s("shell"))],
            status: Some(Status {
                code: status::StatusCode::Ok as i32,
                message: String::new(),
            }),
            ..Default::default()
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s("codex-cli"))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "agent-otel".to_owned(),
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A metrics request with one counter `codex.tool.call` of `n` data points.
pub fn sample_metrics(n: usize) -> ExportMetricsServiceRequest {
    let data_points = (0..n)
        .map(|i| NumberDataPoint {
            attributes: vec![kv("tool_name", s(&format!("tool-{i}")))],
            time_unix_nano: 1_700_000_000_000_000_000,
            value: Some(number_data_point::Value::AsInt(i as i64 + 1)),
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", s("codex-cli"))],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "agent-otel".to_owned(),
                    ..Default::default()
                }),
                metrics: vec![Metric {
                    name: "codex.tool.call".to_owned(),
                    unit: "{call}".to_owned(),
                    data: Some(metric::Data::Sum(Sum {
                        data_points,
                        aggregation_temporality: AggregationTemporality::Delta as i32,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
