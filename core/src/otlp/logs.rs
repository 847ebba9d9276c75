//! OTLP logs: events to one `ExportLogsServiceRequest` per batch, under
//! one Resource and one Scope, split so no request exceeds the size limit.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::SystemTime;

use prost::Message;

use super::batch::{Batch, Signal};
use super::json::Json;
use super::protobuf::Protobuf;
use super::{Encoding, REDACTED, WireFormat};
use crate::attribute::{AttributeLimits, ValueRef, limit_text};
use crate::catalog;
use crate::event::{Event, EventBody, SessionMetadata, SessionRef};
use crate::registry::SessionRegistry;
use crate::resource::TelemetryOptions;
use crate::stats::AttributeCounts;
use crate::time::{rfc3339_millis_bytes, unix_nanos};
use crate::vcs::VcsInfo;

/// The shortest a string value is cut to when a record must shrink to fit
/// a request.
const MIN_VALUE_BYTES: usize = 64;

/// Converts queued [`Event`]s into [`Batch`]es.
#[derive(Debug, Clone)]
pub struct OtlpEncoder {
    /// The Resource and Scope, encoded once per encoder in both formats.
    pub(crate) resource_protobuf: Vec<u8>,
    pub(crate) scope_protobuf: Vec<u8>,
    pub(crate) resource_json: Vec<u8>,
    pub(crate) scope_json: Vec<u8>,
    prefix: String,
    max_request_bytes: usize,
    max_value_bytes: usize,
    limits: AttributeLimits,
    /// Resolves the session ids of events emitted through a pipeline.
    sessions: Option<Arc<SessionRegistry>>,
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl OtlpEncoder {
    /// An encoder for `options`; requests stay under `max_request_bytes`
    /// (string values longer than a quarter of it are truncated with a marker).
    pub fn new(options: &TelemetryOptions, max_request_bytes: usize) -> Self {
        let resource = options.resource.to_proto();
        let scope = options.scope_to_proto();
        Self {
            resource_protobuf: resource.encode_to_vec(),
            scope_protobuf: scope.encode_to_vec(),
            // Serializing plain prost structs into a Vec cannot fail.
            resource_json: serde_json::to_vec(&resource).unwrap_or_default(),
            scope_json: serde_json::to_vec(&scope).unwrap_or_default(),
            prefix: options.event_prefix.clone(),
            max_request_bytes: max_request_bytes.max(1024),
            max_value_bytes: (max_request_bytes / 4).max(256),
            limits: options.attribute_limits,
            sessions: None,
        }
    }

    /// The encoder of a pipeline whose events name their session by id.
    pub(crate) fn with_sessions(mut self, sessions: Arc<SessionRegistry>) -> Self {
        self.sessions = Some(sessions);
        self
    }

    /// Encodes `events` as OTLP protobuf; see [`OtlpEncoder::encode_as`].
    pub fn encode(&self, events: &[Event]) -> Vec<Batch> {
        self.encode_as(events, WireFormat::Protobuf)
    }

    /// Encodes `events` in `format` into one or more batches, each under the
    /// request size limit. Every event ends up in exactly one batch, in order.
    pub fn encode_as(&self, events: &[Event], format: WireFormat) -> Vec<Batch> {
        self.encode_counted(events, format, &mut AttributeCounts::default())
    }

    /// [`OtlpEncoder::encode_as`], adding what happened to attributes
    /// (collisions, limits, truncation) to `counts`.
    pub fn encode_counted(
        &self,
        events: &[Event],
        format: WireFormat,
        counts: &mut AttributeCounts,
    ) -> Vec<Batch> {
        match format {
            WireFormat::Protobuf => self.encode_with::<Protobuf>(events, counts),
            WireFormat::Json => self.encode_with::<Json>(events, counts),
        }
    }

    fn encode_with<E: Encoding>(
        &self,
        events: &[Event],
        counts: &mut AttributeCounts,
    ) -> Vec<Batch> {
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
        for event in events.iter().filter(|e| !e.is_turn_marker()) {
            scratch.clear();
            let mut record_counts = AttributeCounts::default();
            self.write_record::<E>(
                &mut scratch,
                Some(&mut session),
                event,
                observed,
                self.max_value_bytes,
                &mut record_counts,
            );
            // A record too large for a request on its own (several long
            // strings, or JSON escaping) is written again with shorter
            // values until it fits, so no request exceeds the limit.
            let mut cap = self.max_value_bytes;
            while E::framed_len(&scratch) > budget && cap > MIN_VALUE_BYTES {
                cap = (cap / 2).max(MIN_VALUE_BYTES);
                scratch.clear();
                record_counts = AttributeCounts::default();
                self.write_record::<E>(
                    &mut scratch,
                    None,
                    event,
                    observed,
                    cap,
                    &mut record_counts,
                );
            }
            counts.add(&record_counts);
            if count > 0 && records.len() + E::framed_len(&scratch) > budget {
                batches.push(Batch::from_encoded(
                    Signal::Logs,
                    E::FORMAT,
                    E::finish(self, &records).into(),
                    count,
                ));
                records.clear();
                count = 0;
            }
            E::frame(&mut records, &scratch);
            count += 1;
        }
        if count > 0 {
            batches.push(Batch::from_encoded(
                Signal::Logs,
                E::FORMAT,
                E::finish(self, &records).into(),
                count,
            ));
        }
        batches
    }

    /// The metadata of the session `event` belongs to.
    pub(crate) fn session_of(&self, event: &Event) -> Option<Arc<SessionMetadata>> {
        self.resolve_session(&event.session)
    }

    /// The metadata of the session an event belongs to.
    fn resolve_session(&self, session: &SessionRef) -> Option<Arc<SessionMetadata>> {
        match session {
            SessionRef::Metadata(metadata) => Some(Arc::clone(metadata)),
            SessionRef::Id(id) => self.sessions.as_ref().and_then(|r| r.get(*id)),
        }
    }

    /// The session's attributes: the common ones (minus the two written per
    /// event), its `vcs.*` attribution, then its extra attributes (those
    /// colliding with a common or `vcs.*` key are dropped and counted).
    fn put_session<E: Encoding>(attrs: &mut RecordAttributes<'_, E>, s: &SessionMetadata) {
        attrs.text(catalog::CONVERSATION_ID, &s.conversation_id);
        attrs.text(catalog::APP_VERSION, &s.app_version);
        if let Some(mode) = &s.auth_mode {
            attrs.text(catalog::AUTH_MODE, mode);
        }
        if let Some(account) = &s.account_id {
            attrs.text(catalog::USER_ACCOUNT_ID, account);
        }
        attrs.text(catalog::TERMINAL_TYPE, &s.terminal_type);
        attrs.text(catalog::MODEL, &s.model);
        attrs.text(catalog::SLUG, &s.slug);
        if let Some(vcs) = &s.vcs {
            for (key, value) in vcs_attributes(vcs) {
                attrs.text(key, value);
            }
        }
        for (key, value) in &s.attributes {
            if key.is_empty() {
                attrs.counts.dropped_invalid += 1;
            } else if is_session_key(s, key) {
                attrs.counts.dropped_collision += 1;
            } else {
                attrs.value(key, &value.as_value_ref());
            }
        }
    }

    /// Writes one event as an OTLP `LogRecord` in encoding `E`.
    /// `session` caches the session's attributes across one batch (at the
    /// default `cap`); without it they are written with `cap`.
    fn write_record<E: Encoding>(
        &self,
        buf: &mut Vec<u8>,
        session: Option<&mut SessionAttributes>,
        event: &Event,
        observed_unix_nanos: u64,
        cap: usize,
        counts: &mut AttributeCounts,
    ) {
        let custom = match &event.body {
            EventBody::Custom(packed) => {
                counts.dropped_invalid += u64::from(packed.refused());
                Some(packed.unpack())
            }
            _ => None,
        };
        let name: [&str; 3] = match (&custom, event.kind()) {
            (Some((name, _)), _) => [name, "", ""],
            (None, Some(kind)) => [&self.prefix, ".", kind.suffix()],
            (None, None) => ["", "", ""],
        };
        let timestamp = rfc3339_millis_bytes(event.time);
        E::open_record(buf, unix_nanos(event.time));
        let mut attrs = RecordAttributes::<E>::new(buf, self.limits, cap, counts);
        attrs.fixed(catalog::EVENT_NAME, &name);
        // The timestamp is ASCII digits and separators.
        attrs.fixed(
            catalog::EVENT_TIMESTAMP,
            &[std::str::from_utf8(&timestamp).unwrap_or_default()],
        );
        let cached = session.map(|cache| cache.get::<E>(self, &event.session));
        let uncached;
        let resolved: &SessionMetadata = match cached {
            Some(cached) => &cached.metadata,
            None => {
                uncached = self.resolve_session(&event.session).unwrap_or_default();
                &uncached
            }
        };
        match cached {
            Some(cached) if attrs.fits(cached.count) => attrs.extend(cached),
            _ => Self::put_session(&mut attrs, resolved),
        }
        Self::put_body(&mut attrs, &event.body);
        if let Some((_, custom)) = &custom {
            for (key, value) in custom {
                if is_session_key(resolved, key)
                    || resolved.attributes.iter().any(|(k, _)| k == key)
                {
                    attrs.counts.dropped_collision += 1;
                } else {
                    attrs.value(key, value);
                }
            }
        }
        let dropped = attrs.dropped;
        E::close_record(
            buf,
            dropped,
            event.trace.as_ref(),
            observed_unix_nanos,
            &name,
        );
    }

    /// The attributes of a catalog event.
    fn put_body<E: Encoding>(attrs: &mut RecordAttributes<'_, E>, body: &EventBody) {
        match body {
            EventBody::ApiRequest {
                attempt,
                duration_ms,
                status_code,
                strings,
            } => {
                attrs.int(catalog::ATTEMPT, i64::from(*attempt));
                attrs.int(catalog::DURATION_MS, to_i64(*duration_ms));
                if let Some(status) = status_code {
                    attrs.int(catalog::HTTP_RESPONSE_STATUS_CODE, i64::from(*status));
                }
                if let Some(ray) = strings.get(0) {
                    attrs.text(catalog::CF_RAY, ray);
                }
                if let Some(error) = strings.get(1) {
                    attrs.text(catalog::ERROR_MESSAGE, error);
                }
            }
            EventBody::SseEvent {
                duration_ms,
                tokens,
                strings,
            } => {
                attrs.text(catalog::EVENT_KIND, strings.str(0));
                attrs.int(catalog::DURATION_MS, to_i64(*duration_ms));
                if let Some(error) = strings.get(1) {
                    attrs.text(catalog::ERROR_MESSAGE, error);
                }
                if let Some(t) = tokens {
                    attrs.int(catalog::INPUT_TOKEN_COUNT, to_i64(t.input));
                    attrs.int(catalog::OUTPUT_TOKEN_COUNT, to_i64(t.output));
                    if let Some(cached) = t.cached {
                        attrs.int(catalog::CACHED_TOKEN_COUNT, to_i64(cached));
                    }
                    if let Some(reasoning) = t.reasoning {
                        attrs.int(catalog::REASONING_TOKEN_COUNT, to_i64(reasoning));
                    }
                    attrs.int(catalog::TOOL_TOKEN_COUNT, to_i64(t.tool));
                }
            }
            EventBody::UserPrompt { length, strings } => {
                attrs.int(catalog::PROMPT_LENGTH, to_i64(*length));
                attrs.text(catalog::PROMPT, strings.get(0).unwrap_or(REDACTED));
            }
            EventBody::ToolDecision {
                decision,
                source,
                strings,
            } => {
                attrs.text(catalog::TOOL_NAME, strings.str(0));
                attrs.text(catalog::CALL_ID, strings.str(1));
                attrs.fixed(catalog::DECISION, &[decision.as_str()]);
                attrs.fixed(catalog::SOURCE, &[source.as_str()]);
            }
            EventBody::ToolResult {
                duration_ms,
                success,
                strings,
            } => {
                attrs.text(catalog::TOOL_NAME, strings.str(0));
                attrs.text(catalog::CALL_ID, strings.str(1));
                attrs.text(catalog::ARGUMENTS, strings.get(2).unwrap_or(REDACTED));
                attrs.int(catalog::DURATION_MS, to_i64(*duration_ms));
                attrs.fixed(catalog::SUCCESS, &[if *success { "true" } else { "false" }]);
                attrs.text(catalog::OUTPUT, strings.get(3).unwrap_or(REDACTED));
            }
            EventBody::Custom(_) | EventBody::TurnStart { .. } | EventBody::TurnEnd => {}
        }
    }
}

/// The `vcs.*` attributes of a session, those that are known.
fn vcs_attributes(vcs: &VcsInfo) -> impl Iterator<Item = (&'static str, &str)> {
    [
        (
            catalog::VCS_REPOSITORY_URL_FULL,
            vcs.repository_url.as_deref(),
        ),
        (catalog::VCS_REF_HEAD_NAME, vcs.ref_name.as_deref()),
        (catalog::VCS_REF_HEAD_REVISION, vcs.revision.as_deref()),
    ]
    .into_iter()
    .filter_map(|(key, value)| Some((key, value?)))
}

/// True when `key` is written for every event of `session` already: a
/// common attribute or one of its `vcs.*` attributes.
fn is_session_key(session: &SessionMetadata, key: &str) -> bool {
    catalog::COMMON_ATTRIBUTES.contains(&key)
        || session
            .vcs
            .as_ref()
            .is_some_and(|vcs| vcs_attributes(vcs).any(|(k, _)| k == key))
}

/// The attributes of one record being written: applies the count limit
/// (the rest are counted in `dropped_attributes_count`) and the value
/// length limit, and counts what it drops or cuts.
struct RecordAttributes<'b, E> {
    buf: &'b mut Vec<u8>,
    limits: AttributeLimits,
    cap: usize,
    written: usize,
    dropped: u32,
    counts: &'b mut AttributeCounts,
    encoding: PhantomData<E>,
}

