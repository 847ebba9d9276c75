//! The `none` exporter of agent-otel.
//!
//! [`disabled`] is what `exporter = "none"` resolves to: a [`Telemetry`] that
//! starts no thread and whose every emit is one branch. [`DiscardExporter`]
//! is for the other case, a running pipeline whose batches go nowhere (it
//! accepts them): benchmarks of the pipeline itself, dry runs.

use std::sync::atomic::{AtomicU64, Ordering};

use agent_otel_core::{Batch, ExportOutcome, Exporter, Telemetry};
use async_trait::async_trait;

/// A telemetry handle for `exporter = "none"`: no thread, nothing exported.
pub fn disabled() -> Telemetry {
    Telemetry::disabled()
}

/// Accepts every batch without sending it anywhere, counting records.
#[derive(Debug, Default)]
pub struct DiscardExporter {
    records: AtomicU64,
}

impl DiscardExporter {
    /// A new exporter with a zero count.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records accepted so far.
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl Exporter for DiscardExporter {
    async fn export(&self, batch: &Batch) -> ExportOutcome {
        self.records
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        ExportOutcome::Accepted
    }

    fn name(&self) -> &'static str {
        "discard"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_otel_core::{PipelineOptions, SessionMetadata, TelemetryOptions};
    use std::time::Duration;

    #[test]
    fn disabled_telemetry_accepts_calls_and_counts_nothing() {
        let telemetry = disabled();
        assert!(!telemetry.is_enabled());
        assert_eq!(telemetry.exporter_name(), "none");
        let session = telemetry.session(SessionMetadata::default());
        session.user_prompt("hello");
        assert_eq!(telemetry.stats().emitted, 0);
        assert_eq!(telemetry.shutdown(Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn discard_exporter_accepts_every_record() {
        let telemetry = Telemetry::new(
            TelemetryOptions::default(),
            Box::new(DiscardExporter::new()),
            PipelineOptions::default(),
        )
        .expect("pipeline starts");
        let session = telemetry.session(SessionMetadata::default());
        for _ in 0..10 {
            session.user_prompt("hello");
        }
        telemetry
            .shutdown(Duration::from_secs(5))
            .expect("shutdown in time");
        let stats = telemetry.stats();
        assert_eq!(stats.emitted, 10);
        assert_eq!(stats.exported, 10);
        assert_eq!(telemetry.exporter_name(), "discard");
    }
}
