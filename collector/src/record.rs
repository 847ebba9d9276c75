//! What the collector received: whole requests of each signal, and
//! flattened per-record views (log records, spans, metrics).

use std::fmt;
use std::time::SystemTime;

use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::{Metric, metric};
use opentelemetry_proto::tonic::trace::v1::Span;

use crate::fault::Answer;
/// The transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// OTLP/HTTP (`POST /v1/{logs,metrics,traces}`, protobuf or JSON).
    Http,
    /// OTLP/gRPC (the `Export` call of the signal's service).
    Grpc,
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Http => "HTTP",
            Transport::Grpc => "gRPC",
        })
    }
}

/// The three OTLP signals the collector receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Signal {
    /// Logs: `POST /v1/logs`, `LogsService/Export`.
    Logs,
    /// Metrics: `POST /v1/metrics`, `MetricsService/Export`.
    Metrics,
    /// Traces: `POST /v1/traces`, `TraceService/Export`.
    Traces,
}

impl Signal {
    /// All signals, in a fixed order.
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Metrics, Signal::Traces];

    /// The OTLP/HTTP path of this signal (`/v1/logs`, `/v1/metrics`, `/v1/traces`).
    pub fn http_path(self) -> &'static str {
        match self {
            Signal::Logs => "/v1/logs",
            Signal::Metrics => "/v1/metrics",
            Signal::Traces => "/v1/traces",
        }
    }

    /// The gRPC method path of this signal's `Export` call.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        }
    }

    /// What one counted item of this signal is: `"log records"`,
    /// `"data points"` or `"spans"`.
    pub fn items(self) -> &'static str {
        match self {
            Signal::Logs => "log records",
            Signal::Metrics => "data points",
            Signal::Traces => "spans",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Logs => "logs",
            Signal::Metrics => "metrics",
            Signal::Traces => "traces",
        })
    }
}

/// An OTLP export request type the collector receives:
/// [`ExportLogsServiceRequest`], [`ExportMetricsServiceRequest`] or
/// [`ExportTraceServiceRequest`].
pub trait OtlpRequest:
    prost::Message
    + Default
    + Clone
    + PartialEq
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The service's answer type.
    type Response: prost::Message + Default + serde::Serialize + Send + 'static;
    /// The signal this request carries.
    const SIGNAL: Signal;
    /// The counted items of the request: log records, metric data points
    /// or spans.
    fn item_count(&self) -> usize;
    /// A successful answer, with a partial-success part (rejected count,
    /// message) when given.
    fn response(partial: Option<(i64, String)>) -> Self::Response;
}

impl OtlpRequest for ExportLogsServiceRequest {
    type Response = ExportLogsServiceResponse;
    const SIGNAL: Signal = Signal::Logs;
    fn item_count(&self) -> usize {
        self.resource_logs
            .iter()
            .flat_map(|rl| rl.scope_logs.iter())
            .map(|sl| sl.log_records.len())
            .sum()
    }
    fn response(partial: Option<(i64, String)>) -> Self::Response {
        let partial = partial.map(|(rejected, message)| ExportLogsPartialSuccess {
            rejected_log_records: rejected,
            error_message: message,
        });
        ExportLogsServiceResponse {
            partial_success: partial,
        }
    }
}

impl OtlpRequest for ExportMetricsServiceRequest {
    type Response = ExportMetricsServiceResponse;
    const SIGNAL: Signal = Signal::Metrics;
    fn item_count(&self) -> usize {
        self.resource_metrics
            .iter()
            .flat_map(|rm| rm.scope_metrics.iter())
            .flat_map(|sm| sm.metrics.iter())
            .map(data_point_count)
            .sum()
    }
    fn response(partial: Option<(i64, String)>) -> Self::Response {
        let partial = partial.map(|(rejected, message)| ExportMetricsPartialSuccess {
            rejected_data_points: rejected,
            error_message: message,
        });
        ExportMetricsServiceResponse {
            partial_success: partial,
        }
    }
}

