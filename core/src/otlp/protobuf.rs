//! OTLP protobuf, written field by field with `prost::encoding` primitives.

use bytes::BufMut;
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use super::logs::OtlpEncoder;
use super::{Encoding, WireFormat};
use crate::attribute::ValueRef;
use crate::event::TraceLink;

// Field numbers of the OTLP messages written here.
pub(crate) const REQUEST_RESOURCE_LOGS: u32 = 1;
pub(crate) const RESOURCE_LOGS_RESOURCE: u32 = 1;
pub(crate) const RESOURCE_LOGS_SCOPE_LOGS: u32 = 2;
pub(crate) const SCOPE_LOGS_SCOPE: u32 = 1;
pub(crate) const SCOPE_LOGS_LOG_RECORDS: u32 = 2;
pub(crate) const RECORD_TIME: u32 = 1;
pub(crate) const RECORD_SEVERITY_NUMBER: u32 = 2;
pub(crate) const RECORD_SEVERITY_TEXT: u32 = 3;
pub(crate) const RECORD_ATTRIBUTES: u32 = 6;
pub(crate) const RECORD_DROPPED_ATTRIBUTES_COUNT: u32 = 7;
pub(crate) const RECORD_FLAGS: u32 = 8;
pub(crate) const RECORD_TRACE_ID: u32 = 9;
pub(crate) const RECORD_SPAN_ID: u32 = 10;
pub(crate) const RECORD_OBSERVED_TIME: u32 = 11;
pub(crate) const RECORD_EVENT_NAME: u32 = 12;
pub(crate) const KEY_VALUE_KEY: u32 = 1;
pub(crate) const KEY_VALUE_VALUE: u32 = 2;
pub(crate) const ANY_VALUE_STRING: u32 = 1;
pub(crate) const ANY_VALUE_BOOL: u32 = 2;
pub(crate) const ANY_VALUE_INT: u32 = 3;
pub(crate) const ANY_VALUE_DOUBLE: u32 = 4;
pub(crate) const ANY_VALUE_ARRAY: u32 = 5;
pub(crate) const ANY_VALUE_KVLIST: u32 = 6;
/// `ArrayValue.values` and `KeyValueList.values`.
pub(crate) const LIST_VALUES: u32 = 1;

/// Bytes of a length-delimited field with a one-byte key and `len` bytes.
pub(crate) fn framed_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

