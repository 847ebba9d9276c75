//! The event catalog: typed events for the five kinds of DESIGN.md, and the
//! session metadata every event carries.
//!
//! Host-facing argument types borrow their strings so that a disabled
//! [`crate::Telemetry`] costs no allocation; the pipeline stores the owned
//! [`Event`] form, converted to OTLP on the worker only.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The eight common fields of every event, shared by all events of a session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    pub(crate) session: Arc<SessionMetadata>,
    pub(crate) body: EventBody,
}

/// Owned attribute payload of one event.
#[derive(Debug, Clone)]
pub(crate) enum EventBody {
    ApiRequest {
        attempt: u32,
        duration_ms: u64,
        status_code: Option<u16>,
        cf_ray: Option<String>,
        error: Option<String>,
    },
    SseEvent {
        kind: String,
        duration_ms: u64,
        error: Option<String>,
        tokens: Option<TokenCounts>,
    },
    UserPrompt {
        length: u64,
        /// `None` when redacted.
        prompt: Option<String>,
    },
    ToolDecision {
        tool_name: String,
        call_id: String,
        decision: ToolDecision,
        source: DecisionSource,
    },
    ToolResult {
        tool_name: String,
        call_id: String,
        arguments: String,
        duration_ms: u64,
        success: bool,
        output: String,
    },
}

impl Event {
    /// An owned event from borrowed data, as the pipeline would queue it
    /// (prompt redacted unless `log_user_prompt`). For tools that encode
    /// without a pipeline: probes, replays, benchmarks.
    pub fn new(
        time: SystemTime,
        session: Arc<SessionMetadata>,
        data: crate::EventData<'_>,
        log_user_prompt: bool,
    ) -> Self {
        use crate::EventData;
        let body = match data {
            EventData::ApiRequest(e) => EventBody::api_request(&e),
            EventData::SseEvent(e) => EventBody::sse_event(&e),
            EventData::UserPrompt(prompt) => EventBody::user_prompt(prompt, log_user_prompt),
            EventData::ToolDecision(e) => EventBody::tool_decision(&e),
            EventData::ToolResult(e) => EventBody::tool_result(&e),
        };
        Self {
            time,
            session,
            body,
        }
    }

    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match self.body {
            EventBody::ApiRequest { .. } => EventKind::ApiRequest,
            EventBody::SseEvent { .. } => EventKind::SseEvent,
            EventBody::UserPrompt { .. } => EventKind::UserPrompt,
            EventBody::ToolDecision { .. } => EventKind::ToolDecision,
            EventBody::ToolResult { .. } => EventKind::ToolResult,
        }
    }

    /// When the event happened.
    pub fn time(&self) -> SystemTime {
        self.time
    }
}

pub(crate) fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

pub(crate) fn opt_owned(value: Option<&str>) -> Option<String> {
    value.map(str::to_owned)
}

impl EventBody {
    pub(crate) fn api_request(e: &ApiRequest<'_>) -> Self {
        EventBody::ApiRequest {
            attempt: e.attempt,
            duration_ms: millis(e.duration),
            status_code: e.status_code,
            cf_ray: opt_owned(e.cf_ray),
            error: opt_owned(e.error),
        }
    }

    pub(crate) fn sse_event(e: &SseEvent<'_>) -> Self {
        EventBody::SseEvent {
            kind: e.kind.to_owned(),
            duration_ms: millis(e.duration),
            error: opt_owned(e.error),
            tokens: e.tokens,
        }
    }

    pub(crate) fn user_prompt(prompt: &str, log_user_prompt: bool) -> Self {
        EventBody::UserPrompt {
            length: prompt.chars().count() as u64,
            prompt: log_user_prompt.then(|| prompt.to_owned()),
        }
    }

    pub(crate) fn tool_decision(e: &ToolDecisionEvent<'_>) -> Self {
        EventBody::ToolDecision {
            tool_name: e.tool_name.to_owned(),
            call_id: e.call_id.to_owned(),
            decision: e.decision,
            source: e.source,
        }
    }

    pub(crate) fn tool_result(e: &ToolResult<'_>) -> Self {
        EventBody::ToolResult {
            tool_name: e.tool_name.to_owned(),
            call_id: e.call_id.to_owned(),
            arguments: e.arguments.to_owned(),
            duration_ms: millis(e.duration),
            success: e.success,
            output: e.output.to_owned(),
        }
    }
}
