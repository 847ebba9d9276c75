//! Trace settings from the environment: sampler and `TRACEPARENT`.

use agent_otel_core::{Sampler, TraceOptions, TraceParent};

use crate::env::Environment;
use crate::error::{ConfigError, KeyPath, Origin, shown};

use super::Result;

/// Sampling (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`) and the
/// caller's trace context (`TRACEPARENT`). A malformed `TRACEPARENT` is
/// ignored (turns start their own traces) with a warning; an unknown
/// sampler or a bad ratio is an error.
pub(super) fn trace_options(env: &Environment) -> Result<(TraceOptions, Vec<String>)> {
    let mut warnings = Vec::new();
    let sampler = match env.otel("OTEL_TRACES_SAMPLER") {
        None => Sampler::default(),
        Some(name) => {
            let arg = env.otel("OTEL_TRACES_SAMPLER_ARG");
            Sampler::from_name(name, arg).ok_or_else(|| ConfigError::InvalidValue {
                at: Origin::Env("OTEL_TRACES_SAMPLER".to_owned()),
                key: KeyPath::default(),
                reason: format!(
                    "{} (with OTEL_TRACES_SAMPLER_ARG {}) is not a supported sampler",
                    shown(name),
                    arg.map_or_else(|| "unset".to_owned(), |a| shown(a).to_string())
                ),
                fix: "use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio, with a ratio between 0 and 1".to_owned(),
            })?
        }
    };
    let parent = match env
        .get("TRACEPARENT")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => None,
        Some(raw) => match TraceParent::parse(raw) {
            Ok(parent) => Some(parent),
            Err(e) => {
                warnings.push(format!("TRACEPARENT is ignored: {e}"));
                None
            }
        },
    };
    Ok((TraceOptions { sampler, parent }, warnings))
}