pub(crate) fn put_message_header(buf: &mut Vec<u8>, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

/// Bytes of a `KeyValue.key` field: none for an empty key (proto3, and
/// prost, leave it out).
fn key_len(key: &str) -> usize {
    if key.is_empty() {
        0
    } else {
        framed_len(key.len())
    }
}

fn put_key(buf: &mut Vec<u8>, key: &str) {
    if !key.is_empty() {
        put_bytes_field(buf, KEY_VALUE_KEY, &[key.as_bytes()]);
    }
}

pub(crate) fn put_bytes_field(buf: &mut Vec<u8>, tag: u32, parts: &[&[u8]]) {
    put_message_header(buf, tag, parts.iter().map(|p| p.len()).sum());
    for part in parts {
        buf.put_slice(part);
    }
}

fn put_fixed64(buf: &mut Vec<u8>, tag: u32, value: u64) {
    encode_key(tag, WireType::SixtyFourBit, buf);
    buf.put_u64_le(value);
}

/// OTLP protobuf, written field by field with `prost::encoding` primitives.
pub(crate) struct Protobuf;

impl Encoding for Protobuf {
    const FORMAT: WireFormat = WireFormat::Protobuf;

    fn open_record(buf: &mut Vec<u8>, time: u64) {
        // proto3 leaves zero out; so does prost, and the bytes must match.
        if time != 0 {
            put_fixed64(buf, RECORD_TIME, time);
        }
        encode_key(RECORD_SEVERITY_NUMBER, WireType::Varint, buf);
        encode_varint(SeverityNumber::Info as u64, buf);
        put_bytes_field(buf, RECORD_SEVERITY_TEXT, &[b"INFO"]);
    }

    fn str_attr(buf: &mut Vec<u8>, key: &str, parts: &[&str]) {
        let value_len: usize = parts.iter().map(|p| p.len()).sum();
        let any_len = framed_len(value_len);
        let kv_len = key_len(key) + framed_len(any_len);
        put_message_header(buf, RECORD_ATTRIBUTES, kv_len);
        put_key(buf, key);
        put_message_header(buf, KEY_VALUE_VALUE, any_len);
        put_message_header(buf, ANY_VALUE_STRING, value_len);
        for part in parts {
            buf.put_slice(part.as_bytes());
        }
    }

    fn int_attr(buf: &mut Vec<u8>, key: &str, value: i64) {
        // Protobuf int64: two's complement as a 64-bit varint.
        let raw = value as u64;
        let any_len = 1 + encoded_len_varint(raw);
        let kv_len = key_len(key) + framed_len(any_len);
        put_message_header(buf, RECORD_ATTRIBUTES, kv_len);
        put_key(buf, key);
        put_message_header(buf, KEY_VALUE_VALUE, any_len);
        encode_key(ANY_VALUE_INT, WireType::Varint, buf);
        encode_varint(raw, buf);
    }

    fn value_attr(buf: &mut Vec<u8>, key: &str, value: &ValueRef<'_>) {
        let mut any = Vec::new();
        put_any_value(&mut any, value);
        let kv_len = key_len(key) + framed_len(any.len());
        put_message_header(buf, RECORD_ATTRIBUTES, kv_len);
        put_key(buf, key);
        put_bytes_field(buf, KEY_VALUE_VALUE, &[&any]);
    }

    fn close_record(
        buf: &mut Vec<u8>,
        dropped_attributes: u32,
        trace: Option<&TraceLink>,
        observed: u64,
        name: &[&str],
    ) {
        if dropped_attributes > 0 {
            encode_key(RECORD_DROPPED_ATTRIBUTES_COUNT, WireType::Varint, buf);
            encode_varint(u64::from(dropped_attributes), buf);
        }
        if let Some(link) = trace {
            if link.sampled {
                encode_key(RECORD_FLAGS, WireType::ThirtyTwoBit, buf);
                buf.put_u32_le(1);
            }
            put_bytes_field(buf, RECORD_TRACE_ID, &[&link.trace_id.0]);
            put_bytes_field(buf, RECORD_SPAN_ID, &[&link.span_id.0]);
        }
        if observed != 0 {
            put_fixed64(buf, RECORD_OBSERVED_TIME, observed);
        }
        let name_len: usize = name.iter().map(|p| p.len()).sum();
        if name_len > 0 {
            put_message_header(buf, RECORD_EVENT_NAME, name_len);
            for part in name {
                buf.put_slice(part.as_bytes());
            }
        }
    }

    fn framed_len(record: &[u8]) -> usize {
        framed_len(record.len())
    }

    fn frame(records: &mut Vec<u8>, record: &[u8]) {
        put_bytes_field(records, SCOPE_LOGS_LOG_RECORDS, &[record]);
    }

    fn overhead(encoder: &OtlpEncoder) -> usize {
        framed_len(encoder.resource_protobuf.len()) + framed_len(encoder.scope_protobuf.len()) + 16
    }

    /// Wraps encoded records in Request > ResourceLogs > ScopeLogs.
    fn finish(encoder: &OtlpEncoder, records: &[u8]) -> Vec<u8> {
        let resource = &encoder.resource_protobuf;
        let scope = &encoder.scope_protobuf;
        let scope_logs_len = framed_len(scope.len()) + records.len();
        let resource_logs_len = framed_len(resource.len()) + framed_len(scope_logs_len);
        let mut out = Vec::with_capacity(framed_len(resource_logs_len));
        put_message_header(&mut out, REQUEST_RESOURCE_LOGS, resource_logs_len);
        put_bytes_field(&mut out, RESOURCE_LOGS_RESOURCE, &[resource]);
        put_message_header(&mut out, RESOURCE_LOGS_SCOPE_LOGS, scope_logs_len);
        put_bytes_field(&mut out, SCOPE_LOGS_SCOPE, &[scope]);
        out.put_slice(records);
        out
    }
}

/// Writes the fields of an `AnyValue` message holding `value` (nested
/// arrays and maps are written into scratch buffers to learn their length).
pub(crate) fn put_any_value(out: &mut Vec<u8>, value: &ValueRef<'_>) {
    match value {
        ValueRef::Str(text) => put_bytes_field(out, ANY_VALUE_STRING, &[text.as_bytes()]),
        ValueRef::Bool(b) => {
            encode_key(ANY_VALUE_BOOL, WireType::Varint, out);
            encode_varint(u64::from(*b), out);
        }
        ValueRef::Int(i) => {
            // Protobuf int64: two's complement as a 64-bit varint.
            encode_key(ANY_VALUE_INT, WireType::Varint, out);
            encode_varint(*i as u64, out);
        }
        ValueRef::Double(d) => put_fixed64(out, ANY_VALUE_DOUBLE, d.to_bits()),
        ValueRef::Array(items) => {
            let mut list = Vec::new();
            let mut any = Vec::new();
            for item in items {
                any.clear();
                put_any_value(&mut any, item);
                put_bytes_field(&mut list, LIST_VALUES, &[&any]);
            }
            put_bytes_field(out, ANY_VALUE_ARRAY, &[&list]);
        }
        ValueRef::Map(entries) => {
            let mut list = Vec::new();
            let mut kv = Vec::new();
            let mut any = Vec::new();
            for (key, item) in entries {
                kv.clear();
                any.clear();
                put_key(&mut kv, key);
                put_any_value(&mut any, item);
                put_bytes_field(&mut kv, KEY_VALUE_VALUE, &[&any]);
                put_bytes_field(&mut list, LIST_VALUES, &[&kv]);
            }
            put_bytes_field(out, ANY_VALUE_KVLIST, &[&list]);
        }
    }
}
