//! OTLP encoding: events to one `ExportLogsServiceRequest` per batch, under
//! one Resource and one Scope, split so no request exceeds the size limit.
//!
//! Runs on the pipeline worker, never on the caller's thread.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs, SeverityNumber};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;
use prost::Message;

use crate::event::{Event, EventBody};
use crate::resource::TelemetryOptions;

/// Value exported for `prompt` when `log_user_prompt` is off.
pub const REDACTED: &str = "[REDACTED]";

/// One export request's worth of log records, encoded on demand and cached,
/// so retries never re-encode.
#[derive(Debug)]
pub struct LogBatch {
    request: ExportLogsServiceRequest,
    records: usize,
    protobuf: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
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
            request,
            records,
            protobuf: OnceLock::new(),
            json: OnceLock::new(),
        }
    }

    /// Number of log records in the batch.
    pub fn len(&self) -> usize {
        self.records
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The request as prost message (for gRPC clients that encode themselves).
    pub fn request(&self) -> &ExportLogsServiceRequest {
        &self.request
    }

    /// The request encoded as OTLP protobuf (`application/x-protobuf`).
    pub fn protobuf(&self) -> &Bytes {
        self.protobuf
            .get_or_init(|| Bytes::from(self.request.encode_to_vec()))
    }

    /// The request encoded as OTLP JSON (`application/json`): lowerCamelCase
    /// keys, enums as integers, 64-bit integers as strings, hex ids.
    pub fn json(&self) -> &Bytes {
        self.json.get_or_init(|| {
            // Serializing plain prost structs into a Vec cannot fail.
            Bytes::from(serde_json::to_vec(&self.request).unwrap_or_default())
        })
    }
}

