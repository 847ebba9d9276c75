//! `agent-otel emit`: ship JSON-lines events through the configured exporter.
//!
//! A feeder thread reads, parses and emits; the main thread waits for the
//! end of input or for Ctrl-C / SIGTERM, then shuts the pipeline down within
//! `--shutdown-timeout` and reports what was delivered and what was lost.
//! While reading, the feeder waits for the collector every
//! `queue_capacity / 2` events (back-pressure), but only until the
//! collector has shown it is not taking events (see [`DeliveryWatch`]).

use std::fs::File;
use std::io::{BufReader, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use agent_otel_core::{DropReason, FlushError, PipelineStats, SessionMetadata, Telemetry, Turn};

use crate::input::InputLine;
use crate::lines::{Line, LineReader};
use crate::style::Style;
use crate::summary::render_stats;
use crate::{EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE};
use crate::{input, setup};

/// How often a wait for the collector looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);
/// How long, after the shutdown deadline, the final stats may take to settle.
const SETTLE: Duration = Duration::from_millis(500);
/// Longest part of a line error shown (an input line may be megabytes).
const MAX_SHOWN_CHARS: usize = 300;

/// What `agent-otel emit` was asked to do.
#[derive(Debug)]
pub struct EmitOptions {
    /// The config file.
    pub config: PathBuf,
    /// The input file, `-` for standard input.
    pub input: PathBuf,
    /// `--service-name`.
    pub service_name: Option<String>,
    /// `--shutdown-timeout`.
    pub shutdown_timeout: Duration,
    /// `--max-line-bytes`.
    pub max_line_bytes: usize,
}

/// Opens `--input`; a directory or an unopenable file is a usage error.
fn open_input(path: &Path) -> Result<Box<dyn Read + Send>, String> {
    if path == Path::new("-") {
        return Ok(Box::new(std::io::stdin()));
    }
    let file = File::open(path).map_err(|e| e.to_string())?;
    match file.metadata() {
        Ok(meta) if meta.is_dir() => Err("it is a directory".to_owned()),
        Ok(_) => Ok(Box::new(file)),
        Err(e) => Err(e.to_string()),
    }
}

/// Counts of one run, shared by the feeder and the main thread.
#[derive(Debug, Default)]
struct Tally {
    /// Event lines handed to the pipeline (or validated, in a dry run).
    sent: AtomicU64,
    /// Lines not sent: malformed, too long, binary or unreadable.
    bad: AtomicU64,
    /// Lines read so far.
    lines: AtomicU64,
}

/// What the main thread waits for.
enum Wake {
    /// The feeder reached the end of input (or stopped on binary input or
    /// a read error).
    EndOfInput,
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// Stops the feeder between two lines: the main thread sets the flag, then
/// takes the gate, which the feeder holds while it handles a line (never
/// while it waits for input), so no event is emitted once shutdown begins.
#[derive(Debug, Default)]
struct Stop {
    requested: AtomicBool,
    gate: Mutex<()>,
}

impl Stop {
    fn is_set(&self) -> bool {
        self.requested.load(Ordering::Acquire)
    }

    /// The gate, held while one line is handled.
    fn gate(&self) -> MutexGuard<'_, ()> {
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the flag and waits until no line is being handled; the feeder
    /// stops at its next line.
    fn request(&self) -> MutexGuard<'_, ()> {
        self.requested.store(true, Ordering::Release);
        self.gate()
    }
}

/// Tells the main thread the feeder is done, when dropped.
struct EndOfInputOnDrop(mpsc::Sender<Wake>);

impl Drop for EndOfInputOnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(Wake::EndOfInput);
    }
}

/// Whether the collector is taking events, so `emit` never waits for one
/// that is not: a wait that delivers nothing and ends by its deadline (or
/// with batches given up after their retries) marks the exporter as stalled; later waits are skipped until a delivery
/// shows up in the stats again, and the final shutdown gets only what is
/// left of the stalled wait's deadline.
#[derive(Debug)]
struct DeliveryWatch {
    timeout: Duration,
    /// When the stalled wait started, and how much was delivered then.
    stalled: Option<(Instant, u64)>,
}

