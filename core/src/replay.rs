//! Replay of the disk spool: batches earlier processes could not deliver
//! are sent again, oldest first, one request at a time, beside the host's
//! own export slots (the host's batches keep all of them, and a
//! `force_flush` never waits for a replay).
//!
//! A file is deleted once the collector accepted its batch (or refused it
//! for good); a retryable failure that outlasts the retry budget releases
//! the file and ends the pass: the collector is still unreachable, the rest
//! waits for the next process. At shutdown the replay goes on until the
//! shutdown deadline; the file in flight is then released.

use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::exporter::Exporter;
use crate::otlp::{Batch, Signal};
use crate::pipeline::{PipelineOptions, Sent, send};
use crate::spool::{Claim, Spool, SpoolEntry, SpoolError, SpoolOptions};
use crate::stats::StatsCounters;
use crate::telemetry::SignalExporters;

/// What a replay pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Log files waiting when the pass started.
    pub files_waiting: u64,
    /// Records in them.
    pub records_waiting: u64,
    /// Files sent and removed.
    pub files_sent: u64,
    /// Records the collector accepted.
    pub records_delivered: u64,
    /// Records removed undelivered: refused for good, rejected in a
    /// partial success, or in a damaged file.
    pub records_dropped: u64,
    /// Records evicted by the spool's bounds when it was opened.
    pub records_evicted: u64,
    /// True when the pass ended early: the collector stayed unreachable
    /// for a whole retry budget, or the shutdown deadline came.
    pub stopped_early: bool,
    /// The last failure (export or spool), if any.
    pub last_error: Option<String>,
}

/// One signal's exporter and the counters its records are booked in:
/// what the worker dispatches a batch to, and where spool files replay.
#[derive(Clone)]
pub(crate) struct Route {
    pub(crate) exporter: Arc<dyn Exporter>,
    pub(crate) stats: Arc<StatsCounters>,
}

/// One replay pass over a spool, on the pipeline worker's runtime.
pub(crate) struct Replay {
    pub(crate) spool: Arc<Spool>,
    /// Log files go here, when a logs exporter is set; else they stay.
    pub(crate) logs: Option<Route>,
    /// Span files go here, when a traces exporter is set; else they stay.
    pub(crate) traces: Option<Route>,
    /// Metrics files go here, when a metrics exporter is set; else they stay.
    pub(crate) metrics: Option<Route>,
    /// Spool failures are counted here (the logs counters).
    pub(crate) errors: Arc<StatsCounters>,
    pub(crate) options: PipelineOptions,
    /// The shutdown deadline.
    pub(crate) deadline: watch::Receiver<Option<Instant>>,
}

impl Replay {
    /// Replays in the background of a running pipeline.
    pub(crate) async fn run(mut self) {
        self.pass(|_| {}).await;
    }

    /// Sends every log file present now, oldest first; `progress` is
    /// called after each file.
    async fn pass(&mut self, mut progress: impl FnMut(&ReplayReport)) -> ReplayReport {
        let mut report = ReplayReport::default();
        let entries = match self.spool.list() {
            Ok(entries) => entries,
            Err(error) => {
                self.spool_error(&mut report, &error);
                return report;
            }
        };
        let entries: Vec<_> = entries
            .into_iter()
            .filter(|e| self.route(e).is_some())
            .collect();
        report.files_waiting = entries.len() as u64;
        report.records_waiting = entries.iter().map(|e| e.header.records).sum();
        for entry in &entries {
            if self.deadline_passed() {
                report.stopped_early = true;
                break;
            }
            let claim = match self.spool.claim(entry) {
                Ok(Some(claim)) => claim,
                // Another process is sending it.
                Ok(None) => continue,
                Err(error) => {
                    self.spool_error(&mut report, &error);
                    continue;
                }
            };
            let Some(route) = self.route(entry) else {
                continue;
            };
            let records = claim.header().records;
            let batch = match claim.read() {
                Ok(payload) => Batch::from_encoded(
                    claim.header().signal,
                    claim.header().format,
                    payload,
                    usize::try_from(records).unwrap_or(usize::MAX),
                ),
                Err(error) => {
                    self.spool_error(&mut report, &error);
                    if matches!(error, SpoolError::Corrupt { .. }) {
                        self.dropped(&route, &mut report, records);
                        self.settle(&mut report, claim.delete());
                    }
                    continue;
                }
            };
            let sent = send(
                &*route.exporter,
                &batch,
                &route.stats,
                &self.options,
                &mut self.deadline,
            )
            .await;
            if !self.settle_sent(&route, &mut report, claim, sent, records) {
                report.stopped_early = true;
                break;
            }
            progress(&report);
        }
        report
    }

