//! Span derivation on the worker: one `invoke_agent` span per turn, a
//! `chat` span per `api_request` (extended to the completion that follows
//! it) and an `execute_tool` span per `tool_result`, following the
//! OpenTelemetry GenAI conventions. Spans never carry prompt or tool
//! content. Events are seen in queue order; each event's log record is
//! moved to the span it belongs to.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{Span, Status, status::StatusCode};

use super::ids::{SpanId, TraceId};
use crate::catalog;
use crate::event::{Event, EventBody, SessionMetadata, TraceLink, api_error_type};
use crate::time::unix_nanos;

/// Turns open at once, at most; a turn beyond it is ended at once (its
/// span still exported) so a host that never ends turns cannot grow the
/// worker's memory.
const MAX_OPEN_TURNS: usize = 4096;

/// A turn being traced.
struct OpenTurn {
    trace_id: TraceId,
    span_id: SpanId,
    parent: Option<SpanId>,
    sampled: bool,
    start: SystemTime,
    session: Arc<SessionMetadata>,
    /// The open `chat` span and its id (where the completion's log records go).
    chat: Option<(SpanId, Span)>,
    input_tokens: u64,
    output_tokens: u64,
}

/// Builds the spans of every turn from the events, in queue order.
#[derive(Default)]
pub(crate) struct SpanDeriver {
    agent_name: String,
    turns: HashMap<(TraceId, SpanId), OpenTurn>,
    finished: Vec<Span>,
}

impl SpanDeriver {
    /// A deriver naming the agent `agent_name` (`gen_ai.agent.name`).
    pub(crate) fn new(agent_name: &str) -> Self {
        Self {
            agent_name: agent_name.to_owned(),
            ..Self::default()
        }
    }

    /// Sees one event of a turn (`event.trace` set). Turn markers open and
    /// close turns; `api_request`, a completion `sse_event` and
    /// `tool_result` shape spans, and their log records are moved to them.
    pub(crate) fn observe(&mut self, event: &mut Event, session: &Arc<SessionMetadata>) {
        let Some(link) = event.trace else {
            return;
        };
        let key = (link.trace_id, link.span_id);
        if let EventBody::TurnEnd = event.body {
            if let Some(turn) = self.turns.remove(&key) {
                self.close(turn, event.time);
            }
            return;
        }
        if !self.turns.contains_key(&key) {
            // A turn whose start marker was lost (a full queue) starts at its
            // first event.
            let parent = match event.body {
                EventBody::TurnStart { parent } => parent,
                _ => None,
            };
            self.open(link, parent, event.time, Arc::clone(session));
        }
        let Self {
            turns, finished, ..
        } = self;
        let Some(turn) = turns.get_mut(&key) else {
            return;
        };
        match &event.body {
            EventBody::ApiRequest {
                duration_ms,
                status_code,
                strings,
                ..
            } => {
                if let Some((_, chat)) = turn.chat.take()
                    && turn.sampled
                {
                    finished.push(chat);
                }
                let span_id = SpanId::random();
                let end = event.time;
                let start = end
                    .checked_sub(Duration::from_millis(*duration_ms))
                    .unwrap_or(end);
                let error_type = api_error_type(*status_code, strings.get(1));
                let mut attributes = vec![
                    text(catalog::GEN_AI_OPERATION_NAME, "chat"),
                    text(catalog::GEN_AI_REQUEST_MODEL, &turn.session.model),
                ];
                if !turn.session.slug.is_empty() {
                    attributes.push(text(catalog::GEN_AI_PROVIDER_NAME, &turn.session.slug));
                }
                if let Some(status) = status_code {
                    attributes.push(int(catalog::HTTP_RESPONSE_STATUS_CODE, i64::from(*status)));
                }
                let status = error_type.and_then(|error_type| {
                    attributes.push(text(catalog::ERROR_TYPE, &error_type));
                    error_status()
                });
                turn.chat = Some((
                    span_id,
                    Span {
                        trace_id: turn.trace_id.0.to_vec(),
                        span_id: span_id.0.to_vec(),
                        parent_span_id: turn.span_id.0.to_vec(),
                        flags: span_flags(turn.sampled),
                        name: format!("chat {}", turn.session.model),
                        kind: SpanKind::Client as i32,
                        start_time_unix_nano: unix_nanos(start),
                        end_time_unix_nano: unix_nanos(end),
                        attributes,
                        status,
                        ..Span::default()
                    },
                ));
                set_span(event, span_id);
            }
            EventBody::SseEvent { tokens, .. } => {
                if let Some(tokens) = tokens {
                    turn.input_tokens = turn.input_tokens.saturating_add(tokens.input);
                    turn.output_tokens = turn.output_tokens.saturating_add(tokens.output);
                }
                if let Some((chat_id, chat)) = turn.chat.as_mut() {
                    if let Some(tokens) = tokens {
                        chat.end_time_unix_nano =
                            chat.end_time_unix_nano.max(unix_nanos(event.time));
                        chat.attributes.push(int(
                            catalog::GEN_AI_USAGE_INPUT_TOKENS,
                            saturating_i64(tokens.input),
                        ));
                        chat.attributes.push(int(
                            catalog::GEN_AI_USAGE_OUTPUT_TOKENS,
                            saturating_i64(tokens.output),
                        ));
                    }
                    set_span(event, *chat_id);
                }
            }
            EventBody::ToolResult {
                duration_ms,
                success,
                strings,
            } => {
                let span_id = SpanId::random();
                let end = event.time;
                let start = end
                    .checked_sub(Duration::from_millis(*duration_ms))
                    .unwrap_or(end);
                let tool = strings.str(0);
                let mut attributes = vec![
                    text(catalog::GEN_AI_OPERATION_NAME, "execute_tool"),
                    text(catalog::GEN_AI_TOOL_NAME, tool),
                    text(catalog::GEN_AI_TOOL_CALL_ID, strings.str(1)),
                ];
                let status = if *success {
                    None
                } else {
                    attributes.push(text(catalog::ERROR_TYPE, "tool_error"));
                    error_status()
                };
                let span = Span {
                    trace_id: turn.trace_id.0.to_vec(),
                    span_id: span_id.0.to_vec(),
                    parent_span_id: turn.span_id.0.to_vec(),
                    flags: span_flags(turn.sampled),
                    name: format!("execute_tool {tool}"),
                    kind: SpanKind::Internal as i32,
                    start_time_unix_nano: unix_nanos(start),
                    end_time_unix_nano: unix_nanos(end),
                    attributes,
                    status,
                    ..Span::default()
                };
                if turn.sampled {
                    finished.push(span);
                }
                set_span(event, span_id);
            }
            _ => {}
        }
    }