/// Records the collector answered for: accepted or rejected.
fn delivered(stats: &PipelineStats) -> u64 {
    stats.exported + stats.rejected
}

impl DeliveryWatch {
    fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            stalled: None,
        }
    }

    /// Waits until everything emitted so far was delivered, the deadline
    /// passes, or `stop` is set; skipped while the exporter is stalled.
    fn wait(&mut self, telemetry: &Telemetry, stop: &Stop) {
        if let Some((_, mark)) = self.stalled {
            if delivered(&telemetry.stats()) <= mark {
                return;
            }
            self.stalled = None;
        }
        let started = Instant::now();
        let before = telemetry.stats();
        let timed_out = loop {
            if stop.is_set() {
                return;
            }
            let left = self.timeout.saturating_sub(started.elapsed());
            if left.is_zero() {
                break true;
            }
            match telemetry.force_flush(left.min(STOP_POLL)) {
                Ok(()) => break false,
                Err(FlushError::ShutDown) => return,
                Err(FlushError::Timeout) => {}
            }
        };
        let after = telemetry.stats();
        let gave_up = after.dropped(DropReason::RetriesExhausted)
            > before.dropped(DropReason::RetriesExhausted);
        if delivered(&after) > delivered(&before) || !(timed_out || gave_up) {
            // Delivering (maybe slowly), or answering with refusals (which
            // is quick): keep waiting at the next batch.
            return;
        }
        self.stalled = Some((started, delivered(&after)));
        let err = Style::stderr();
        eprintln!(
            "{} the collector took no events within {:.1} s; emit stops waiting for it while reading (events that do not fit the queue are dropped)",
            err.bad("warning:"),
            self.timeout.as_secs_f64()
        );
    }

    /// The final shutdown's deadline: the whole timeout, or only what is
    /// left of it when the exporter stalled and has delivered nothing since.
    fn shutdown_deadline(&self, telemetry: &Telemetry) -> Duration {
        match self.stalled {
            Some((since, mark)) if delivered(&telemetry.stats()) <= mark => {
                self.timeout.saturating_sub(since.elapsed())
            }
            _ => self.timeout,
        }
    }
}

pub fn run(options: EmitOptions) -> u8 {
    let err = Style::stderr();
    let reader = match open_input(&options.input) {
        Ok(reader) => reader,
        Err(e) => {
            eprintln!(
                "{} cannot read --input {}: {e}",
                err.bad("error:"),
                printable(&options.input.display().to_string())
            );
            return EXIT_USAGE;
        }
    };
    let resolved = match setup::resolve_file(&options.config, options.service_name.clone()) {
        Ok(resolved) => resolved,
        Err(code) => return code,
    };
    let telemetry = match setup::start(&resolved) {
        Ok(telemetry) => telemetry,
        Err(code) => return code,
    };
    let (wake, woken) = mpsc::channel();
    let on_signal = wake.clone();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = on_signal.send(Wake::Interrupted);
    }) {
        eprintln!(
            "{} cannot install the Ctrl-C handler: {e}",
            err.bad("error:")
        );
        return EXIT_USAGE;
    }

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(Stop::default());
    let watch = Arc::new(Mutex::new(DeliveryWatch::new(options.shutdown_timeout)));
    let flush_every = (resolved.pipeline.queue_capacity / 2).max(1) as u64;
    let feeder = {
        let telemetry = telemetry.clone();
        let tally = Arc::clone(&tally);
        let stop = Arc::clone(&stop);
        let watch = Arc::clone(&watch);
        let max_line_bytes = options.max_line_bytes;
        std::thread::Builder::new()
            .name("agent-otel-emit-reader".to_owned())
            .spawn(move || {
                let mut feeder = Feeder {
                    telemetry: &telemetry,
                    tally: &tally,
                    stop: &stop,
                    watch: &watch,
                    flush_every,
                    max_line_bytes,
                };
                // Said even if the feeder panicked: the main thread waits for it.
                let _end = EndOfInputOnDrop(wake);
                feeder.run(BufReader::new(reader));
            })
    };
    if let Err(e) = feeder {
        eprintln!("{} cannot start the reader: {e}", err.bad("error:"));
        return EXIT_INCOMPLETE;
    }
    // The signal handler keeps its sender for the life of the process, so
    // this returns on the first of: end of input, a signal.
    let interrupted = matches!(woken.recv(), Ok(Wake::Interrupted));
    // Held to the end: no line is half-processed once shutdown begins.
    let _between_lines = stop.request();
    if interrupted {
        eprintln!(
            "{} stopped reading after line {}",
            err.bad("interrupted:"),
            tally.lines.load(Ordering::Acquire)
        );
    }
    let bad = tally.bad.load(Ordering::Acquire);
    if !telemetry.is_enabled() {
        println!(
            "dry run: exporter is none; {} events validated, nothing sent",
            tally.sent.load(Ordering::Acquire)
        );
        return if bad == 0 && !interrupted {
            EXIT_OK
        } else {
            EXIT_INCOMPLETE
        };
    }
    let deadline = watch
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .shutdown_deadline(&telemetry);
    let shutdown = telemetry.shutdown(deadline);
    if shutdown.is_err() {
        // The worker books what the deadline cut just after it.
        telemetry.wait_stopped(SETTLE);
    }
    let stats = telemetry.stats();
    eprint!("{}", render_stats(&stats, &err));
    report(&stats, shutdown.is_ok(), bad, interrupted, &err)
}