    /// Where `entry` goes; `None` for a signal this process cannot send.
    fn route(&self, entry: &SpoolEntry) -> Option<Route> {
        match entry.header.signal {
            Signal::Logs => self.logs.clone(),
            Signal::Traces => self.traces.clone(),
            Signal::Metrics => self.metrics.clone(),
        }
    }

    /// Deletes or releases a sent file; false when the pass should stop.
    fn settle_sent(
        &self,
        route: &Route,
        report: &mut ReplayReport,
        claim: Claim,
        sent: Sent,
        records: u64,
    ) -> bool {
        let delivered = match sent {
            Sent::Accepted => records,
            Sent::PartiallyRejected(rejected) => {
                let rejected = rejected.min(records);
                self.dropped(route, report, rejected);
                records - rejected
            }
            Sent::Refused => {
                self.dropped(route, report, records);
                0
            }
            Sent::GaveUp(_) => {
                if let Some(error) = route.stats.snapshot().last_error {
                    report.last_error = Some(error.to_string());
                }
                self.settle(report, claim.release());
                return false;
            }
        };
        route.stats.replayed(delivered);
        report.records_delivered += delivered;
        report.files_sent += 1;
        self.settle(report, claim.delete());
        true
    }

    fn deadline_passed(&self) -> bool {
        self.deadline
            .borrow()
            .is_some_and(|deadline| Instant::now() >= deadline)
    }

    fn dropped(&self, route: &Route, report: &mut ReplayReport, records: u64) {
        route.stats.spool_dropped(records);
        report.records_dropped += records;
    }

    fn settle(&self, report: &mut ReplayReport, result: Result<(), SpoolError>) {
        if let Err(error) = result {
            self.spool_error(report, &error);
        }
    }

    fn spool_error(&self, report: &mut ReplayReport, error: &SpoolError) {
        self.errors.spool_error(error);
        report.last_error = Some(error.to_string());
    }
}

/// A replay could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The spool could not be opened.
    #[error(transparent)]
    Spool(#[from] SpoolError),
    /// The runtime could not be created.
    #[error("cannot start the replay runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Replays a spool now, in the calling thread (for `agent-otel spool
/// replay`): opens and tidies the spool, then sends the files of every
/// signal `exporters` has an exporter for (the others stay), oldest
/// first, with the retry policy of `options`, calling `progress` after
/// each file; then closes the exporters.
pub fn replay_spool(
    spool: SpoolOptions,
    exporters: SignalExporters,
    options: PipelineOptions,
    progress: &mut dyn FnMut(&ReplayReport),
) -> Result<ReplayReport, ReplayError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (spool, opened) = Spool::open(spool)?;
    let route = |exporter: Box<dyn Exporter>| Route {
        exporter: Arc::from(exporter),
        stats: Arc::new(StatsCounters::default()),
    };
    let logs = exporters.logs.map(route);
    let traces = exporters.traces.map(route);
    let metrics = exporters.metrics.map(route);
    // Never set: a manual replay has no shutdown deadline.
    let (_deadline, deadline) = watch::channel(None);
    let mut replay = Replay {
        spool: Arc::new(spool),
        logs: logs.clone(),
        traces: traces.clone(),
        metrics: metrics.clone(),
        errors: Arc::new(StatsCounters::default()),
        options,
        deadline,
    };
    let mut report = runtime.block_on(replay.pass(progress));
    report.records_evicted = opened.evicted.records;
    for route in logs.iter().chain(traces.iter()).chain(metrics.iter()) {
        runtime.block_on(route.exporter.shutdown());
    }
    Ok(report)
}