/// Converts queued [`Event`]s into [`LogBatch`]es.
#[derive(Debug, Clone)]
pub struct OtlpEncoder {
    resource: ProtoResource,
    scope: InstrumentationScope,
    prefix: String,
    max_request_bytes: usize,
    max_value_bytes: usize,
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
        Self {
            resource: ProtoResource {
                attributes: attrs.into_iter().map(|(k, v)| kv_str(&k, v)).collect(),
                ..Default::default()
            },
            scope: InstrumentationScope {
                name: options.scope_name.clone(),
                version: options.scope_version.clone(),
                ..Default::default()
            },
            prefix: options.event_prefix.clone(),
            max_request_bytes: max_request_bytes.max(1024),
            max_value_bytes: (max_request_bytes / 4).max(256),
        }
    }

    /// Encodes `events` into one or more batches, each under the request
    /// size limit. Every event ends up in exactly one batch.
    pub fn encode(&self, events: &[Event]) -> Vec<LogBatch> {
        let observed = unix_nanos(SystemTime::now());
        let overhead = self.resource.encoded_len() + self.scope.encoded_len() + 64;
        let budget = self.max_request_bytes.saturating_sub(overhead).max(1);
        let mut batches = Vec::new();
        let mut current: Vec<LogRecord> = Vec::new();
        let mut current_bytes = 0usize;
        for event in events {
            let record = self.record(event, observed);
            let size = record.encoded_len() + 8;
            if !current.is_empty() && current_bytes + size > budget {
                batches.push(self.finish(std::mem::take(&mut current)));
                current_bytes = 0;
            }
            current_bytes += size;
            current.push(record);
        }
        if !current.is_empty() {
            batches.push(self.finish(current));
        }
        batches
    }

    fn finish(&self, log_records: Vec<LogRecord>) -> LogBatch {
        LogBatch::from_request(ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(self.resource.clone()),
                scope_logs: vec![ScopeLogs {
                    scope: Some(self.scope.clone()),
                    log_records,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        })
    }

    fn text(&self, value: &str) -> String {
        truncate(value, self.max_value_bytes)
    }

    /// One event as an OTLP `LogRecord`.
    pub fn record(&self, event: &Event, observed_unix_nanos: u64) -> LogRecord {
        let name = format!("{}.{}", self.prefix, event.kind().suffix());
        let s = &event.session;
        let mut attrs = Vec::with_capacity(16);
        attrs.push(kv_str("event.name", name.clone()));
        attrs.push(kv_str("event.timestamp", rfc3339_millis(event.time)));
        attrs.push(kv_str("conversation.id", s.conversation_id.clone()));
        attrs.push(kv_str("app.version", s.app_version.clone()));
        if let Some(mode) = &s.auth_mode {
            attrs.push(kv_str("auth_mode", mode.clone()));
        }
        if let Some(account) = &s.account_id {
            attrs.push(kv_str("user.account_id", account.clone()));
        }
        attrs.push(kv_str("terminal.type", s.terminal_type.clone()));
        attrs.push(kv_str("model", s.model.clone()));
        attrs.push(kv_str("slug", s.slug.clone()));
        match &event.body {
            EventBody::ApiRequest {
                attempt,
                duration_ms,
                status_code,
                cf_ray,
                error,
            } => {
                attrs.push(kv_int("attempt", i64::from(*attempt)));
                attrs.push(kv_int("duration_ms", to_i64(*duration_ms)));
                if let Some(status) = status_code {
                    attrs.push(kv_int("http.response.status_code", i64::from(*status)));
                }
                if let Some(ray) = cf_ray {
                    attrs.push(kv_str("cf_ray", self.text(ray)));
                }
                if let Some(error) = error {
                    attrs.push(kv_str("error.message", self.text(error)));
                }
            }
            EventBody::SseEvent {
                kind,
                duration_ms,
                error,
                tokens,
            } => {
                attrs.push(kv_str("event.kind", self.text(kind)));
                attrs.push(kv_int("duration_ms", to_i64(*duration_ms)));
                if let Some(error) = error {
                    attrs.push(kv_str("error.message", self.text(error)));
                }
                if let Some(t) = tokens {
                    attrs.push(kv_int("input_token_count", to_i64(t.input)));
                    attrs.push(kv_int("output_token_count", to_i64(t.output)));
                    if let Some(cached) = t.cached {
                        attrs.push(kv_int("cached_token_count", to_i64(cached)));
                    }
                    if let Some(reasoning) = t.reasoning {
                        attrs.push(kv_int("reasoning_token_count", to_i64(reasoning)));
                    }
                    attrs.push(kv_int("tool_token_count", to_i64(t.tool)));
                }
            }
            EventBody::UserPrompt { length, prompt } => {
                attrs.push(kv_int("prompt_length", to_i64(*length)));
                let text = match prompt {
                    Some(p) => self.text(p),
                    None => REDACTED.to_owned(),
                };
                attrs.push(kv_str("prompt", text));
            }
            EventBody::ToolDecision {
                tool_name,
                call_id,
                decision,
                source,
            } => {
                attrs.push(kv_str("tool_name", self.text(tool_name)));
                attrs.push(kv_str("call_id", self.text(call_id)));
                attrs.push(kv_str("decision", decision.as_str().to_owned()));
                attrs.push(kv_str("source", source.as_str().to_owned()));
            }
            EventBody::ToolResult {
                tool_name,
                call_id,
                arguments,
                duration_ms,
                success,
                output,
            } => {
                attrs.push(kv_str("tool_name", self.text(tool_name)));
                attrs.push(kv_str("call_id", self.text(call_id)));
                attrs.push(kv_str("arguments", self.text(arguments)));
                attrs.push(kv_int("duration_ms", to_i64(*duration_ms)));
                let success = if *success { "true" } else { "false" };
                attrs.push(kv_str("success", success.to_owned()));
                attrs.push(kv_str("output", self.text(output)));
            }
        }
        LogRecord {
            time_unix_nano: unix_nanos(event.time),
            observed_time_unix_nano: observed_unix_nanos,
            severity_number: SeverityNumber::Info as i32,
            severity_text: "INFO".to_owned(),
            attributes: attrs,
            event_name: name,
            ..Default::default()
        }
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn kv_str(key: &str, value: String) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value)),
        }),
        ..Default::default()
    }
}

fn kv_int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
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
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let millis = since.subsec_millis();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
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
            session: std::sync::Arc::new(crate::SessionMetadata::default()),
            body: EventBody::ApiRequest {
                attempt: 2,
                duration_ms: 30,
                status_code: Some(200),
                cf_ray: None,
                error: None,
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

    #[test]
    fn truncate_keeps_char_boundaries_and_marks_the_cut() {
        assert_eq!(truncate("short", 10), "short");
        let cut = truncate("ééééé", 3);
        assert!(cut.starts_with('é'), "{cut}");
        assert!(cut.ends_with("…[truncated 8 bytes]"), "{cut}");
    }
}
