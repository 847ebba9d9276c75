//! WAL checkpoints off the write path.
//!
//! SQLite's automatic checkpoint runs inside the `COMMIT` that crosses the
//! WAL's threshold: that write copies the whole WAL into the database and
//! fsyncs both files while holding the store's lock, so one acknowledgement
//! in ~70 waited for 64 MiB of I/O (a 13 % loss of ingest speed). A file
//! store instead turns automatic checkpoints off and runs a
//! [`Checkpointer`]: a thread with its own connection that, after writes
//! and at most every [`INTERVAL`]:
//! 1. copies the WAL into the database with `PASSIVE` checkpoints, which
//!    never block the writer, until what writes added meanwhile is at most
//!    [`SMALL_TAIL_FRAMES`];
//! 2. copies that tail holding the store's lock, so that every frame is
//!    copied when the next write begins: SQLite rewinds the WAL only then.
//!    Without this step an unbroken stream of writes grew the WAL without
//!    end (700 MB in 5 s of the ingest bench), each write landing on fresh
//!    pages.
//!
//! If the thread ever falls behind (I/O errors), past [`WAL_CAP_FRAMES`]
//! the writer checkpoints inline after its commit
//! ([`Checkpointer::over_cap`]), as SQLite would have, which bounds the
//! file.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

/// The shortest time between two background checkpoints.
pub(crate) const INTERVAL: Duration = Duration::from_millis(250);

/// Frames (64 KiB pages) a checkpoint leaves for the locked pass: the
/// writes it stops wait for at most this much copying.
pub(crate) const SMALL_TAIL_FRAMES: u64 = 16;

/// Passes without the lock before the locked one, at most.
const UNLOCKED_PASSES: usize = 4;

/// WAL frames (64 KiB pages) past which the writer checkpoints inline
/// (1 GiB; only reached when the thread cannot keep up).
pub(crate) const WAL_CAP_FRAMES: u64 = 16_384;

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
    /// Opens a second connection to `path` and starts the thread, which
    /// holds `writer` (the lock every write of the store holds) for its
    /// final pass; `None` when the connection or the thread cannot be had
    /// (the caller then keeps SQLite's automatic checkpoints: slower, never
    /// wrong).
    pub(crate) fn start<T: Send + 'static>(
        path: &Path,
        writer: Weak<Mutex<T>>,
    ) -> Option<Checkpointer> {
        let conn = Connection::open(path).ok()?;
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("agent-otel-store-checkpoint".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&conn, &shared, &writer)
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

/// What a checkpoint found: frames in the WAL, and how many of them are in
/// the database now.
#[derive(Clone, Copy)]
pub(crate) struct WalState {
    frames: u64,
    copied: u64,
}

impl WalState {
    /// Frames the WAL keeps: 0 when every frame is copied (the next write
    /// rewinds the WAL), else its length.
    pub(crate) fn kept(self) -> u64 {
        if self.copied >= self.frames {
            0
        } else {
            self.frames
        }
    }

    fn uncopied(self) -> u64 {
        self.frames.saturating_sub(self.copied)
    }
}

/// Runs a passive checkpoint on `conn`.
pub(crate) fn passive(conn: &Connection) -> rusqlite::Result<WalState> {
    let (frames, copied): (i64, i64) =
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((r.get(1)?, r.get(2)?))
        })?;
    Ok(WalState {
        frames: u64::try_from(frames).unwrap_or(0),
        copied: u64::try_from(copied).unwrap_or(0),
    })
}

/// One round: unlocked passes until the tail is small, then the tail with
/// `writer` held. `None` when a checkpoint failed (retried after the next
/// write; the WAL keeps everything meanwhile) or the store is closing (its
/// last connection checkpoints on close).
fn checkpoint<T>(conn: &Connection, writer: &Weak<Mutex<T>>) -> Option<WalState> {
    let mut state = passive(conn).ok()?;
    for _ in 1..UNLOCKED_PASSES {
        if state.uncopied() <= SMALL_TAIL_FRAMES {
            break;
        }
        state = passive(conn).ok()?;
    }
    let writer = writer.upgrade()?;
    let _writes_held = writer.lock().unwrap_or_else(PoisonError::into_inner);
    passive(conn).ok()
}

fn run<T>(conn: &Connection, shared: &Shared, writer: &Weak<Mutex<T>>) {
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
        if let Some(state) = checkpoint(conn, writer) {
            shared.wal_frames.store(state.kept(), Ordering::Relaxed);
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
    fn a_nudge_copies_the_wal_into_the_database_and_the_next_write_rewinds_it()
    -> rusqlite::Result<()> {
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
        let writes = Arc::new(Mutex::new(()));
        let checkpointer = Checkpointer::start(&path, Arc::downgrade(&writes)).unwrap();
        checkpointer.nudge();
        checkpointer.wait_done(1);
        let after = std::fs::metadata(&path).map_or(0, |m| m.len());
        assert!(after > before + 1_000_000, "{before} -> {after}");
        assert!(!checkpointer.over_cap());
        // Every frame was copied, so the next write rewinds the WAL: it
        // then holds that write's frames only, not the 2000 rows'.
        writer.execute("INSERT INTO t VALUES ('x')", [])?;
        let state = passive(&writer)?;
        assert!(state.frames <= 4, "{} frames", state.frames);
        drop(checkpointer);
        Ok(())
    }
}
