//! `agent-otel spool status|replay|clear`: what the disk spool holds,
//! deliver it now, or discard it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use agent_otel_core::spool::{Spool, SpoolOptions};
use agent_otel_core::{ReplayReport, replay_spool};
use agent_otel_core::{Signal, SignalExporters};

use crate::style::Style;
use crate::{EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE, setup};

/// The spool of the design's example config, used without `--config`.
const DEFAULT_DIR: &str = ".cache/agent-otel/spool";

/// What to do with the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Show what is waiting.
    Status,
    /// Deliver it now.
    Replay,
    /// Discard it.
    Clear,
}

pub fn run(action: Action, config: Option<&Path>) -> u8 {
    let err = Style::stderr();
    let (options, resolved) = match config {
        Some(path) => {
            let resolved = match setup::resolve_file(path, None) {
                Ok(resolved) => resolved,
                Err(code) => return code,
            };
            let Some(options) = resolved.spool.clone() else {
                eprintln!(
                    "{} {} has no [otel.spool] dir; fix: add [otel.spool] with dir = \"...\"",
                    err.bad("error:"),
                    path.display()
                );
                return EXIT_USAGE;
            };
            (options, Some(resolved))
        }
        None => match std::env::var_os("HOME") {
            Some(home) if !home.is_empty() => (
                SpoolOptions::new(PathBuf::from(home).join(DEFAULT_DIR)),
                None,
            ),
            _ => {
                eprintln!(
                    "{} HOME is not set; fix: pass --config FILE",
                    err.bad("error:")
                );
                return EXIT_USAGE;
            }
        },
    };
    match action {
        Action::Status => status(&options),
        Action::Clear => clear(&options),
        Action::Replay => {
            let Some(resolved) = resolved else {
                eprintln!(
                    "{} replay needs an exporter; fix: pass --config FILE",
                    err.bad("error:")
                );
                return EXIT_USAGE;
            };
            let exporters = match (
                resolved.build_exporter(),
                resolved.build_trace_exporter(),
                resolved.build_metrics_exporter(),
            ) {
                (Ok(logs), Ok(traces), Ok(metrics)) => SignalExporters {
                    logs,
                    traces,
                    metrics,
                },
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return setup::report(&e),
            };
            if exporters.logs.is_none() && exporters.traces.is_none() && exporters.metrics.is_none()
            {
                eprintln!(
                    "{} the exporter is none; fix: configure otlp-http or otlp-grpc to replay",
                    err.bad("error:")
                );
                return EXIT_USAGE;
            }
            replay(options, exporters, resolved.pipeline)
        }
    }
}

fn status(options: &SpoolOptions) -> u8 {
    let out = Style::stdout();
    let spool = Spool::inspect(options.clone());
    let status = match spool.status() {
        Ok(status) => status,
        Err(e) if !options.dir.exists() => {
            println!("spool {}: empty (no directory: {e})", options.dir.display());
            return EXIT_OK;
        }
        Err(e) => {
            eprintln!("{} {e}", Style::stderr().bad("error:"));
            return EXIT_INCOMPLETE;
        }
    };
    let total = status.total();
    println!(
        "{} {}: {} files, {} records, {} bytes waiting{}",
        out.bold("spool"),
        options.dir.display(),
        total.files,
        total.records,
        total.bytes,
        status
            .oldest
            .map(|oldest| format!(", oldest {} old", age(oldest)))
            .unwrap_or_default()
    );
    for signal in Signal::ALL {
        let s = status.signal(signal);
        println!(
            "  {signal}: {} files, {} records, {} bytes",
            s.files, s.records, s.bytes
        );
    }
    if status.claimed > 0 || status.temp > 0 || status.damaged > 0 {
        println!(
            "  {}",
            out.dim(&format!(
                "being replayed: {} files, being written: {}, damaged: {}",
                status.claimed, status.temp, status.damaged
            ))
        );
    }
    println!(
        "  {}",
        out.dim(&format!(
            "bounds: max_bytes {}, max_age_hours {}",
            options.max_bytes,
            options.max_age.as_secs() / 3600
        ))
    );
    EXIT_OK
}

/// `3h 05m`, `4m 10s`, `12s`.
fn age(since: SystemTime) -> String {
    let secs = SystemTime::now()
        .duration_since(since)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        _ => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
    }
}

fn clear(options: &SpoolOptions) -> u8 {
    let err = Style::stderr();
    if !options.dir.exists() {
        println!("spool {}: nothing to clear", options.dir.display());
        return EXIT_OK;
    }
    match Spool::inspect(options.clone()).clear() {
        Ok(removed) => {
            println!(
                "cleared spool {}: {} files, {} records discarded",
                options.dir.display(),
                removed.files,
                removed.records
            );
            EXIT_OK
        }
        Err(e) => {
            eprintln!("{} {e}", err.bad("error:"));
            EXIT_INCOMPLETE
        }
    }
}

fn replay(
    options: SpoolOptions,
    exporters: SignalExporters,
    pipeline: agent_otel_core::PipelineOptions,
) -> u8 {
    let err = Style::stderr();
    let dir = options.dir.clone();
    let mut progress = |report: &ReplayReport| {
        eprintln!(
            "replayed {}/{} files ({}/{} records)",
            report.files_sent,
            report.files_waiting,
            report.records_delivered,
            report.records_waiting
        );
    };
    let report = match replay_spool(options, exporters, pipeline, &mut progress) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("{} {e}", err.bad("error:"));
            return EXIT_INCOMPLETE;
        }
    };
    if report.records_evicted > 0 {
        eprintln!(
            "{} {} records were past the spool's bounds and were discarded",
            err.bad("evicted:"),
            report.records_evicted
        );
    }
    if report.records_dropped > 0 {
        eprintln!(
            "{} {} records were refused by the collector or damaged, and removed",
            err.bad("dropped:"),
            report.records_dropped
        );
    }
    if let Some(error) = &report.last_error {
        eprintln!("  last error: {error}");
    }
    let left = report.records_waiting - report.records_delivered - report.records_dropped;
    if report.stopped_early {
        eprintln!(
            "{} {left} records stay in {} for a later replay",
            err.bad("incomplete:"),
            dir.display()
        );
        return EXIT_INCOMPLETE;
    }
    eprintln!(
        "{}",
        err.ok(&format!(
            "replayed {} records from {} files",
            report.records_delivered, report.files_sent
        ))
    );
    if report.records_dropped > 0 {
        EXIT_INCOMPLETE
    } else {
        EXIT_OK
    }
}
