//! Received OTLP telemetry in SQLite, and the queries the viewer and the
//! CLI use.
//!
//! Tables and columns are named as the OpenTelemetry Collector's
//! ClickHouse exporter names them (`otel_logs`, `otel_traces`,
//! `otel_metrics_sum`, `otel_metrics_gauge`, `otel_metrics_histogram`,
//! `otel_metrics_exponential_histogram`, `otel_metrics_summary`;
//! `Timestamp`, `TraceId`, `ServiceName`, `LogAttributes`, ...), with
//! attribute maps as JSON text, so a query written here carries over to a
//! team's ClickHouse. The type mapping and the added column are described
//! in the `schema` module source (and in README.md).
//!
//! A [`Store`] is a [`Sink`] for the collector: each request is written
//! in **one transaction**, committed (WAL, `synchronous=NORMAL`) before
//! the collector acknowledges it: an acknowledged request survives a crash
//! or `kill -9` of the process; a power loss or kernel crash may lose the
//! requests committed since the last checkpoint (see ARCHITECTURE.md).
//!
//! ```
//! use agent_otel_store::Store;
//! let store = Store::in_memory(10_000)?;
//! assert_eq!(store.counts()?.logs, 0);
//! # Ok::<(), agent_otel_store::StoreError>(())
//! ```

mod checkpoint;
mod query;
mod rows;
mod schema;
mod session_export;
mod text;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use agent_otel_collector::{SignalRequest, Sink, SinkError};
use rusqlite::Connection;

use checkpoint::Checkpointer;
use rows::Rows;
use schema::Table;

pub use query::{SessionEvent, SessionSummary, SpanRow, TokenBucket, ToolStats};
pub use session_export::SessionExport;

/// Why the store could not open, write or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or prepared.
    #[error("cannot open the store {path}: {source}")]
    Open {
        /// The file asked for.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A write or a query failed (disk full, read-only file, ...).
    #[error("store {place}: {source}")]
    Sqlite {
        /// Where: the database path or `memory`.
        place: String,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
}

/// How many rows each table holds, and how many were evicted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreCounts {
    /// Rows of `otel_logs`.
    pub logs: u64,
    /// Rows of `otel_traces`.
    pub spans: u64,
    /// Rows of the `otel_metrics_*` tables.
    pub data_points: u64,
    /// Rows evicted by an in-memory store's bound (all tables).
    pub evicted: u64,
}

struct Inner {
    conn: Connection,
    /// Committed rows per table (indexed by [`Table`]), tracked for
    /// eviction.
    rows: [u64; Table::COUNT],
    evicted: u64,
}

