//! agent-otel core: the event model of an AI coding-agent run, the
//! [`Exporter`] trait every transport implements, and the non-blocking
//! pipeline that batches, encodes (OTLP logs) and delivers events.
//!
//! ```no_run
//! use agent_otel_core::{Telemetry, SessionMetadata, ToolDecisionEvent, ToolDecision, DecisionSource};
//!
//! let telemetry = Telemetry::disabled(); // or Telemetry::new(options, exporter, pipeline)
//! let session = telemetry.session(SessionMetadata { model: "gpt-5".into(), ..Default::default() });
//! session.user_prompt("fix the tests");
//! session.tool_decision(ToolDecisionEvent {
//!     tool_name: "shell", call_id: "c1",
//!     decision: ToolDecision::Approved, source: DecisionSource::User,
//! });
//! telemetry.shutdown(std::time::Duration::from_secs(2)).ok();
//! ```

pub mod attribute;
pub mod catalog;
pub mod classify;
pub mod event;
mod event_builder;
pub mod exporter;
pub mod metrics;
pub mod otlp;
pub mod pipeline;
mod queue;
mod registry;
mod replay;
pub mod resource;
pub mod retry;
mod spill;
pub mod spool;
pub mod stats;
pub mod system_roots;
mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time;
pub mod trace;
pub mod transport;
mod turn;
pub mod vcs;

pub use attribute::{AttributeLimits, AttributeValue, ContentPolicy, Sensitivity};
pub use classify::{
    ErrorChain, TlsFailure, is_retryable_grpc_code, is_retryable_http_status, is_tls_failure_text,
    server_message_excerpt,
};
pub use event::{
    ApiRequest, DecisionSource, Event, EventKind, SessionMetadata, SseEvent, TokenCounts,
    ToolDecision, ToolDecisionEvent, ToolResult,
};
pub use event_builder::EventBuilder;
pub use exporter::{ExportError, ExportOutcome, Exporter, FailureKind};
pub use metrics::{MetricsOptions, Temporality};
pub use otlp::{Batch, OtlpEncoder, REDACTED, Signal, WireFormat};
pub use pipeline::{FlushError, PipelineError, PipelineOptions};
pub use replay::{ReplayError, ReplayReport, replay_spool};
pub use resource::{Resource, TelemetryOptions};
pub use retry::RetryPolicy;
pub use spool::{Spool, SpoolError, SpoolOptions, SpoolStatus};
pub use stats::{AttributeCounts, DropReason, PipelineStats};
pub use system_roots::{SystemRootsError, system_roots};
pub use telemetry::{DEFAULT_SHUTDOWN_TIMEOUT, EventData, Session, SignalExporters, Telemetry};
pub use trace::{Sampler, SpanId, TraceId, TraceOptions, TraceParent};
pub use transport::{
    ClientIdentityPem, Compression, Headers, HttpProtocol, SecretString, TlsConfig, TlsError,
    TlsMaterial, TransportOptions, mask_url_credentials,
};
pub use turn::Turn;
pub use vcs::VcsInfo;

/// Re-export of the OTLP wire types this crate encodes to.
pub use opentelemetry_proto;
