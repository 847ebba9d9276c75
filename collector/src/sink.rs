//! Where received requests are kept before they are acknowledged.

use std::fmt;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

use crate::record::{
    ReceivedMetricsRequest, ReceivedRequest, ReceivedTracesRequest, Signal, Transport,
};

/// A received request of any signal, borrowed, as a [`Sink`] gets it.
#[derive(Debug, Clone, Copy)]
pub enum SignalRequest<'a> {
    /// A logs request.
    Logs(&'a ReceivedRequest<ExportLogsServiceRequest>),
    /// A metrics request.
    Metrics(&'a ReceivedMetricsRequest),
    /// A traces request.
    Traces(&'a ReceivedTracesRequest),
}

impl SignalRequest<'_> {
    /// The signal of the request.
    pub fn signal(&self) -> Signal {
        match self {
            SignalRequest::Logs(_) => Signal::Logs,
            SignalRequest::Metrics(_) => Signal::Metrics,
            SignalRequest::Traces(_) => Signal::Traces,
        }
    }

    /// The transport the request arrived on.
    pub fn transport(&self) -> Transport {
        match self {
            SignalRequest::Logs(r) => r.transport,
            SignalRequest::Metrics(r) => r.transport,
            SignalRequest::Traces(r) => r.transport,
        }
    }

    /// Log records, data points or spans in the request.
    pub fn record_count(&self) -> usize {
        match self {
            SignalRequest::Logs(r) => r.record_count(),
            SignalRequest::Metrics(r) => r.record_count(),
            SignalRequest::Traces(r) => r.record_count(),
        }
    }

    /// The request as one line of OTLP JSON (see
    /// [`ReceivedRequest::to_otlp_json`]).
    pub fn to_otlp_json(&self) -> String {
        match self {
            SignalRequest::Logs(r) => r.to_otlp_json(),
            SignalRequest::Metrics(r) => r.to_otlp_json(),
            SignalRequest::Traces(r) => r.to_otlp_json(),
        }
    }
}

/// Keeps what the collector accepts, **before** it answers: a request the
/// scripted answer would accept is passed to [`Sink::write`]; only when
/// that returns `Ok` is the client told 200 / `OK`. An error is answered
/// with HTTP 503 / gRPC `UNAVAILABLE` (so OTLP exporters retry) carrying
/// the error's text, and the request's records are not counted
/// ([`Answer::NotStored`](crate::Answer::NotStored)).
///
/// `write` runs on a blocking thread (never on the servers' async
/// runtime), possibly for several requests at once; it may take its time.
pub trait Sink: Send + Sync + 'static {
    /// Keeps `request` (durably, when the sink promises that) and returns
    /// once it is kept.
    fn write(&self, request: SignalRequest<'_>) -> Result<(), SinkError>;
}

/// Why a [`Sink`] could not keep a request. The text is sent to the client
/// in the 503 / `UNAVAILABLE` answer, so it must not carry secrets.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// What went wrong, for people.
    pub message: String,
}

impl SinkError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        SinkError {
            message: message.into(),
        }
    }
}

impl fmt::Debug for SinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SinkError({:?})", self.message)
    }
}
