//! The event catalog: typed events for the five kinds of DESIGN.md, and the
//! session metadata every event carries.
//!
//! Host-facing argument types borrow their strings so that a disabled
//! [`crate::Telemetry`] costs no allocation; the pipeline stores the owned
//! [`Event`] form, converted to OTLP on the worker only.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::attribute::{AttributeValue, ContentPolicy, PackedAttributes};
use crate::trace::ids::{SpanId, TraceId};
use crate::vcs::VcsInfo;

/// The common fields of every event, shared by all events of a session.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SessionMetadata {
    /// `conversation.id`.
    pub conversation_id: String,
    /// `app.version`: the host CLI's version.
    pub app_version: String,
    /// `auth_mode`, omitted when unknown.
    pub auth_mode: Option<String>,
    /// `user.account_id`, omitted when unknown.
    pub account_id: Option<String>,
    /// `terminal.type`.
    pub terminal_type: String,
    /// `model`.
    pub model: String,
    /// `slug`: the model family / provider slug.
    pub slug: String,
    /// Version-control attribution (`vcs.*`), e.g. from [`VcsInfo::detect`].
    pub vcs: Option<VcsInfo>,
    /// Extra attributes on every event of the session (e.g. `team`). A key
    /// that collides with a common attribute is dropped and counted.
    pub attributes: Vec<(String, AttributeValue)>,
}

/// A `codex.api_request` event: one attempt of a model API request.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiRequest<'a> {
    /// `attempt`, 1-based.
    pub attempt: u32,
    /// `duration_ms`.
    pub duration: Duration,
    /// `http.response.status_code`, when a response arrived.
    pub status_code: Option<u16>,
    /// `cf_ray`, the CDN request id, when present.
    pub cf_ray: Option<&'a str>,
    /// `error.message`, on failure.
    pub error: Option<&'a str>,
}

/// Token counts reported when a response stream completes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TokenCounts {
    /// `input_token_count`.
    pub input: u64,
    /// `output_token_count`.
    pub output: u64,
    /// `cached_token_count`, when the API reports it.
    pub cached: Option<u64>,
    /// `reasoning_token_count`, when the API reports it.
    pub reasoning: Option<u64>,
    /// `tool_token_count`.
    pub tool: u64,
}

/// A `codex.sse_event` event: one server-sent event of a response stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct SseEvent<'a> {
    /// `event.kind`, e.g. `response.output_text.delta`, `response.completed`.
    pub kind: &'a str,
    /// `duration_ms`: time since the previous event.
    pub duration: Duration,
    /// `error.message`, on failure.
    pub error: Option<&'a str>,
    /// Token counts, on completion.
    pub tokens: Option<TokenCounts>,
}

/// A user's answer to a tool-approval prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToolDecision {
    /// Run this call.
    Approved,
    /// Run this and later calls of the tool in this session.
    ApprovedForSession,
    /// Do not run it.
    Denied,
    /// Abort the turn.
    Abort,
}

impl ToolDecision {
    /// The wire value: `approved`, `approved_for_session`, `denied`, `abort`.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolDecision::Approved => "approved",
            ToolDecision::ApprovedForSession => "approved_for_session",
            ToolDecision::Denied => "denied",
            ToolDecision::Abort => "abort",
        }
    }

    /// Parses the wire value.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "approved" => ToolDecision::Approved,
            "approved_for_session" => ToolDecision::ApprovedForSession,
            "denied" => ToolDecision::Denied,
            "abort" => ToolDecision::Abort,
            _ => return None,
        })
    }
}

/// Who made a tool decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecisionSource {
    /// The host's configuration (an allow-list, a sandbox policy).
    Config,
    /// The user, at a prompt.
    User,
}

impl DecisionSource {
    /// The wire value: `config` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionSource::Config => "config",
            DecisionSource::User => "user",
        }
    }

    /// Parses the wire value.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "config" => DecisionSource::Config,
            "user" => DecisionSource::User,
            _ => return None,
        })
    }
}

/// A `codex.tool_decision` event.
#[derive(Debug, Clone, Copy)]
pub struct ToolDecisionEvent<'a> {
    /// `tool_name`.
    pub tool_name: &'a str,
    /// `call_id`.
    pub call_id: &'a str,
    /// `decision`.
    pub decision: ToolDecision,
    /// `source`.
    pub source: DecisionSource,
}

