//! Shutdown: how long `shutdown` takes.
//!
//! * `shutdown/*/deliver_10k`: 10,000 events (a mix of the five kinds) are
//!   emitted into a pipeline with a 60 s batch timeout and a queue of
//!   16,384, then `shutdown(10 s)` is timed until it returns with every
//!   record at the loopback collector (checked). The agent-otel worker
//!   starts sending full batches while the events are being emitted; how
//!   many were already delivered when `shutdown` was called is printed.
//!   Baseline: `SdkLoggerProvider::shutdown_with_timeout` with
//!   opentelemetry-otlp's http-proto `LogExporter` behind a
//!   `BatchLogProcessor` (same queue, 60 s scheduled delay).
//! * `shutdown/*/never_answer_500ms`: the collector holds every request
//!   open (`Fault::NeverAnswer`); once the first batch is in flight,
//!   `shutdown(500 ms)` is timed. Target: back within deadline + 50 ms.
//!   Same baseline with `shutdown_with_timeout(500 ms)`.
//!
//! Pipelines, exporters and (for the never-answer case) collectors are
//! built per iteration, outside the timed region.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use agent_otel_benches::{
    SdkSession, emit, grpc_exporter, http_exporter, install_crypto_provider, machine, metadata,
    mixed_kind, pipeline_options, sdk_provider, telemetry,
};
use agent_otel_collector::{Collector, CollectorConfig, Fault};
use agent_otel_core::{Exporter, Telemetry};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::logs::SdkLoggerProvider;

const EVENTS: usize = 10_000;
const QUEUE: usize = 16_384;
const DEADLINE: Duration = Duration::from_millis(500);

fn http(collector: &Collector) -> Box<dyn Exporter> {
    http_exporter(collector.http_logs_endpoint().unwrap_or_default())
}

fn grpc(collector: &Collector) -> Box<dyn Exporter> {
    grpc_exporter(collector.grpc_endpoint().unwrap_or_default())
}

fn ours(exporter: Box<dyn Exporter>) -> Telemetry {
    telemetry(exporter, pipeline_options(QUEUE, Duration::from_secs(60)))
}

fn sdk(collector: &Collector) -> SdkLoggerProvider {
    let exporter = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_endpoint(collector.http_logs_endpoint().unwrap_or_default())
        .with_protocol(Protocol::HttpBinary)
        .build();
    match exporter {
        Ok(e) => sdk_provider(e, QUEUE, Duration::from_secs(60)),
        Err(e) => panic!("opentelemetry-otlp: {e}"),
    }
}

fn wait_records(collector: &Collector, n: usize) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while collector.record_count() < n {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// Shutdown times seen, for the summary (criterion reports the mean).
#[derive(Default)]
struct Seen {
    lines: Vec<String>,
}

fn record(seen: &Mutex<Seen>, line: String) {
    seen.lock()
        .unwrap_or_else(|p| p.into_inner())
        .lines
        .push(line);
}

fn summary(name: &str, times: &[Duration], extra: &str) -> String {
    let max = times.iter().max().copied().unwrap_or_default();
    let min = times.iter().min().copied().unwrap_or_default();
    format!(
        "{name}: {} runs, min {min:?}, max {max:?}{extra}",
        times.len()
    )
}

fn deliver_10k(c: &mut Criterion, seen: &Mutex<Seen>) {
    let collector = match Collector::start(CollectorConfig::default()) {
        Ok(c) => c,
        Err(e) => panic!("collector: {e}"),
    };
    let mut g = c.benchmark_group("shutdown");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(2));

    let mut times = Vec::new();
    let mut delivered_before = Vec::new();
    let mut incomplete = 0usize;
    g.bench_function("agent_otel_http/deliver_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                collector.clear();
                let t = ours(http(&collector));
                let session = t.session(metadata());
                for i in 0..EVENTS {
                    emit(&session, mixed_kind(i));
                }
                delivered_before.push(t.stats().exported);
                let start = Instant::now();
                let result = t.shutdown(Duration::from_secs(10));
                let elapsed = start.elapsed();
                total += elapsed;
                times.push(elapsed);
                let stats = t.stats();
                if result.is_err()
                    || stats.exported != EVENTS as u64
                    || !wait_records(&collector, EVENTS)
                {
                    incomplete += 1;
                    eprintln!("incomplete shutdown: {result:?} {stats}");
                }
            }
            total
        });
    });
    let mean_before =
        delivered_before.iter().sum::<u64>() as f64 / delivered_before.len().max(1) as f64;
    record(
        seen,
        summary(
            "agent_otel_http/deliver_10k",
            &times,
            &format!(
                ", exported before shutdown was called: {mean_before:.0} of {EVENTS} on average, incomplete runs: {incomplete}"
            ),
        ),
    );

    let mut times = Vec::new();
    let mut incomplete = 0usize;
    g.bench_function("sdk_otlp_http/deliver_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                collector.clear();
                let provider = sdk(&collector);
                let session = SdkSession::new(&provider);
                for i in 0..EVENTS {
                    session.emit(mixed_kind(i));
                }
                let start = Instant::now();
                let result = provider.shutdown_with_timeout(Duration::from_secs(10));
                let elapsed = start.elapsed();
                total += elapsed;
                times.push(elapsed);
                if result.is_err() || !wait_records(&collector, EVENTS) {
                    incomplete += 1;
                    eprintln!(
                        "sdk incomplete shutdown: {result:?}, collector has {}",
                        collector.record_count()
                    );
                }
            }
            total
        });
    });
    record(
        seen,
        summary(
            "sdk_otlp_http/deliver_10k",
            &times,
            &format!(", incomplete runs: {incomplete}"),
        ),
    );
    g.finish();
}