impl OtlpRequest for ExportTraceServiceRequest {
    type Response = ExportTraceServiceResponse;
    const SIGNAL: Signal = Signal::Traces;
    fn item_count(&self) -> usize {
        self.resource_spans
            .iter()
            .flat_map(|rs| rs.scope_spans.iter())
            .map(|ss| ss.spans.len())
            .sum()
    }
    fn response(partial: Option<(i64, String)>) -> Self::Response {
        let partial = partial.map(|(rejected, message)| ExportTracePartialSuccess {
            rejected_spans: rejected,
            error_message: message,
        });
        ExportTraceServiceResponse {
            partial_success: partial,
        }
    }
}

/// Number of data points of one metric, whatever its type.
pub fn data_point_count(metric: &Metric) -> usize {
    match &metric.data {
        Some(metric::Data::Gauge(g)) => g.data_points.len(),
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        Some(metric::Data::ExponentialHistogram(h)) => h.data_points.len(),
        Some(metric::Data::Summary(s)) => s.data_points.len(),
        None => 0,
    }
}

/// One export request as the collector received it, with the answer it
/// gave. `R` is the signal's request type; the default is logs, and
/// [`ReceivedMetricsRequest`] / [`ReceivedTracesRequest`] name the others.
///
/// `Debug` masks header values (they may carry API keys): only header
/// names are printed.
#[derive(Clone, PartialEq)]
pub struct ReceivedRequest<R = ExportLogsServiceRequest> {
    /// The transport the request arrived on.
    pub transport: Transport,
    /// When the collector finished reading the request.
    pub received_at: SystemTime,
    /// Request headers with lowercase names, in arrival order. For gRPC these
    /// are the ASCII metadata entries (which include `content-type`,
    /// `grpc-encoding`, `te`, `user-agent` and any custom metadata).
    /// Values that are not valid UTF-8 are converted lossily.
    pub headers: Vec<(String, String)>,
    /// The `Content-Type` header as sent (for gRPC: `application/grpc...`).
    pub content_type: Option<String>,
    /// The `Content-Encoding` header (HTTP) or the `grpc-encoding` metadata (gRPC).
    pub content_encoding: Option<String>,
    /// Size of the body on the wire, before decompression. For gRPC this is
    /// the HTTP/2 request body, including the 5-byte gRPC message prefix.
    pub body_len: usize,
    /// The decoded OTLP request.
    pub request: R,
    /// What the collector answered (or will answer, for delayed answers).
    pub answered: Answer,
    /// Whether the request came over TLS from a client that presented a
    /// certificate (always the case under mutual TLS, never in plaintext).
    pub client_certificate: bool,
}

/// A received OTLP metrics request.
pub type ReceivedMetricsRequest = ReceivedRequest<ExportMetricsServiceRequest>;
/// A received OTLP traces request.
pub type ReceivedTracesRequest = ReceivedRequest<ExportTraceServiceRequest>;
/// A received OTLP logs request (the same as `ReceivedRequest`).
pub type ReceivedLogsRequest = ReceivedRequest<ExportLogsServiceRequest>;

impl<R> fmt::Debug for ReceivedRequest<R>
where
    R: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ReceivedRequest")
            .field("transport", &self.transport)
            .field("received_at", &self.received_at)
            .field("headers (values masked)", &header_names)
            .field("content_type", &self.content_type)
            .field("content_encoding", &self.content_encoding)
            .field("body_len", &self.body_len)
            .field("request", &self.request)
            .field("answered", &self.answered)
            .field("client_certificate", &self.client_certificate)
            .finish()
    }
}

impl<R: OtlpRequest> ReceivedRequest<R> {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The signal of the request.
    pub fn signal(&self) -> Signal {
        R::SIGNAL
    }

    /// Number of records in the request, whatever the answer: log records,
    /// metric data points or spans.
    pub fn record_count(&self) -> usize {
        self.request.item_count()
    }