/// Prints the outcome and picks the exit code.
fn report(
    stats: &PipelineStats,
    delivered_all: bool,
    bad: u64,
    interrupted: bool,
    err: &Style,
) -> u8 {
    if stats.spooled > 0 {
        eprintln!(
            "{} {} events spooled for later delivery (agent-otel spool status)",
            err.bad("spooled:"),
            stats.spooled
        );
    }
    // Spooled events are not lost: the next run (or `spool replay`)
    // delivers them. Spooling at the deadline makes `shutdown` say so.
    let complete =
        (delivered_all || stats.spooled > 0) && stats.exported + stats.spooled == stats.emitted;
    if complete && bad == 0 && !interrupted {
        let spooled = if stats.spooled > 0 {
            format!(" ({} exported, {} spooled)", stats.exported, stats.spooled)
        } else {
            String::new()
        };
        eprintln!(
            "{}",
            err.ok(&format!("sent {} events{spooled}", stats.emitted))
        );
        return EXIT_OK;
    }
    if complete && interrupted {
        eprintln!(
            "{} the {} events read before the signal were exported or spooled",
            err.bad("interrupted:"),
            stats.emitted
        );
    }
    if !complete {
        eprintln!(
            "{} {} of {} events were exported",
            err.bad("incomplete:"),
            stats.exported,
            stats.emitted
        );
        let lost = stats.emitted.saturating_sub(stats.exported + stats.spooled);
        if lost > 0 {
            let mut reasons: Vec<String> = DropReason::ALL
                .iter()
                .filter(|r| stats.dropped(**r) > 0)
                .map(|r| format!("{}={}", r.as_str(), stats.dropped(*r)))
                .collect();
            if stats.rejected > 0 {
                reasons.push(format!("rejected_by_collector={}", stats.rejected));
            }
            if stats.in_flight() > 0 {
                reasons.push(format!("unaccounted_at_exit={}", stats.in_flight()));
            }
            eprintln!("{} {lost} events: {}", err.bad("lost:"), reasons.join(", "));
        }
    }
    if bad > 0 {
        eprintln!("{} {bad} bad line(s) were not sent", err.bad("incomplete:"));
    }
    EXIT_INCOMPLETE
}

/// `text` safe for a terminal: control characters escaped, cut to
/// [`MAX_SHOWN_CHARS`] characters.
fn printable(text: &str) -> String {
    crate::printable::printable(text, MAX_SHOWN_CHARS, "…[cut]")
}

/// The reading side: parses each line and emits its event.
struct Feeder<'a> {
    telemetry: &'a Telemetry,
    tally: &'a Tally,
    stop: &'a Stop,
    watch: &'a Mutex<DeliveryWatch>,
    flush_every: u64,
    max_line_bytes: usize,
}

