//! OTLP encoding: events to one `ExportLogsServiceRequest` per batch, under
//! one Resource and one Scope, split so no request exceeds the size limit.
//!
//! Records are written as protobuf straight from the typed events, with no
//! intermediate `LogRecord`/`KeyValue` values (no per-attribute allocation);
//! the prost message is decoded back only when someone asks for it (JSON,
//! tests). Runs on the pipeline worker, never on the caller's thread.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::{BufMut, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::SeverityNumber;
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use prost::Message;
use prost::encoding::{WireType, encode_key, encode_varint, encoded_len_varint};

use crate::event::{Event, EventBody, SessionMetadata, SessionRef};
use crate::registry::SessionRegistry;
use crate::resource::TelemetryOptions;

/// Value exported for `prompt` when `log_user_prompt` is off.
pub const REDACTED: &str = "[REDACTED]";

/// The wire encodings an exporter can ask the pipeline for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WireFormat {
    /// OTLP protobuf (gRPC, `application/x-protobuf`).
    #[default]
    Protobuf,
    /// OTLP JSON (`application/json`).
    Json,
}

/// One export request's worth of log records, encoded once in the
/// exporter's [`WireFormat`]; the other encoding and the prost message are
/// derived on demand and cached, so retries never re-encode.
#[derive(Debug)]
pub struct LogBatch {
    records: usize,
    protobuf: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
    request: OnceLock<ExportLogsServiceRequest>,
    transport_body: OnceLock<Bytes>,
}

impl LogBatch {
    /// Wraps a request built elsewhere (tests, replay tools).
    pub fn from_request(request: ExportLogsServiceRequest) -> Self {
        let records = request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        Self {
            records,
            protobuf: OnceLock::from(Bytes::from(request.encode_to_vec())),
            json: OnceLock::new(),
            request: OnceLock::from(request),
            transport_body: OnceLock::new(),
        }
    }

    /// A batch of `records` records already encoded as `bytes` in
    /// `format` (read back from the disk spool).
    pub fn from_encoded(format: WireFormat, bytes: Bytes, records: usize) -> Self {
        Self::encoded(format, bytes, records)
    }

    /// The encoding the batch was made in and its bytes (protobuf when the
    /// batch was built from a request).
    pub fn encoding(&self) -> (WireFormat, &Bytes) {
        match (self.protobuf.get(), self.json.get()) {
            (Some(protobuf), _) => (WireFormat::Protobuf, protobuf),
            (None, Some(json)) => (WireFormat::Json, json),
            (None, None) => (WireFormat::Protobuf, self.protobuf()),
        }
    }

    fn encoded(format: WireFormat, bytes: impl Into<Bytes>, records: usize) -> Self {
        let batch = Self {
            records,
            protobuf: OnceLock::new(),
            json: OnceLock::new(),
            request: OnceLock::new(),
            transport_body: OnceLock::new(),
        };
        let slot = match format {
            WireFormat::Protobuf => &batch.protobuf,
            WireFormat::Json => &batch.json,
        };
        // The slot is empty: `set` cannot fail.
        let _ = slot.set(bytes.into());
        batch
    }

