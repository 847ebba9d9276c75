//! The host-facing handle: [`Telemetry`] owns the pipeline, [`Session`]
//! stamps events with a session's metadata and enqueues them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::attribute::{ContentPolicy, PackedAttributes};
use crate::event::{
    ApiRequest, Event, EventBody, SessionMetadata, SessionRef, SseEvent, ToolDecisionEvent,
    ToolResult, TraceLink,
};
use crate::event_builder::EventBuilder;
use crate::exporter::Exporter;
use crate::pipeline::{FlushError, Pipeline, PipelineError, PipelineOptions, SessionRegistration};
use crate::resource::TelemetryOptions;
use crate::spool::SpoolOptions;
use crate::stats::PipelineStats;
use crate::trace::TraceOptions;
use crate::turn::Turn;

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
    content: ContentPolicy,
    trace: TraceOptions,
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
                .field("content", &inner.content)
                .finish_non_exhaustive(),
        }
    }
}

impl Telemetry {
    /// A handle that exports nothing and starts no thread.
    pub fn disabled() -> Self {
        Self { inner: None }
    }

    /// Starts the export pipeline on its own thread and runtime, exporting
    /// log events through `exporter`.
    pub fn new(
        options: TelemetryOptions,
        exporter: Box<dyn Exporter>,
        pipeline: PipelineOptions,
    ) -> Result<Self, PipelineError> {
        Self::with_exporters(
            options,
            SignalExporters {
                logs: Some(exporter),
                traces: None,
                metrics: None,
            },
            pipeline,
        )
    }

    /// Starts the export pipeline with an exporter per signal: log events,
    /// and the spans of turns when `traces` is set.
    pub fn with_exporters(
        options: TelemetryOptions,
        exporters: SignalExporters,
        pipeline: PipelineOptions,
    ) -> Result<Self, PipelineError> {
        Self::with_spool(options, exporters, pipeline, None)
    }

