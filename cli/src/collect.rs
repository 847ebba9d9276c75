//! `agent-otel collect`: a local OTLP receiver (logs, metrics, traces) that
//! keeps what it acknowledges (SQLite with `--db`, else a bounded memory
//! store, plus OTLP-JSON lines with `--out`), prints each event and prints
//! a summary on Ctrl-C.

use std::fs::{File, OpenOptions};
use std::io::{Seek as _, Write as _};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use agent_otel_collector::{
    Collector, CollectorConfig, ReceivedTracesRequest, SignalRequest, Sink, SinkError,
};
use agent_otel_core::opentelemetry_proto::tonic::trace::v1::Span;
use agent_otel_store::{SpanRow, Store};

use crate::metrics_summary::MetricsSummary;
use crate::printer::{Line, Printer, finish};
use crate::style::Style;
use crate::summary::{Summary, escape_control, event_line};
use crate::{EXIT_OK, EXIT_USAGE, waterfall};

/// Rows per table kept by the in-memory store (without `--db`).
const MEMORY_ROWS: u64 = 100_000;

/// What `collect` was asked to do.
pub struct CollectArgs<'a> {
    /// OTLP/HTTP listen address.
    pub http: SocketAddr,
    /// OTLP/gRPC listen address.
    pub grpc: SocketAddr,
    /// OTLP-JSON lines file.
    pub out: Option<&'a Path>,
    /// SQLite file.
    pub db: Option<&'a Path>,
    /// No line per event.
    pub quiet: bool,
    /// Serve the web viewer over the store at this address.
    pub ui: Option<SocketAddr>,
}

/// `--out`: whole lines only, on disk before the request is acknowledged.
struct OutFile {
    file: File,
}

impl OutFile {
    /// Appends `line` and syncs it; returns where it began (for
    /// [`OutFile::cut_back`]). On failure nothing of it is left.
    fn append(&mut self, line: &str) -> std::io::Result<u64> {
        let start = self.file.seek(std::io::SeekFrom::End(0))?;
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        let written = self
            .file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data());
        if written.is_err() {
            // Never leave a partial line: cut back to where this one began.
            let _ = self.cut_back(start);
        }
        written.map(|()| start)
    }

    /// Removes what was appended from `start` on (a line whose request was
    /// then refused, so that its retry does not write it twice).
    fn cut_back(&mut self, start: u64) -> std::io::Result<()> {
        self.file.set_len(start)?;
        self.file.sync_data()
    }
}

/// Everything a request goes through before it is acknowledged.
struct CollectSink {
    store: Arc<Store>,
    out: Option<Mutex<OutFile>>,
    printer: Printer,
    summary: Mutex<Summary>,
    metrics: Mutex<MetricsSummary>,
    quiet: bool,
    style: Style,
    err_style: Style,
}

impl CollectSink {
    /// Prints a failure of the request being answered 503; returns the
    /// message.
    fn report(&self, what: &str, err: &dyn std::fmt::Display) -> String {
        let message = format!("{what}: {err}");
        self.printer.offer(Line::Err(format!(
            "{} {} (answered 503; the exporter retries)",
            self.err_style.bad("error:"),
            escape_control(&message)
        )));
        message
    }

    /// [`CollectSink::report`]s why the request is refused, as the sink's
    /// error.
    fn fail(&self, what: &str, err: &dyn std::fmt::Display) -> SinkError {
        SinkError::new(self.report(what, err))
    }
}

impl CollectSink {
    /// Prints the trace of every turn that ended in `traces` (its
    /// `invoke_agent` span, or any root span, arrived) as a small tree with
    /// durations, read back from the store with the spans that came before.
    fn print_turns(&self, traces: &ReceivedTracesRequest) {
        let mut shown: Vec<Vec<u8>> = Vec::new();
        for received in traces.spans() {
            let span = &received.span;
            let ends_a_turn =
                span.parent_span_id.is_empty() || span.name.starts_with("invoke_agent");
            if !ends_a_turn || shown.contains(&span.trace_id) {
                continue;
            }
            shown.push(span.trace_id.clone());
            let hex: String = span.trace_id.iter().map(|b| format!("{b:02x}")).collect();
            if let Ok(rows) = self.store.trace_spans(&hex) {
                let spans: Vec<Span> = rows.iter().map(SpanRow::to_span).collect();
                self.printer
                    .offer(Line::Out(waterfall::render(&spans, &self.style)));
            }
        }
    }
}

