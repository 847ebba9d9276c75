//! Memory under outage: the collector refuses connections (a loopback port
//! held by a bound socket that does not listen), and 1,000,000 events (a round-robin mix of
//! the five kinds) are emitted through the otlp-http exporter pipeline with
//! default options (queue 2048, batches of 512, retry budget 30 s), then
//! the pipeline is shut down with the default 3 s deadline.
//!
//! Reports the peak RSS (`VmHWM` of `/proc/self/status`) and checks that the
//! stats account for every event: `emitted == exported + rejected + dropped
//! + in_flight` during the outage, and `in_flight == 0` after shutdown.
//!
//! Baseline, same run: the same 1,000,000 records through the SDK's
//! `BatchLogProcessor` (default config: queue 2048, batches of 512) with
//! opentelemetry-otlp's http-proto `LogExporter` to the same refused port.
//!
//! Each side runs in its own child process (this binary re-executed with
//! `OUTAGE_MEMORY_SIDE` set) so that each peak RSS is its own. Not a
//! criterion benchmark: it prints a table and exits.

use std::process::Command;
use std::time::{Duration, Instant};

use agent_otel_benches::{
    SdkSession, emit, http_exporter, install_crypto_provider, machine, metadata, mixed_kind,
    proc_status_kib, sdk_provider, telemetry,
};
use agent_otel_core::{DEFAULT_SHUTDOWN_TIMEOUT, PipelineOptions};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};

const EVENTS: usize = 1_000_000;
const SIDE: &str = "OUTAGE_MEMORY_SIDE";

/// An endpoint whose connections are refused: its port is held by a bound
/// socket that does not listen (never released, so no one else gets it
/// while the returned socket lives).
fn refused_endpoint() -> (socket2::Socket, String) {
    let bound = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).and_then(
        |socket| {
            let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            socket.bind(&any_port.into())?;
            let port = socket
                .local_addr()?
                .as_socket()
                .map_or(0, |addr| addr.port());
            Ok((socket, port))
        },
    );
    match bound {
        Ok((socket, port)) => (socket, format!("http://127.0.0.1:{port}/v1/logs")),
        Err(e) => panic!("cannot bind a loopback port: {e}"),
    }
}

fn kib(field: &str) -> u64 {
    proc_status_kib(field).unwrap_or(0)
}

fn ours() {
    let (_refusing, endpoint) = refused_endpoint();
    let t = telemetry(http_exporter(endpoint), PipelineOptions::default());
    let session = t.session(metadata());
    let idle = kib("VmHWM");
    let start = Instant::now();
    for i in 0..EVENTS {
        emit(&session, mixed_kind(i));
    }
    let emit_time = start.elapsed();
    let during = t.stats();
    let accounted_during =
        during.exported + during.rejected + during.dropped_total() + during.in_flight();
    let shutdown_start = Instant::now();
    let result = t.shutdown(DEFAULT_SHUTDOWN_TIMEOUT);
    let shutdown_time = shutdown_start.elapsed();
    let after = t.stats();
    let accounted_after = after.exported + after.rejected + after.dropped_total();
    println!(
        "agent_otel idle_hwm_kib={idle} peak_hwm_kib={} rss_kib={}",
        kib("VmHWM"),
        kib("VmRSS")
    );
    println!(
        "agent_otel emit_ns_per_event={:.1} shutdown={shutdown_time:?} shutdown_result={result:?}",
        emit_time.as_nanos() as f64 / EVENTS as f64
    );
    println!("agent_otel during: {during}");
    println!("agent_otel after:  {after}");
    println!(
        "agent_otel check during: emitted {} == exported+rejected+dropped+in_flight {} -> {}",
        during.emitted,
        accounted_during,
        during.emitted == accounted_during
    );
    println!(
        "agent_otel check after: emitted {} == exported+rejected+dropped {} and in_flight {} == 0 -> {}",
        after.emitted,
        accounted_after,
        after.in_flight(),
        after.emitted == accounted_after
            && after.in_flight() == 0
            && after.emitted == EVENTS as u64
    );
}

fn sdk() {
    install_crypto_provider();
    let (_refusing, endpoint) = refused_endpoint();
    let exporter = match opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_endpoint(endpoint)
        .with_protocol(Protocol::HttpBinary)
        .build()
    {
        Ok(e) => e,
        Err(e) => panic!("opentelemetry-otlp: {e}"),
    };
    let provider = sdk_provider(exporter, 2048, Duration::from_secs(1));
    let session = SdkSession::new(&provider);
    let idle = kib("VmHWM");
    let start = Instant::now();
    for i in 0..EVENTS {
        session.emit(mixed_kind(i));
    }
    let emit_time = start.elapsed();
    let shutdown_start = Instant::now();
    let result = provider.shutdown_with_timeout(DEFAULT_SHUTDOWN_TIMEOUT);
    let shutdown_time = shutdown_start.elapsed();
    println!(
        "sdk idle_hwm_kib={idle} peak_hwm_kib={} rss_kib={}",
        kib("VmHWM"),
        kib("VmRSS")
    );
    println!(
        "sdk emit_ns_per_event={:.1} shutdown={shutdown_time:?} shutdown_result={result:?}",
        emit_time.as_nanos() as f64 / EVENTS as f64
    );
}

fn main() {
    match std::env::var(SIDE).as_deref() {
        Ok("agent_otel") => return ours(),
        Ok("sdk") => return sdk(),
        _ => {}
    }
    println!(
        "outage_memory: {EVENTS} events, collector refusing connections; machine: {}",
        machine()
    );
    let exe = match std::env::current_exe() {
        Ok(p) => p,
        Err(e) => panic!("current_exe: {e}"),
    };
    for side in ["agent_otel", "sdk"] {
        match Command::new(&exe).env(SIDE, side).output() {
            Ok(out) => {
                print!("{}", String::from_utf8_lossy(&out.stdout));
                if !out.status.success() {
                    println!(
                        "{side}: exited with {}: {}",
                        out.status,
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
            Err(e) => println!("{side}: cannot run: {e}"),
        }
    }
}