/// A `codex.tool_result` event.
#[derive(Debug, Clone, Copy)]
pub struct ToolResult<'a> {
    /// `tool_name`.
    pub tool_name: &'a str,
    /// `call_id`.
    pub call_id: &'a str,
    /// `arguments`, as the model sent them.
    pub arguments: &'a str,
    /// `duration_ms`.
    pub duration: Duration,
    /// `success`, exported as the string `"true"` / `"false"`.
    pub success: bool,
    /// `output`.
    pub output: &'a str,
}

/// The five event kinds of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `<prefix>.api_request`.
    ApiRequest,
    /// `<prefix>.sse_event`.
    SseEvent,
    /// `<prefix>.user_prompt`.
    UserPrompt,
    /// `<prefix>.tool_decision`.
    ToolDecision,
    /// `<prefix>.tool_result`.
    ToolResult,
}

impl EventKind {
    /// Every kind, in catalog order.
    pub const ALL: [EventKind; 5] = [
        EventKind::ApiRequest,
        EventKind::SseEvent,
        EventKind::UserPrompt,
        EventKind::ToolDecision,
        EventKind::ToolResult,
    ];

    /// The part of the event name after the prefix (`api_request`, ...).
    pub fn suffix(self) -> &'static str {
        match self {
            EventKind::ApiRequest => "api_request",
            EventKind::SseEvent => "sse_event",
            EventKind::UserPrompt => "user_prompt",
            EventKind::ToolDecision => "tool_decision",
            EventKind::ToolResult => "tool_result",
        }
    }
}

/// An owned event waiting in the pipeline queue.
#[derive(Debug, Clone)]
pub struct Event {
    pub(crate) time: SystemTime,
    pub(crate) session: SessionRef,
    pub(crate) body: EventBody,
    /// The turn the event was emitted in: its trace and the span the log
    /// record belongs to (the turn span; the worker moves `chat` and
    /// `execute_tool` events to their own spans).
    pub(crate) trace: Option<TraceLink>,
}

/// Where an event sits in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceLink {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) sampled: bool,
}

/// Which session an event belongs to.
#[derive(Debug, Clone)]
pub(crate) enum SessionRef {
    /// Registered with the pipeline's session registry (the emit path).
    Id(u64),
    /// Carried along (events built with [`Event::new`] outside a pipeline).
    Metadata(Arc<SessionMetadata>),
}

/// Bytes of an event's strings kept inside the event itself.
const INLINE_BYTES: usize = 48;

/// Where an event's strings live: inside the event when they are short
/// (no allocation at all), else in one heap allocation.
#[derive(Debug, Clone)]
enum PackedText {
    Inline { bytes: [u8; INLINE_BYTES], len: u8 },
    Heap(Box<str>),
}

impl PackedText {
    fn as_str(&self) -> &str {
        match self {
            // The bytes were copied from `&str`s: always valid UTF-8.
            PackedText::Inline { bytes, len } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            PackedText::Heap(text) => text,
        }
    }
}

/// The strings of one event, concatenated: inside the event when they fit
/// in [`INLINE_BYTES`], else in a single allocation. An emit then costs at
/// most one `malloc` on the caller (and one `free` on the worker).
#[derive(Debug, Clone)]
pub(crate) struct PackedStrings {
    text: PackedText,
    ends: [u32; 4],
    present: u8,
}

impl Default for PackedStrings {
    fn default() -> Self {
        Self::new([None; 4])
    }
}

impl PackedStrings {
    /// Packs up to four optional strings; get them back by position.
    pub(crate) fn new(parts: [Option<&str>; 4]) -> Self {
        let len: usize = parts.iter().flatten().map(|p| p.len()).sum();
        let mut ends = [0u32; 4];
        let mut present = 0u8;
        let mut end = 0usize;
        for (i, part) in parts.iter().enumerate() {
            if let Some(part) = part {
                end += part.len();
                present |= 1 << i;
            }
            ends[i] = u32::try_from(end).unwrap_or(u32::MAX);
        }
        let text = if len <= INLINE_BYTES {
            let mut bytes = [0u8; INLINE_BYTES];
            let mut at = 0;
            for part in parts.iter().flatten() {
                bytes[at..at + part.len()].copy_from_slice(part.as_bytes());
                at += part.len();
            }
            PackedText::Inline {
                bytes,
                len: u8::try_from(len).unwrap_or(u8::MAX),
            }
        } else {
            let mut text = String::with_capacity(len);
            for part in parts.iter().flatten() {
                text.push_str(part);
            }
            PackedText::Heap(text.into_boxed_str())
        };
        Self {
            text,
            ends,
            present,
        }
    }

