//! The host-facing handle: [`Telemetry`] owns the pipeline, [`Session`]
//! stamps events with a session's metadata and enqueues them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::event::{ApiRequest, Event, SessionMetadata, SseEvent, ToolDecisionEvent, ToolResult};
use crate::exporter::Exporter;
use crate::pipeline::{FlushError, Pipeline, PipelineError, PipelineOptions};
use crate::resource::TelemetryOptions;
use crate::stats::PipelineStats;

/// How long `Drop` of the last [`Telemetry`] handle waits for delivery when
/// the host did not call [`Telemetry::shutdown`]: short, because people wait
/// for a CLI to exit.
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(3);

/// Entry point of the library: create one per process, then a [`Session`]
/// per conversation.
///
/// Cheap to clone (an `Arc`). A disabled handle ([`Telemetry::disabled`],
/// exporter `none`) starts no thread and every emit is a single branch.
#[derive(Clone, Default)]
pub struct Telemetry {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    pipeline: Pipeline,
    log_user_prompt: bool,
    exporter_name: &'static str,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.pipeline.is_shut_down() {
            // Nothing to report to from Drop; the stats said what happened.
            let _ = self.pipeline.shutdown(DEFAULT_SHUTDOWN_TIMEOUT);
        }
    }
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner {
            None => f.write_str("Telemetry(disabled)"),
            Some(inner) => f
                .debug_struct("Telemetry")
                .field("exporter", &inner.exporter_name)
                .field("log_user_prompt", &inner.log_user_prompt)
                .finish_non_exhaustive(),
        }
    }
}

impl Telemetry {
    /// A handle that exports nothing and starts no thread.
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Starts the export pipeline on its own thread and runtime.
    pub fn new(
        options: TelemetryOptions,
        exporter: Box<dyn Exporter>,
        pipeline: PipelineOptions,
    ) -> Result<Self, PipelineError> {
        let exporter_name = exporter.name();
        let pipeline = Pipeline::start(&options, exporter, pipeline)?;
        Ok(Self {
            inner: Some(Arc::new(Inner {
                pipeline,
                log_user_prompt: options.log_user_prompt,
                exporter_name,
            })),
        })
    }

    /// True when events are exported.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// The exporter's name (`"none"` when disabled).
    pub fn exporter_name(&self) -> &'static str {
        self.inner.as_ref().map_or("none", |i| i.exporter_name)
    }

    /// A session whose events carry `metadata`.
    pub fn session(&self, metadata: SessionMetadata) -> Session {
        Session {
            telemetry: self.clone(),
            metadata: Arc::new(metadata),
        }
    }

    /// Counters so far (all zero when disabled).
    pub fn stats(&self) -> PipelineStats {
        self.inner
            .as_ref()
            .map(|i| i.pipeline.stats())
            .unwrap_or_default()
    }

    /// Blocks until every event emitted so far was delivered (or dropped),
    /// or `timeout` passes. Safe to call from inside a tokio runtime: the
    /// pipeline runs on its own thread.
    pub fn force_flush(&self, timeout: Duration) -> Result<(), FlushError> {
        match &self.inner {
            Some(inner) => inner.pipeline.force_flush(timeout),
            None => Ok(()),
        }
    }

    /// Delivers everything queued and stops the pipeline, returning by
    /// `timeout` even if the collector never answers (what is left is then
    /// counted as dropped). Later emits are dropped and counted.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), FlushError> {
        match &self.inner {
            Some(inner) => inner.pipeline.shutdown(timeout),
            None => Ok(()),
        }
    }
}

impl Telemetry {
    /// Blocks until the export worker has stopped, or `timeout` passes;
    /// true when it has (always true when disabled). After a `shutdown` that
    /// returned `Err(Timeout)`, the worker may still be booking what the
    /// deadline cut; once this returns true, `stats()` is final.
    pub fn wait_stopped(&self, timeout: Duration) -> bool {
        match &self.inner {
            Some(inner) => inner.pipeline.wait_stopped(timeout),
            None => true,
        }
    }
}

/// One event, borrowed from the caller, as given to [`Session::emit`].
#[derive(Debug, Clone, Copy)]
pub enum EventData<'a> {
    /// `api_request`.
    ApiRequest(ApiRequest<'a>),
    /// `sse_event`.
    SseEvent(SseEvent<'a>),
    /// `user_prompt`, with the prompt text (redacted unless `log_user_prompt`).
    UserPrompt(&'a str),
    /// `tool_decision`.
    ToolDecision(ToolDecisionEvent<'a>),
    /// `tool_result`.
    ToolResult(ToolResult<'a>),
}

/// Emits events for one conversation. Cheap to clone; every method returns
/// at once, never blocks and never panics.
#[derive(Clone, Debug)]
pub struct Session {
    telemetry: Telemetry,
    metadata: Arc<SessionMetadata>,
}

impl Session {
    /// The metadata stamped on this session's events.
    pub fn metadata(&self) -> &SessionMetadata {
        &self.metadata
    }

    /// Emits `event` stamped with the current time.
    #[inline]
    pub fn emit(&self, event: EventData<'_>) {
        if let Some(inner) = &self.telemetry.inner {
            self.enqueue(inner, SystemTime::now(), event);
        }
    }

    /// Emits `event` stamped with `time` (to backfill a past event).
    #[inline]
    pub fn emit_at(&self, time: SystemTime, event: EventData<'_>) {
        if let Some(inner) = &self.telemetry.inner {
            self.enqueue(inner, time, event);
        }
    }

    fn enqueue(&self, inner: &Inner, time: SystemTime, event: EventData<'_>) {
        inner.pipeline.emit(Event::new(
            time,
            Arc::clone(&self.metadata),
            event,
            inner.log_user_prompt,
        ));
    }

    /// `<prefix>.api_request`.
    #[inline]
    pub fn api_request(&self, event: ApiRequest<'_>) {
        self.emit(EventData::ApiRequest(event));
    }

    /// `<prefix>.sse_event`.
    #[inline]
    pub fn sse_event(&self, event: SseEvent<'_>) {
        self.emit(EventData::SseEvent(event));
    }

    /// `<prefix>.user_prompt`; the text is exported only with `log_user_prompt`.
    #[inline]
    pub fn user_prompt(&self, prompt: &str) {
        self.emit(EventData::UserPrompt(prompt));
    }

    /// `<prefix>.tool_decision`.
    #[inline]
    pub fn tool_decision(&self, event: ToolDecisionEvent<'_>) {
        self.emit(EventData::ToolDecision(event));
    }

    /// `<prefix>.tool_result`.
    #[inline]
    pub fn tool_result(&self, event: ToolResult<'_>) {
        self.emit(EventData::ToolResult(event));
    }
}