impl<'b, E: Encoding> RecordAttributes<'b, E> {
    fn new(
        buf: &'b mut Vec<u8>,
        limits: AttributeLimits,
        cap: usize,
        counts: &'b mut AttributeCounts,
    ) -> Self {
        Self {
            buf,
            limits,
            cap,
            written: 0,
            dropped: 0,
            counts,
            encoding: PhantomData,
        }
    }

    /// Takes a slot under the count limit, or counts the attribute dropped.
    fn slot(&mut self) -> bool {
        if self.written < self.limits.count {
            self.written += 1;
            true
        } else {
            self.dropped = self.dropped.saturating_add(1);
            self.counts.dropped_count_limit += 1;
            false
        }
    }

    /// True when `n` more attributes fit under the count limit.
    fn fits(&self, n: usize) -> bool {
        self.written + n <= self.limits.count
    }

    /// A string value from the host, subject to the value limits.
    fn text(&mut self, key: &str, value: &str) {
        if self.slot() {
            let text = self.limited(value);
            E::str_attr(self.buf, key, &[&text]);
        }
    }

    /// A string made by agent-otel itself (names, enums): never cut.
    fn fixed(&mut self, key: &str, parts: &[&str]) {
        if self.slot() {
            E::str_attr(self.buf, key, parts);
        }
    }