    /// The string at `index`, if it was given.
    pub(crate) fn get(&self, index: usize) -> Option<&str> {
        if self.present & (1 << index) == 0 {
            return None;
        }
        let start = if index == 0 {
            0
        } else {
            self.ends[index - 1] as usize
        };
        self.text.as_str().get(start..self.ends[index] as usize)
    }

    /// The string at `index`, empty when absent.
    pub(crate) fn str(&self, index: usize) -> &str {
        self.get(index).unwrap_or_default()
    }
}

/// Owned attribute payload of one event; strings live in [`PackedStrings`]
/// at the positions named in each variant.
#[derive(Debug, Clone)]
pub(crate) enum EventBody {
    /// Strings: 0 `cf_ray`, 1 `error.message`.
    ApiRequest {
        attempt: u32,
        duration_ms: u64,
        status_code: Option<u16>,
        strings: PackedStrings,
    },
    /// Strings: 0 `event.kind`, 1 `error.message`.
    SseEvent {
        duration_ms: u64,
        tokens: Option<TokenCounts>,
        strings: PackedStrings,
    },
    /// Strings: 0 `prompt`, absent when redacted.
    UserPrompt { length: u64, strings: PackedStrings },
    /// Strings: 0 `tool_name`, 1 `call_id`.
    ToolDecision {
        decision: ToolDecision,
        source: DecisionSource,
        strings: PackedStrings,
    },
    /// Strings: 0 `tool_name`, 1 `call_id`, 2 `arguments`, 3 `output`
    /// (2 and 3 absent when redacted).
    ToolResult {
        duration_ms: u64,
        success: bool,
        strings: PackedStrings,
    },
    /// A custom event: its name and typed attributes, packed.
    Custom(PackedAttributes),
    /// A turn started (its link is the event's `trace`); not a log record.
    TurnStart {
        /// The caller's span, when a `traceparent` parents the turn.
        parent: Option<SpanId>,
    },
    /// A turn ended (its link is the event's `trace`); not a log record.
    TurnEnd,
}

impl Event {
    /// An owned event from borrowed data, as the pipeline would queue it
    /// (content redacted as `policy` says). For tools that encode without a
    /// pipeline: probes, replays, benchmarks.
    pub fn new(
        time: SystemTime,
        session: Arc<SessionMetadata>,
        data: crate::EventData<'_>,
        policy: ContentPolicy,
    ) -> Self {
        Self::with_session(time, SessionRef::Metadata(session), data, policy)
    }

    pub(crate) fn with_session(
        time: SystemTime,
        session: SessionRef,
        data: crate::EventData<'_>,
        policy: ContentPolicy,
    ) -> Self {
        use crate::EventData;
        let body = match data {
            EventData::ApiRequest(e) => EventBody::api_request(&e),
            EventData::SseEvent(e) => EventBody::sse_event(&e),
            EventData::UserPrompt(prompt) => EventBody::user_prompt(prompt, policy.log_user_prompt),
            EventData::ToolDecision(e) => EventBody::tool_decision(&e),
            EventData::ToolResult(e) => EventBody::tool_result(&e, policy.log_tool_content),
        };
        Self {
            time,
            session,
            body,
            trace: None,
        }
    }

    /// A custom event from its packed name and attributes.
    pub(crate) fn custom(time: SystemTime, session: SessionRef, packed: PackedAttributes) -> Self {
        Self {
            time,
            session,
            body: EventBody::Custom(packed),
            trace: None,
        }
    }

    /// The event's catalog kind; `None` for a custom event.
    pub fn kind(&self) -> Option<EventKind> {
        Some(match self.body {
            EventBody::ApiRequest { .. } => EventKind::ApiRequest,
            EventBody::SseEvent { .. } => EventKind::SseEvent,
            EventBody::UserPrompt { .. } => EventKind::UserPrompt,
            EventBody::ToolDecision { .. } => EventKind::ToolDecision,
            EventBody::ToolResult { .. } => EventKind::ToolResult,
            EventBody::Custom(_) | EventBody::TurnStart { .. } | EventBody::TurnEnd => {
                return None;
            }
        })
    }

