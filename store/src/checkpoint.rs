//! WAL checkpoints off the write path.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that crosses the
//! WAL's threshold: that write copies the whole WAL into the database and
//! fsyncs both files while holding the store's lock, so one acknowledgement
//! in ~70 waited for 64 MiB of I/O (a 13 % loss of ingest speed). A file
//! store instead turns automatic checkpoints off and runs a
//! [`Checkpointer`]: a thread with its own connection that, after writes,
//! checkpoints (`PASSIVE`: it never blocks the writer) at most every
//! [`INTERVAL`].
//!
//! A passive checkpoint cannot rewind the WAL while writes keep arriving
//! (the writer restarts the WAL only when every frame is copied), so under
//! a long unbroken stream the WAL keeps growing. Past [`WAL_CAP_FRAMES`]
//! the writer checkpoints inline after its commit ([`Checkpointer::over_cap`]),
//! as SQLite would have, which bounds the file.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// The shortest time between two background checkpoints.
pub(crate) const INTERVAL: Duration = Duration::from_millis(250);

/// WAL frames (64 KiB pages) past which the writer checkpoints inline: 4 GiB
/// is never reached by bursts; it bounds a stream that never pauses.
pub(crate) const WAL_CAP_FRAMES: u64 = 65_536;

#[derive(Default)]
struct Flags {
    /// A write committed since the last checkpoint began.
    dirty: bool,
    /// The store is closing.
    stop: bool,
    /// Checkpoints completed (for tests).
    done: u64,
}

#[derive(Default)]
struct Shared {
    flags: Mutex<Flags>,
    changed: Condvar,
    /// Frames the WAL keeps after the last checkpoint (see [`passive`]).
    wal_frames: AtomicU64,
}

impl Shared {
    fn flags(&self) -> std::sync::MutexGuard<'_, Flags> {
        self.flags.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The background checkpoint thread of one database file.
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts the thread; `None`
    /// when either cannot be had (the caller then keeps SQLite's automatic
    /// checkpoints: slower, never wrong).
    pub(crate) fn start(path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open(path).ok()?;
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("agent-otel-store-checkpoint".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&conn, &shared)
            })
            .ok()?;
        Some(Checkpointer {
            shared,
            thread: Some(thread),
        })
    }

    /// Tells the thread that a write committed.
    pub(crate) fn nudge(&self) {
        self.shared.flags().dirty = true;
        self.shared.changed.notify_all();
    }

    /// Whether the WAL has grown past [`WAL_CAP_FRAMES`] (the writer then
    /// checkpoints inline).
    pub(crate) fn over_cap(&self) -> bool {
        self.shared.wal_frames.load(Ordering::Relaxed) > WAL_CAP_FRAMES
    }

    /// Records the WAL size an inline checkpoint found.
    pub(crate) fn note_wal_frames(&self, frames: u64) {
        self.shared.wal_frames.store(frames, Ordering::Relaxed);
    }

    /// Blocks until `n` checkpoints have completed.
    #[cfg(test)]
    fn wait_done(&self, n: u64) {
        let mut flags = self.shared.flags();
        while flags.done < n {
            flags = self
                .shared
                .changed
                .wait(flags)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

impl Drop for Checkpointer {
    /// Stops the thread (after the checkpoint it may be running); the
    /// store's last connection checkpoints what is left when it closes.
    fn drop(&mut self) {
        self.shared.flags().stop = true;
        self.shared.changed.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs a passive checkpoint on `conn`; returns the frames the WAL keeps:
/// 0 when every frame was copied (the next write rewinds the WAL), else
/// the WAL's length.
pub(crate) fn passive(conn: &Connection) -> rusqlite::Result<u64> {
    let (log, copied): (i64, i64) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(1)?, r.get(2)?))
    })?;
    Ok(if log == copied {
        0
    } else {
        u64::try_from(log).unwrap_or(0)
    })
}

fn run(conn: &Connection, shared: &Shared) {
    loop {
        {
            let mut flags = shared.flags();
            while !flags.dirty && !flags.stop {
                flags = shared
                    .changed
                    .wait(flags)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            if flags.stop {
                return;
            }
            flags.dirty = false;
        }
        // A failed checkpoint (the writer's inline one holds the lock, an
        // I/O error) is retried after the next write; the WAL keeps
        // everything meanwhile.
        if let Ok(frames) = passive(conn) {
            shared.wal_frames.store(frames, Ordering::Relaxed);
        }
        let mut flags = shared.flags();
        flags.done += 1;
        shared.changed.notify_all();
        // At most one checkpoint per interval; closing cuts the wait short.
        let (flags, _) = shared
            .changed
            .wait_timeout_while(flags, INTERVAL, |f| !f.stop)
            .unwrap_or_else(PoisonError::into_inner);
        if flags.stop {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_nudge_copies_the_wal_into_the_database_file() -> rusqlite::Result<()> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let writer = Connection::open(&path)?;
        writer.pragma_update(None, "journal_mode", "WAL")?;
        writer.pragma_update(None, "wal_autocheckpoint", 0)?;
        writer.execute_batch(
            "CREATE TABLE t (v TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
             INSERT INTO t SELECT printf('%0500d', i) FROM n;",
        )?;
        let before = std::fs::metadata(&path).map_or(0, |m| m.len());
        let checkpointer = Checkpointer::start(&path).unwrap();
        checkpointer.nudge();
        checkpointer.wait_done(1);
        let after = std::fs::metadata(&path).map_or(0, |m| m.len());
        assert!(after > before + 1_000_000, "{before} -> {after}");
        // Every frame is in the database: a checkpoint has nothing left.
        let (log, copied): (i64, i64) =
            writer.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?;
        assert_eq!(log, copied);
        assert!(!checkpointer.over_cap());
        drop(checkpointer);
        Ok(())
    }
}