    /// The request as one line of OTLP JSON (`{"resourceLogs":[...]}`,
    /// `{"resourceMetrics":[...]}`, `{"resourceSpans":[...]}`), the format
    /// of the OpenTelemetry Collector's file exporter. It parses back with
    /// `serde_json::from_str::<R>`.
    pub fn to_otlp_json(&self) -> String {
        match serde_json::to_string(&self.request) {
            Ok(line) => line,
            Err(err) => {
                // Unreachable in practice: the OTLP types only hold strings,
                // numbers, bytes and nested messages.
                tracing::error!(%err, "cannot serialise an OTLP request to JSON");
                String::from("{}")
            }
        }
    }
}

impl ReceivedRequest<ExportLogsServiceRequest> {
    /// The request's log records, flattened, whatever the answer.
    pub fn records(&self) -> Vec<ReceivedRecord> {
        let mut out = Vec::with_capacity(self.record_count());
        self.push_records(&mut out);
        out
    }

    pub(crate) fn push_records(&self, out: &mut Vec<ReceivedRecord>) {
        for rl in &self.request.resource_logs {
            let resource_attributes = rl
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
                .unwrap_or_default();
            for sl in &rl.scope_logs {
                let (scope_name, scope_version, scope_attributes) = match &sl.scope {
                    Some(s) => (s.name.clone(), s.version.clone(), s.attributes.clone()),
                    None => Default::default(),
                };
                for record in &sl.log_records {
                    out.push(ReceivedRecord {
                        transport: self.transport,
                        resource_attributes: resource_attributes.clone(),
                        scope_name: scope_name.clone(),
                        scope_version: scope_version.clone(),
                        scope_attributes: scope_attributes.clone(),
                        record: record.clone(),
                    });
                }
            }
        }
    }
}

impl ReceivedRequest<ExportTraceServiceRequest> {
    /// The request's spans, flattened, whatever the answer.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let mut out = Vec::with_capacity(self.record_count());
        self.push_spans(&mut out);
        out
    }

    pub(crate) fn push_spans(&self, out: &mut Vec<ReceivedSpan>) {
        for rs in &self.request.resource_spans {
            let resource_attributes = rs
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                let (scope_name, scope_version) = match &ss.scope {
                    Some(s) => (s.name.clone(), s.version.clone()),
                    None => Default::default(),
                };
                for span in &ss.spans {
                    out.push(ReceivedSpan {
                        transport: self.transport,
                        resource_attributes: resource_attributes.clone(),
                        scope_name: scope_name.clone(),
                        scope_version: scope_version.clone(),
                        span: span.clone(),
                    });
                }
            }
        }
    }
}

impl ReceivedRequest<ExportMetricsServiceRequest> {
    /// The request's metrics (each with all its data points), flattened,
    /// whatever the answer.
    pub fn metrics(&self) -> Vec<ReceivedMetric> {
        let mut out = Vec::new();
        self.push_metrics(&mut out);
        out
    }

    pub(crate) fn push_metrics(&self, out: &mut Vec<ReceivedMetric>) {
        for rm in &self.request.resource_metrics {
            let resource_attributes = rm
                .resource
                .as_ref()
                .map(|r| r.attributes.clone())
                .unwrap_or_default();
            for sm in &rm.scope_metrics {
                let (scope_name, scope_version) = match &sm.scope {
                    Some(s) => (s.name.clone(), s.version.clone()),
                    None => Default::default(),
                };
                for metric in &sm.metrics {
                    out.push(ReceivedMetric {
                        transport: self.transport,
                        resource_attributes: resource_attributes.clone(),
                        scope_name: scope_name.clone(),
                        scope_version: scope_version.clone(),
                        metric: metric.clone(),
                    });
                }
            }
        }
    }
}

/// One span with its resource and scope, flattened out of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedSpan {
    /// The transport the span arrived on.
    pub transport: Transport,
    /// Attributes of the span's resource.
    pub resource_attributes: Vec<KeyValue>,
    /// Name of the instrumentation scope (empty when unset).
    pub scope_name: String,
    /// Version of the instrumentation scope (empty when unset).
    pub scope_version: String,
    /// The span itself.
    pub span: Span,
}