    /// When the event happened.
    pub fn time(&self) -> SystemTime {
        self.time
    }

    /// True for the turn markers, which are spans' edges, not log records.
    pub(crate) fn is_turn_marker(&self) -> bool {
        matches!(self.body, EventBody::TurnStart { .. } | EventBody::TurnEnd)
    }

    /// This event, placed in a turn's trace.
    pub(crate) fn in_trace(mut self, link: Option<TraceLink>) -> Self {
        self.trace = link;
        self
    }
}

/// `error.type` of a failed `api_request` (`None` when it succeeded): the
/// HTTP status when it is an error status, else `_OTHER` for a request
/// that failed with a message. The one rule for the `chat` span and the
/// GenAI metrics.
pub(crate) fn api_error_type(status_code: Option<u16>, error: Option<&str>) -> Option<String> {
    match status_code.filter(|s| *s >= 400) {
        Some(status) => Some(status.to_string()),
        None => error.map(|_| "_OTHER".to_owned()),
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl EventBody {
    pub(crate) fn api_request(e: &ApiRequest<'_>) -> Self {
        EventBody::ApiRequest {
            attempt: e.attempt,
            duration_ms: millis(e.duration),
            status_code: e.status_code,
            strings: PackedStrings::new([e.cf_ray, e.error, None, None]),
        }
    }

    pub(crate) fn sse_event(e: &SseEvent<'_>) -> Self {
        EventBody::SseEvent {
            duration_ms: millis(e.duration),
            tokens: e.tokens,
            strings: PackedStrings::new([Some(e.kind), e.error, None, None]),
        }
    }

    pub(crate) fn user_prompt(prompt: &str, log_user_prompt: bool) -> Self {
        let kept = log_user_prompt.then_some(prompt);
        EventBody::UserPrompt {
            length: prompt.chars().count() as u64,
            strings: PackedStrings::new([kept, None, None, None]),
        }
    }

    pub(crate) fn tool_decision(e: &ToolDecisionEvent<'_>) -> Self {
        EventBody::ToolDecision {
            decision: e.decision,
            source: e.source,
            strings: PackedStrings::new([Some(e.tool_name), Some(e.call_id), None, None]),
        }
    }

    pub(crate) fn tool_result(e: &ToolResult<'_>, log_tool_content: bool) -> Self {
        let content = |text| log_tool_content.then_some(text);
        EventBody::ToolResult {
            duration_ms: millis(e.duration),
            success: e.success,
            strings: PackedStrings::new([
                Some(e.tool_name),
                Some(e.call_id),
                content(e.arguments),
                content(e.output),
            ]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PackedStrings;

    #[test]
    fn short_strings_stay_inline_and_long_ones_go_to_the_heap() {
        let short = PackedStrings::new([Some("shell"), Some("call_1"), None, None]);
        assert!(matches!(short.text, super::PackedText::Inline { .. }));
        assert_eq!((short.str(0), short.str(1)), ("shell", "call_1"));
        let exactly = "é".repeat(super::INLINE_BYTES / 2);
        let fits = PackedStrings::new([Some(&exactly), None, None, None]);
        assert!(matches!(fits.text, super::PackedText::Inline { .. }));
        assert_eq!(fits.str(0), exactly);
        let long = "x".repeat(super::INLINE_BYTES + 1);
        let heap = PackedStrings::new([Some("a"), Some(&long), None, Some("z")]);
        assert!(matches!(heap.text, super::PackedText::Heap(_)));
        assert_eq!(
            (heap.str(0), heap.str(1), heap.str(3)),
            ("a", long.as_str(), "z")
        );
    }

    #[test]
    fn packed_strings_keep_absent_empty_and_present_apart() {
        let packed = PackedStrings::new([Some("shell"), None, Some(""), Some("ok ✓")]);
        assert_eq!(packed.get(0), Some("shell"));
        assert_eq!(packed.get(1), None);
        assert_eq!(packed.get(2), Some(""));
        assert_eq!(packed.get(3), Some("ok ✓"));
        assert_eq!(packed.str(1), "");
        let empty = PackedStrings::new([None; 4]);
        assert_eq!((empty.get(0), empty.get(3)), (None, None));
    }
}