    fn int(&mut self, key: &str, value: i64) {
        if self.slot() {
            E::int_attr(self.buf, key, value);
        }
    }

    /// A value of any shape; every string in it is subject to the limits.
    fn value(&mut self, key: &str, value: &ValueRef<'_>) {
        if self.slot() {
            let value = self.limited_value(value);
            E::value_attr(self.buf, key, &value);
        }
    }

    /// Appends a session's cached attributes (which must fit).
    fn extend(&mut self, cached: &CachedSession) {
        self.buf.extend_from_slice(&cached.bytes);
        self.written += cached.count;
        self.counts.add(&cached.counts);
    }

    fn limited<'v>(&mut self, value: &'v str) -> Cow<'v, str> {
        let text = limit_text(value, self.limits.value_length, self.cap);
        if matches!(text, Cow::Owned(_)) {
            self.counts.truncated += 1;
        }
        text
    }

    fn limited_value<'v>(&mut self, value: &ValueRef<'v>) -> ValueRef<'v> {
        match value {
            ValueRef::Str(Cow::Borrowed(text)) => ValueRef::Str(self.limited(text)),
            ValueRef::Str(Cow::Owned(text)) => {
                ValueRef::Str(Cow::Owned(self.limited(text).into_owned()))
            }
            ValueRef::Array(items) => {
                ValueRef::Array(items.iter().map(|v| self.limited_value(v)).collect())
            }
            ValueRef::Map(entries) => ValueRef::Map(
                entries
                    .iter()
                    .map(|(k, v)| (*k, self.limited_value(v)))
                    .collect(),
            ),
            scalar => scalar.clone(),
        }
    }
}

