//! Integer keys with an environment fallback: attribute limits, pipeline
//! sizes and delays, each checked against its documented range.

use std::time::Duration;

use agent_otel_core::attribute::DEFAULT_ATTRIBUTE_COUNT_LIMIT;
use agent_otel_core::{AttributeLimits, PipelineOptions};

use crate::env::Environment;
use crate::error::{ConfigError, KeyPath, Origin};
use crate::model::{OtelConfig, Setting};
use crate::parse::IntegerRange;

use super::Result;

impl OtelConfig {
    /// The attribute limits: the `[otel]` keys, else the log-record
    /// variables, else the generic ones (as the OTel SDKs resolve them).
    pub(super) fn attribute_limits(&self, env: &Environment) -> Result<AttributeLimits> {
        let value_length = pick_limit(
            &self.attribute_value_length_limit,
            env,
            &[
                "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            ],
            "attribute_value_length_limit",
        )?;
        let count = pick_limit(
            &self.attribute_count_limit,
            env,
            &[
                "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
                "OTEL_ATTRIBUTE_COUNT_LIMIT",
            ],
            "attribute_count_limit",
        )?;
        Ok(AttributeLimits {
            value_length,
            count: count.unwrap_or(DEFAULT_ATTRIBUTE_COUNT_LIMIT),
        })
    }

    pub(super) fn pipeline_options(&self, env: &Environment) -> Result<PipelineOptions> {
        let p = &self.pipeline;
        let mut options = PipelineOptions::default();
        if let Some(n) = pick_limit(
            &p.queue_capacity,
            env,
            &["OTEL_BLRP_MAX_QUEUE_SIZE"],
            "queue_capacity",
        )? {
            options.queue_capacity = n;
        }
        if let Some(n) = pick_limit(
            &p.max_batch_size,
            env,
            &["OTEL_BLRP_MAX_EXPORT_BATCH_SIZE"],
            "max_batch_size",
        )? {
            options.max_batch_size = n;
        }
        if let Some(ms) = pick_ms(
            &p.batch_timeout_ms,
            env,
            "OTEL_BLRP_SCHEDULE_DELAY",
            "batch_timeout_ms",
        )? {
            options.batch_timeout = ms;
        }
        if let Some(s) = &p.max_request_bytes {
            options.max_request_bytes = to_usize(s)?;
        }
        if let Some(s) = &p.max_concurrent_exports {
            options.max_concurrent_exports = to_usize(s)?;
        }
        if let Some(s) = &p.retry_budget_ms {
            options.retry.budget = Duration::from_millis(s.value);
        }
        if let Some(s) = &p.retry_initial_backoff_ms {
            options.retry.initial_backoff = Duration::from_millis(s.value);
        }
        if let Some(s) = &p.retry_max_backoff_ms {
            options.retry.max_backoff = Duration::from_millis(s.value);
        }
        if options.retry.initial_backoff > options.retry.max_backoff {
            let key = p
                .retry_initial_backoff_ms
                .as_ref()
                .or(p.retry_max_backoff_ms.as_ref());
            return Err(ConfigError::InvalidValue {
                at: key.map_or(Origin::Default, |s| s.origin.clone()),
                key: KeyPath::from(key.map(|s| s.key.clone()).unwrap_or_default()),
                reason: format!(
                    "the initial retry backoff ({} ms) is longer than the maximum ({} ms)",
                    options.retry.initial_backoff.as_millis(),
                    options.retry.max_backoff.as_millis()
                ),
                fix: "make retry_initial_backoff_ms at most retry_max_backoff_ms".to_owned(),
            });
        }
        Ok(options)
    }
}

/// An integer variable, checked against the range of the key it stands for.
pub(super) fn env_u64(var: &str, raw: &str, key: &str) -> Result<u64> {
    let range = IntegerRange::of(key);
    match raw.parse::<u64>() {
        Ok(n) if range.is_none_or(|r| r.contains(n)) => Ok(n),
        _ => Err(ConfigError::InvalidValue {
            at: Origin::Env(var.to_owned()),
            key: KeyPath::default(),
            reason: match range {
                Some(r) => format!(
                    "\"{raw}\" is not an integer from {} (the range of {key}, which {var} sets)",
                    r.describe()
                ),
                None => format!("\"{raw}\" is not a non-negative integer"),
            },
            fix: format!("set {var} to a whole number (milliseconds for timeouts and delays)"),
        }),
    }
}

pub(super) fn to_usize(setting: &Setting<u64>) -> Result<usize> {
    usize::try_from(setting.value).map_err(|_| ConfigError::InvalidValue {
        at: setting.origin.clone(),
        key: KeyPath::from(setting.key.clone()),
        reason: "the value is too large for this platform".to_owned(),
        fix: "give a smaller number".to_owned(),
    })
}

/// A limit from its `[otel]` key, else the first of `vars` that is set.
pub(super) fn pick_limit(
    setting: &Option<Setting<u64>>,
    env: &Environment,
    vars: &[&str],
    key: &str,
) -> Result<Option<usize>> {
    if let Some(s) = setting {
        return to_usize(s).map(Some);
    }
    for var in vars {
        if let Some(raw) = env.otel(var) {
            let n = env_u64(var, raw, key)?;
            return Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)));
        }
    }
    Ok(None)
}

/// A duration in milliseconds from its `[otel]` key, else from `var`.
pub(super) fn pick_ms(
    setting: &Option<Setting<u64>>,
    env: &Environment,
    var: &str,
    key: &str,
) -> Result<Option<Duration>> {
    if let Some(s) = setting {
        return Ok(Some(Duration::from_millis(s.value)));
    }
    env.otel(var)
        .map(|raw| env_u64(var, raw, key).map(Duration::from_millis))
        .transpose()
}
