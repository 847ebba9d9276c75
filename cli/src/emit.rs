//! `agent-otel emit`: ship JSON-lines events through the configured exporter.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Read};
use std::path::Path;
use std::time::{Duration, SystemTime};

use agent_otel_core::{SessionMetadata, Telemetry};

use crate::style::Style;
use crate::summary::render_stats;
use crate::{EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE};
use crate::{input, setup};

fn open_input(path: &Path) -> Result<Box<dyn Read>, std::io::Error> {
    if path == Path::new("-") {
        Ok(Box::new(std::io::stdin()))
    } else {
        Ok(Box::new(File::open(path)?))
    }
}

/// Counts of one run.
#[derive(Debug, Default)]
struct Tally {
    sent: u64,
    bad: u64,
}

pub fn run(
    config: &Path,
    input_path: &Path,
    service_name: Option<String>,
    shutdown_timeout: Duration,
) -> u8 {
    let err = Style::stderr();
    let resolved = match setup::resolve_file(config, service_name) {
        Ok(resolved) => resolved,
        Err(code) => return code,
    };
    let telemetry = match setup::start(&resolved) {
        Ok(telemetry) => telemetry,
        Err(code) => return code,
    };
    let reader = match open_input(input_path) {
        Ok(opened) => opened,
        Err(e) => {
            eprintln!(
                "{} cannot read --input {}: {e}",
                err.bad("error:"),
                input_path.display()
            );
            return EXIT_USAGE;
        }
    };
    let flush_every = (resolved.pipeline.queue_capacity / 2).max(1) as u64;
    let tally = send_lines(
        BufReader::new(reader),
        &telemetry,
        flush_every,
        shutdown_timeout,
    );
    if !telemetry.is_enabled() {
        println!(
            "dry run: exporter is none; {} events validated, nothing sent",
            tally.sent
        );
        return if tally.bad == 0 {
            EXIT_OK
        } else {
            EXIT_INCOMPLETE
        };
    }
    // The stats say what happened: exported, spooled, or lost.
    let _ = telemetry.shutdown(shutdown_timeout);
    let stats = telemetry.stats();
    eprint!("{}", render_stats(&stats, &err));
    if stats.spooled > 0 {
        eprintln!(
            "{} {} events spooled for later delivery (agent-otel spool status)",
            err.bad("spooled:"),
            stats.spooled
        );
    }
    // Spooled events are not lost: the next run (or `spool replay`)
    // delivers them.
    let delivered = stats.exported + stats.spooled == tally.sent;
    if delivered && tally.bad == 0 {
        eprintln!(
            "{}",
            err.ok(&format!(
                "sent {} events ({} exported, {} spooled)",
                tally.sent, stats.exported, stats.spooled
            ))
        );
        EXIT_OK
    } else {
        if !delivered {
            eprintln!(
                "{} {} of {} events were exported, {} spooled",
                err.bad("incomplete:"),
                stats.exported,
                tally.sent,
                stats.spooled
            );
        }
        if tally.bad > 0 {
            eprintln!(
                "{} {} bad line(s) were not sent",
                err.bad("incomplete:"),
                tally.bad
            );
        }
        EXIT_INCOMPLETE
    }
}

/// Sends every line; a bad line is reported with its number and skipped.
/// Every `flush_every` events the pipeline is flushed, so a long input
/// waits for the collector instead of overflowing the queue.
fn send_lines(
    reader: impl BufRead,
    telemetry: &Telemetry,
    flush_every: u64,
    flush_timeout: Duration,
) -> Tally {
    let err = Style::stderr();
    let progress = std::io::stderr().is_terminal();
    let mut tally = Tally::default();
    let mut session = telemetry.session(SessionMetadata::default());
    for (index, line) in reader.split(b'\n').enumerate() {
        let number = index + 1;
        let line = match line {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!(
                    "{} line {number}: cannot read input: {e}",
                    err.bad("error:")
                );
                tally.bad += 1;
                break;
            }
        };
        let Ok(text) = std::str::from_utf8(&line) else {
            eprintln!("{} line {number}: not valid UTF-8", err.bad("error:"));
            tally.bad += 1;
            continue;
        };
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let parsed = match input::parse(text) {
            Ok(parsed) => parsed,
            Err(e) => {
                eprintln!("{} line {number}: {e}", err.bad("error:"));
                tally.bad += 1;
                continue;
            }
        };
        if let Some(metadata) = parsed.session() {
            session = telemetry.session(metadata);
            continue;
        }
        let time = parsed.time().unwrap_or_else(SystemTime::now);
        if parsed.emit_to(&session, time) {
            tally.sent += 1;
            if telemetry.is_enabled() && tally.sent % flush_every == 0 {
                // A flush that times out is reported by the final stats.
                let _ = telemetry.force_flush(flush_timeout);
            }
            if progress && tally.sent % 10_000 == 0 {
                eprint!("\rsent {} events", tally.sent);
            }
        }
    }
    if progress && tally.sent >= 10_000 {
        eprintln!();
    }
    tally
}
