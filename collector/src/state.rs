//! State shared between the server tasks and the synchronous API.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

use crate::fault::{Answer, Fault};
use crate::record::{OtlpRequest, ReceivedRequest, Signal, Transport};
use crate::sink::{SignalRequest, Sink};

/// What is kept and counted for one signal.
pub(crate) struct SignalState<R> {
    /// The requests kept for `Collector::requests` and friends; stays empty
    /// unless `keep_requests`.
    pub(crate) requests: Vec<ReceivedRequest<R>>,
    /// Requests received (kept or not) since the start or the last clear.
    pub(crate) request_count: usize,
    /// Records of requests whose answer counts them.
    pub(crate) record_count: usize,
    pub(crate) faults: VecDeque<Fault>,
    pub(crate) default_fault: Option<Fault>,
    pub(crate) subscribers: Vec<mpsc::Sender<ReceivedRequest<R>>>,
}

impl<R> Default for SignalState<R> {
    fn default() -> Self {
        SignalState {
            requests: Vec::new(),
            request_count: 0,
            record_count: 0,
            faults: VecDeque::new(),
            default_fault: None,
            subscribers: Vec::new(),
        }
    }
}

impl<R> SignalState<R> {
    pub(crate) fn clear(&mut self) {
        self.requests.clear();
        self.request_count = 0;
        self.record_count = 0;
    }
}

#[derive(Default)]
pub(crate) struct State {
    /// Whether requests are kept ([`crate::CollectorConfig::keep_requests`]).
    pub(crate) keep_requests: bool,
    pub(crate) logs: SignalState<ExportLogsServiceRequest>,
    pub(crate) metrics: SignalState<ExportMetricsServiceRequest>,
    pub(crate) traces: SignalState<ExportTraceServiceRequest>,
    /// TLS connections dropped because their handshake failed.
    pub(crate) tls_handshake_failures: usize,
    /// Requests refused because they held more records or values than the
    /// configured caps allow.
    pub(crate) refused_oversized: usize,
    /// Connections closed because they stayed silent past a timeout.
    pub(crate) timed_out_connections: usize,
    /// Set once the collector is dropped and its servers have stopped (or
    /// were given up on): the subscribers are gone, so a request still
    /// arriving is refused rather than accepted unseen.
    pub(crate) closed: bool,
}

/// Where each request type lives in [`State`].
pub(crate) trait Stored: OtlpRequest {
    fn slot(state: &mut State) -> &mut SignalState<Self>;
    fn as_signal(request: &ReceivedRequest<Self>) -> SignalRequest<'_>;
}

macro_rules! stored {
    ($ty:ty, $field:ident, $variant:ident) => {
        impl Stored for $ty {
            fn slot(state: &mut State) -> &mut SignalState<Self> {
                &mut state.$field
            }
            fn as_signal(request: &ReceivedRequest<Self>) -> SignalRequest<'_> {
                SignalRequest::$variant(request)
            }
        }
    };
}

stored!(ExportLogsServiceRequest, logs, Logs);
stored!(ExportMetricsServiceRequest, metrics, Metrics);
stored!(ExportTraceServiceRequest, traces, Traces);

/// The per-signal state of `signal`, as far as counts go.
pub(crate) fn counts(state: &State, signal: Signal) -> (usize, usize) {
    match signal {
        Signal::Logs => (state.logs.request_count, state.logs.record_count),
        Signal::Metrics => (state.metrics.request_count, state.metrics.record_count),
        Signal::Traces => (state.traces.request_count, state.traces.record_count),
    }
}

/// What a transport learnt about a request before decoding its answer.
pub(crate) struct Incoming<R> {
    pub(crate) transport: Transport,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) content_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) body_len: usize,
    pub(crate) request: R,
    pub(crate) client_certificate: bool,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    sink: Option<Arc<dyn Sink>>,
}

