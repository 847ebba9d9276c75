//! `agent-otel export`: one stored session as OTLP-JSON lines.
//!
//! Reads the SQLite file `collect --db` writes and prints the session's
//! log records as one `ExportLogsServiceRequest` line, then (when the
//! session has spans) one `ExportTraceServiceRequest` line: the shape
//! `collect --out` writes, so the lines can be pasted into another tool.
//! Only what the store holds is printed (see
//! `agent_otel_store::SessionExport`).

use std::fs::File;
use std::io::Write;
use std::path::Path;

use agent_otel_store::{SessionExport, Store};

use crate::style::Style;
use crate::{EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE};

/// Why an export did not complete.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    /// The database file does not exist (it is never created here).
    #[error("no store at {0} (write one with `agent-otel collect --db FILE`)")]
    NoStore(String),
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] agent_otel_store::StoreError),
    /// No log record of the store has that `conversation.id`.
    #[error("no session {0:?} in the store (its `conversation.id` has no records)")]
    UnknownSession(String),
    /// The output could not be written.
    #[error("cannot write {0}: {1}")]
    Write(String, std::io::Error),
}

impl ExportError {
    fn exit_code(&self) -> u8 {
        match self {
            ExportError::UnknownSession(_) | ExportError::Write(..) => EXIT_INCOMPLETE,
            ExportError::NoStore(_) | ExportError::Store(_) => EXIT_USAGE,
        }
    }
}

/// Runs `agent-otel export`; returns the exit code.
pub fn run(db: &Path, session: &str, out: Option<&Path>) -> u8 {
    match export(db, session, out) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            eprintln!("{} {e}", Style::stderr().bad("error:"));
            e.exit_code()
        }
    }
}

fn export(db: &Path, session: &str, out: Option<&Path>) -> Result<(), ExportError> {
    if !db.is_file() {
        return Err(ExportError::NoStore(db.display().to_string()));
    }
    let store = Store::open(db)?;
    let found = store
        .session_export(session)?
        .ok_or_else(|| ExportError::UnknownSession(session.to_owned()))?;
    let text = lines(&found);
    let place = out.map_or_else(|| "standard output".to_owned(), |p| p.display().to_string());
    let written = match out {
        Some(path) => File::create(path).and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        }),
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
        }
    };
    written.map_err(|e| ExportError::Write(place, e))
}

/// The OTLP-JSON lines of `found`: logs, then traces when there are spans.
fn lines(found: &SessionExport) -> String {
    let mut text = String::new();
    let mut push = |json: serde_json::Result<String>| {
        // The OTLP types only hold strings, numbers, bytes and nested
        // messages: serialising them cannot fail.
        if let Ok(line) = json {
            text.push_str(&line);
            text.push('\n');
        }
    };
    push(serde_json::to_string(&found.logs));
    if !found.traces.resource_spans.is_empty() {
        push(serde_json::to_string(&found.traces));
    }
    text
}
