//! The export pipeline: a bounded queue drained by a worker thread that owns
//! its own tokio runtime, batches events by count and time, encodes them
//! once, and delivers each batch with retry, backoff, jitter and deadlines.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::task::Poll;
use std::thread;
use std::time::{Duration, SystemTime};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio::time::{Instant, sleep_until, timeout_at};

use crate::event::{Event, SessionMetadata};
use crate::exporter::{ExportError, ExportOutcome, Exporter, FailureKind};
use crate::metrics::derive::MetricDeriver;
use crate::otlp::metrics::MetricsEncoder;
use crate::otlp::traces::TracesEncoder;
use crate::otlp::{Batch, OtlpEncoder};
use crate::queue::{EventQueue, QueueFull};
use crate::registry::SessionRegistry;
use crate::replay::Route;
use crate::resource::TelemetryOptions;
use crate::retry::{FAR_FUTURE, RetryPolicy, RetrySchedule, after};
use crate::spill::{Spill, spill};
use crate::spool::{Spool, SpoolOptions};
use crate::stats::{AttributeCounts, DropReason, PipelineStats, StatsCounters};
use crate::telemetry::SignalExporters;
use crate::trace::spans::SpanDeriver;

/// Queueing, batching and delivery settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Events the queue holds before new ones are dropped (default 2048;
    /// at most [`MAX_QUEUE_CAPACITY`], the slots are allocated up front).
    pub queue_capacity: usize,
    /// Events per export request at most (default 512; at most
    /// [`MAX_BATCH_SIZE`]).
    pub max_batch_size: usize,
    /// How long the first event of a batch waits for more (default 1 s).
    pub batch_timeout: Duration,
    /// Timeout of one export attempt (default 10 s, as OTLP specifies),
    /// for exporters without their own ([`Exporter::request_timeout`]).
    pub request_timeout: Duration,
    /// Retry policy for retryable failures.
    pub retry: RetryPolicy,
    /// Export requests in flight at once (default 4): the next batch is
    /// encoded and sent while the collector still works on the previous
    /// one. 1 sends strictly one after another (batches then arrive in
    /// order).
    pub max_concurrent_exports: usize,
    /// Largest encoded request (default 4 MiB, a collector's default gRPC
    /// limit). Bigger batches are split; a single string value longer than a
    /// quarter of it is truncated with a visible marker.
    pub max_request_bytes: usize,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 2048,
            max_batch_size: 512,
            batch_timeout: Duration::from_secs(1),
            request_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            max_concurrent_exports: 4,
            max_request_bytes: 4 * 1024 * 1024,
        }
    }
}

/// The pipeline could not start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A setting is out of range.
    #[error("invalid pipeline option `{option}`: {reason}")]
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Why it is invalid.
        reason: &'static str,
    },
    /// The worker thread or its runtime could not be created.
    #[error("cannot start the export worker: {0}")]
    Worker(#[from] std::io::Error),
}

/// `force_flush` or `shutdown` did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlushError {
    /// The deadline passed first. On flush, delivery goes on in the
    /// background; on shutdown, what was left is counted as dropped.
    #[error("timed out before every queued event was delivered")]
    Timeout,
    /// `shutdown` was already called.
    #[error("the pipeline is shut down")]
    ShutDown,
}

enum Control {
    Flush(std_mpsc::SyncSender<()>),
    /// The last handle of session `id` is gone.
    Retire(u64),
    Shutdown {
        deadline: Instant,
        /// Answered with `true` when everything queued was delivered.
        done: std_mpsc::SyncSender<bool>,
    },
}

/// Extra time the host waits past a shutdown deadline for the worker's
/// answer, covering thread scheduling only.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(25);

/// Host side of a running pipeline.
pub(crate) struct Pipeline {
    events: Arc<EventQueue>,
    sessions: Arc<SessionRegistry>,
    control: mpsc::UnboundedSender<Control>,
    stats: Arc<StatsCounters>,
    /// False when only spans are exported: events are then not counted as
    /// log records.
    logs_enabled: bool,
    /// Spans: `emitted` counts the sampled spans derived.
    trace_stats: Arc<StatsCounters>,
    /// Metrics: `emitted` counts the data points collected.
    metric_stats: Arc<StatsCounters>,
    shut_down: AtomicBool,
    /// Disconnected when the worker thread has exited.
    stopped: std::sync::Mutex<std_mpsc::Receiver<()>>,
}