    /// Ends every open turn at `now` (shutdown: a turn never ended is still
    /// exported, ending when the process stopped).
    pub(crate) fn end_all(&mut self, now: SystemTime) {
        let turns: Vec<OpenTurn> = self.turns.drain().map(|(_, turn)| turn).collect();
        for turn in turns {
            self.close(turn, now);
        }
    }

    /// The sampled spans finished since the last call.
    pub(crate) fn take(&mut self) -> Vec<Span> {
        std::mem::take(&mut self.finished)
    }

    fn open(
        &mut self,
        link: TraceLink,
        parent: Option<SpanId>,
        start: SystemTime,
        session: Arc<SessionMetadata>,
    ) {
        if self.turns.len() >= MAX_OPEN_TURNS {
            let oldest = self
                .turns
                .iter()
                .min_by_key(|(_, turn)| turn.start)
                .map(|(key, _)| *key);
            if let Some(turn) = oldest.and_then(|key| self.turns.remove(&key)) {
                self.close(turn, start);
            }
        }
        self.turns.insert(
            (link.trace_id, link.span_id),
            OpenTurn {
                trace_id: link.trace_id,
                span_id: link.span_id,
                parent,
                sampled: link.sampled,
                start,
                session,
                chat: None,
                input_tokens: 0,
                output_tokens: 0,
            },
        );
    }

    /// The turn's `invoke_agent` span, after its last `chat` span.
    fn close(&mut self, mut turn: OpenTurn, end: SystemTime) {
        if let Some((_, chat)) = turn.chat.take()
            && turn.sampled
        {
            self.finished.push(chat);
        }
        if !turn.sampled {
            return;
        }
        let mut attributes = vec![
            text(catalog::GEN_AI_OPERATION_NAME, "invoke_agent"),
            text(catalog::GEN_AI_AGENT_NAME, &self.agent_name),
            text(
                catalog::GEN_AI_CONVERSATION_ID,
                &turn.session.conversation_id,
            ),
            text(catalog::GEN_AI_REQUEST_MODEL, &turn.session.model),
        ];
        if turn.input_tokens > 0 || turn.output_tokens > 0 {
            attributes.push(int(
                catalog::GEN_AI_USAGE_INPUT_TOKENS,
                saturating_i64(turn.input_tokens),
            ));
            attributes.push(int(
                catalog::GEN_AI_USAGE_OUTPUT_TOKENS,
                saturating_i64(turn.output_tokens),
            ));
        }
        self.finished.push(Span {
            trace_id: turn.trace_id.0.to_vec(),
            span_id: turn.span_id.0.to_vec(),
            parent_span_id: turn.parent.map(|p| p.0.to_vec()).unwrap_or_default(),
            flags: span_flags(turn.sampled),
            name: format!("invoke_agent {}", self.agent_name),
            kind: SpanKind::Internal as i32,
            start_time_unix_nano: unix_nanos(turn.start),
            end_time_unix_nano: unix_nanos(end.max(turn.start)),
            attributes,
            ..Span::default()
        });
    }
}

fn set_span(event: &mut Event, span_id: SpanId) {
    if let Some(link) = event.trace.as_mut() {
        link.span_id = span_id;
    }
}

/// W3C trace flags (sampled bit) in the span's `flags`.
fn span_flags(sampled: bool) -> u32 {
    u32::from(sampled)
}

fn error_status() -> Option<Status> {
    Some(Status {
        code: StatusCode::Error as i32,
        ..Status::default()
    })
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..KeyValue::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..KeyValue::default()
    }
}
