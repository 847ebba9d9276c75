//! Test doubles (feature `testing`): [`ScriptedExporter`] answers each
//! export with the next scripted outcome and records what it was sent,
//! decoded back from the batch's protobuf bytes; [`expect_retryable`] and
//! [`expect_permanent`] unpack the failure an exporter test expects.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use prost::Message;

use crate::exporter::{ExportError, ExportOutcome, Exporter};
use crate::otlp::{Batch, Signal, WireFormat};

/// Unpacks an [`ExportOutcome::Retryable`] into its error and the delay the
/// server asked for.
///
/// # Panics
///
/// If `outcome` is any other variant; the message shows the outcome.
#[track_caller]
pub fn expect_retryable(outcome: ExportOutcome) -> (ExportError, Option<Duration>) {
    match outcome {
        ExportOutcome::Retryable { error, retry_after } => (error, retry_after),
        other => panic!("expected a retryable outcome, got {other:?}"),
    }
}

/// Unpacks an [`ExportOutcome::Permanent`] into its error.
///
/// # Panics
///
/// If `outcome` is any other variant; the message shows the outcome.
#[track_caller]
pub fn expect_permanent(outcome: ExportOutcome) -> ExportError {
    match outcome {
        ExportOutcome::Permanent { error } => error,
        other => panic!("expected a permanent outcome, got {other:?}"),
    }
}

/// What the [`ScriptedExporter`] does with one call.
#[derive(Debug, Clone)]
pub enum ScriptedAnswer {
    /// Answer at once.
    Outcome(ExportOutcome),
    /// Answer after a delay (runs on the pipeline's runtime timer).
    Delayed(Duration, ExportOutcome),
    /// Never answer (the pipeline's timeout or deadline must cut it).
    Hang,
}

/// One export call as the exporter saw it.
#[derive(Debug, Clone)]
pub struct ExportCall {
    /// When the call started.
    pub at: Instant,
    /// The logs request, decoded from the protobuf bytes the batch produced
    /// (empty for a batch of another signal: decode [`ExportCall::wire`]).
    pub request: ExportLogsServiceRequest,
    /// The bytes the batch was encoded to, in the exporter's wire format
    /// (what a real exporter would send).
    pub wire: Bytes,
    /// The outcome returned (`None` for a hang).
    pub outcome: Option<ExportOutcome>,
}

impl ExportCall {
    /// The log records of the request, in order.
    pub fn records(&self) -> impl Iterator<Item = &LogRecord> {
        self.request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .flat_map(|s| &s.log_records)
    }
}

#[derive(Debug, Default)]
struct State {
    script: VecDeque<ScriptedAnswer>,
    calls: Vec<ExportCall>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

/// An in-memory [`Exporter`] that follows a script, then accepts everything.
/// Clone it before boxing to keep a handle for assertions.
#[derive(Debug, Clone, Default)]
pub struct ScriptedExporter {
    shared: Arc<Shared>,
    format: WireFormat,
    request_timeout: Option<Duration>,
}

impl ScriptedExporter {
    /// An exporter that accepts every batch until told otherwise.
    pub fn new() -> Self {
        Self::default()
    }

    /// An exporter that asks the pipeline for `format` (as OTLP/HTTP JSON
    /// asks for JSON), so tests see that encoding's bytes in
    /// [`ExportCall::wire`].
    pub fn with_format(format: WireFormat) -> Self {
        Self {
            format,
            ..Self::default()
        }
    }

    /// This exporter with its own attempt timeout (as a transport's
    /// `timeout-ms`), which the pipeline uses instead of its own.
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = Some(timeout);
        self
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Answers the next `times` calls with `answer`.
    pub fn then(&self, answer: ScriptedAnswer, times: usize) -> &Self {
        let mut state = self.state();
        for _ in 0..times {
            state.script.push_back(answer.clone());
        }
        self
    }

    /// Every call so far.
    pub fn calls(&self) -> Vec<ExportCall> {
        self.state().calls.clone()
    }

    /// Number of calls so far.
    pub fn call_count(&self) -> usize {
        self.state().calls.len()
    }

    /// Records of every call answered `Accepted` or `PartiallyRejected`.
    pub fn delivered(&self) -> Vec<LogRecord> {
        self.state()
            .calls
            .iter()
            .filter(|c| {
                matches!(
                    c.outcome,
                    Some(ExportOutcome::Accepted | ExportOutcome::PartiallyRejected { .. })
                )
            })
            .flat_map(|c| c.records().cloned().collect::<Vec<_>>())
            .collect()
    }

    /// Blocks until at least `n` calls were made or `timeout` passes;
    /// returns the call count.
    pub fn wait_for_calls(&self, n: usize, timeout: Duration) -> usize {
        let end = Instant::now() + timeout;
        let mut state = self.state();
        while state.calls.len() < n {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = match self.shared.changed.wait_timeout(state, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        state.calls.len()
    }
}

#[async_trait]
impl Exporter for ScriptedExporter {
    async fn export(&self, batch: &Batch) -> ExportOutcome {
        let wire = match self.format {
            WireFormat::Protobuf => batch.protobuf().clone(),
            WireFormat::Json => batch.json().clone(),
        };
        let request = match batch.signal() {
            Signal::Logs => {
                ExportLogsServiceRequest::decode(batch.protobuf().clone()).unwrap_or_default()
            }
            Signal::Traces | Signal::Metrics => ExportLogsServiceRequest::default(),
        };
        let answer = {
            let mut state = self.state();
            let answer = state
                .script
                .pop_front()
                .unwrap_or(ScriptedAnswer::Outcome(ExportOutcome::Accepted));
            let outcome = match &answer {
                ScriptedAnswer::Outcome(o) | ScriptedAnswer::Delayed(_, o) => Some(o.clone()),
                ScriptedAnswer::Hang => None,
            };
            state.calls.push(ExportCall {
                at: Instant::now(),
                request,
                wire,
                outcome,
            });
            self.shared.changed.notify_all();
            answer
        };
        match answer {
            ScriptedAnswer::Outcome(outcome) => outcome,
            ScriptedAnswer::Delayed(delay, outcome) => {
                tokio::time::sleep(delay).await;
                outcome
            }
            ScriptedAnswer::Hang => std::future::pending().await,
        }
    }

    fn name(&self) -> &'static str {
        "scripted"
    }

    fn wire_format(&self) -> WireFormat {
        self.format
    }

    fn request_timeout(&self) -> Option<Duration> {
        self.request_timeout
    }
}
