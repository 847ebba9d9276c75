//! OTLP JSON (the protobuf JSON mapping), written as text.

use bytes::BufMut;

use super::logs::OtlpEncoder;
use super::{Encoding, WireFormat};
use crate::attribute::ValueRef;
use crate::event::TraceLink;

/// OTLP JSON (the protobuf JSON mapping with lowerCamelCase keys, 64-bit
/// integers as strings, enums as numbers), written as text.
pub(crate) struct Json;

/// Appends `text` JSON-escaped (without quotes).
pub(crate) fn put_json_escaped(buf: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => b"",
            _ => continue,
        };
        buf.put_slice(&bytes[start..i]);
        if escape.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.put_slice(b"\\u00");
            buf.put_u8(HEX[usize::from(b >> 4)]);
            buf.put_u8(HEX[usize::from(b & 0xf)]);
        } else {
            buf.put_slice(escape);
        }
        start = i + 1;
    }
    buf.put_slice(&bytes[start..]);
}

fn put_json_u64_string(buf: &mut Vec<u8>, value: u64) {
    buf.put_u8(b'"');
    buf.put_slice(value.to_string().as_bytes());
    buf.put_u8(b'"');
}

/// The fixed text of an OTLP JSON request around its Resource, Scope and
/// records.
const JSON_FRAME: [&[u8]; 4] = [
    b"{\"resourceLogs\":[{\"resource\":",
    b",\"scopeLogs\":[{\"scope\":",
    b",\"logRecords\":[",
    b"]}]}]}",
];

impl Encoding for Json {
    const FORMAT: WireFormat = WireFormat::Json;

    fn open_record(buf: &mut Vec<u8>, time: u64) {
        buf.put_slice(b"{\"timeUnixNano\":");
        put_json_u64_string(buf, time);
        buf.put_slice(b",\"severityNumber\":9,\"severityText\":\"INFO\",\"attributes\":[");
    }

    fn str_attr(buf: &mut Vec<u8>, key: &str, parts: &[&str]) {
        buf.put_slice(b"{\"key\":\"");
        put_json_escaped(buf, key);
        buf.put_slice(b"\",\"value\":{\"stringValue\":\"");
        for part in parts {
            put_json_escaped(buf, part);
        }
        buf.put_slice(b"\"}},");
    }

    fn int_attr(buf: &mut Vec<u8>, key: &str, value: i64) {
        buf.put_slice(b"{\"key\":\"");
        put_json_escaped(buf, key);
        buf.put_slice(b"\",\"value\":{\"intValue\":\"");
        buf.put_slice(value.to_string().as_bytes());
        buf.put_slice(b"\"}},");
    }

    fn value_attr(buf: &mut Vec<u8>, key: &str, value: &ValueRef<'_>) {
        buf.put_slice(b"{\"key\":\"");
        put_json_escaped(buf, key);
        buf.put_slice(b"\",\"value\":");
        put_any_value(buf, value);
        buf.put_slice(b"},");
    }

    fn close_record(
        buf: &mut Vec<u8>,
        dropped_attributes: u32,
        trace: Option<&TraceLink>,
        observed: u64,
        name: &[&str],
    ) {
        if buf.last() == Some(&b',') {
            buf.pop();
        }
        buf.put_u8(b']');
        if dropped_attributes > 0 {
            buf.put_slice(b",\"droppedAttributesCount\":");
            buf.put_slice(dropped_attributes.to_string().as_bytes());
        }
        if let Some(link) = trace {
            // OTLP JSON writes trace and span ids as lowercase hex.
            buf.put_slice(if link.sampled {
                b",\"flags\":1,\"traceId\":\"".as_slice()
            } else {
                b",\"traceId\":\"".as_slice()
            });
            buf.put_slice(link.trace_id.to_string().as_bytes());
            buf.put_slice(b"\",\"spanId\":\"");
            buf.put_slice(link.span_id.to_string().as_bytes());
            buf.put_u8(b'"');
        }
        buf.put_slice(b",\"observedTimeUnixNano\":");
        put_json_u64_string(buf, observed);
        buf.put_slice(b",\"eventName\":\"");
        for part in name {
            put_json_escaped(buf, part);
        }
        buf.put_slice(b"\"}");
    }

    fn framed_len(record: &[u8]) -> usize {
        record.len() + 1
    }

    fn frame(records: &mut Vec<u8>, record: &[u8]) {
        if !records.is_empty() {
            records.put_u8(b',');
        }
        records.put_slice(record);
    }

    fn overhead(encoder: &OtlpEncoder) -> usize {
        JSON_FRAME.iter().map(|part| part.len()).sum::<usize>()
            + encoder.resource_json.len()
            + encoder.scope_json.len()
    }

    fn finish(encoder: &OtlpEncoder, records: &[u8]) -> Vec<u8> {
        let resource = &encoder.resource_json;
        let scope = &encoder.scope_json;
        let [open, scope_logs, log_records, close] = JSON_FRAME;
        let mut out = Vec::with_capacity(records.len() + Self::overhead(encoder));
        out.put_slice(open);
        out.put_slice(resource);
        out.put_slice(scope_logs);
        out.put_slice(scope);
        out.put_slice(log_records);
        out.put_slice(records);
        out.put_slice(close);
        out
    }
}

/// Writes `value` as an OTLP JSON `AnyValue` object. Non-finite doubles are
/// written as the proto3 JSON strings `"NaN"`, `"Infinity"`, `"-Infinity"`.
pub(crate) fn put_any_value(buf: &mut Vec<u8>, value: &ValueRef<'_>) {
    match value {
        ValueRef::Str(text) => {
            buf.put_slice(b"{\"stringValue\":\"");
            put_json_escaped(buf, text);
            buf.put_slice(b"\"}");
        }
        ValueRef::Bool(b) => {
            buf.put_slice(if *b {
                b"{\"boolValue\":true}"
            } else {
                b"{\"boolValue\":false}"
            });
        }
        ValueRef::Int(i) => {
            buf.put_slice(b"{\"intValue\":\"");
            buf.put_slice(i.to_string().as_bytes());
            buf.put_slice(b"\"}");
        }
        ValueRef::Double(d) => {
            buf.put_slice(b"{\"doubleValue\":");
            if d.is_nan() {
                buf.put_slice(b"\"NaN\"");
            } else if d.is_infinite() {
                buf.put_slice(if *d > 0.0 {
                    b"\"Infinity\"".as_slice()
                } else {
                    b"\"-Infinity\"".as_slice()
                });
            } else {
                // `{:?}` is the shortest text that reads back to the same bits.
                buf.put_slice(format!("{d:?}").as_bytes());
            }
            buf.put_u8(b'}');
        }
        ValueRef::Array(items) => {
            buf.put_slice(b"{\"arrayValue\":{\"values\":[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.put_u8(b',');
                }
                put_any_value(buf, item);
            }
            buf.put_slice(b"]}}");
        }
        ValueRef::Map(entries) => {
            buf.put_slice(b"{\"kvlistValue\":{\"values\":[");
            for (i, (key, item)) in entries.iter().enumerate() {
                if i > 0 {
                    buf.put_u8(b',');
                }
                buf.put_slice(b"{\"key\":\"");
                put_json_escaped(buf, key);
                buf.put_slice(b"\",\"value\":");
                put_any_value(buf, item);
                buf.put_u8(b'}');
            }
            buf.put_slice(b"]}}");
        }
    }
}
