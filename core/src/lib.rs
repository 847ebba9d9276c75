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

pub mod batch;
pub mod event;
pub mod exporter;
pub mod pipeline;
mod queue;
mod registry;
mod replay;
pub mod resource;
mod spill;
pub mod spool;
pub mod stats;
mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod transport;

pub use batch::{LogBatch, OtlpEncoder, REDACTED, WireFormat};
pub use event::{
    ApiRequest, DecisionSource, Event, EventKind, SessionMetadata, SseEvent, TokenCounts,
    ToolDecision, ToolDecisionEvent, ToolResult,
};
pub use exporter::{
    ExportError, ExportOutcome, Exporter, FailureKind, is_retryable_grpc_code,
    is_retryable_http_status, server_message_excerpt,
};
pub use pipeline::{FlushError, PipelineError, PipelineOptions, RetryPolicy};
pub use replay::{ReplayError, ReplayReport, replay_spool};
pub use resource::{Resource, TelemetryOptions};
pub use spool::{Signal, Spool, SpoolError, SpoolOptions, SpoolStatus};
pub use stats::{DropReason, PipelineStats};
pub use telemetry::{DEFAULT_SHUTDOWN_TIMEOUT, EventData, Session, Telemetry};
pub use transport::{
    ClientIdentityPem, Compression, Headers, HttpProtocol, SecretString, TlsConfig, TlsError,
    TlsMaterial, TransportOptions, is_tls_failure_text, mask_url_credentials,
};

/// Re-export of the OTLP wire types this crate encodes to.
pub use opentelemetry_proto;
