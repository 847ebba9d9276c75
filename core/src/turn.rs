//! [`Turn`]: one turn of a session (a user prompt and everything the agent
//! did for it). Its events carry the turn's trace; ending or dropping it
//! ends the turn's span.

use std::time::SystemTime;

use crate::event::{ApiRequest, EventBody, SseEvent, ToolDecisionEvent, ToolResult, TraceLink};
use crate::event_builder::EventBuilder;
use crate::telemetry::{EventData, Session};
use crate::trace::{SpanId, TraceId, TraceOptions, TraceParent};

/// A turn in progress; see [`Session::turn`]. Same emit methods as the
/// session. Never blocks, never panics; costs nothing when telemetry is
/// disabled.
#[derive(Debug)]
pub struct Turn {
    /// A handle of the turn's session (cheap: reference counts), so a turn
    /// can outlive the borrow it was started from and move across tasks.
    session: Session,
    link: TraceLink,
    ended: bool,
}

impl Turn {
    pub(crate) fn start(session: &Session, options: &TraceOptions) -> Self {
        let parent = options.parent;
        let trace_id = parent.map_or_else(TraceId::random, |p| p.trace_id);
        let link = TraceLink {
            trace_id,
            span_id: SpanId::random(),
            sampled: options.sampler.should_sample(trace_id, parent.as_ref()),
        };
        session.enqueue_marker(
            SystemTime::now(),
            link,
            EventBody::TurnStart {
                parent: parent.map(|p| p.span_id),
            },
        );
        Self {
            session: session.clone(),
            link,
            ended: false,
        }
    }

    /// The turn's trace id.
    pub fn trace_id(&self) -> TraceId {
        self.link.trace_id
    }

    /// The turn span's id.
    pub fn span_id(&self) -> SpanId {
        self.link.span_id
    }

    /// The W3C `traceparent` to hand to a tool's subprocess (e.g. as its
    /// `TRACEPARENT` environment variable), so its spans join this turn.
    pub fn traceparent(&self) -> String {
        TraceParent {
            trace_id: self.link.trace_id,
            span_id: self.link.span_id,
            sampled: self.link.sampled,
        }
        .to_string()
    }

    /// Emits `event` in this turn, stamped with the current time.
    #[inline]
    pub fn emit(&self, event: EventData<'_>) {
        self.session
            .enqueue_in(SystemTime::now(), event, Some(self.link));
    }

    /// Emits `event` in this turn, stamped with `time`.
    #[inline]
    pub fn emit_at(&self, time: SystemTime, event: EventData<'_>) {
        self.session.enqueue_in(time, event, Some(self.link));
    }

    /// `<prefix>.api_request`: also a `chat` span.
    #[inline]
    pub fn api_request(&self, event: ApiRequest<'_>) {
        self.emit(EventData::ApiRequest(event));
    }

    /// `<prefix>.sse_event`; a completion's tokens go on the `chat` span.
    #[inline]
    pub fn sse_event(&self, event: SseEvent<'_>) {
        self.emit(EventData::SseEvent(event));
    }

    /// `<prefix>.user_prompt`.
    #[inline]
    pub fn user_prompt(&self, prompt: &str) {
        self.emit(EventData::UserPrompt(prompt));
    }

    /// `<prefix>.tool_decision`.
    #[inline]
    pub fn tool_decision(&self, event: ToolDecisionEvent<'_>) {
        self.emit(EventData::ToolDecision(event));
    }

    /// `<prefix>.tool_result`: also an `execute_tool` span.
    #[inline]
    pub fn tool_result(&self, event: ToolResult<'_>) {
        self.emit(EventData::ToolResult(event));
    }

    /// A custom event in this turn (see [`Session::event`]).
    #[inline]
    pub fn event(&self, name: &str) -> EventBuilder<'_> {
        self.session.event(name).in_trace(self.link)
    }

    /// Ends the turn now (dropping it does the same).
    pub fn end(mut self) {
        self.finish();
    }

    fn finish(&mut self) {
        if !self.ended {
            self.ended = true;
            self.session
                .enqueue_marker(SystemTime::now(), self.link, EventBody::TurnEnd);
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.finish();
    }
}
