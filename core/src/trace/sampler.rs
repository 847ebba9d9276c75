//! Which turns are exported: the OpenTelemetry samplers of
//! `OTEL_TRACES_SAMPLER` (`always_on`, `always_off`, `traceidratio`,
//! `parentbased_*`).

use super::context::TraceParent;
use super::ids::TraceId;

/// A sampling rule, decided once per turn when it starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    /// Every turn (`always_on`).
    AlwaysOn,
    /// No turn (`always_off`).
    AlwaysOff,
    /// A fraction of traces chosen by trace id (`traceidratio`, 0.0..=1.0),
    /// so every service sampling at that ratio agrees on a trace.
    TraceIdRatio(f64),
    /// Follow the parent's sampled flag when there is one; otherwise use the
    /// root rule (`parentbased_always_on`, ..., the OTel default).
    ParentBased(RootSampler),
}

/// The rule of a [`Sampler::ParentBased`] turn without a parent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RootSampler {
    /// `parentbased_always_on`.
    AlwaysOn,
    /// `parentbased_always_off`.
    AlwaysOff,
    /// `parentbased_traceidratio`.
    TraceIdRatio(f64),
}

impl Default for Sampler {
    /// `parentbased_always_on`, the OpenTelemetry default.
    fn default() -> Self {
        Sampler::ParentBased(RootSampler::AlwaysOn)
    }
}

impl Sampler {
    /// Whether a turn of `trace_id` under `parent` is sampled.
    pub fn should_sample(&self, trace_id: TraceId, parent: Option<&TraceParent>) -> bool {
        match self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::TraceIdRatio(ratio) => ratio_sampled(*ratio, trace_id),
            Sampler::ParentBased(root) => match parent {
                Some(parent) => parent.sampled,
                None => match root {
                    RootSampler::AlwaysOn => true,
                    RootSampler::AlwaysOff => false,
                    RootSampler::TraceIdRatio(ratio) => ratio_sampled(*ratio, trace_id),
                },
            },
        }
    }

    /// The sampler named by `OTEL_TRACES_SAMPLER` with its
    /// `OTEL_TRACES_SAMPLER_ARG` (a ratio, default 1.0); `None` for an
    /// unknown name or a ratio that is not a number in 0..=1.
    pub fn from_name(name: &str, arg: Option<&str>) -> Option<Self> {
        let ratio = || -> Option<f64> {
            match arg {
                None => Some(1.0),
                Some(text) => text
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|r| (0.0..=1.0).contains(r)),
            }
        };
        Some(match name.trim() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatio(ratio()?),
            "parentbased_always_on" => Sampler::ParentBased(RootSampler::AlwaysOn),
            "parentbased_always_off" => Sampler::ParentBased(RootSampler::AlwaysOff),
            "parentbased_traceidratio" => Sampler::ParentBased(RootSampler::TraceIdRatio(ratio()?)),
            _ => return None,
        })
    }
}

/// The OTel SDKs' rule: the trace id's low 8 bytes, shifted right by one,
/// against `ratio * 2^63`.
fn ratio_sampled(ratio: f64, trace_id: TraceId) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    let bound = (ratio.max(0.0) * (1u64 << 63) as f64) as u64;
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id.0[8..]);
    (u64::from_be_bytes(low) >> 1) < bound
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::ids::SpanId;

    #[test]
    fn parent_based_follows_the_parent_and_ratio_is_about_right() {
        let parent = |sampled| TraceParent {
            trace_id: TraceId::random(),
            span_id: SpanId::random(),
            sampled,
        };
        let sampler = Sampler::default();
        assert!(sampler.should_sample(TraceId::random(), None));
        assert!(sampler.should_sample(TraceId::random(), Some(&parent(true))));
        assert!(!sampler.should_sample(TraceId::random(), Some(&parent(false))));
        let ratio = Sampler::TraceIdRatio(0.25);
        let sampled = (0..4000)
            .filter(|_| ratio.should_sample(TraceId::random(), None))
            .count();
        assert!((700..1300).contains(&sampled), "{sampled} of 4000 at 0.25");
        assert!(!Sampler::TraceIdRatio(0.0).should_sample(TraceId::random(), None));
    }

    #[test]
    fn names_and_arguments_follow_the_otel_variables() {
        assert_eq!(
            Sampler::from_name("always_off", None),
            Some(Sampler::AlwaysOff)
        );
        assert_eq!(
            Sampler::from_name("parentbased_traceidratio", Some("0.5")),
            Some(Sampler::ParentBased(RootSampler::TraceIdRatio(0.5)))
        );
        assert_eq!(Sampler::from_name("traceidratio", Some("2")), None);
        assert_eq!(Sampler::from_name("jaeger_remote", None), None);
    }
}