    /// Number of log records in the batch.
    pub fn len(&self) -> usize {
        self.records
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The request as prost message, decoded from the encoded bytes on
    /// first use.
    pub fn request(&self) -> &ExportLogsServiceRequest {
        self.request.get_or_init(|| {
            // The bytes were produced by this module: decoding cannot fail.
            if let Some(protobuf) = self.protobuf.get() {
                ExportLogsServiceRequest::decode(protobuf.clone()).unwrap_or_default()
            } else if let Some(json) = self.json.get() {
                serde_json::from_slice(json).unwrap_or_default()
            } else {
                ExportLogsServiceRequest::default()
            }
        })
    }

    /// The request encoded as OTLP protobuf (`application/x-protobuf`).
    pub fn protobuf(&self) -> &Bytes {
        self.protobuf
            .get_or_init(|| Bytes::from(self.request().encode_to_vec()))
    }

    /// The body an exporter derived from this batch on an earlier attempt
    /// (e.g. its gzipped encoding), if it stored one.
    pub fn transport_body(&self) -> Option<&Bytes> {
        self.transport_body.get()
    }

    /// Stores a body derived from this batch so retries reuse it; returns
    /// the stored body (the first one, if called twice). One exporter sends
    /// a batch, so one slot is enough.
    pub fn set_transport_body(&self, body: Bytes) -> &Bytes {
        self.transport_body.get_or_init(|| body)
    }

    /// The request encoded as OTLP JSON (`application/json`): lowerCamelCase
    /// keys, enums as integers, 64-bit integers as strings.
    pub fn json(&self) -> &Bytes {
        self.json.get_or_init(|| {
            // Serializing plain prost structs into a Vec cannot fail.
            Bytes::from(serde_json::to_vec(self.request()).unwrap_or_default())
        })
    }
}

/// The shortest a string value is cut to when a record must shrink to fit
/// a request.
const MIN_VALUE_BYTES: usize = 64;

/// Converts queued [`Event`]s into [`LogBatch`]es.
#[derive(Debug, Clone)]
pub struct OtlpEncoder {
    /// The Resource and Scope, encoded once per encoder in both formats.
    resource_protobuf: Vec<u8>,
    scope_protobuf: Vec<u8>,
    resource_json: Vec<u8>,
    scope_json: Vec<u8>,
    prefix: String,
    max_request_bytes: usize,
    max_value_bytes: usize,
    /// Resolves the session ids of events emitted through a pipeline.
    sessions: Option<Arc<SessionRegistry>>,
}

// Field numbers of the OTLP messages written here.
const REQUEST_RESOURCE_LOGS: u32 = 1;
const RESOURCE_LOGS_RESOURCE: u32 = 1;
const RESOURCE_LOGS_SCOPE_LOGS: u32 = 2;
const SCOPE_LOGS_SCOPE: u32 = 1;
const SCOPE_LOGS_LOG_RECORDS: u32 = 2;
const RECORD_TIME: u32 = 1;
const RECORD_SEVERITY_NUMBER: u32 = 2;
const RECORD_SEVERITY_TEXT: u32 = 3;
const RECORD_ATTRIBUTES: u32 = 6;
const RECORD_OBSERVED_TIME: u32 = 11;
const RECORD_EVENT_NAME: u32 = 12;
const KEY_VALUE_KEY: u32 = 1;
const KEY_VALUE_VALUE: u32 = 2;
const ANY_VALUE_STRING: u32 = 1;
const ANY_VALUE_INT: u32 = 3;

/// Bytes of a length-delimited field with a one-byte key and `len` bytes.
fn framed_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

fn put_message_header(buf: &mut Vec<u8>, tag: u32, len: usize) {
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(len as u64, buf);
}

fn put_bytes_field(buf: &mut Vec<u8>, tag: u32, parts: &[&[u8]]) {
    put_message_header(buf, tag, parts.iter().map(|p| p.len()).sum());
    for part in parts {
        buf.put_slice(part);
    }
}

fn put_fixed64(buf: &mut Vec<u8>, tag: u32, value: u64) {
    encode_key(tag, WireType::SixtyFourBit, buf);
    buf.put_u64_le(value);
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// One OTLP wire encoding of log records: how a record and its attributes
/// are written, and how records are framed into a request. The attribute
/// walk ([`OtlpEncoder::write_record`]) is shared by both encodings.
trait Encoding {
    const FORMAT: WireFormat;
    /// Starts a record: timestamps and severity.
    fn open_record(buf: &mut Vec<u8>, time: u64);
    /// A string attribute whose value is the concatenation of `parts`.
    fn str_attr(buf: &mut Vec<u8>, key: &str, parts: &[&str]);
    /// An integer attribute.
    fn int_attr(buf: &mut Vec<u8>, key: &str, value: i64);
    /// Ends a record: observed time and the `event_name` field.
    fn close_record(buf: &mut Vec<u8>, observed: u64, name: &[&str]);
    /// Bytes `record` takes once appended to a request's records.
    fn framed_len(record: &[u8]) -> usize;
    /// Appends `record` to a request's records.
    fn frame(records: &mut Vec<u8>, record: &[u8]);
    /// Bytes of a request around its records.
    fn overhead(encoder: &OtlpEncoder) -> usize;
    /// The whole request.
    fn finish(encoder: &OtlpEncoder, records: &[u8]) -> Vec<u8>;
}

/// OTLP protobuf, written field by field with `prost::encoding` primitives.
struct Protobuf;

impl Encoding for Protobuf {
    const FORMAT: WireFormat = WireFormat::Protobuf;

    fn open_record(buf: &mut Vec<u8>, time: u64) {
        put_fixed64(buf, RECORD_TIME, time);
        encode_key(RECORD_SEVERITY_NUMBER, WireType::Varint, buf);
        encode_varint(SeverityNumber::Info as u64, buf);
        put_bytes_field(buf, RECORD_SEVERITY_TEXT, &[b"INFO"]);
    }

    fn str_attr(buf: &mut Vec<u8>, key: &str, parts: &[&str]) {
        let value_len: usize = parts.iter().map(|p| p.len()).sum();
        let any_len = framed_len(value_len);
        let kv_len = framed_len(key.len()) + framed_len(any_len);
        put_message_header(buf, RECORD_ATTRIBUTES, kv_len);
        put_bytes_field(buf, KEY_VALUE_KEY, &[key.as_bytes()]);
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
        let kv_len = framed_len(key.len()) + framed_len(any_len);
        put_message_header(buf, RECORD_ATTRIBUTES, kv_len);
        put_bytes_field(buf, KEY_VALUE_KEY, &[key.as_bytes()]);
        put_message_header(buf, KEY_VALUE_VALUE, any_len);
        encode_key(ANY_VALUE_INT, WireType::Varint, buf);
        encode_varint(raw, buf);
    }

    fn close_record(buf: &mut Vec<u8>, observed: u64, name: &[&str]) {
        put_fixed64(buf, RECORD_OBSERVED_TIME, observed);
        put_message_header(buf, RECORD_EVENT_NAME, name.iter().map(|p| p.len()).sum());
        for part in name {
            buf.put_slice(part.as_bytes());
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

/// OTLP JSON (the protobuf JSON mapping with lowerCamelCase keys, 64-bit
/// integers as strings, enums as numbers), written as text.
struct Json;

/// Appends `text` JSON-escaped (without quotes).
fn put_json_escaped(buf: &mut Vec<u8>, text: &str) {
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

    fn close_record(buf: &mut Vec<u8>, observed: u64, name: &[&str]) {
        if buf.last() == Some(&b',') {
            buf.pop();
        }
        buf.put_slice(b"],\"observedTimeUnixNano\":");
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

impl OtlpEncoder {
    /// An encoder for `options`; requests stay under `max_request_bytes`
    /// (string values longer than a quarter of it are truncated with a marker).
    pub fn new(options: &TelemetryOptions, max_request_bytes: usize) -> Self {
        let r = &options.resource;
        let mut attrs: Vec<(String, String)> = vec![
            ("service.name".to_owned(), r.service_name.clone()),
            ("service.version".to_owned(), r.service_version.clone()),
            ("env".to_owned(), r.environment.clone()),
        ];
        for (key, value) in &r.attributes {
            match attrs.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value.clone(),
                None => attrs.push((key.clone(), value.clone())),
            }
        }
        let resource = ProtoResource {
            attributes: attrs
                .into_iter()
                .map(|(key, value)| KeyValue {
                    key,
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(value)),
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let scope = InstrumentationScope {
            name: options.scope_name.clone(),
            version: options.scope_version.clone(),
            ..Default::default()
        };
        Self {
            resource_protobuf: resource.encode_to_vec(),
            scope_protobuf: scope.encode_to_vec(),
            // Serializing plain prost structs into a Vec cannot fail.
            resource_json: serde_json::to_vec(&resource).unwrap_or_default(),
            scope_json: serde_json::to_vec(&scope).unwrap_or_default(),
            prefix: options.event_prefix.clone(),
            max_request_bytes: max_request_bytes.max(1024),
            max_value_bytes: (max_request_bytes / 4).max(256),
            sessions: None,
        }
    }

    /// The encoder of a pipeline whose events name their session by id.
    pub(crate) fn with_sessions(mut self, sessions: Arc<SessionRegistry>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Encodes `events` as OTLP protobuf; see [`OtlpEncoder::encode_as`].
    pub fn encode(&self, events: &[Event]) -> Vec<LogBatch> {
        self.encode_as(events, WireFormat::Protobuf)
    }

    /// Encodes `events` in `format` into one or more batches, each under the
    /// request size limit. Every event ends up in exactly one batch, in order.
    pub fn encode_as(&self, events: &[Event], format: WireFormat) -> Vec<LogBatch> {
        match format {
            WireFormat::Protobuf => self.encode_with::<Protobuf>(events),
            WireFormat::Json => self.encode_with::<Json>(events),
        }
    }

    fn encode_with<E: Encoding>(&self, events: &[Event]) -> Vec<LogBatch> {
        let observed = unix_nanos(SystemTime::now());
        let budget = self
            .max_request_bytes
            .saturating_sub(E::overhead(self))
            .max(1);
        let mut batches = Vec::new();
        let mut records: Vec<u8> = Vec::with_capacity(events.len().saturating_mul(512).min(budget));
        let mut count = 0usize;
        let mut scratch: Vec<u8> = Vec::with_capacity(1024);
        let mut session = SessionAttributes::default();
        for event in events {
            scratch.clear();
            self.write_record::<E>(
                &mut scratch,
                Some(&mut session),
                event,
                observed,
                self.max_value_bytes,
            );
            // A record too large for a request on its own (several long
            // strings, or JSON escaping) is written again with shorter
            // values until it fits, so no request exceeds the limit.
            let mut cap = self.max_value_bytes;
            while E::framed_len(&scratch) > budget && cap > MIN_VALUE_BYTES {
                cap = (cap / 2).max(MIN_VALUE_BYTES);
                scratch.clear();
                self.write_record::<E>(&mut scratch, None, event, observed, cap);
            }
            if count > 0 && records.len() + E::framed_len(&scratch) > budget {
                batches.push(LogBatch::encoded(
                    E::FORMAT,
                    E::finish(self, &records),
                    count,
                ));
                records.clear();
                count = 0;
            }
            E::frame(&mut records, &scratch);
            count += 1;
        }
        if count > 0 {
            batches.push(LogBatch::encoded(
                E::FORMAT,
                E::finish(self, &records),
                count,
            ));
        }
        batches
    }

    /// A string attribute, truncated with a marker past `cap` bytes.
    fn put_text<E: Encoding>(buf: &mut Vec<u8>, key: &str, value: &str, cap: usize) {
        let text = if value.len() <= cap {
            Cow::Borrowed(value)
        } else {
            Cow::Owned(truncate(value, cap))
        };
        E::str_attr(buf, key, &[&text]);
    }

    /// The metadata of the session an event belongs to.
    fn resolve_session(&self, session: &SessionRef) -> Option<Arc<SessionMetadata>> {
        match session {
            SessionRef::Metadata(metadata) => Some(Arc::clone(metadata)),
            SessionRef::Id(id) => self.sessions.as_ref().and_then(|r| r.get(*id)),
        }
    }

    /// The eight common attributes, minus the two written per event.
    fn put_session<E: Encoding>(buf: &mut Vec<u8>, s: &SessionMetadata, cap: usize) {
        Self::put_text::<E>(buf, "conversation.id", &s.conversation_id, cap);
        Self::put_text::<E>(buf, "app.version", &s.app_version, cap);
        if let Some(mode) = &s.auth_mode {
            Self::put_text::<E>(buf, "auth_mode", mode, cap);
        }
        if let Some(account) = &s.account_id {
            Self::put_text::<E>(buf, "user.account_id", account, cap);
        }
        Self::put_text::<E>(buf, "terminal.type", &s.terminal_type, cap);
        Self::put_text::<E>(buf, "model", &s.model, cap);
        Self::put_text::<E>(buf, "slug", &s.slug, cap);
    }

    /// Writes one event as an OTLP `LogRecord` in encoding `E`.
    /// `session` caches the common attributes across one batch (at the
    /// default `cap`); without it they are written with `cap`.
    fn write_record<E: Encoding>(
        &self,
        buf: &mut Vec<u8>,
        session: Option<&mut SessionAttributes>,
        event: &Event,
        observed_unix_nanos: u64,
        cap: usize,
    ) {
        let suffix = event.kind().suffix();
        let name: [&str; 3] = [&self.prefix, ".", suffix];
        let timestamp = rfc3339_millis_bytes(event.time);
        E::open_record(buf, unix_nanos(event.time));
        E::str_attr(buf, "event.name", &name);
        // The timestamp is ASCII digits and separators.
        E::str_attr(
            buf,
            "event.timestamp",
            &[std::str::from_utf8(&timestamp).unwrap_or_default()],
        );
        match session {
            Some(cache) => buf.put_slice(cache.bytes_for::<E>(self, &event.session)),
            None => {
                let resolved = self.resolve_session(&event.session).unwrap_or_default();
                Self::put_session::<E>(buf, &resolved, cap);
            }
        }
        match &event.body {
            EventBody::ApiRequest {
                attempt,
                duration_ms,
                status_code,
                strings,
            } => {
                E::int_attr(buf, "attempt", i64::from(*attempt));
                E::int_attr(buf, "duration_ms", to_i64(*duration_ms));
                if let Some(status) = status_code {
                    E::int_attr(buf, "http.response.status_code", i64::from(*status));
                }
                if let Some(ray) = strings.get(0) {
                    Self::put_text::<E>(buf, "cf_ray", ray, cap);
                }
                if let Some(error) = strings.get(1) {
                    Self::put_text::<E>(buf, "error.message", error, cap);
                }
            }
            EventBody::SseEvent {
                duration_ms,
                tokens,
                strings,
            } => {
                Self::put_text::<E>(buf, "event.kind", strings.str(0), cap);
                E::int_attr(buf, "duration_ms", to_i64(*duration_ms));
                if let Some(error) = strings.get(1) {
                    Self::put_text::<E>(buf, "error.message", error, cap);
                }
                if let Some(t) = tokens {
                    E::int_attr(buf, "input_token_count", to_i64(t.input));
                    E::int_attr(buf, "output_token_count", to_i64(t.output));
                    if let Some(cached) = t.cached {
                        E::int_attr(buf, "cached_token_count", to_i64(cached));
                    }
                    if let Some(reasoning) = t.reasoning {
                        E::int_attr(buf, "reasoning_token_count", to_i64(reasoning));
                    }
                    E::int_attr(buf, "tool_token_count", to_i64(t.tool));
                }
            }
            EventBody::UserPrompt { length, strings } => {
                E::int_attr(buf, "prompt_length", to_i64(*length));
                match strings.get(0) {
                    Some(p) => Self::put_text::<E>(buf, "prompt", p, cap),
                    None => E::str_attr(buf, "prompt", &[REDACTED]),
                }
            }
            EventBody::ToolDecision {
                decision,
                source,
                strings,
            } => {
                Self::put_text::<E>(buf, "tool_name", strings.str(0), cap);
                Self::put_text::<E>(buf, "call_id", strings.str(1), cap);
                E::str_attr(buf, "decision", &[decision.as_str()]);
                E::str_attr(buf, "source", &[source.as_str()]);
            }
            EventBody::ToolResult {
                duration_ms,
                success,
                strings,
            } => {
                Self::put_text::<E>(buf, "tool_name", strings.str(0), cap);
                Self::put_text::<E>(buf, "call_id", strings.str(1), cap);
                Self::put_text::<E>(buf, "arguments", strings.str(2), cap);
                E::int_attr(buf, "duration_ms", to_i64(*duration_ms));
                E::str_attr(buf, "success", &[if *success { "true" } else { "false" }]);
                Self::put_text::<E>(buf, "output", strings.str(3), cap);
            }
        }
        E::close_record(buf, observed_unix_nanos, &name);
    }
}

/// The encoded common attributes of the session last seen in a batch:
/// events of one session share them, so they are encoded once per batch
/// and copied into each record.
#[derive(Default)]
struct SessionAttributes {
    seen: Option<SessionKey>,
    bytes: Vec<u8>,
}

/// Identity of a session within one encode call.
#[derive(PartialEq, Eq, Clone, Copy)]
enum SessionKey {
    Id(u64),
    Pointer(usize),
}

impl SessionAttributes {
    fn bytes_for<E: Encoding>(&mut self, encoder: &OtlpEncoder, session: &SessionRef) -> &[u8] {
        let key = match session {
            SessionRef::Id(id) => SessionKey::Id(*id),
            SessionRef::Metadata(metadata) => SessionKey::Pointer(Arc::as_ptr(metadata) as usize),
        };
        if self.seen != Some(key) {
            // A registered session is kept until its events are encoded, so
            // the fallback (empty metadata) is never expected to be used.
            let resolved = encoder.resolve_session(session).unwrap_or_default();
            self.bytes.clear();
            OtlpEncoder::put_session::<E>(&mut self.bytes, &resolved, encoder.max_value_bytes);
            self.seen = Some(key);
        }
        &self.bytes
    }
}

/// Cuts `value` to at most `max` bytes on a char boundary and appends a
/// marker saying how much was cut.
pub fn truncate(value: &str, max: usize) -> String {
    if value.len() <= max {
        return value.to_owned();
    }
    let mut cut = max;
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…[truncated {} bytes]", &value[..cut], value.len() - cut)
}

/// Nanoseconds since the Unix epoch (0 for times before it).
pub fn unix_nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 UTC timestamp with milliseconds, e.g. `2026-11-24T23:06:54.123Z`.
pub fn rfc3339_millis(time: SystemTime) -> String {
    String::from_utf8_lossy(&rfc3339_millis_bytes(time)).into_owned()
}

/// [`rfc3339_millis`] into a stack buffer (years 0..=9999).
fn rfc3339_millis_bytes(time: SystemTime) -> [u8; 24] {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut out = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut value: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (value % 10) as u8;
            value /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999) as u64);
    put(5, 2, u64::from(month));
    put(8, 2, u64::from(day));
    put(11, 2, rem / 3600);
    put(14, 2, (rem % 3600) / 60);
    put(17, 2, rem % 60);
    put(20, 3, u64::from(since.subsec_millis()));
    out
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_matches_known_instants() {
        let at = |secs: u64, ms: u64| UNIX_EPOCH + Duration::from_millis(secs * 1000 + ms);
        assert_eq!(rfc3339_millis(at(0, 0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(at(951_782_400, 7)),
            "2000-02-29T00:00:00.007Z"
        );
        assert_eq!(
            rfc3339_millis(at(1_795_993_614, 123)),
            "2026-11-29T23:06:54.123Z"
        );
        assert_eq!(
            rfc3339_millis(at(4_102_444_799, 999)),
            "2099-12-31T23:59:59.999Z"
        );
    }

    fn sample_batch() -> LogBatch {
        let encoder = OtlpEncoder::new(&TelemetryOptions::default(), 4 << 20);
        let event = Event {
            time: UNIX_EPOCH + Duration::from_millis(1_764_025_614_123),
            session: SessionRef::Metadata(Arc::new(crate::SessionMetadata::default())),
            body: EventBody::ApiRequest {
                attempt: 2,
                duration_ms: 30,
                status_code: Some(200),
                strings: crate::event::PackedStrings::default(),
            },
        };
        let mut batches = encoder.encode(&[event]);
        assert_eq!(batches.len(), 1);
        batches.remove(0)
    }

    #[test]
    fn json_follows_the_otlp_json_mapping() {
        let batch = sample_batch();
        let json: serde_json::Value = serde_json::from_slice(batch.json()).expect("valid json");
        let record = &json["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0];
        assert_eq!(record["timeUnixNano"], "1764025614123000000");
        assert_eq!(record["severityNumber"], 9);
        assert_eq!(record["eventName"], "codex.api_request");
        let attempt = record["attributes"]
            .as_array()
            .and_then(|a| a.iter().find(|kv| kv["key"] == "attempt"))
            .expect("attempt attribute");
        assert_eq!(attempt["value"]["intValue"], "2");
        let back: ExportLogsServiceRequest =
            serde_json::from_slice(batch.json()).expect("decodes back");
        assert_eq!(&back, batch.request());
    }

    #[test]
    fn protobuf_decodes_back_to_the_request() {
        let batch = sample_batch();
        let back = ExportLogsServiceRequest::decode(batch.protobuf().clone()).expect("decodes");
        assert_eq!(&back, batch.request());
        assert_eq!(batch.len(), 1);
    }

    fn every_kind(tricky: &str) -> Vec<Event> {
        use crate::{
            ApiRequest, DecisionSource, EventData, SseEvent, TokenCounts, ToolDecision,
            ToolDecisionEvent, ToolResult,
        };
        let session = std::sync::Arc::new(crate::SessionMetadata {
            conversation_id: format!("conv {tricky}"),
            auth_mode: Some("ApiKey".into()),
            ..crate::SessionMetadata::default()
        });
        let at = UNIX_EPOCH + Duration::from_millis(1_764_025_614_123);
        let big = "x".repeat(5000);
        let data = [
            EventData::ApiRequest(ApiRequest {
                attempt: 3,
                duration: Duration::from_millis(12),
                status_code: Some(503),
                cf_ray: Some(tricky),
                error: Some("bad \"gateway\""),
            }),
            EventData::SseEvent(SseEvent {
                kind: "response.completed",
                duration: Duration::from_millis(1),
                error: None,
                tokens: Some(TokenCounts {
                    input: u64::MAX,
                    output: 2,
                    cached: None,
                    reasoning: Some(4),
                    tool: 5,
                }),
            }),
            EventData::UserPrompt(tricky),
            EventData::ToolDecision(ToolDecisionEvent {
                tool_name: "shell",
                call_id: tricky,
                decision: ToolDecision::Abort,
                source: DecisionSource::Config,
            }),
            EventData::ToolResult(ToolResult {
                tool_name: "shell",
                call_id: "c",
                arguments: tricky,
                duration: Duration::from_millis(7),
                success: true,
                output: &big,
            }),
        ];
        data.into_iter()
            .map(|d| Event::new(at, std::sync::Arc::clone(&session), d, true))
            .collect()
    }

    #[test]
    fn json_and_protobuf_encodings_carry_the_same_request() {
        let tricky = "quote \" backslash \\ newline \n tab \t bell \u{7} nul \u{0} ünïcödé ✓";
        let encoder = OtlpEncoder::new(&TelemetryOptions::default(), 8192);
        let events = every_kind(tricky);
        let protobuf = encoder.encode_as(&events, WireFormat::Protobuf);
        let json = encoder.encode_as(&events, WireFormat::Json);
        assert_eq!(protobuf.len(), json.len());
        for (p, j) in protobuf.iter().zip(&json) {
            let from_protobuf =
                ExportLogsServiceRequest::decode(p.protobuf().clone()).expect("protobuf decodes");
            let from_json: ExportLogsServiceRequest =
                serde_json::from_slice(j.json()).expect("JSON parses as OTLP JSON");
            let mut expected = from_protobuf.clone();
            let mut got = from_json.clone();
            // The observed time is taken per encode call.
            for r in [&mut expected, &mut got] {
                for rl in &mut r.resource_logs {
                    for sl in &mut rl.scope_logs {
                        for lr in &mut sl.log_records {
                            lr.observed_time_unix_nano = 0;
                        }
                    }
                }
            }
            assert_eq!(got, expected);
            assert_eq!(p.len(), j.len());
        }
        let all =
            ExportLogsServiceRequest::decode(protobuf[0].protobuf().clone()).expect("decodes");
        let attrs = &all.resource_logs[0].scope_logs[0].log_records[2].attributes;
        let prompt = attrs.iter().find(|kv| kv.key == "prompt").expect("prompt");
        assert_eq!(
            prompt.value.as_ref().and_then(|v| v.value.clone()),
            Some(any_value::Value::StringValue(tricky.to_owned()))
        );
    }

    #[test]
    fn json_batches_respect_the_size_limit() {
        let encoder = OtlpEncoder::new(&TelemetryOptions::default(), 4096);
        let events: Vec<Event> = (0..20).flat_map(|_| every_kind("v")).collect();
        let batches = encoder.encode_as(&events, WireFormat::Json);
        assert!(batches.len() > 1);
        assert_eq!(batches.iter().map(LogBatch::len).sum::<usize>(), 100);
        for batch in &batches {
            assert!(batch.json().len() <= 4096, "{} bytes", batch.json().len());
        }
    }

    #[test]
    fn truncate_keeps_char_boundaries_and_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        let cut = truncate("ééééé", 3);
        assert!(cut.starts_with('é'), "{cut}");
        assert!(cut.ends_with("…[truncated 8 bytes]"), "{cut}");
    }
}
