//! Pipeline accounting: every emitted event ends up exported, rejected,
//! dropped (with a reason) or spooled, and the counts are readable at any
//! time.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::exporter::{ExportError, FailureKind};

/// Why events were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The queue was full when the event was emitted.
    QueueFull,
    /// Every retry failed within the retry budget.
    RetriesExhausted,
    /// The collector answered with a non-retryable failure.
    PermanentFailure,
    /// Emitted after shutdown started.
    AfterShutdown,
    /// Still queued or in flight when the shutdown deadline passed.
    ShutdownDeadline,
}

impl DropReason {
    /// Every reason, in a stable order.
    pub const ALL: [DropReason; 5] = [
        DropReason::QueueFull,
        DropReason::RetriesExhausted,
        DropReason::PermanentFailure,
        DropReason::AfterShutdown,
        DropReason::ShutdownDeadline,
    ];

    /// Stable snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::RetriesExhausted => "retries_exhausted",
            DropReason::PermanentFailure => "permanent_failure",
            DropReason::AfterShutdown => "after_shutdown",
            DropReason::ShutdownDeadline => "shutdown_deadline",
        }
    }
}

/// What happened to attributes on the way to the wire: attributes are
/// never silently lost, and values cut by a limit are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AttributeCounts {
    /// Custom or session attributes dropped because their key collides with
    /// a common attribute (or, for an event attribute, a session one).
    pub dropped_collision: u64,
    /// Attributes dropped by the attribute count limit (also in each
    /// record's `dropped_attributes_count`).
    pub dropped_count_limit: u64,
    /// Attributes refused when built: an empty key, or nested too deep.
    pub dropped_invalid: u64,
    /// String values cut by the value length limit or the request ceiling.
    pub truncated: u64,
}

impl AttributeCounts {
    /// Adds `other` to these counts.
    pub fn add(&mut self, other: &AttributeCounts) {
        self.dropped_collision += other.dropped_collision;
        self.dropped_count_limit += other.dropped_count_limit;
        self.dropped_invalid += other.dropped_invalid;
        self.truncated += other.truncated;
    }

    /// Attributes dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped_collision + self.dropped_count_limit + self.dropped_invalid
    }
}

/// Number of `emitted` counter shards; threads beyond this share shards.
const EMIT_SHARDS: usize = 16;

/// One counter on its own cache line, so threads emitting at once do not
/// bounce a shared line on every emit.
#[derive(Debug, Default)]
#[repr(align(128))]
struct PaddedCounter(AtomicU64);

thread_local! {
    /// This thread's `emitted` shard, assigned round-robin on first emit.
    static EMIT_SHARD: usize = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed) % EMIT_SHARDS
    };
}

/// Live counters shared by the emitting threads and the worker.
#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    emitted: [PaddedCounter; EMIT_SHARDS],
    exported: AtomicU64,
    rejected: AtomicU64,
    dropped: [AtomicU64; 5],
    failures: [AtomicU64; 7],
    retries: AtomicU64,
    requests: AtomicU64,
    last_error: Mutex<Option<ExportError>>,
    attributes: Mutex<AttributeCounts>,
    overflowed: AtomicU64,
    spool: SpoolCounters,
}

/// The spool's counters (see [`PipelineStats::spooled`]).
#[derive(Debug, Default)]
struct SpoolCounters {
    spooled: AtomicU64,
    /// Of `spooled`: cut by the shutdown deadline.
    spooled_at_deadline: AtomicU64,
    replayed: AtomicU64,
    dropped: AtomicU64,
    errors: AtomicU64,
    last_error: Mutex<Option<String>>,
}