impl Pipeline {
    pub(crate) fn start(
        telemetry: &TelemetryOptions,
        exporters: SignalExporters,
        options: PipelineOptions,
        spool: Option<SpoolOptions>,
    ) -> Result<Self, PipelineError> {
        validate(&options)?;
        if exporters.metrics.is_some() && telemetry.metrics.interval.is_zero() {
            return Err(PipelineError::InvalidOption {
                option: "metrics.interval",
                reason: "must be longer than zero",
            });
        }
        let SignalExporters {
            logs: exporter,
            traces,
            metrics,
        } = exporters;
        let events = Arc::new(EventQueue::new(
            options.queue_capacity,
            options.max_batch_size.min(options.queue_capacity),
        ));
        let logs_enabled = exporter.is_some();
        let (control, control_rx) = mpsc::unbounded_channel();
        let stats = Arc::new(StatsCounters::default());
        let trace_stats = Arc::new(StatsCounters::default());
        let metric_stats = Arc::new(StatsCounters::default());
        let sessions = Arc::new(SessionRegistry::default());
        let traces = traces.map(|exporter| TraceExport {
            deriver: SpanDeriver::new(&telemetry.resource.service_name),
            encoder: TracesEncoder::new(
                telemetry.resource.to_proto(),
                telemetry.scope_to_proto(),
                options.max_request_bytes,
            ),
            route: Route {
                exporter: Arc::from(exporter),
                stats: Arc::clone(&trace_stats),
            },
        });
        let metrics = metrics.map(|exporter| MetricExport {
            deriver: MetricDeriver::new(&telemetry.metrics, SystemTime::now()),
            encoder: MetricsEncoder::new(
                telemetry.resource.to_proto(),
                telemetry.scope_to_proto(),
                &telemetry.event_prefix,
                options.max_request_bytes,
            ),
            route: Route {
                exporter: Arc::from(exporter),
                stats: Arc::clone(&metric_stats),
            },
            interval: telemetry.metrics.interval,
            due: after(telemetry.metrics.interval),
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .thread_name("agent-otel-export")
            .build()?;
        let worker = Worker {
            encoder: OtlpEncoder::new(telemetry, options.max_request_bytes)
                .with_sessions(Arc::clone(&sessions)),
            sessions: Arc::clone(&sessions),
            retiring: Vec::new(),
            retired: Vec::new(),
            exporter: exporter.map(Arc::from),
            traces,
            metrics,
            exports: Arc::new(Semaphore::new(options.max_concurrent_exports)),
            options,
            stats: Arc::clone(&stats),
            events: Arc::clone(&events),
            control: ControlInbox {
                rx: control_rx,
                pending: VecDeque::new(),
                deadline: watch::channel(None).0,
                spool_reserve: false,
            },
            spool_options: spool,
            spool: None,
            replay: None,
        };
        let (alive, stopped) = std_mpsc::sync_channel::<()>(0);
        thread::Builder::new()
            .name("agent-otel-export".to_owned())
            .spawn(move || {
                // Dropped when the thread ends: `wait_stopped` sees it.
                let _alive = alive;
                runtime.block_on(worker.run());
                // Never wait long for stray blocking tasks (DNS lookups).
                runtime.shutdown_timeout(Duration::from_millis(50));
            })?;
        Ok(Self {
            events,
            sessions,
            control,
            stats,
            logs_enabled,
            trace_stats,
            metric_stats,
            shut_down: AtomicBool::new(false),
            stopped: std::sync::Mutex::new(stopped),
        })
    }

    /// Blocks until the worker thread has exited (after `shutdown`, with
    /// every event accounted for) or `timeout` passes; true when it has.
    pub(crate) fn wait_stopped(&self, timeout: Duration) -> bool {
        let stopped = self
            .stopped
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        matches!(
            stopped.recv_timeout(timeout),
            Err(std_mpsc::RecvTimeoutError::Disconnected)
        )
    }

    /// Registers a session; its events carry the returned registration's id.
    pub(crate) fn register_session(&self, metadata: Arc<SessionMetadata>) -> SessionRegistration {
        SessionRegistration {
            id: self.sessions.register(metadata),
            control: self.control.clone(),
        }
    }

    #[cfg(test)]
    pub(crate) fn registered_sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Enqueues without blocking; a full or closed queue drops and counts.
    #[inline]
    pub(crate) fn emit(&self, event: Event) {
        if !self.logs_enabled {
            // Only spans are exported: the event is a marker's sibling,
            // shaping spans without being a record of its own.
            return self.emit_marker(event);
        }
        self.stats.emitted();
        if self.shut_down.load(Ordering::Relaxed) {
            self.stats.dropped(DropReason::AfterShutdown, 1);
            return;
        }
        if let Err(QueueFull) = self.events.push(event) {
            self.stats.dropped(DropReason::QueueFull, 1);
        }
    }

    /// Queues a turn marker: not a log record, so not counted; lost
    /// without a trace when the queue is full (the turn then starts at its
    /// first event, or ends at shutdown).
    pub(crate) fn emit_marker(&self, event: Event) {
        if !self.shut_down.load(Ordering::Relaxed) {
            let _ = self.events.push(event);
        }
    }

    /// The counters of the traces signal.
    pub(crate) fn trace_stats(&self) -> PipelineStats {
        self.trace_stats.snapshot()
    }

    /// The counters of the metrics signal.
    pub(crate) fn metric_stats(&self) -> PipelineStats {
        self.metric_stats.snapshot()
    }

    pub(crate) fn stats(&self) -> PipelineStats {
        // An emit that raced `shutdown` may have queued its event after the
        // worker's last look: count such stragglers as dropped.
        if self.events.is_stopped() {
            drop_stragglers(&self.events, &self.stats, self.logs_enabled);
        }
        self.stats.snapshot()
    }

    pub(crate) fn force_flush(&self, timeout: Duration) -> Result<(), FlushError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(FlushError::ShutDown);
        }
        let (done, wait) = std_mpsc::sync_channel(1);
        self.control
            .send(Control::Flush(done))
            .map_err(|_| FlushError::ShutDown)?;
        match wait.recv_timeout(timeout) {
            Ok(()) => Ok(()),
            Err(std_mpsc::RecvTimeoutError::Timeout) => Err(FlushError::Timeout),
            Err(std_mpsc::RecvTimeoutError::Disconnected) => Err(FlushError::ShutDown),
        }
    }