impl ReceivedSpan {
    /// The span attribute `key`, if present with a value.
    pub fn attr(&self, key: &str) -> Option<&AnyValue> {
        find(&self.span.attributes, key)
    }

    /// The span attribute `key` when it is a string.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(as_str)
    }

    /// The resource attribute `key` when it is a string.
    pub fn resource_str(&self, key: &str) -> Option<&str> {
        find(&self.resource_attributes, key).and_then(as_str)
    }
}

/// One metric (with its data points) with its resource and scope,
/// flattened out of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedMetric {
    /// The transport the metric arrived on.
    pub transport: Transport,
    /// Attributes of the metric's resource.
    pub resource_attributes: Vec<KeyValue>,
    /// Name of the instrumentation scope (empty when unset).
    pub scope_name: String,
    /// Version of the instrumentation scope (empty when unset).
    pub scope_version: String,
    /// The metric itself.
    pub metric: Metric,
}

impl ReceivedMetric {
    /// The metric's name.
    pub fn name(&self) -> &str {
        &self.metric.name
    }

    /// Number of data points, whatever the metric type.
    pub fn data_point_count(&self) -> usize {
        data_point_count(&self.metric)
    }

    /// The resource attribute `key` when it is a string.
    pub fn resource_str(&self, key: &str) -> Option<&str> {
        find(&self.resource_attributes, key).and_then(as_str)
    }
}

/// One log record with its resource and scope, flattened out of a request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRecord {
    /// The transport the record arrived on.
    pub transport: Transport,
    /// Attributes of the record's resource.
    pub resource_attributes: Vec<KeyValue>,
    /// Name of the instrumentation scope (empty when unset).
    pub scope_name: String,
    /// Version of the instrumentation scope (empty when unset).
    pub scope_version: String,
    /// Attributes of the instrumentation scope.
    pub scope_attributes: Vec<KeyValue>,
    /// The log record itself.
    pub record: LogRecord,
}

impl ReceivedRecord {
    /// The `LogRecord.event_name` field (empty when unset).
    pub fn event_name(&self) -> &str {
        &self.record.event_name
    }

    /// The record attribute `key`, if present with a value.
    pub fn attr(&self, key: &str) -> Option<&AnyValue> {
        find(&self.record.attributes, key)
    }

    /// The record attribute `key` when it is a string.
    pub fn attr_str(&self, key: &str) -> Option<&str> {
        self.attr(key).and_then(as_str)
    }

    /// The record attribute `key` when it is an integer.
    pub fn attr_int(&self, key: &str) -> Option<i64> {
        match self.attr(key)?.value.as_ref()? {
            any_value::Value::IntValue(v) => Some(*v),
            _ => None,
        }
    }

    /// The record attribute `key` when it is a boolean.
    pub fn attr_bool(&self, key: &str) -> Option<bool> {
        match self.attr(key)?.value.as_ref()? {
            any_value::Value::BoolValue(v) => Some(*v),
            _ => None,
        }
    }

    /// The record attribute `key` when it is a double.
    pub fn attr_double(&self, key: &str) -> Option<f64> {
        match self.attr(key)?.value.as_ref()? {
            any_value::Value::DoubleValue(v) => Some(*v),
            _ => None,
        }
    }

    /// The record attribute `key` rendered as text, whatever its type
    /// (see [`any_value_text`]).
    pub fn attr_text(&self, key: &str) -> Option<String> {
        self.attr(key).map(any_value_text)
    }

    /// The resource attribute `key`, if present with a value.
    pub fn resource_attr(&self, key: &str) -> Option<&AnyValue> {
        find(&self.resource_attributes, key)
    }

    /// The resource attribute `key` when it is a string.
    pub fn resource_str(&self, key: &str) -> Option<&str> {
        self.resource_attr(key).and_then(as_str)
    }