    /// Like [`Telemetry::with_exporters`], with a disk spool: batches that
    /// cannot be delivered (retry budget spent, shutdown deadline) are
    /// written there instead of dropped, and what earlier processes
    /// spooled is replayed in the background. The spool is opened on the
    /// worker thread, so a slow or unusable disk never delays start-up (an
    /// unusable spool is counted in [`PipelineStats::spool_errors`] and
    /// left off).
    pub fn with_spool(
        options: TelemetryOptions,
        exporters: SignalExporters,
        pipeline: PipelineOptions,
        spool: Option<SpoolOptions>,
    ) -> Result<Self, PipelineError> {
        let exporter_name = exporters
            .logs
            .as_ref()
            .or(exporters.traces.as_ref())
            .or(exporters.metrics.as_ref())
            .map_or("none", |e| e.name());
        let pipeline = Pipeline::start(&options, exporters, pipeline, spool)?;
        Ok(Self {
            inner: Some(Arc::new(Inner {
                pipeline,
                content: options.content,
                trace: options.trace,
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
        let metadata = Arc::new(metadata);
        let registration = self
            .inner
            .as_ref()
            .map(|inner| Arc::new(inner.pipeline.register_session(Arc::clone(&metadata))));
        Session {
            registration,
            telemetry: self.clone(),
            metadata,
        }
    }

    /// Counters of the traces signal: `emitted` counts the sampled spans
    /// derived from turns (all zero when traces are not exported).
    pub fn trace_stats(&self) -> PipelineStats {
        self.inner
            .as_ref()
            .map(|i| i.pipeline.trace_stats())
            .unwrap_or_default()
    }

    /// Counters of the metrics signal: `emitted` counts the data points
    /// collected, `overflowed` the measurements past an instrument's
    /// cardinality limit (all zero when metrics are not exported).
    pub fn metric_stats(&self) -> PipelineStats {
        self.inner
            .as_ref()
            .map(|i| i.pipeline.metric_stats())
            .unwrap_or_default()
    }

    /// Counters of the logs signal so far (all zero when disabled).
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

/// The exporters of a pipeline, one per signal.
#[derive(Debug)]
pub struct SignalExporters {
    /// Log events (every event the host emits); `None`: events are not
    /// exported as logs (and not counted in [`Telemetry::stats`]), only
    /// shape spans.
    pub logs: Option<Box<dyn Exporter>>,
    /// Spans of turns; `None`: no spans are derived or sent.
    pub traces: Option<Box<dyn Exporter>>,
    /// Metrics derived from the events; `None`: nothing is aggregated.
    pub metrics: Option<Box<dyn Exporter>>,
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

/// The catalog's emit methods, one per event kind, over the type's `emit`;
/// [`Session`] and [`Turn`] share them.
macro_rules! catalog_emitters {
    () => {
        /// `<prefix>.api_request` (in a turn, also a `chat` span).
        #[inline]
        pub fn api_request(&self, event: $crate::ApiRequest<'_>) {
            self.emit($crate::EventData::ApiRequest(event));
        }

        /// `<prefix>.sse_event` (in a turn, a completion's tokens go on the
        /// `chat` span).
        #[inline]
        pub fn sse_event(&self, event: $crate::SseEvent<'_>) {
            self.emit($crate::EventData::SseEvent(event));
        }

        /// `<prefix>.user_prompt`; the text is exported only with
        /// `log_user_prompt`.
        #[inline]
        pub fn user_prompt(&self, prompt: &str) {
            self.emit($crate::EventData::UserPrompt(prompt));
        }

        /// `<prefix>.tool_decision`.
        #[inline]
        pub fn tool_decision(&self, event: $crate::ToolDecisionEvent<'_>) {
            self.emit($crate::EventData::ToolDecision(event));
        }

        /// `<prefix>.tool_result` (in a turn, also an `execute_tool` span).
        #[inline]
        pub fn tool_result(&self, event: $crate::ToolResult<'_>) {
            self.emit($crate::EventData::ToolResult(event));
        }
    };
}
pub(crate) use catalog_emitters;

/// Emits events for one conversation. Cheap to clone; every method returns
/// at once, never blocks and never panics.
#[derive(Clone)]
pub struct Session {
    /// Dropped first: retiring the session must not wait for the pipeline
    /// (dropping `telemetry` may shut it down).
    registration: Option<Arc<SessionRegistration>>,
    telemetry: Telemetry,
    metadata: Arc<SessionMetadata>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("metadata", &self.metadata)
            .field("telemetry", &self.telemetry)
            .finish()
    }
}

impl Session {
    /// The metadata stamped on this session's events.
    pub fn metadata(&self) -> &SessionMetadata {
        &self.metadata
    }

    /// Emits `event` stamped with the current time.
    #[inline]
    pub fn emit(&self, event: EventData<'_>) {
        if self.registration.is_some() {
            self.enqueue(SystemTime::now(), event);
        }
    }

    /// Emits `event` stamped with `time` (to backfill a past event).
    #[inline]
    pub fn emit_at(&self, time: SystemTime, event: EventData<'_>) {
        if self.registration.is_some() {
            self.enqueue(time, event);
        }
    }

    /// Enqueues on the pipeline; the session is registered exactly when the
    /// telemetry is enabled.
    #[inline]
    fn enqueue(&self, time: SystemTime, event: EventData<'_>) {
        self.enqueue_in(time, event, None);
    }

    /// Enqueues `event`, in a turn's trace when `trace` is set.
    pub(crate) fn enqueue_in(
        &self,
        time: SystemTime,
        event: EventData<'_>,
        trace: Option<TraceLink>,
    ) {
        if let (Some(inner), Some(registration)) = (&self.telemetry.inner, &self.registration) {
            // Events name their session by id: threads emitting on one
            // session share no reference count.
            inner.pipeline.emit(
                Event::with_session(time, SessionRef::Id(registration.id), event, inner.content)
                    .in_trace(trace),
            );
        }
    }

    /// Enqueues a turn's start or end marker.
    pub(crate) fn enqueue_marker(&self, time: SystemTime, trace: TraceLink, marker: EventBody) {
        if let (Some(inner), Some(registration)) = (&self.telemetry.inner, &self.registration) {
            inner.pipeline.emit_marker(Event {
                time,
                session: SessionRef::Id(registration.id),
                body: marker,
                trace: Some(trace),
            });
        }
    }

    /// Starts a turn: its events carry the turn's trace, and it becomes an
    /// `invoke_agent` span (with `chat` and `execute_tool` children) when
    /// traces are exported. End it with [`Turn::end`] or by dropping it.
    pub fn turn(&self) -> Turn {
        self.turn_at(SystemTime::now())
    }

    /// Starts a turn that began at `time` (for a session replayed with
    /// backfilled times, as `emit_at` backfills events).
    pub fn turn_at(&self, time: SystemTime) -> Turn {
        let options = self
            .telemetry
            .inner
            .as_ref()
            .map(|inner| inner.trace)
            .unwrap_or_default();
        Turn::start(self, &options, time)
    }

    /// Starts a custom event named `name` (used as given, e.g.
    /// `codex.sandbox_outcome`): add typed attributes, then
    /// [`EventBuilder::emit`]. Costs nothing when telemetry is disabled.
    #[inline]
    pub fn event(&self, name: &str) -> EventBuilder<'_> {
        match (&self.telemetry.inner, &self.registration) {
            (Some(inner), Some(_)) => EventBuilder::new(self, name, inner.content),
            _ => EventBuilder::disabled(self),
        }
    }

    /// Queues a packed custom event (from [`EventBuilder::emit`]).
    pub(crate) fn enqueue_custom(
        &self,
        time: SystemTime,
        packed: PackedAttributes,
        trace: Option<TraceLink>,
    ) {
        if let (Some(inner), Some(registration)) = (&self.telemetry.inner, &self.registration) {
            inner
                .pipeline
                .emit(Event::custom(time, SessionRef::Id(registration.id), packed).in_trace(trace));
        }
    }

    catalog_emitters!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exporter::ExportOutcome;
    use crate::otlp::Batch;

    /// Accepts every batch.
    #[derive(Debug)]
    struct Accept;

    #[async_trait::async_trait]
    impl Exporter for Accept {
        async fn export(&self, _batch: &Batch) -> ExportOutcome {
            ExportOutcome::Accepted
        }

        fn name(&self) -> &'static str {
            "accept"
        }
    }

    fn registered(telemetry: &Telemetry) -> usize {
        telemetry
            .inner
            .as_ref()
            .map_or(0, |inner| inner.pipeline.registered_sessions())
    }

    #[test]
    fn a_dropped_session_is_forgotten_once_its_events_are_encoded() {
        let telemetry = Telemetry::new(
            TelemetryOptions::default(),
            Box::new(Accept),
            PipelineOptions::default(),
        )
        .expect("pipeline starts");
        let first = telemetry.session(SessionMetadata::default());
        let kept = telemetry.session(SessionMetadata::default());
        let clone = first.clone();
        first.user_prompt("one");
        assert_eq!(registered(&telemetry), 2);
        drop(first);
        clone.user_prompt("two");
        telemetry
            .force_flush(Duration::from_secs(20))
            .expect("flush");
        assert_eq!(registered(&telemetry), 2, "a clone still holds the session");
        drop(clone);
        telemetry
            .force_flush(Duration::from_secs(20))
            .expect("flush");
        assert_eq!(registered(&telemetry), 1, "only the kept session remains");
        kept.user_prompt("three");
        telemetry
            .shutdown(Duration::from_secs(20))
            .expect("shutdown");
        assert_eq!(telemetry.stats().exported, 3);
    }
}