    pub(crate) fn shutdown(&self, timeout: Duration) -> Result<(), FlushError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Err(FlushError::ShutDown);
        }
        let deadline = after(timeout);
        let (done, wait) = std_mpsc::sync_channel(1);
        self.control
            .send(Control::Shutdown { deadline, done })
            .map_err(|_| FlushError::ShutDown)?;
        match wait.recv_timeout(timeout.saturating_add(SHUTDOWN_GRACE)) {
            Ok(true) => Ok(()),
            Ok(false) | Err(_) => Err(FlushError::Timeout),
        }
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }
}

/// Counts events queued after the worker stopped (emits that raced
/// `shutdown`) as dropped.
fn drop_stragglers(events: &EventQueue, stats: &StatsCounters, logs_enabled: bool) {
    while let Some(event) = events.pop() {
        if logs_enabled && !event.is_turn_marker() {
            stats.dropped(DropReason::AfterShutdown, 1);
        }
    }
}

/// Largest `queue_capacity`: the queue's slots are allocated up front.
pub const MAX_QUEUE_CAPACITY: usize = 1 << 20;

/// Largest `max_batch_size`.
pub const MAX_BATCH_SIZE: usize = 1 << 16;

/// Largest `max_concurrent_exports`.
pub const MAX_CONCURRENT_EXPORTS: usize = 64;