impl Feeder<'_> {
    /// Sends every line; a bad line is reported with its number and
    /// skipped. Returns at the end of input, on binary input or a read
    /// error, or once `stop` is set.
    fn run(&mut self, reader: impl std::io::BufRead) {
        let err = Style::stderr();
        let progress = std::io::stderr().is_terminal();
        let mut lines = LineReader::new(reader, self.max_line_bytes);
        let mut session = self.telemetry.session(SessionMetadata::default());
        let mut turn: Option<Turn> = None;
        let mut sent = 0u64;
        loop {
            let line = lines.next_line();
            let _gate = self.stop.gate();
            if self.stop.is_set() {
                break;
            }
            let line = match line {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(e) => {
                    let number = self.tally.lines.load(Ordering::Relaxed) + 1;
                    eprintln!(
                        "{} line {number}: cannot read input: {}",
                        err.bad("error:"),
                        printable(&e.to_string())
                    );
                    self.tally.bad.fetch_add(1, Ordering::AcqRel);
                    break;
                }
            };
            let (number, bytes) = match line {
                Line::Text { number, bytes } => (number, bytes),
                Line::TooLong { number, length } => {
                    self.tally.lines.store(number, Ordering::Release);
                    eprintln!(
                        "{} line {number}: {length} bytes is longer than the limit of {} bytes (--max-line-bytes); skipped",
                        err.bad("error:"),
                        self.max_line_bytes
                    );
                    self.tally.bad.fetch_add(1, Ordering::AcqRel);
                    continue;
                }
                Line::Binary { number } => {
                    self.tally.lines.store(number, Ordering::Release);
                    eprintln!(
                        "{} line {number}: longer than {} bytes and holds a NUL byte: the input is not JSON-lines text; stopped reading",
                        err.bad("error:"),
                        self.max_line_bytes
                    );
                    self.tally.bad.fetch_add(1, Ordering::AcqRel);
                    break;
                }
            };
            self.tally.lines.store(number, Ordering::Release);
            let Ok(text) = std::str::from_utf8(bytes) else {
                eprintln!("{} line {number}: not valid UTF-8", err.bad("error:"));
                self.tally.bad.fetch_add(1, Ordering::AcqRel);
                continue;
            };
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let parsed = match input::parse(text) {
                Ok(parsed) => parsed,
                Err(e) => {
                    eprintln!(
                        "{} line {number}: {}",
                        err.bad("error:"),
                        printable(&e.to_string())
                    );
                    self.tally.bad.fetch_add(1, Ordering::AcqRel);
                    continue;
                }
            };
            if let Some(metadata) = parsed.session() {
                turn = None;
                session = self.telemetry.session(metadata);
                continue;
            }
            match parsed {
                InputLine::TurnStart {} => {
                    // A turn still open ends where the next one starts.
                    turn = Some(session.turn());
                    continue;
                }
                InputLine::TurnEnd {} => {
                    if turn.take().is_none() {
                        eprintln!(
                            "{} line {number}: turn_end without an open turn_start",
                            err.bad("error:")
                        );
                        self.tally.bad.fetch_add(1, Ordering::AcqRel);
                    }
                    continue;
                }
                _ => {}
            }
            let time = parsed.time().unwrap_or_else(SystemTime::now);
            if parsed.emit_to(&session, turn.as_ref(), time) {
                sent += 1;
                self.tally.sent.store(sent, Ordering::Release);
                if self.telemetry.is_enabled() && sent.is_multiple_of(self.flush_every) {
                    self.watch
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .wait(self.telemetry, self.stop);
                }
                if progress && sent.is_multiple_of(10_000) {
                    eprint!("\rsent {sent} events");
                }
            }
        }
        if progress && sent >= 10_000 {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_control_characters_and_cuts_long_text() {
        assert_eq!(
            printable("a\u{1b}[31mb\r\nc\u{7}\u{9b}"),
            "a\\u{1b}[31mb\\r\\nc\\u{7}\\u{9b}"
        );
        let long = "x".repeat(10_000);
        let shown = printable(&long);
        assert!(shown.ends_with("…[cut]"));
        assert_eq!(
            shown.chars().count(),
            MAX_SHOWN_CHARS + "…[cut]".chars().count()
        );
    }
}