/// Received telemetry in SQLite: a file (durable) or memory (bounded).
pub struct Store {
    /// Checkpoints the WAL of a file store off the write path. Declared
    /// first so that it stops (and lets go of `inner`) before `inner` is
    /// dropped.
    checkpointer: Option<Checkpointer>,
    /// The connection; every write holds this lock for its transaction.
    inner: Arc<Mutex<Inner>>,
    place: String,
    /// `Some(n)`: each table keeps at most `n` rows, oldest evicted first.
    bound: Option<u64>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("place", &self.place)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating when missing) the database file at `path`, in WAL
    /// mode with `synchronous=NORMAL`: a committed write survives a crash
    /// or `kill -9` of this process (it is in the WAL file before `write`
    /// returns); it is fsynced at the next checkpoint, so a power loss may
    /// lose the last commits (ARCHITECTURE.md, "What write-before-acknowledge
    /// promises").
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let err = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        // Before the first write fixes it: 64 KiB pages make appends of
        // ~1 KiB rows twice as fast as the default 4 KiB (fewer page
        // splits, WAL frames and syscalls; BENCHMARKS.md section 9). A file
        // created with other pages keeps them.
        conn.pragma_update(None, "page_size", 65536).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        schema::migrate(&conn).map_err(err)?;
        conn.execute_batch(schema::CREATE).map_err(err)?;
        let mut store = Store::with(conn, path.display().to_string(), None)?;
        store.checkpointer = Checkpointer::start(path, Arc::downgrade(&store.inner));
        if store.checkpointer.is_some() {
            store
                .lock()
                .conn
                .pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(err)?;
        }
        Ok(store)
    }

    /// An in-memory store whose tables keep at most `max_rows` rows each;
    /// older rows are evicted first and counted ([`StoreCounts::evicted`]).
    pub fn in_memory(max_rows: u64) -> Result<Store, StoreError> {
        let err = |source| StoreError::Sqlite {
            place: "memory".into(),
            source,
        };
        let conn = Connection::open_in_memory().map_err(err)?;
        conn.pragma_update(None, "page_size", 65536).map_err(err)?;
        conn.execute_batch(schema::CREATE).map_err(err)?;
        Store::with(conn, "memory".into(), Some(max_rows.max(1)))
    }

    fn with(conn: Connection, place: String, bound: Option<u64>) -> Result<Store, StoreError> {
        let mut rows = [0u64; Table::COUNT];
        for table in Table::ALL {
            rows[table as usize] = conn
                .query_row(&format!("SELECT count(*) FROM {}", table.name()), [], |r| {
                    r.get::<_, i64>(0)
                })
                .map_err(|source| StoreError::Sqlite {
                    place: place.clone(),
                    source,
                })?
                .try_into()
                .unwrap_or(0);
        }
        Ok(Store {
            checkpointer: None,
            inner: Arc::new(Mutex::new(Inner {
                conn,
                rows,
                evicted: 0,
            })),
            place,
            bound,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic mid-transaction rolls the transaction back (it is
        // dropped), so the connection stays usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sqlite(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            place: self.place.clone(),
            source,
        }
    }

    /// Writes every record of `request` in one transaction and commits it
    /// (evicting first, for a bounded store); returns how many rows were
    /// written. The rows' text is rendered before the lock is taken, so
    /// concurrent requests render in parallel and only the inserts are
    /// serialized.
    pub fn write(&self, request: SignalRequest<'_>) -> Result<usize, StoreError> {
        let rows = Rows::of(request);
        let mut inner = self.lock();
        let Inner {
            conn,
            rows: totals,
            evicted,
        } = &mut *inner;
        let tx = conn.transaction().map_err(|e| self.sqlite(e))?;
        let added = rows.insert(&tx).map_err(|e| self.sqlite(e))?;
        let mut after = *totals;
        for (total, n) in after.iter_mut().zip(added) {
            *total += n;
        }
        let removed = self.evict(&tx, &mut after).map_err(|e| self.sqlite(e))?;
        tx.commit().map_err(|e| self.sqlite(e))?;
        *totals = after;
        *evicted += removed;
        if let Some(checkpointer) = &self.checkpointer {
            if checkpointer.over_cap() {
                // The commit is done: a failed checkpoint only delays the
                // next one.
                if let Ok(state) = checkpoint::passive(conn) {
                    checkpointer.note_wal_frames(state.kept());
                }
            }
            checkpointer.nudge();
        }
        Ok(rows.len())
    }

    /// Deletes the oldest rows of every table over the bound (when the
    /// store has one), updating `rows`; returns how many.
    fn evict(&self, conn: &Connection, rows: &mut [u64; Table::COUNT]) -> rusqlite::Result<u64> {
        let Some(bound) = self.bound else {
            return Ok(0);
        };
        let mut evicted = 0;
        for table in Table::ALL {
            let excess = rows[table as usize].saturating_sub(bound);
            if excess == 0 {
                continue;
            }
            let n = conn.execute(
                &format!(
                    "DELETE FROM {0} WHERE rowid IN \
                     (SELECT rowid FROM {0} ORDER BY rowid LIMIT ?1)",
                    table.name()
                ),
                [i64::try_from(excess).unwrap_or(i64::MAX)],
            )? as u64;
            rows[table as usize] -= n;
            evicted += n;
        }
        Ok(evicted)
    }

    /// Rows per table and rows evicted.
    pub fn counts(&self) -> Result<StoreCounts, StoreError> {
        let inner = self.lock();
        Ok(StoreCounts {
            logs: inner.rows[Table::Logs as usize],
            spans: inner.rows[Table::Traces as usize],
            data_points: Table::ALL
                .into_iter()
                .filter(|table| table.is_metric())
                .map(|table| inner.rows[table as usize])
                .sum(),
            evicted: inner.evicted,
        })
    }

    /// Runs `f` on the connection (for the queries).
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let inner = self.lock();
        f(&inner.conn).map_err(|e| self.sqlite(e))
    }
}

impl Sink for Store {
    fn write(&self, request: SignalRequest<'_>) -> Result<(), SinkError> {
        Store::write(self, request)
            .map(|_| ())
            .map_err(|e| SinkError::new(e.to_string()))
    }
}
