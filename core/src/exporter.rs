//! The [`Exporter`] trait: move one encoded batch, classify the answer.
//!
//! Exporters never retry, sleep or count: retry with backoff, deadlines and
//! accounting live once, in [`crate::pipeline`].

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;

use crate::classify::server_message_excerpt;
use crate::otlp::{Batch, WireFormat};

/// A transport that delivers one [`Batch`] to a collector.
///
/// Object safe; the pipeline holds it as `Box<dyn Exporter>` and calls it from
/// its own worker thread, inside its own tokio runtime (current-thread, with
/// IO and time enabled). An exporter may be constructed outside any runtime:
/// anything that needs one (connections, channels) must be created lazily on
/// the first [`Exporter::export`] call.
#[async_trait]
pub trait Exporter: Send + Sync + fmt::Debug {
    /// Sends `batch` once and classifies the collector's answer.
    ///
    /// Must not retry by itself. The pipeline bounds every call with its
    /// request timeout and may drop the future at any await point.
    async fn export(&self, batch: &Batch) -> ExportOutcome;

    /// Short transport name for stats and messages (`"otlp-http"`, `"none"`).
    fn name(&self) -> &'static str;

    /// The encoding this exporter sends, so the pipeline encodes each batch
    /// once in it (default protobuf; OTLP/HTTP JSON asks for JSON).
    fn wire_format(&self) -> WireFormat {
        WireFormat::Protobuf
    }

    /// How long one attempt of this exporter may take: each signal's
    /// exporter keeps its own (`timeout-ms`). `None`: the pipeline's
    /// `request_timeout`.
    fn request_timeout(&self) -> Option<std::time::Duration> {
        None
    }

    /// Releases connections. Called once by the pipeline when it stops,
    /// bounded by the shutdown deadline.
    async fn shutdown(&self) {}
}

/// How a collector answered one export request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportOutcome {
    /// Every record was accepted.
    Accepted,
    /// The collector accepted the request but rejected `rejected` records
    /// (OTLP `partial_success`). Counted, never retried.
    PartiallyRejected {
        /// Records the collector says it rejected.
        rejected: u64,
        /// The collector's explanation, if any.
        message: String,
    },
    /// A transient failure: try again later.
    Retryable {
        /// What went wrong.
        error: ExportError,
        /// Delay the server asked for (`Retry-After`, gRPC `RetryInfo`).
        retry_after: Option<Duration>,
    },
    /// A failure that retrying cannot fix: the batch is dropped.
    Permanent {
        /// What went wrong.
        error: ExportError,
    },
}

impl ExportOutcome {
    /// A retryable outcome without a server-given delay.
    pub fn retryable(error: ExportError) -> Self {
        Self::Retryable {
            error,
            retry_after: None,
        }
    }

    /// A permanent outcome.
    pub fn permanent(error: ExportError) -> Self {
        Self::Permanent { error }
    }

    /// The outcome of an accepted request by its OTLP `partial_success`:
    /// partially rejected when it names rejected records or carries a
    /// message, accepted otherwise. Both transports answer this way.
    pub fn from_partial_success(rejected: i64, message: &str) -> Self {
        if rejected > 0 || !message.is_empty() {
            Self::PartiallyRejected {
                rejected: u64::try_from(rejected).unwrap_or(0),
                message: server_message_excerpt(message),
            }
        } else {
            Self::Accepted
        }
    }
}

/// The class of an export failure; the pipeline counts failures per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// TCP connect refused/reset, DNS failure, connection closed early.
    Connection,
    /// The request did not complete within its timeout.
    Timeout,
    /// TLS handshake or certificate problem.
    Tls,
    /// The collector answered with a non-success HTTP status.
    HttpStatus,
    /// The collector answered with a non-OK gRPC status.
    GrpcStatus,
    /// The request could not be encoded or the answer could not be decoded.
    Protocol,
    /// The exporter is misconfigured or was shut down.
    Exporter,
}

impl FailureKind {
    /// Every kind, in a stable order (for stats tables).
    pub const ALL: [FailureKind; 7] = [
        FailureKind::Connection,
        FailureKind::Timeout,
        FailureKind::Tls,
        FailureKind::HttpStatus,
        FailureKind::GrpcStatus,
        FailureKind::Protocol,
        FailureKind::Exporter,
    ];

    /// Stable snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Connection => "connection",
            FailureKind::Timeout => "timeout",
            FailureKind::Tls => "tls",
            FailureKind::HttpStatus => "http_status",
            FailureKind::GrpcStatus => "grpc_status",
            FailureKind::Protocol => "protocol",
            FailureKind::Exporter => "exporter",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One classified export failure.
///
/// The message must never contain header values or other secrets; exporters
/// build it from status codes, error kinds and server messages only.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct ExportError {
    /// Failure class, used for stats.
    pub kind: FailureKind,
    /// HTTP status or gRPC code, when the collector answered.
    pub status: Option<i32>,
    /// Human-readable detail (server message, io error text).
    pub message: String,
}

impl ExportError {
    /// An error of `kind` with a message and no status.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: None,
            message: message.into(),
        }
    }

    /// An error carrying the HTTP status or gRPC code the collector returned.
    pub fn with_status(kind: FailureKind, status: i32, message: impl Into<String>) -> Self {
        Self {
            kind,
            status: Some(status),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_success_is_rejection_only_when_it_says_so() {
        assert_eq!(
            ExportOutcome::from_partial_success(0, ""),
            ExportOutcome::Accepted
        );
        assert_eq!(
            ExportOutcome::from_partial_success(2, "too\nold"),
            ExportOutcome::PartiallyRejected {
                rejected: 2,
                message: "too old".into()
            }
        );
        assert_eq!(
            ExportOutcome::from_partial_success(0, "warning"),
            ExportOutcome::PartiallyRejected {
                rejected: 0,
                message: "warning".into()
            }
        );
    }
}