impl Shared {
    /// Empty state; `keep_requests` as in [`crate::CollectorConfig::keep_requests`].
    pub(crate) fn new(keep_requests: bool, sink: Option<Arc<dyn Sink>>) -> Self {
        Shared {
            state: Mutex::new(State {
                keep_requests,
                ..State::default()
            }),
            changed: Condvar::new(),
            sink,
        }
    }

    /// Whether a sink writes requests before they are answered (its writes
    /// may block, so the servers call [`Shared::receive`] off the runtime).
    pub(crate) fn has_sink(&self) -> bool {
        self.sink.is_some()
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent
        // (every update is a single push or counter change), so recover.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a decoded request, consuming the next scripted fault of its
    /// signal, and returns the answer to give. A request whose answer
    /// counts its records is first written to the sink (when there is one):
    /// a sink error turns the answer into [`Answer::NotStored`]. The
    /// request reaches the subscribers before this returns, so no request
    /// is answered without being fed to them; once the collector is closed
    /// (its subscribers gone) requests are answered as
    /// [`Fault::NeverAnswer`] (503 / `UNAVAILABLE`, records not counted)
    /// without consuming a scripted fault.
    pub(crate) fn receive<R: Stored>(&self, incoming: Incoming<R>) -> Answer {
        let answer = {
            let mut st = self.lock();
            if st.closed {
                Answer::Fault(Fault::NeverAnswer)
            } else {
                let slot = R::slot(&mut st);
                match slot.faults.pop_front() {
                    Some(f) => Answer::from_fault(f),
                    None => slot
                        .default_fault
                        .clone()
                        .map_or(Answer::Accepted, Answer::from_fault),
                }
            }
        };
        let mut req = ReceivedRequest {
            transport: incoming.transport,
            received_at: SystemTime::now(),
            headers: incoming.headers,
            content_type: incoming.content_type,
            content_encoding: incoming.content_encoding,
            body_len: incoming.body_len,
            request: incoming.request,
            answered: answer,
            client_certificate: incoming.client_certificate,
        };
        if req.answered.counts_records()
            && let Some(sink) = &self.sink
            && let Err(err) = sink.write(R::as_signal(&req))
        {
            req.answered = Answer::NotStored(err.to_string());
        }
        let answer = req.answered.clone();
        let mut st = self.lock();
        let keep = st.keep_requests;
        let slot = R::slot(&mut st);
        if answer.counts_records() {
            slot.record_count += req.record_count();
        }
        if !slot.subscribers.is_empty() {
            slot.subscribers.retain(|tx| tx.send(req.clone()).is_ok());
        }
        slot.request_count += 1;
        if keep {
            slot.requests.push(req);
        }
        drop(st);
        self.changed.notify_all();
        answer
    }

    /// Ends the live feeds and refuses requests from now on (see
    /// [`Shared::receive`]). Called once the servers have stopped.
    pub(crate) fn close(&self) {
        let mut st = self.lock();
        st.closed = true;
        st.logs.subscribers.clear();
        st.metrics.subscribers.clear();
        st.traces.subscribers.clear();
        drop(st);
        self.changed.notify_all();
    }

    /// Runs `update` on the state and wakes the waiters.
    pub(crate) fn note(&self, update: impl FnOnce(&mut State)) {
        update(&mut self.lock());
        self.changed.notify_all();
    }

    /// Counts a TLS connection dropped because its handshake failed.
    pub(crate) fn note_tls_handshake_failure(&self) {
        self.note(|st| st.tls_handshake_failures += 1);
    }

    /// Waits until `done(&state)` holds or `timeout` passes; returns the
    /// guard and whether the condition holds.
    pub(crate) fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&State) -> bool,
    ) -> (MutexGuard<'_, State>, bool) {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.lock();
        loop {
            if done(&st) {
                return (st, true);
            }
            let remaining = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                // A timeout too large to represent: wait in long slices.
                None => Duration::from_secs(3600),
            };
            if remaining.is_zero() {
                return (st, false);
            }
            st = match self.changed.wait_timeout(st, remaining) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }
}