/// A session's attributes encoded once per batch, with how many there are
/// and what writing them dropped or cut.
#[derive(Default)]
struct CachedSession {
    metadata: Arc<SessionMetadata>,
    bytes: Vec<u8>,
    count: usize,
    counts: AttributeCounts,
}

/// The encoded attributes of the session last seen in a batch: events of
/// one session share them, so they are encoded once per batch and copied
/// into each record.
#[derive(Default)]
struct SessionAttributes {
    seen: Option<SessionKey>,
    cached: CachedSession,
}

/// Identity of a session within one encode call.
#[derive(PartialEq, Eq, Clone, Copy)]
enum SessionKey {
    Id(u64),
    Pointer(usize),
}

impl SessionAttributes {
    fn get<E: Encoding>(&mut self, encoder: &OtlpEncoder, session: &SessionRef) -> &CachedSession {
        let key = match session {
            SessionRef::Id(id) => SessionKey::Id(*id),
            SessionRef::Metadata(metadata) => SessionKey::Pointer(Arc::as_ptr(metadata) as usize),
        };
        if self.seen != Some(key) {
            // A registered session is kept until its events are encoded, so
            // the fallback (empty metadata) is never expected to be used.
            let metadata = encoder.resolve_session(session).unwrap_or_default();
            let mut bytes = std::mem::take(&mut self.cached.bytes);
            bytes.clear();
            let mut counts = AttributeCounts::default();
            // No count limit here: whether the whole set fits is decided
            // per record.
            let unlimited = AttributeLimits {
                count: usize::MAX,
                ..encoder.limits
            };
            let mut attrs = RecordAttributes::<E>::new(
                &mut bytes,
                unlimited,
                encoder.max_value_bytes,
                &mut counts,
            );
            OtlpEncoder::put_session(&mut attrs, &metadata);
            let count = attrs.written;
            self.cached = CachedSession {
                metadata,
                bytes,
                count,
                counts,
            };
            self.seen = Some(key);
        }
        &self.cached
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value;
    use std::time::{Duration, UNIX_EPOCH};

    fn sample_batch() -> Batch {
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
            trace: None,
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
            .map(|d| {
                Event::new(
                    at,
                    std::sync::Arc::clone(&session),
                    d,
                    crate::ContentPolicy::EXPORT_ALL,
                )
            })
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
        assert_eq!(batches.iter().map(Batch::len).sum::<usize>(), 100);
        for batch in &batches {
            assert!(batch.json().len() <= 4096, "{} bytes", batch.json().len());
        }
    }
}
