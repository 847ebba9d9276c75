//! State shared between the server tasks and the synchronous API.

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;

use crate::fault::{Answer, Fault};
use crate::record::{ReceivedRequest, Transport};

#[derive(Default)]
pub(crate) struct State {
    /// The requests kept for [`Collector::requests`](crate::Collector::requests);
    /// stays empty unless `keep_requests`.
    pub(crate) requests: Vec<ReceivedRequest>,
    /// Whether `requests` keeps a history ([`crate::CollectorConfig::keep_requests`]).
    pub(crate) keep_requests: bool,
    /// Requests received (kept or not) since the start or the last clear.
    pub(crate) request_count: usize,
    /// Records of requests whose answer counts them.
    pub(crate) record_count: usize,
    pub(crate) faults: VecDeque<Fault>,
    pub(crate) default_fault: Option<Fault>,
    pub(crate) subscribers: Vec<mpsc::Sender<ReceivedRequest>>,
    /// TLS connections dropped because their handshake failed.
    pub(crate) tls_handshake_failures: usize,
    /// Set once the collector is dropped and its servers have stopped (or
    /// were given up on): the subscribers are gone, so a request still
    /// arriving is refused rather than accepted unseen.
    pub(crate) closed: bool,
}

/// What a transport learnt about a request before decoding its answer.
pub(crate) struct Incoming {
    pub(crate) transport: Transport,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) content_type: Option<String>,
    pub(crate) content_encoding: Option<String>,
    pub(crate) body_len: usize,
    pub(crate) request: ExportLogsServiceRequest,
    pub(crate) client_certificate: bool,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    /// Empty state; `keep_requests` as in [`crate::CollectorConfig::keep_requests`].
    pub(crate) fn new(keep_requests: bool) -> Self {
        Shared {
            state: Mutex::new(State {
                keep_requests,
                ..State::default()
            }),
            changed: Condvar::new(),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent
        // (every update is a single push or counter change), so recover.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a decoded request, consuming the next scripted fault, and
    /// returns the answer to give. The request reaches the subscribers
    /// before this returns, so no request is answered without being fed to
    /// them; once the collector is closed (its subscribers gone) requests
    /// are answered as [`Fault::NeverAnswer`] (503 / `UNAVAILABLE`, records
    /// not counted) without consuming a scripted fault.
    pub(crate) fn receive(&self, incoming: Incoming) -> Answer {
        let mut st = self.lock();
        let answer = if st.closed {
            Answer::Fault(Fault::NeverAnswer)
        } else {
            match st.faults.pop_front() {
                Some(f) => Answer::from_fault(f),
                None => st
                    .default_fault
                    .clone()
                    .map_or(Answer::Accepted, Answer::from_fault),
            }
        };
        let req = ReceivedRequest {
            transport: incoming.transport,
            received_at: SystemTime::now(),
            headers: incoming.headers,
            content_type: incoming.content_type,
            content_encoding: incoming.content_encoding,
            body_len: incoming.body_len,
            request: incoming.request,
            answered: answer.clone(),
            client_certificate: incoming.client_certificate,
        };
        if answer.counts_records() {
            st.record_count += req.record_count();
        }
        if !st.subscribers.is_empty() {
            st.subscribers.retain(|tx| tx.send(req.clone()).is_ok());
        }
        st.request_count += 1;
        if st.keep_requests {
            st.requests.push(req);
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
        st.subscribers.clear();
        drop(st);
        self.changed.notify_all();
    }

    /// Counts a TLS connection dropped because its handshake failed.
    pub(crate) fn note_tls_handshake_failure(&self) {
        self.lock().tls_handshake_failures += 1;
        self.changed.notify_all();
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
