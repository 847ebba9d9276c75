//! The metrics settings: `metrics_temporality` and `metrics_interval_ms`,
//! else `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` and
//! `OTEL_METRIC_EXPORT_INTERVAL` (the table wins, as for every key).

use agent_otel_core::{MetricsOptions, Temporality};

use super::limits::pick_ms;
use crate::env::Environment;
use crate::error::{Choices, ConfigError, KeyPath, Origin, Suggestion};
use crate::model::OtelConfig;
use crate::parse::TEMPORALITIES;
use crate::text::suggest;

/// The temporality preference variable (values read in any case).
pub(crate) const TEMPORALITY_VAR: &str = "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE";
/// The export interval variable (milliseconds).
pub(crate) const INTERVAL_VAR: &str = "OTEL_METRIC_EXPORT_INTERVAL";

/// Temporality and export interval from the table and the environment.
pub(crate) fn resolve_metrics_options(
    config: &OtelConfig,
    env: &Environment,
) -> Result<MetricsOptions, ConfigError> {
    let mut options = MetricsOptions::default();
    if let Some(setting) = &config.metrics_temporality {
        options.temporality = setting.value;
    } else if let Some(raw) = env.otel(TEMPORALITY_VAR) {
        options.temporality =
            Temporality::parse(raw.trim()).ok_or_else(|| ConfigError::UnknownValue {
                at: Origin::Env(TEMPORALITY_VAR.to_owned()),
                key: KeyPath::default(),
                what: "metrics temporality",
                value: raw.to_owned(),
                expected: Choices(TEMPORALITIES),
                suggestion: Suggestion(suggest(&raw.to_ascii_lowercase(), TEMPORALITIES)),
            })?;
    }
    if let Some(interval) = pick_ms(
        &config.metrics_interval_ms,
        env,
        INTERVAL_VAR,
        "metrics_interval_ms",
    )? {
        options.interval = interval;
    }
    Ok(options)
}