impl StatsCounters {
    #[inline]
    pub(crate) fn emitted(&self) {
        let shard = EMIT_SHARD.with(|shard| *shard);
        self.emitted[shard].0.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` records produced on the worker (spans, data points).
    pub(crate) fn emitted_n(&self, n: u64) {
        self.emitted[0].0.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn exported(&self, n: u64) {
        self.exported.fetch_add(n, Ordering::Release);
    }

    pub(crate) fn rejected(&self, n: u64) {
        self.rejected.fetch_add(n, Ordering::Release);
    }

    pub(crate) fn dropped(&self, reason: DropReason, n: u64) {
        self.dropped[reason as usize].fetch_add(n, Ordering::Release);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn failure(&self, error: &ExportError) {
        self.failures[error.kind.index()].fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error.clone());
        }
    }

    /// `n` records of this process were written to the spool instead of
    /// being dropped for `reason`.
    pub(crate) fn spooled(&self, reason: DropReason, n: u64) {
        if reason == DropReason::ShutdownDeadline {
            self.spool
                .spooled_at_deadline
                .fetch_add(n, Ordering::Relaxed);
        }
        self.spool.spooled.fetch_add(n, Ordering::Release);
    }

    /// Records the shutdown deadline cut, dropped or spooled.
    pub(crate) fn cut_at_deadline(&self) -> u64 {
        self.dropped[DropReason::ShutdownDeadline as usize].load(Ordering::Acquire)
            + self.spool.spooled_at_deadline.load(Ordering::Acquire)
    }

    /// `n` spooled records were delivered by a replay.
    pub(crate) fn replayed(&self, n: u64) {
        self.spool.replayed.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` spooled records left the spool undelivered.
    pub(crate) fn spool_dropped(&self, n: u64) {
        self.spool.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// A spool operation failed.
    pub(crate) fn spool_error(&self, error: &crate::spool::SpoolError) {
        self.spool.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.spool.last_error.lock() {
            *last = Some(error.to_string());
        }
    }

    /// `n` metric measurements went to an overflow series.
    pub(crate) fn overflowed(&self, n: u64) {
        if n > 0 {
            self.overflowed.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Books the attribute counts of one encoded batch (worker only).
    pub(crate) fn attributes(&self, counts: &AttributeCounts) {
        if *counts != AttributeCounts::default()
            && let Ok(mut total) = self.attributes.lock()
        {
            total.add(counts);
        }
    }

    pub(crate) fn snapshot(&self) -> PipelineStats {
        // Read outcomes before `emitted` so a concurrent emit can only make
        // `in_flight` larger, never negative: every outcome is counted with
        // Release after its event's `emitted` increment (same thread, or
        // through the queue), so seeing the outcome means seeing the emit.
        let exported = self.exported.load(Ordering::Acquire);
        let rejected = self.rejected.load(Ordering::Acquire);
        let spooled = self.spool.spooled.load(Ordering::Acquire);
        let dropped = std::array::from_fn(|i| self.dropped[i].load(Ordering::Acquire));
        let failures = std::array::from_fn(|i| self.failures[i].load(Ordering::Acquire));
        let emitted = self
            .emitted
            .iter()
            .map(|shard| shard.0.load(Ordering::Acquire))
            .sum();
        PipelineStats {
            emitted,
            exported,
            rejected,
            dropped,
            failures,
            retries: self.retries.load(Ordering::Acquire),
            requests: self.requests.load(Ordering::Acquire),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
            attributes: self.attributes.lock().map(|a| *a).unwrap_or_default(),
            overflowed: self.overflowed.load(Ordering::Acquire),
            spooled,
            replayed: self.spool.replayed.load(Ordering::Acquire),
            spool_dropped: self.spool.dropped.load(Ordering::Acquire),
            spool_errors: self.spool.errors.load(Ordering::Acquire),
            last_spool_error: self.spool.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }
}

/// A snapshot of the pipeline's counters.
///
/// Invariant: `emitted == exported + rejected + dropped_total() + spooled +
/// in_flight()`. `replayed` and `spool_dropped` count records of earlier
/// processes (or of this one) that left the spool, and are outside it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipelineStats {
    /// Events handed to the pipeline (including those dropped at once).
    pub emitted: u64,
    /// Records the collector accepted.
    pub exported: u64,
    /// Records the collector rejected in a partial success.
    pub rejected: u64,
    dropped: [u64; 5],
    failures: [u64; 7],
    /// Export attempts that were retried.
    pub retries: u64,
    /// Export requests sent (every attempt counts).
    pub requests: u64,
    /// The most recent export failure.
    pub last_error: Option<ExportError>,
    /// Attributes dropped or cut on the worker.
    pub attributes: AttributeCounts,
    /// Metric measurements recorded in an instrument's
    /// `otel.metric.overflow=true` series because its cardinality limit
    /// was reached (metrics signal only).
    pub overflowed: u64,
    /// Records of this process written to the disk spool for a later
    /// process to deliver, instead of being dropped.
    pub spooled: u64,
    /// Spooled records (of earlier processes, usually) this process
    /// delivered from the spool.
    pub replayed: u64,
    /// Spooled records that left the spool undelivered: evicted by
    /// `max_bytes`/`max_age_hours`, refused for good on replay (including
    /// records rejected in a partial success), or damaged.
    pub spool_dropped: u64,
    /// Spool operations that failed (full disk, read-only directory, ...);
    /// what could not be spooled is counted as dropped.
    pub spool_errors: u64,
    /// The most recent spool failure.
    pub last_spool_error: Option<String>,
}

impl PipelineStats {
    /// Events dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason as usize]
    }

    /// Events dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// Failed export attempts of `kind` (retried or not).
    pub fn failures(&self, kind: FailureKind) -> u64 {
        self.failures[kind.index()]
    }

    /// Failed export attempts of every kind.
    pub fn failures_total(&self) -> u64 {
        self.failures.iter().sum()
    }

    /// Events queued or being exported right now.
    pub fn in_flight(&self) -> u64 {
        self.emitted
            .saturating_sub(self.exported + self.rejected + self.dropped_total() + self.spooled)
    }
}

impl std::fmt::Display for PipelineStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "emitted {} exported {} rejected {} dropped {} in_flight {} requests {} retries {}",
            self.emitted,
            self.exported,
            self.rejected,
            self.dropped_total(),
            self.in_flight(),
            self.requests,
            self.retries
        )?;
        if self.spooled > 0 {
            write!(f, " spooled {}", self.spooled)?;
        }
        if self.replayed > 0 {
            write!(f, " replayed {}", self.replayed)?;
        }
        if self.spool_dropped > 0 {
            write!(f, " spool_dropped {}", self.spool_dropped)?;
        }
        if self.spool_errors > 0 {
            write!(f, " spool_errors {}", self.spool_errors)?;
        }
        for reason in DropReason::ALL {
            let n = self.dropped(reason);
            if n > 0 {
                write!(f, " dropped.{}={n}", reason.as_str())?;
            }
        }
        for kind in FailureKind::ALL {
            let n = self.failures(kind);
            if n > 0 {
                write!(f, " failures.{kind}={n}")?;
            }
        }
        let a = &self.attributes;
        for (label, n) in [
            ("attributes.dropped.collision", a.dropped_collision),
            ("attributes.dropped.count_limit", a.dropped_count_limit),
            ("attributes.dropped.invalid", a.dropped_invalid),
            ("attributes.truncated", a.truncated),
        ] {
            if n > 0 {
                write!(f, " {label}={n}")?;
            }
        }
        Ok(())
    }
}
