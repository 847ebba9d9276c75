//! Metrics derived on the worker from the events the host already emits:
//! the instruments of DESIGN.md's table, aggregated per attribute set with
//! a cardinality limit, collected with delta or cumulative temporality and
//! exported every interval and at flush and shutdown.

use std::time::Duration;

pub mod aggregation;
pub(crate) mod derive;
pub mod instruments;
pub mod temporality;

pub use aggregation::{Aggregate, HistogramPoint, OwnedMetricValue, Series};
pub use instruments::{Instrument, InstrumentKind};
pub use temporality::Collection;

/// Which temporality the exported sums and histograms have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Temporality {
    /// Each export carries what happened since the previous one (the
    /// default: short-lived CLI processes, what Codex and Claude Code send).
    #[default]
    Delta,
    /// Each export carries the totals since the process started.
    Cumulative,
    /// The OTel `lowmemory` preference: delta for counters and histograms
    /// (cumulative only for up-down counters, which the catalog has none of),
    /// so the same as [`Temporality::Delta`] here.
    LowMemory,
}

impl Temporality {
    /// The value of `metrics_temporality` and
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Temporality::Delta => "delta",
            Temporality::Cumulative => "cumulative",
            Temporality::LowMemory => "lowmemory",
        }
    }

    /// Parses a preference, ignoring ASCII case (as the OTel spec reads it).
    pub fn parse(value: &str) -> Option<Self> {
        [
            Temporality::Delta,
            Temporality::Cumulative,
            Temporality::LowMemory,
        ]
        .into_iter()
        .find(|t| value.eq_ignore_ascii_case(t.as_str()))
    }

    /// True when counters and histograms are exported as deltas.
    pub fn is_delta(self) -> bool {
        !matches!(self, Temporality::Cumulative)
    }
}

/// Default export interval (`OTEL_METRIC_EXPORT_INTERVAL`): 60 s.
pub const DEFAULT_EXPORT_INTERVAL: Duration = Duration::from_secs(60);

/// Default number of attribute sets per instrument before new ones go to
/// the overflow series (the OTel SDK's default).
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// How metrics are aggregated and how often they are exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricsOptions {
    /// Delta (default) or cumulative (`metrics_temporality`).
    pub temporality: Temporality,
    /// Time between periodic exports (`metrics_interval_ms`,
    /// `OTEL_METRIC_EXPORT_INTERVAL`; default 60 s). Metrics are also
    /// exported at every `force_flush` and at `shutdown`.
    pub interval: Duration,
    /// Attribute sets kept per instrument; measurements with a new set
    /// beyond it are recorded in one series marked
    /// `otel.metric.overflow=true` and counted.
    pub cardinality_limit: usize,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        Self {
            temporality: Temporality::default(),
            interval: DEFAULT_EXPORT_INTERVAL,
            cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
        }
    }
}