impl Sink for CollectSink {
    fn write(&self, request: SignalRequest<'_>) -> Result<(), SinkError> {
        // Both or neither: the line first (held locked, so no other line
        // follows it), then the store; a refused request leaves no line
        // and no row, so its retry writes each once.
        let mut out = self
            .out
            .as_ref()
            .map(|out| out.lock().unwrap_or_else(|e| e.into_inner()));
        let line_start = match out.as_mut() {
            Some(out) => Some(
                out.append(&request.to_otlp_json())
                    .map_err(|e| self.fail("cannot write --out", &e))?,
            ),
            None => None,
        };
        if let Err(e) = self.store.write(request) {
            if let (Some(out), Some(start)) = (out.as_mut(), line_start)
                && let Err(cut) = out.cut_back(start)
            {
                self.report("cannot remove the refused request's --out line", &cut);
            }
            return Err(self.fail("cannot store the request", &e));
        }
        drop(out);
        if let SignalRequest::Traces(traces) = request
            && !self.quiet
        {
            self.print_turns(traces);
        }
        if let SignalRequest::Metrics(metrics) = request {
            let metrics = metrics.metrics();
            let mut summary = self.metrics.lock().unwrap_or_else(|e| e.into_inner());
            for metric in &metrics {
                summary.add(metric);
            }
            if !self.quiet {
                let points: usize = metrics.iter().map(|m| m.data_point_count()).sum();
                self.printer.offer(Line::Out(self.style.dim(&format!(
                    "metrics: {} instruments, {points} data points",
                    metrics.len()
                ))));
            }
        }
        if let SignalRequest::Logs(logs) = request {
            let records = logs.records();
            {
                let mut summary = self.summary.lock().unwrap_or_else(|e| e.into_inner());
                for record in &records {
                    summary.add(record);
                }
            }
            if !self.quiet {
                for record in &records {
                    self.printer
                        .offer(Line::Out(event_line(record, &self.style)));
                }
            }
        }
        Ok(())
    }
}

pub fn run(args: &CollectArgs<'_>) -> u8 {
    let err = Style::stderr();
    let store = match args.db {
        Some(path) => Store::open(path),
        None => Store::in_memory(MEMORY_ROWS),
    };
    let store = match store {
        Ok(store) => Arc::new(store),
        Err(e) => {
            eprintln!("{} {e}", err.bad("error:"));
            return EXIT_USAGE;
        }
    };
    let out = match args.out {
        Some(path) => match OpenOptions::new().create(true).append(true).open(path) {
            Ok(file) => Some(Mutex::new(OutFile { file })),
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
    let (printer, printer_thread) = Printer::start();
    let sink = Arc::new(CollectSink {
        store: Arc::clone(&store),
        out,
        printer: printer.clone(),
        summary: Mutex::new(Summary::default()),
        metrics: Mutex::new(MetricsSummary::default()),
        quiet: args.quiet,
        style: Style::stdout(),
        err_style: err,
    });
    // Nothing is kept in the collector itself: the store keeps it.
    let collector = match Collector::start_with_sink(
        CollectorConfig {
            http_addr: Some(args.http),
            grpc_addr: Some(args.grpc),
            keep_requests: false,
            ..CollectorConfig::default()
        },
        Arc::clone(&sink) as Arc<dyn Sink>,
    ) {
        Ok(collector) => collector,
        Err(e) => {
            eprintln!("{} {e}", err.bad("error:"));
            return EXIT_USAGE;
        }
    };
    eprintln!(
        "listening: OTLP/HTTP {} OTLP/gRPC {} (Ctrl-C to stop)",
        collector.http_logs_endpoint().unwrap_or_default(),
        collector.grpc_endpoint().unwrap_or_default()
    );
    match args.db {
        Some(path) => eprintln!("storing into {}", path.display()),
        None => eprintln!("storing in memory (at most {MEMORY_ROWS} rows per table)"),
    }
    let viewer = match args.ui {
        Some(addr) => match crate::view::start(Arc::clone(&store), addr) {
            Some(viewer) => Some(viewer),
            None => return EXIT_USAGE,
        },
        None => None,
    };

    // Wait for Ctrl-C / SIGTERM; a closed channel means the handler is gone.
    let _ = stop_rx.recv();
    drop(viewer);
    drop(collector);
    let summary = sink
        .summary
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let metrics = sink
        .metrics
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let printer_counters = printer.counters();
    drop(sink);
    drop(printer);
    let printed = finish(printer_thread, std::time::Duration::from_secs(2));
    let printer = printer_counters;
    let style = Style::stdout();
    let mut text = summary.render(&style);
    text.push_str(&metrics.render(&style));
    text.push_str(&format!("{}\n", style.bold("Store")));
    match store.counts() {
        Ok(c) => text.push_str(&format!(
            "  log records {}  spans {}  data points {}  evicted {}\n",
            c.logs, c.spans, c.data_points, c.evicted
        )),
        Err(e) => text.push_str(&format!("  {e}\n")),
    }
    if printer.dropped() > 0 {
        text.push_str(&format!(
            "  {} lines not printed (terminal too slow or closed)\n",
            printer.dropped()
        ));
    }
    if !printed {
        // The printer is stuck on a standard output nobody reads (and holds
        // its lock): the summary goes to standard error instead.
        eprint!("{text}");
    } else if !printer.stopped() {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }
    EXIT_OK
}