    /// The record attributes as `(key, value)` pairs, in wire order
    /// (attributes without a value are skipped).
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &AnyValue)> + '_ {
        self.record
            .attributes
            .iter()
            .filter_map(|kv| kv.value.as_ref().map(|v| (kv.key.as_str(), v)))
    }

    /// The record body when it is a string.
    pub fn body_str(&self) -> Option<&str> {
        self.record.body.as_ref().and_then(as_str)
    }
}

fn find<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a AnyValue> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
}

fn as_str(v: &AnyValue) -> Option<&str> {
    match v.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.as_str()),
        _ => None,
    }
}

/// Renders an OTLP value as human-readable text: strings as they are,
/// numbers and booleans in their usual form, bytes as lowercase hex, arrays
/// as `[a, b]`, key-value lists as `{k: v, ...}`, an empty value as ``.
pub fn any_value_text(value: &AnyValue) -> String {
    let mut out = String::new();
    write_any_value(&mut out, value);
    out
}

fn write_any_value(out: &mut String, value: &AnyValue) {
    use std::fmt::Write as _;
    let Some(v) = value.value.as_ref() else {
        return;
    };
    match v {
        any_value::Value::StringValue(s) => out.push_str(s),
        any_value::Value::BoolValue(b) => {
            let _ = write!(out, "{b}");
        }
        any_value::Value::IntValue(i) => {
            let _ = write!(out, "{i}");
        }
        any_value::Value::DoubleValue(d) => {
            let _ = write!(out, "{d}");
        }
        any_value::Value::BytesValue(bytes) => {
            for b in bytes {
                let _ = write!(out, "{b:02x}");
            }
        }
        any_value::Value::ArrayValue(arr) => {
            out.push('[');
            for (i, v) in arr.values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_any_value(out, v);
            }
            out.push(']');
        }
        any_value::Value::KvlistValue(list) => {
            out.push('{');
            for (i, kv) in list.values.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&kv.key);
                out.push_str(": ");
                if let Some(v) = &kv.value {
                    write_any_value(out, v);
                }
            }
            out.push('}');
        }
        any_value::Value::StringValueStrindex(i) => {
            let _ = write!(out, "#{i}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};

    fn s(v: &str) -> AnyValue {
        AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }
    }

    #[test]
    fn renders_values_as_text() {
        let arr = AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: vec![
                    s("a"),
                    AnyValue {
                        value: Some(any_value::Value::IntValue(2)),
                    },
                ],
            })),
        };
        assert_eq!(any_value_text(&arr), "[a, 2]");
        let kv = AnyValue {
            value: Some(any_value::Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "k".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::BytesValue(vec![0xab, 1])),
                    }),
                    ..Default::default()
                }],
            })),
        };
        assert_eq!(any_value_text(&kv), "{k: ab01}");
        assert_eq!(any_value_text(&AnyValue::default()), "");
    }

    #[test]
    fn typed_accessors() {
        let rec = ReceivedRecord {
            transport: Transport::Http,
            resource_attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(s("svc")),
                ..Default::default()
            }],
            scope_name: String::new(),
            scope_version: String::new(),
            scope_attributes: vec![],
            record: LogRecord {
                event_name: "codex.tool_result".into(),
                attributes: vec![
                    KeyValue {
                        key: "n".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::IntValue(7)),
                        }),
                        ..Default::default()
                    },
                    KeyValue {
                        key: "b".into(),
                        value: Some(AnyValue {
                            value: Some(any_value::Value::BoolValue(true)),
                        }),
                        ..Default::default()
                    },
                    KeyValue {
                        key: "empty".into(),
                        value: None,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            },
        };
        assert_eq!(rec.event_name(), "codex.tool_result");
        assert_eq!(rec.attr_int("n"), Some(7));
        assert_eq!(rec.attr_str("n"), None);
        assert_eq!(rec.attr_bool("b"), Some(true));
        assert_eq!(rec.attr("empty"), None);
        assert_eq!(rec.resource_str("service.name"), Some("svc"));
        assert_eq!(rec.attributes().count(), 2);
        assert_eq!(rec.attr_text("n").as_deref(), Some("7"));
    }
}
