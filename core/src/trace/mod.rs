//! Traces: one span tree per turn (`invoke_agent` -> `chat` /
//! `execute_tool`), derived on the worker from the events the host already
//! emits; ids, W3C trace context and sampling.

pub mod context;
pub mod ids;
pub mod sampler;
pub(crate) mod spans;

pub use context::{TraceParent, TraceParentError};
pub use ids::{SpanId, TraceId};
pub use sampler::{RootSampler, Sampler};

/// How turns are traced.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TraceOptions {
    /// Which turns are sampled (default `parentbased_always_on`).
    pub sampler: Sampler,
    /// The caller's span (`TRACEPARENT`, or given by the host): every turn
    /// becomes its child, in its trace.
    pub parent: Option<TraceParent>,
}
