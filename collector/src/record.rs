//! What the collector received: whole requests and a flattened per-record view.

use std::fmt;
use std::time::SystemTime;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;

use crate::fault::Answer;

/// The transport a request arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// OTLP/HTTP (`POST /v1/logs`, protobuf or JSON).
    Http,
    /// OTLP/gRPC (`opentelemetry.proto.collector.logs.v1.LogsService/Export`).
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

/// One export request as the collector received it, with the answer it gave.
#[derive(Debug, Clone, PartialEq)]
pub struct ReceivedRequest {
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
    pub request: ExportLogsServiceRequest,
    /// What the collector answered (or will answer, for delayed answers).
    pub answered: Answer,
    /// Whether the request came over TLS from a client that presented a
    /// certificate (always the case under mutual TLS, never in plaintext).
    pub client_certificate: bool,
}

impl ReceivedRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Number of log records in the request, whatever the answer.
    pub fn record_count(&self) -> usize {
        self.request
            .resource_logs
            .iter()
            .flat_map(|rl| rl.scope_logs.iter())
            .map(|sl| sl.log_records.len())
            .sum()
    }

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

    /// The request as one line of OTLP JSON (`{"resourceLogs":[...]}`), the
    /// format of the OpenTelemetry Collector's file exporter. It parses back
    /// with `serde_json::from_str::<ExportLogsServiceRequest>`.
    pub fn to_otlp_json(&self) -> String {
        match serde_json::to_string(&self.request) {
            Ok(line) => line,
            Err(err) => {
                // Unreachable in practice: the OTLP types only hold strings,
                // numbers, bytes and nested messages.
                tracing::error!(%err, "cannot serialise an OTLP request to JSON");
                String::from("{\"resourceLogs\":[]}")
            }
        }
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
