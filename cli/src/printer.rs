//! Terminal output of `collect` that never blocks or grows: lines go
//! through a bounded channel to a printer thread; when it is full the line
//! is dropped and counted, and a closed stdout (broken pipe) ends printing,
//! not collecting.

use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

/// Lines waiting for the printer thread.
const CAPACITY: usize = 4096;

/// Where a line goes.
pub enum Line {
    /// Standard output (events).
    Out(String),
    /// Standard error (store errors and other notices).
    Err(String),
}

/// The sending side: cheap to clone, never blocks.
#[derive(Clone)]
pub struct Printer {
    tx: SyncSender<Line>,
    dropped: Arc<AtomicU64>,
    stopped: Arc<AtomicBool>,
}

impl Printer {
    /// Starts the printer thread.
    pub fn start() -> (Printer, JoinHandle<()>) {
        let (tx, rx) = sync_channel(CAPACITY);
        let stopped = Arc::new(AtomicBool::new(false));
        let thread_stopped = Arc::clone(&stopped);
        let thread = std::thread::spawn(move || print(rx, &thread_stopped));
        (
            Printer {
                tx,
                dropped: Arc::new(AtomicU64::new(0)),
                stopped,
            },
            thread,
        )
    }

    /// Queues `line`; drops (and counts) it when the queue is full or
    /// printing has stopped.
    pub fn offer(&self, line: Line) {
        if self.stopped.load(Ordering::Relaxed) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The counters, readable after the printer is gone.
    pub fn counters(&self) -> PrinterCounters {
        PrinterCounters {
            dropped: Arc::clone(&self.dropped),
            stopped: Arc::clone(&self.stopped),
        }
    }
}

/// What became of the lines offered to a [`Printer`].
pub struct PrinterCounters {
    dropped: Arc<AtomicU64>,
    stopped: Arc<AtomicBool>,
}

impl PrinterCounters {
    /// Lines dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Whether standard output was closed (printing stopped).
    pub fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

/// Waits (at most `timeout`) for the printer thread to print what is
/// queued; every [`Printer`] must be dropped first. A terminal that does
/// not read cannot hold the caller up longer. True when the thread ended
/// (false: it is stuck writing to standard output, which then must not be
/// written to again).
pub fn finish(thread: JoinHandle<()>, timeout: std::time::Duration) -> bool {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = thread.join();
        let _ = done_tx.send(());
    });
    done_rx.recv_timeout(timeout).is_ok()
}

fn print(rx: Receiver<Line>, stopped: &AtomicBool) {
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    for line in rx {
        match line {
            Line::Out(text) => {
                if stopped.load(Ordering::Relaxed) {
                    continue;
                }
                let mut out = stdout.lock();
                if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
                    // Broken pipe (`collect | head`) or a closed terminal:
                    // stop printing; collecting goes on.
                    stopped.store(true, Ordering::Relaxed);
                }
            }
            Line::Err(text) => {
                let _ = writeln!(stderr.lock(), "{text}");
            }
        }
    }
}
