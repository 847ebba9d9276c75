//! The bounded queue between emitting threads and the export worker.
//!
//! A lock-free array queue (one CAS per push) instead of a channel, so an
//! emit touches as few shared cache lines as possible and wakes the worker
//! only when it has something to do: when the worker is idle (first event
//! of a batch) and when a full batch is waiting. Between those, the worker
//! sleeps on its batch timer and producers never signal it.

use std::sync::atomic::{AtomicBool, Ordering};

use crossbeam_queue::ArrayQueue;
use tokio::sync::Notify;

use crate::event::Event;

/// A flag on its own cache line: producers read these on every push, so
/// they must not share a line with anything written often.
#[repr(align(128))]
struct PaddedFlag(AtomicBool);

impl PaddedFlag {
    fn new() -> Self {
        Self(AtomicBool::new(false))
    }
}

pub(crate) struct EventQueue {
    slots: ArrayQueue<Event>,
    batch_size: usize,
    /// Set by the worker before it parks with nothing queued.
    worker_idle: PaddedFlag,
    /// Set by the producer that saw a full batch waiting, until the worker
    /// takes it; keeps that signal to one per batch.
    batch_ready: PaddedFlag,
    /// Set once the worker has stopped; later pushes are swept by `stats`.
    worker_stopped: AtomicBool,
    wake: Notify,
}

/// Why a push did not enqueue.
pub(crate) struct QueueFull;

impl EventQueue {
    pub(crate) fn new(capacity: usize, batch_size: usize) -> Self {
        Self {
            slots: ArrayQueue::new(capacity),
            batch_size,
            worker_idle: PaddedFlag::new(),
            batch_ready: PaddedFlag::new(),
            worker_stopped: AtomicBool::new(false),
            wake: Notify::new(),
        }
    }

    /// Enqueues without blocking; wakes the worker only when it is idle or
    /// a full batch is waiting.
    #[inline]
    pub(crate) fn push(&self, event: Event) -> Result<(), QueueFull> {
        // The push's tail CAS is SeqCst; with the SeqCst flag operations
        // below and in `park`, either this producer sees `worker_idle` or
        // the worker sees the event (no lost wake-up).
        self.slots.push(event).map_err(|_| QueueFull)?;
        if self.worker_idle.0.load(Ordering::SeqCst) {
            if self.worker_idle.0.swap(false, Ordering::SeqCst) {
                self.wake.notify_one();
            }
        } else if !self.batch_ready.0.load(Ordering::Relaxed)
            && self.slots.len() >= self.batch_size
            && !self.batch_ready.0.swap(true, Ordering::AcqRel)
        {
            // Test before swap: once signalled, later producers only read.
            self.wake.notify_one();
        }
        Ok(())
    }

    pub(crate) fn pop(&self) -> Option<Event> {
        self.slots.pop()
    }

    /// Called by the worker before it takes a batch: the next full batch
    /// may signal again.
    pub(crate) fn batch_taken(&self) {
        self.batch_ready.0.store(false, Ordering::Release);
    }

    /// Marks the worker idle if nothing is queued; returns false (and stays
    /// busy) when an event is already there.
    pub(crate) fn park(&self) -> bool {
        self.worker_idle.0.store(true, Ordering::SeqCst);
        if self.slots.is_empty() {
            return true;
        }
        self.worker_idle.0.store(false, Ordering::SeqCst);
        false
    }

    pub(crate) fn unpark(&self) {
        self.worker_idle.0.store(false, Ordering::SeqCst);
    }

    /// Resolves on the next wake-up (or at once if one is pending).
    pub(crate) async fn woken(&self) {
        self.wake.notified().await;
    }

    pub(crate) fn mark_stopped(&self) {
        self.worker_stopped.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.worker_stopped.load(Ordering::SeqCst)
    }
}
