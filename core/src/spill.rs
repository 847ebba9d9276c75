//! Spilling: batches the pipeline could not deliver go to the disk spool
//! instead of being dropped.
//!
//! While the pipeline runs, a batch whose retry budget is spent is written
//! at once, one file per batch. Once shutdown has begun, batches are kept
//! in memory and written together when the exports are over: protobuf
//! batches of one signal are concatenated (concatenated OTLP protobuf
//! requests form one request holding every record) into files of at most
//! `max_request_bytes` (and a quarter of the spool's `max_bytes`), so
//! spooling a whole queue costs a couple of fsyncs instead of two per
//! batch. A JSON batch keeps its own file.

use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::otlp::{Batch, Signal, WireFormat};
use crate::spool::Spool;
use crate::stats::{DropReason, StatsCounters};

/// A batch waiting to be spooled at the end of shutdown.
struct Pending {
    signal: Signal,
    reason: DropReason,
    records: u64,
    format: WireFormat,
    bytes: Bytes,
    /// The counters of the batch's signal.
    stats: Arc<StatsCounters>,
}

/// The open spool of a pipeline, with the batches kept for the end of
/// shutdown.
pub(crate) struct Spill {
    spool: Arc<Spool>,
    pending: Mutex<Vec<Pending>>,
    /// Largest merged file payload (the pipeline's `max_request_bytes`).
    max_payload: usize,
}

impl Spill {
    pub(crate) fn new(spool: Arc<Spool>, max_payload: usize) -> Self {
        Self {
            spool,
            pending: Mutex::new(Vec::new()),
            max_payload,
        }
    }

    /// Spools `batch` (not delivered for `reason`): at once while running,
    /// at the next [`Spill::flush`] once shutdown has begun (`shutting`).
    pub(crate) fn batch(
        &self,
        batch: &Batch,
        reason: DropReason,
        shutting: bool,
        stats: &Arc<StatsCounters>,
    ) {
        let (format, bytes) = batch.encoding();
        let pending = Pending {
            signal: batch.signal(),
            reason,
            records: batch.len() as u64,
            format,
            bytes: bytes.clone(),
            stats: Arc::clone(stats),
        };
        if shutting {
            self.lock().push(pending);
        } else {
            self.write(&[pending]);
        }
    }

    /// Writes every kept batch, merging protobuf ones into as few files
    /// as `max_payload` allows.
    pub(crate) fn flush(&self) {
        let pending = std::mem::take(&mut *self.lock());
        let mut group: Vec<Pending> = Vec::new();
        let mut group_bytes = 0usize;
        for item in pending {
            let merges = item.format == WireFormat::Protobuf
                && group.first().is_some_and(|first| {
                    first.format == WireFormat::Protobuf && first.signal == item.signal
                })
                && group_bytes + item.bytes.len() <= self.max_payload;
            if !merges && !group.is_empty() {
                self.write(&group);
                group.clear();
                group_bytes = 0;
            }
            group_bytes += item.bytes.len();
            group.push(item);
        }
        if !group.is_empty() {
            self.write(&group);
        }
    }

    /// Writes `group` as one file and counts its records spooled, or
    /// dropped (with the failure counted) when the write fails.
    fn write(&self, group: &[Pending]) {
        let Some(first) = group.first() else {
            return;
        };
        // One signal per group: one set of counters.
        let stats = &first.stats;
        let records = group.iter().map(|p| p.records).sum();
        let parts: Vec<&[u8]> = group.iter().map(|p| &p.bytes[..]).collect();
        match self
            .spool
            .store_parts(first.signal, first.format, records, &parts)
        {
            Ok(evicted) => {
                stats.spool_dropped(evicted.records);
                for item in group {
                    stats.spooled(item.reason, item.records);
                }
            }
            Err(error) => {
                stats.spool_error(&error);
                for item in group {
                    stats.dropped(item.reason, item.records);
                }
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Pending>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Spools a batch that could not be delivered, or counts it as dropped
/// for `reason` when there is no spool.
pub(crate) fn spill(
    spill: Option<&Spill>,
    batch: &Batch,
    stats: &Arc<StatsCounters>,
    reason: DropReason,
    shutting: bool,
) {
    match spill {
        Some(spill) => spill.batch(batch, reason, shutting, stats),
        None => stats.dropped(reason, batch.len() as u64),
    }
}
