//! `agent-otel collect`: a local OTLP logs receiver that prints each event,
//! optionally appends every request as OTLP-JSON lines, and prints a summary
//! on Ctrl-C.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::mpsc;

use agent_otel_collector::{Collector, CollectorConfig};

use crate::style::Style;
use crate::summary::{Summary, event_line};
use crate::{EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE};

pub fn run(http: SocketAddr, grpc: SocketAddr, out: Option<&Path>, quiet: bool) -> u8 {
    let err = Style::stderr();
    let mut out_file = match out {
        Some(path) => match OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => Some(file),
            Err(e) => {
                eprintln!(
                    "{} cannot open --out file {}: {e}",
                    err.bad("error:"),
                    path.display()
                );
                return EXIT_USAGE;
            }
        },
        None => None,
    };
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    if let Err(e) = ctrlc::set_handler(move || {
        let _ = stop_tx.send(());
    }) {
        eprintln!(
            "{} cannot install the Ctrl-C handler: {e}",
            err.bad("error:")
        );
        return EXIT_USAGE;
    }
    // Only the live feed is read: keep no history, so a long-running sink
    // does not grow without bound.
    let collector = match Collector::start(CollectorConfig {
        http_addr: Some(http),
        grpc_addr: Some(grpc),
        keep_requests: false,
        ..CollectorConfig::default()
    }) {
        Ok(collector) => collector,
        Err(e) => {
            eprintln!("{} {e}", err.bad("error:"));
            return EXIT_USAGE;
        }
    };
    let requests = collector.subscribe();
    eprintln!(
        "listening: OTLP/HTTP {} OTLP/gRPC {} (Ctrl-C to stop)",
        collector.http_logs_endpoint().unwrap_or_default(),
        collector.grpc_endpoint().unwrap_or_default()
    );

    let printer = std::thread::spawn(move || {
        let style = Style::stdout();
        let mut summary = Summary::default();
        let mut write_failed = None;
        for request in requests {
            if let Some(file) = out_file.as_mut()
                && let Err(e) = writeln!(file, "{}", request.to_otlp_json())
            {
                write_failed.get_or_insert(e);
            }
            for record in request.records() {
                if request.answered.counts_records() {
                    summary.add(&record);
                }
                if !quiet {
                    println!("{}", event_line(&record, &style));
                }
            }
        }
        (summary, write_failed)
    });

    // Wait for Ctrl-C / SIGTERM; a closed channel means the handler is gone.
    let _ = stop_rx.recv();
    drop(collector);
    let Ok((summary, write_failed)) = printer.join() else {
        eprintln!("{} the printer thread panicked", err.bad("error:"));
        return EXIT_INCOMPLETE;
    };
    print!("{}", summary.render(&Style::stdout()));
    match write_failed {
        Some(e) => {
            eprintln!("{} writing --out failed: {e}", err.bad("error:"));
            EXIT_INCOMPLETE
        }
        None => EXIT_OK,
    }
}
