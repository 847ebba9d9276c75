//! `agent-otel demo`: a simulated agent session sent through a real OTLP
//! exporter to the embedded collector (or the one a config names), then a
//! table of what arrived, a summary and the pipeline's stats.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig, Sink};
use agent_otel_config::Environment;
use agent_otel_core::{PipelineStats, Telemetry};
use agent_otel_store::Store;

use crate::metrics_summary::MetricsSummary;
use crate::style::Style;
use crate::summary::{Summary, event_table, render_stats};
use crate::{DemoTransport, EXIT_INCOMPLETE, EXIT_OK, setup, simulate, view, waterfall};

/// How long the demo waits for delivery; the embedded collector answers in
/// milliseconds, so this only matters when something is broken.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// Rows per table of the demo's in-memory store.
const DEMO_STORE_ROWS: u64 = 100_000;

pub fn run(transport: DemoTransport, config: Option<&Path>, ui: Option<SocketAddr>) -> u8 {
    match config {
        Some(path) => run_against_config(path),
        None => run_embedded(transport, ui),
    }
}

fn demo_toml(transport: DemoTransport, collector: &Collector) -> Option<String> {
    let exporter = |endpoint: String| match transport {
        DemoTransport::Http => {
            format!("{{ otlp-http = {{ endpoint = \"{endpoint}\", protocol = \"binary\" }} }}")
        }
        DemoTransport::HttpJson => {
            format!("{{ otlp-http = {{ endpoint = \"{endpoint}\", protocol = \"json\" }} }}")
        }
        DemoTransport::Grpc => format!("{{ otlp-grpc = {{ endpoint = \"{endpoint}\" }} }}"),
    };
    let (logs, traces, metrics) = match transport {
        DemoTransport::Grpc => (
            collector.grpc_endpoint()?,
            collector.grpc_endpoint()?,
            collector.grpc_endpoint()?,
        ),
        _ => (
            collector.http_logs_endpoint()?,
            collector.http_traces_endpoint()?,
            collector.http_metrics_endpoint()?,
        ),
    };
    Some(format!(
        "[otel]\nenvironment = \"demo\"\nexporter = {}\ntrace_exporter = {}\nmetrics_exporter = {}\nbatch_timeout_ms = 200\n",
        exporter(logs),
        exporter(traces),
        exporter(metrics)
    ))
}

fn transport_label(transport: DemoTransport) -> &'static str {
    match transport {
        DemoTransport::Http => "OTLP/HTTP (protobuf)",
        DemoTransport::HttpJson => "OTLP/HTTP (JSON)",
        DemoTransport::Grpc => "OTLP/gRPC",
    }
}

/// Sends the simulated session and shuts down; returns how many events
/// were emitted, whether all of them were exported, and the final stats.
fn run_session(telemetry: &Telemetry) -> (u64, bool, PipelineStats) {
    let session = telemetry.session(simulate::metadata());
    let emitted = simulate::run(&session);
    let shutdown = telemetry.shutdown(DELIVERY_TIMEOUT);
    let stats = telemetry.stats();
    let delivered = shutdown.is_ok() && stats.exported == emitted;
    (emitted, delivered, stats)
}

fn run_embedded(transport: DemoTransport, ui: Option<SocketAddr>) -> u8 {
    let out = Style::stdout();
    let err = Style::stderr();
    // What the collector acknowledges is also kept in an in-memory store,
    // which `--ui` serves.
    let store = match Store::in_memory(DEMO_STORE_ROWS) {
        Ok(store) => Arc::new(store),
        Err(e) => {
            eprintln!("{} {e}", err.bad("error:"));
            return EXIT_INCOMPLETE;
        }
    };
    let collector = match Collector::start_with_sink(
        CollectorConfig::default(),
        Arc::clone(&store) as Arc<dyn Sink>,
    ) {
        Ok(collector) => collector,
        Err(e) => {
            eprintln!(
                "{} cannot start the embedded collector: {e}",
                err.bad("error:")
            );
            return EXIT_INCOMPLETE;
        }
    };
    let Some(toml) = demo_toml(transport, &collector) else {
        eprintln!(
            "{} the embedded collector has no such receiver",
            err.bad("error:")
        );
        return EXIT_INCOMPLETE;
    };
    // The demo's own config: OTEL_* variables of the caller must not redirect it.
    let resolved = match setup::resolve_text(&toml, Environment::empty(), None) {
        Ok(resolved) => resolved,
        Err(code) => return code,
    };
    let telemetry = match setup::start(&resolved) {
        Ok(telemetry) => telemetry,
        Err(code) => return code,
    };
    println!(
        "{}",
        out.bold(&format!(
            "agent-otel demo: simulated session -> {} -> embedded collector",
            transport_label(transport)
        ))
    );
    let (emitted, delivered, stats) = run_session(&telemetry);
    let records = collector.records();
    println!();
    print!("{}", event_table(&records, &out));
    println!();
    print!("{}", Summary::of(&records).render(&out));
    let spans: Vec<_> = collector.spans().into_iter().map(|s| s.span).collect();
    println!();
    println!("{}", out.bold("turns (spans that arrived):"));
    print!("{}", waterfall::render(&spans, &out));
    println!();
    let mut metrics = MetricsSummary::default();
    for metric in collector.metrics() {
        metrics.add(&metric);
    }
    print!("{}", metrics.render(&out));
    print!("{}", render_stats(&stats, &out));
    let complete = delivered && records.len() as u64 == emitted;
    let code = if complete {
        println!(
            "{}",
            out.ok(&format!("all {emitted} events reached the collector"))
        );
        EXIT_OK
    } else {
        eprintln!(
            "{} {} of {emitted} events reached the collector",
            err.bad("incomplete:"),
            records.len()
        );
        EXIT_INCOMPLETE
    };
    match ui {
        Some(addr) => serve_viewer(store, addr, code),
        None => code,
    }
}

/// `--ui`: the viewer over the demo's store until Ctrl-C.
fn serve_viewer(store: Arc<Store>, addr: SocketAddr, code: u8) -> u8 {
    let Some(viewer) = view::start(store, addr) else {
        return EXIT_INCOMPLETE;
    };
    eprintln!("(Ctrl-C to stop)");
    let waited = view::wait_for_ctrl_c();
    drop(viewer);
    if waited { code } else { EXIT_INCOMPLETE }
}

fn run_against_config(path: &Path) -> u8 {
    let out = Style::stdout();
    let err = Style::stderr();
    let resolved = match setup::resolve_file(path, None) {
        Ok(resolved) => resolved,
        Err(code) => return code,
    };
    let telemetry = match setup::start(&resolved) {
        Ok(telemetry) => telemetry,
        Err(code) => return code,
    };
    if !telemetry.is_enabled() {
        println!("exporter is none: the simulated session was not sent anywhere");
        return EXIT_OK;
    }
    let (emitted, delivered, stats) = run_session(&telemetry);
    print!("{}", render_stats(&stats, &out));
    if delivered {
        println!(
            "{}",
            out.ok(&format!(
                "all {emitted} events accepted by the collector {} configures",
                path.display()
            ))
        );
        EXIT_OK
    } else {
        eprintln!(
            "{} {} of {emitted} events accepted",
            err.bad("incomplete:"),
            stats.exported
        );
        EXIT_INCOMPLETE
    }
}