fn never_answer(c: &mut Criterion, seen: &Mutex<Seen>) {
    let mut g = c.benchmark_group("shutdown");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(100))
        .measurement_time(Duration::from_secs(6));

    type Make = fn(&Collector) -> Box<dyn Exporter>;
    let cases: [(&str, Make); 2] = [
        ("agent_otel_http/never_answer_500ms", http),
        ("agent_otel_grpc/never_answer_500ms", grpc),
    ];
    for (name, make) in cases {
        let mut times = Vec::new();
        let mut dropped = 0u64;
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let collector = match Collector::start(CollectorConfig::default()) {
                        Ok(c) => c,
                        Err(e) => panic!("collector: {e}"),
                    };
                    collector.push_fault(Fault::NeverAnswer, 1000);
                    let t = ours(make(&collector));
                    let session = t.session(metadata());
                    for i in 0..1000 {
                        emit(&session, mixed_kind(i));
                    }
                    let _ = collector.wait_for_requests(1, Duration::from_secs(5));
                    let start = Instant::now();
                    let _ = t.shutdown(DEADLINE);
                    let elapsed = start.elapsed();
                    total += elapsed;
                    times.push(elapsed);
                    let stats = t.stats();
                    dropped = stats.dropped_total();
                    if stats.in_flight() != 0 {
                        eprintln!("in flight after shutdown: {stats}");
                    }
                }
                total
            });
        });
        record(
            seen,
            summary(
                name,
                &times,
                &format!(
                    ", deadline {DEADLINE:?}, overshoot max {:?}, dropped per run {dropped}",
                    times
                        .iter()
                        .max()
                        .copied()
                        .unwrap_or_default()
                        .saturating_sub(DEADLINE)
                ),
            ),
        );
    }

    let mut times = Vec::new();
    g.bench_function("sdk_otlp_http/never_answer_500ms", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let collector = match Collector::start(CollectorConfig::default()) {
                    Ok(c) => c,
                    Err(e) => panic!("collector: {e}"),
                };
                collector.push_fault(Fault::NeverAnswer, 1000);
                let provider = sdk(&collector);
                let session = SdkSession::new(&provider);
                for i in 0..1000 {
                    session.emit(mixed_kind(i));
                }
                let _ = collector.wait_for_requests(1, Duration::from_secs(5));
                let start = Instant::now();
                let _ = provider.shutdown_with_timeout(DEADLINE);
                let elapsed = start.elapsed();
                total += elapsed;
                times.push(elapsed);
                // Dropping the collector answers the held request, which lets
                // the SDK's worker thread finish before the provider drops.
                drop(collector);
                drop(provider);
            }
            total
        });
    });
    record(
        seen,
        summary(
            "sdk_otlp_http/never_answer_500ms",
            &times,
            &format!(
                ", deadline {DEADLINE:?}, overshoot max {:?}",
                times
                    .iter()
                    .max()
                    .copied()
                    .unwrap_or_default()
                    .saturating_sub(DEADLINE)
            ),
        ),
    );
    g.finish();
}

fn benches(c: &mut Criterion) {
    println!("machine: {}", machine());
    install_crypto_provider();
    let seen = Mutex::new(Seen::default());
    deliver_10k(c, &seen);
    never_answer(c, &seen);
    for line in seen.into_inner().unwrap_or_else(|p| p.into_inner()).lines {
        println!("{line}");
    }
}

criterion_group!(shutdown, benches);
criterion_main!(shutdown);