/// Runs one export attempt; an exporter that panics fails the attempt
/// (permanently) instead of killing the worker and its accounting.
async fn guarded_export(exporter: &dyn Exporter, batch: &Batch) -> ExportOutcome {
    let mut attempt = exporter.export(batch);
    std::future::poll_fn(move |cx| {
        match std::panic::catch_unwind(AssertUnwindSafe(|| attempt.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(_) => Poll::Ready(ExportOutcome::permanent(ExportError::new(
                FailureKind::Exporter,
                "the exporter panicked",
            ))),
        }
    })
    .await
}

fn validate(options: &PipelineOptions) -> Result<(), PipelineError> {
    let invalid = |option, reason| Err(PipelineError::InvalidOption { option, reason });
    if options.queue_capacity == 0 || options.queue_capacity > MAX_QUEUE_CAPACITY {
        return invalid("queue_capacity", "must be between 1 and 1048576");
    }
    if options.max_batch_size == 0 || options.max_batch_size > MAX_BATCH_SIZE {
        return invalid("max_batch_size", "must be between 1 and 65536");
    }
    if options.max_concurrent_exports == 0
        || options.max_concurrent_exports > MAX_CONCURRENT_EXPORTS
    {
        return invalid("max_concurrent_exports", "must be between 1 and 64");
    }
    if options.request_timeout.is_zero() {
        return invalid("request_timeout", "must be longer than zero");
    }
    Ok(())
}

/// A session's place in the registry, shared by the clones of one
/// [`crate::Session`]; dropping the last clone tells the worker.
pub(crate) struct SessionRegistration {
    pub(crate) id: u64,
    control: mpsc::UnboundedSender<Control>,
}

impl Drop for SessionRegistration {
    fn drop(&mut self) {
        // After shutdown nobody listens, and nothing is left to free.
        let _ = self.control.send(Control::Retire(self.id));
    }
}

/// Control messages seen by the worker, and the hard deadline set by
/// `shutdown`, published to the export tasks, which cut any attempt or
/// backoff short when it passes.
struct ControlInbox {
    rx: mpsc::UnboundedReceiver<Control>,
    pending: VecDeque<Control>,
    /// The shutdown deadline, once set; read by every export task.
    deadline: watch::Sender<Option<Instant>>,
    /// With a spool, exports stop a little before the host's deadline so
    /// that spooling what is left fits inside it.
    spool_reserve: bool,
}

/// Longest time kept back from a shutdown deadline for spooling.
const MAX_SPOOL_RESERVE: Duration = Duration::from_millis(250);

impl ControlInbox {
    fn accept(&mut self, control: Control) {
        if let Control::Shutdown { deadline, .. } = &control {
            self.set_deadline(*deadline);
        }
        self.pending.push_back(control);
    }

    fn set_deadline(&mut self, deadline: Instant) {
        let deadline = if self.spool_reserve {
            let left = deadline.saturating_duration_since(Instant::now());
            deadline
                .checked_sub((left / 4).min(MAX_SPOOL_RESERVE))
                .unwrap_or(deadline)
        } else {
            deadline
        };
        self.deadline.send_modify(|current| {
            *current = Some(current.map_or(deadline, |d| d.min(deadline)));
        });
    }

    fn deadline(&self) -> Option<Instant> {
        *self.deadline.borrow()
    }

    fn passed(&self) -> bool {
        self.deadline().is_some_and(|d| Instant::now() >= d)
    }

    fn next(&mut self) -> Option<Control> {
        if let Some(control) = self.pending.pop_front() {
            return Some(control);
        }
        let control = self.rx.try_recv().ok()?;
        self.accept(control);
        self.pending.pop_front()
    }
}

/// Resolves when the published shutdown deadline passes.
async fn deadline_passed(deadline: &mut watch::Receiver<Option<Instant>>) {
    loop {
        let current = *deadline.borrow_and_update();
        match current {
            Some(at) => {
                tokio::select! {
                    () = sleep_until(at) => return,
                    changed = deadline.changed() => {
                        if changed.is_err() {
                            sleep_until(at).await;
                            return;
                        }
                    }
                }
            }
            None => {
                if deadline.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
        }
    }
}

/// What the worker needs to export spans.
struct TraceExport {
    deriver: SpanDeriver,
    encoder: TracesEncoder,
    route: Route,
}

/// What the worker needs to derive and export metrics.
struct MetricExport {
    deriver: MetricDeriver,
    encoder: MetricsEncoder,
    route: Route,
    /// Time between periodic exports.
    interval: Duration,
    /// When the next periodic export is due.
    due: Instant,
}

struct Worker {
    encoder: OtlpEncoder,
    /// The logs exporter; `None` when only spans are exported.
    exporter: Option<Arc<dyn Exporter>>,
    traces: Option<TraceExport>,
    metrics: Option<MetricExport>,
    /// One permit per export request allowed in flight.
    exports: Arc<Semaphore>,
    options: PipelineOptions,
    stats: Arc<StatsCounters>,
    events: Arc<EventQueue>,
    control: ControlInbox,
    sessions: Arc<SessionRegistry>,
    /// Sessions whose last handle is gone; their events may still be queued.
    retiring: Vec<u64>,
    /// Retiring sessions whose events are all out of the queue; forgotten
    /// once the buffer holding them is encoded.
    retired: Vec<u64>,
    /// `[otel.spool]`, opened when the worker starts.
    spool_options: Option<SpoolOptions>,
    /// The open spool: batches that cannot be delivered go there.
    spool: Option<Arc<Spill>>,
    /// The replay of what earlier processes spooled.
    replay: Option<tokio::task::JoinHandle<()>>,
}

impl Worker {
    async fn run(mut self) {
        self.open_spool();
        let mut buffer: Vec<Event> = Vec::with_capacity(self.options.max_batch_size.min(4096));
        let mut batch_due: Option<Instant> = None;
        loop {
            if self.metrics_due().is_some_and(|due| Instant::now() >= due) {
                self.deliver_metrics().await;
            }
            if let Some(control) = self.control.next() {
                match control {
                    Control::Flush(done) => {
                        self.drain_queue(&mut buffer);
                        self.deliver_all(&mut buffer).await;
                        self.deliver_metrics().await;
                        self.exports_finished().await;
                        batch_due = None;
                        // The host may have stopped waiting: ignore a closed channel.
                        let _ = done.send(());
                    }
                    Control::Retire(id) => self.retiring.push(id),
                    Control::Shutdown { done, .. } => {
                        self.finish(&mut buffer).await;
                        // Spooled at the deadline is not delivered either.
                        let delivered = self.cut_at_deadline() == 0;
                        let _ = done.send(delivered);
                        return;
                    }
                }
                continue;
            }
            if buffer.is_empty() {
                self.take(&mut buffer);
                if buffer.is_empty() {
                    // Idle: sleep until an event or a control message. The
                    // timeout only bounds the cost of a missed wake-up.
                    if self.events.park() {
                        let metrics_due = self.metrics_due();
                        tokio::select! {
                            biased;
                            control = self.control.rx.recv() => match control {
                                Some(control) => self.control.accept(control),
                                None => return self.orphaned(&mut buffer).await,
                            },
                            () = self.events.woken() => {}
                            () = tokio::time::sleep(self.options.batch_timeout) => {}
                            () = sleep_until(metrics_due.unwrap_or_else(|| after(FAR_FUTURE))), if metrics_due.is_some() => {}
                        }
                        self.events.unpark();
                    }
                    continue;
                }
                batch_due = Some(after(self.options.batch_timeout));
            }
            if buffer.len() < self.options.max_batch_size {
                let due = batch_due.unwrap_or_else(Instant::now);
                let metrics_due = self.metrics_due();
                // Collecting: producers only signal once a full batch waits.
                tokio::select! {
                    biased;
                    control = self.control.rx.recv() => match control {
                        Some(control) => {
                            self.control.accept(control);
                            continue;
                        }
                        None => return self.orphaned(&mut buffer).await,
                    },
                    () = sleep_until(metrics_due.unwrap_or_else(|| after(FAR_FUTURE))), if metrics_due.is_some_and(|m| m < due) => continue,
                    () = self.events.woken() => {
                        self.take(&mut buffer);
                        if buffer.len() < self.options.max_batch_size {
                            continue;
                        }
                    }
                    () = sleep_until(due) => self.take(&mut buffer),
                }
            }
            self.deliver_all(&mut buffer).await;
            batch_due = None;
        }
    }

    /// Opens the spool (on the worker: start-up never waits for the disk),
    /// counts what tidying it evicted, and starts replaying it in the
    /// background. A spool that cannot be opened is counted and left off.
    fn open_spool(&mut self) {
        let Some(options) = self.spool_options.take() else {
            return;
        };
        match Spool::open(options) {
            Ok((spool, report)) => {
                self.stats.spool_dropped(report.evicted.records);
                let spool = Arc::new(spool);
                self.control.spool_reserve = true;
                self.replay = Some(tokio::spawn(
                    crate::replay::Replay {
                        spool: Arc::clone(&spool),
                        logs: self.exporter.as_ref().map(|exporter| Route {
                            exporter: Arc::clone(exporter),
                            stats: Arc::clone(&self.stats),
                        }),
                        errors: Arc::clone(&self.stats),
                        traces: self.traces.as_ref().map(|traces| traces.route.clone()),
                        metrics: self.metrics.as_ref().map(|metrics| metrics.route.clone()),
                        options: self.options,
                        deadline: self.control.deadline.subscribe(),
                    }
                    .run(),
                ));
                // A merged file is one request, and leaves room in the spool.
                let max_merge = usize::try_from(spool.options().max_bytes / 4)
                    .unwrap_or(usize::MAX)
                    .min(self.options.max_request_bytes);
                self.spool = Some(Arc::new(Spill::new(spool, max_merge)));
            }
            Err(error) => self.stats.spool_error(&error),
        }
    }

    /// Moves queued events into `buffer`, up to one batch.
    fn take(&mut self, buffer: &mut Vec<Event>) {
        self.events.batch_taken();
        while buffer.len() < self.options.max_batch_size {
            match self.events.pop() {
                Some(event) => self.accept(event, buffer),
                None => return self.queue_emptied(),
            }
        }
    }

    /// Moves every queued event into `buffer`.
    fn drain_queue(&mut self, buffer: &mut Vec<Event>) {
        self.events.batch_taken();
        while let Some(event) = self.events.pop() {
            self.accept(event, buffer);
        }
        self.queue_emptied();
    }

    /// Takes one event off the queue: an event of a turn shapes that turn's
    /// spans (in queue order), and every event but a turn marker waits in
    /// `buffer` to become a log record.
    fn accept(&mut self, mut event: Event, buffer: &mut Vec<Event>) {
        let traced = self.traces.is_some() && event.trace.is_some();
        if traced || self.metrics.is_some() {
            let session = self.encoder.session_of(&event).unwrap_or_default();
            if let Some(metrics) = &mut self.metrics {
                metrics.deriver.observe(&event, &session);
            }
            if let Some(traces) = self.traces.as_mut().filter(|_| traced) {
                traces.deriver.observe(&mut event, &session);
            }
        }
        if !event.is_turn_marker() {
            buffer.push(event);
        }
    }

    /// The queue was seen empty: every event of a session retired before
    /// now is in the buffer (its emits happened before its last handle was
    /// dropped, and that before the worker read the retirement).
    fn queue_emptied(&mut self) {
        self.retired.append(&mut self.retiring);
    }

    /// Delivers what is queued (bounded by the shutdown deadline), closes
    /// the exporter and stops; emits from now on are dropped and counted.
    async fn finish(&mut self, buffer: &mut Vec<Event>) {
        self.drain_queue(buffer);
        if let Some(traces) = &mut self.traces {
            traces.deriver.end_all(SystemTime::now());
        }
        self.deliver_all(buffer).await;
        self.deliver_metrics().await;
        self.exports_finished().await;
        if let Some(replay) = self.replay.take() {
            // It stops by the (published) deadline at the latest.
            let _ = replay.await;
        }
        if let Some(spool) = &self.spool {
            spool.flush();
        }
        self.close_exporter().await;
        self.events.mark_stopped();
        drop_stragglers(&self.events, &self.stats, self.exporter.is_some());
    }

    /// Every host handle is gone without a shutdown: deliver what is queued
    /// within the default deadline, then stop.
    async fn orphaned(&mut self, buffer: &mut Vec<Event>) {
        self.control
            .set_deadline(after(crate::DEFAULT_SHUTDOWN_TIMEOUT));
        self.finish(buffer).await;
    }

    /// Encodes `buffer` in batches of at most `max_batch_size` and hands
    /// each to an export task, waiting for a free slot when
    /// `max_concurrent_exports` are in flight. Once the shutdown deadline
    /// has passed, what is left is counted as dropped.
    async fn deliver_all(&mut self, buffer: &mut Vec<Event>) {
        let Some(exporter) = self.exporter.clone() else {
            // Logs are not exported: the events only shaped spans.
            buffer.clear();
            self.deliver_spans().await;
            self.forget_retired();
            return;
        };
        let format = exporter.wire_format();
        let mut cut = false;
        for chunk in buffer.chunks(self.options.max_batch_size) {
            if cut || self.control.passed() {
                cut = true;
                match &self.spool {
                    Some(spool) => {
                        for batch in self.encoder.encode_as(chunk, format) {
                            spool.batch(&batch, DropReason::ShutdownDeadline, true, &self.stats);
                        }
                    }
                    None => self
                        .stats
                        .dropped(DropReason::ShutdownDeadline, chunk.len() as u64),
                }
                continue;
            }
            let mut counts = AttributeCounts::default();
            let batches = self.encoder.encode_counted(chunk, format, &mut counts);
            self.stats.attributes(&counts);
            let route = Route {
                exporter: Arc::clone(&exporter),
                stats: Arc::clone(&self.stats),
            };
            for batch in batches {
                cut = !self.dispatch(batch, &route, cut).await;
            }
        }
        buffer.clear();
        self.deliver_spans().await;
        // The buffer is encoded: retired sessions can go.
        self.forget_retired();
    }

    /// Forgets the retired sessions whose events are all encoded.
    fn forget_retired(&mut self) {
        self.sessions.remove(&self.retired);
        if let Some(metrics) = &mut self.metrics {
            metrics.deriver.retire(&self.retired);
        }
        self.retired.clear();
    }

    /// Records of every signal (log records, spans, data points) the
    /// shutdown deadline cut, dropped or spooled.
    fn cut_at_deadline(&self) -> u64 {
        self.stats.cut_at_deadline()
            + self
                .traces
                .as_ref()
                .map_or(0, |traces| traces.route.stats.cut_at_deadline())
            + self
                .metrics
                .as_ref()
                .map_or(0, |metrics| metrics.route.stats.cut_at_deadline())
    }

    /// When the next periodic metrics export is due (`None`: no metrics).
    fn metrics_due(&self) -> Option<Instant> {
        self.metrics.as_ref().map(|metrics| metrics.due)
    }

    /// Collects the metrics (what the temporality says: the interval's
    /// deltas or the totals), hands their batches to export tasks, and
    /// schedules the next periodic export.
    async fn deliver_metrics(&mut self) {
        let Some(metrics) = &mut self.metrics else {
            return;
        };
        metrics.due = after(metrics.interval);
        metrics
            .route
            .stats
            .overflowed(metrics.deriver.take_overflowed());
        let Some(collection) = metrics.deriver.collect(SystemTime::now()) else {
            return;
        };
        metrics.route.stats.emitted_n(collection.points() as u64);
        let batches = metrics
            .encoder
            .encode(&collection, metrics.route.exporter.wire_format());
        let route = metrics.route.clone();
        let mut cut = false;
        for batch in batches {
            cut = !self.dispatch(batch, &route, cut).await;
        }
    }

    /// Encodes the spans finished so far and hands each batch to an export
    /// task, as [`Worker::deliver_all`] does for log records.
    async fn deliver_spans(&mut self) {
        let Some(traces) = &mut self.traces else {
            return;
        };
        let spans = traces.deriver.take();
        if spans.is_empty() {
            return;
        }
        traces.route.stats.emitted_n(spans.len() as u64);
        let batches = traces
            .encoder
            .encode(spans, traces.route.exporter.wire_format());
        let route = traces.route.clone();
        let mut cut = false;
        for batch in batches {
            cut = !self.dispatch(batch, &route, cut).await;
        }
    }

    /// Hands one encoded batch of any signal to an export task once a slot
    /// is free. Past the shutdown deadline (or once an earlier batch of the
    /// same delivery was `cut`) it is spooled or counted as dropped instead.
    /// Returns whether the batch went to an export task.
    async fn dispatch(&mut self, batch: Batch, route: &Route, cut: bool) -> bool {
        let slot = if cut || self.control.passed() {
            None
        } else {
            self.export_slot().await
        };
        let Some(permit) = slot.filter(|_| !self.control.passed()) else {
            spill(
                self.spool.as_deref(),
                &batch,
                &route.stats,
                DropReason::ShutdownDeadline,
                true,
            );
            return false;
        };
        tokio::spawn(deliver(
            Arc::clone(&route.exporter),
            batch,
            Arc::clone(&route.stats),
            self.options,
            self.control.deadline.subscribe(),
            self.spool.clone(),
            permit,
        ));
        true
    }

    /// Waits for a free export slot, reading control messages meanwhile (a
    /// shutdown must reach the running exports); `None` once the shutdown
    /// deadline has passed.
    async fn export_slot(&mut self) -> Option<OwnedSemaphorePermit> {
        loop {
            let deadline = self.control.deadline();
            tokio::select! {
                biased;
                permit = Arc::clone(&self.exports).acquire_owned() => return permit.ok(),
                control = self.control.rx.recv() => match control {
                    Some(control) => self.control.accept(control),
                    // Every host handle is gone: finish within the default deadline.
                    None => self.control.set_deadline(after(crate::DEFAULT_SHUTDOWN_TIMEOUT)),
                },
                () = sleep_until(deadline.unwrap_or_else(|| after(FAR_FUTURE))), if deadline.is_some() => {
                    return None;
                }
            }
        }
    }

    /// Waits until no export is in flight, reading control messages
    /// meanwhile. Bounded by the shutdown deadline: exports stop there.
    async fn exports_finished(&mut self) {
        let all = u32::try_from(self.options.max_concurrent_exports).unwrap_or(u32::MAX);
        loop {
            tokio::select! {
                biased;
                permits = Arc::clone(&self.exports).acquire_many_owned(all) => {
                    drop(permits);
                    return;
                }
                control = self.control.rx.recv() => match control {
                    Some(control) => self.control.accept(control),
                    None => self.control.set_deadline(after(crate::DEFAULT_SHUTDOWN_TIMEOUT)),
                },
            }
        }
    }

    async fn close_exporter(&mut self) {
        let deadline = self
            .control
            .deadline()
            .unwrap_or_else(|| after(crate::DEFAULT_SHUTDOWN_TIMEOUT));
        // A transport that will not close in time is abandoned.
        if let Some(exporter) = &self.exporter {
            let _ = timeout_at(deadline, exporter.shutdown()).await;
        }
        let others = [
            self.traces.as_ref().map(|traces| &traces.route),
            self.metrics.as_ref().map(|metrics| &metrics.route),
        ];
        for route in others.into_iter().flatten() {
            let _ = timeout_at(deadline, route.exporter.shutdown()).await;
        }
    }
}

/// Sends one batch and counts every record of it exactly once: exported,
/// rejected, dropped, or spooled when it could not be delivered (retry
/// budget spent, shutdown deadline) and a spool is open; then frees its
/// export slot.
async fn deliver(
    exporter: Arc<dyn Exporter>,
    batch: Batch,
    stats: Arc<StatsCounters>,
    options: PipelineOptions,
    mut deadline: watch::Receiver<Option<Instant>>,
    spool: Option<Arc<Spill>>,
    _slot: OwnedSemaphorePermit,
) {
    let records = batch.len() as u64;
    match send(&*exporter, &batch, &stats, &options, &mut deadline).await {
        Sent::Accepted => stats.exported(records),
        Sent::PartiallyRejected(rejected) => {
            let rejected = rejected.min(records);
            stats.rejected(rejected);
            stats.exported(records - rejected);
        }
        Sent::Refused => stats.dropped(DropReason::PermanentFailure, records),
        Sent::GaveUp(reason) => {
            // Once shutdown has begun, batches are spooled together at its end.
            let shutting = deadline.borrow().is_some();
            spill(spool.as_deref(), &batch, &stats, reason, shutting);
        }
    }
}

/// How sending one batch ended.
pub(crate) enum Sent {
    /// Every record was accepted.
    Accepted,
    /// Accepted with this many records rejected (never retried).
    PartiallyRejected(u64),
    /// Refused for good (never retried, never spooled).
    Refused,
    /// Not delivered: the retry budget was spent on retryable failures, or
    /// the shutdown deadline passed.
    GaveUp(DropReason),
}

/// Sends one batch until it is accepted, permanently refused, out of retry
/// budget, or cut by the shutdown deadline; counts requests, failures and
/// retries (not records).
pub(crate) async fn send(
    exporter: &dyn Exporter,
    batch: &Batch,
    stats: &StatsCounters,
    options: &PipelineOptions,
    deadline: &mut watch::Receiver<Option<Instant>>,
) -> Sent {
    let mut schedule = RetrySchedule::start(options.retry);
    let request_timeout = exporter
        .request_timeout()
        .filter(|t| !t.is_zero())
        .unwrap_or(options.request_timeout);
    loop {
        stats.request();
        let attempt_end = after(request_timeout);
        let outcome = tokio::select! {
            biased;
            outcome = timeout_at(attempt_end, guarded_export(exporter, batch)) => {
                outcome.unwrap_or_else(|_| ExportOutcome::retryable(ExportError::new(
                    FailureKind::Timeout,
                    format!("no answer within {request_timeout:?}"),
                )))
            }
            () = deadline_passed(deadline) => {
                stats.failure(&ExportError::new(
                    FailureKind::Timeout,
                    "shutdown deadline passed during export",
                ));
                return Sent::GaveUp(DropReason::ShutdownDeadline);
            }
        };
        match outcome {
            ExportOutcome::Accepted => return Sent::Accepted,
            ExportOutcome::PartiallyRejected { rejected, .. } => {
                return Sent::PartiallyRejected(rejected);
            }
            ExportOutcome::Permanent { error } => {
                stats.failure(&error);
                return Sent::Refused;
            }
            ExportOutcome::Retryable { error, retry_after } => {
                stats.failure(&error);
                let Some(resume) = schedule.next_attempt(retry_after) else {
                    return Sent::GaveUp(DropReason::RetriesExhausted);
                };
                if deadline.borrow().is_some_and(|d| resume >= d) {
                    return Sent::GaveUp(DropReason::ShutdownDeadline);
                }
                tokio::select! {
                    biased;
                    () = sleep_until(resume) => {}
                    () = deadline_passed(deadline) => {
                        return Sent::GaveUp(DropReason::ShutdownDeadline);
                    }
                }
                stats.retry();
            }
        }
    }
}
