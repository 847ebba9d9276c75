//! The disk spool: what spooling costs at shutdown, and how fast a spool is
//! replayed.
//!
//! * `spool/*/shutdown_10k`: 10,000 events (a mix of the five kinds) are
//!   queued (60 s batch timeout) into a pipeline whose otlp-http exporter
//!   talks to a loopback collector answering 503 to everything, with
//!   retries off, then `shutdown(10 s)` is timed. `no_spool`: the batches
//!   are dropped (`dropped.retries_exhausted`); `spool`: the same batches
//!   are written to a spool in a temp folder (atomic file per batch: write,
//!   fsync, rename, fsync of the folder). The difference is the cost of
//!   spooling. Target: ≤ 50 ms on top of the normal shutdown.
//! * `spool/*/deadline_10k`: the exit of a CLI whose collector is down:
//!   the same 10,000 events, the collector answering 503, the default retry
//!   policy (30 s budget), `shutdown(1 s)` timed. Every batch is still being
//!   retried when the deadline comes. `no_spool`: dropped at the deadline
//!   (returns at 1 s). `spool`: exports stop 250 ms early (the spool
//!   reserve), every batch is written (merged, two fsyncs per 4 MiB), then
//!   `shutdown` returns; the time past 750 ms is the cost of spooling.
//! * `spool/replay_20k`: a spool holding 20,000 events (40 files of 512,
//!   written untimed before each iteration) is replayed by
//!   `replay_spool` with the otlp-http exporter to a loopback collector;
//!   timed until every file is sent and deleted (checked: the collector
//!   holds every record). Target: ≥ 100,000 events/s.

use std::path::Path;
use std::time::{Duration, Instant};

use agent_otel_benches::{
    emit, http_exporter, install_crypto_provider, machine, metadata, mixed_kind, pipeline_options,
};
use agent_otel_collector::{Collector, CollectorConfig, Fault};
use agent_otel_core::{
    Exporter, PipelineOptions, RetryPolicy, SignalExporters, SpoolOptions, Telemetry,
    TelemetryOptions, replay_spool,
};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const SHUTDOWN_EVENTS: usize = 10_000;
const REPLAY_EVENTS: usize = 20_000;

fn http(collector: &Collector) -> Box<dyn Exporter> {
    http_exporter(collector.http_logs_endpoint().unwrap_or_default())
}

/// Batches of 512 that leave only when full or at shutdown, a queue that
/// holds every event of a run, no retries.
fn options() -> PipelineOptions {
    PipelineOptions {
        retry: RetryPolicy::disabled(),
        ..pipeline_options(32_768, Duration::from_secs(60))
    }
}

/// Emits `events` into a pipeline at a refusing `collector` and shuts it
/// down; returns the time `shutdown` took and the pipeline's stats line.
fn shutdown_run(collector: &Collector, spool: Option<&Path>, events: usize) -> (Duration, String) {
    shutdown_with(collector, spool, events, options(), Duration::from_secs(10))
}

fn shutdown_with(
    collector: &Collector,
    spool: Option<&Path>,
    events: usize,
    options: PipelineOptions,
    timeout: Duration,
) -> (Duration, String) {
    let telemetry = match Telemetry::with_spool(
        TelemetryOptions::default(),
        SignalExporters {
            logs: Some(http(collector)),
            traces: None,
            metrics: None,
        },
        options,
        spool.map(SpoolOptions::new),
    ) {
        Ok(t) => t,
        Err(e) => panic!("pipeline: {e}"),
    };
    let session = telemetry.session(metadata());
    for i in 0..events {
        emit(&session, mixed_kind(i));
    }
    let start = Instant::now();
    let _ = telemetry.shutdown(timeout);
    let elapsed = start.elapsed();
    telemetry.wait_stopped(Duration::from_secs(10));
    let stats = telemetry.stats();
    let expected = if spool.is_some() {
        stats.spooled
    } else {
        stats.dropped_total()
    };
    if expected != events as u64 {
        eprintln!("unexpected accounting: {stats}");
    }
    (elapsed, stats.to_string())
}

fn shutdown(c: &mut Criterion, lines: &mut Vec<String>) {
    let collector = match Collector::start(CollectorConfig::http_only()) {
        Ok(c) => c,
        Err(e) => panic!("collector: {e}"),
    };
    collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
    let mut g = c.benchmark_group("spool");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    for spooled in [false, true] {
        let name = if spooled {
            "agent_otel_http/spool/shutdown_10k"
        } else {
            "agent_otel_http/no_spool/shutdown_10k"
        };
        let mut times = Vec::new();
        let mut last = String::new();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = match tempfile::tempdir() {
                        Ok(d) => d,
                        Err(e) => panic!("temp dir: {e}"),
                    };
                    let spool = spooled.then(|| dir.path().join("spool"));
                    let (elapsed, stats) =
                        shutdown_run(&collector, spool.as_deref(), SHUTDOWN_EVENTS);
                    total += elapsed;
                    times.push(elapsed);
                    last = stats;
                }
                total
            });
        });
        lines.push(format!(
            "{name}: {} runs, min {:?}, max {:?}; last: {last}",
            times.len(),
            times.iter().min().copied().unwrap_or_default(),
            times.iter().max().copied().unwrap_or_default()
        ));
    }
    g.finish();
}

fn deadline(c: &mut Criterion, lines: &mut Vec<String>) {
    let collector = match Collector::start(CollectorConfig::http_only()) {
        Ok(c) => c,
        Err(e) => panic!("collector: {e}"),
    };
    collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
    let timeout = Duration::from_secs(1);
    let mut g = c.benchmark_group("spool");
    g.sample_size(10).sampling_mode(SamplingMode::Flat);
    for spooled in [false, true] {
        let name = if spooled {
            "agent_otel_http/spool/deadline_10k"
        } else {
            "agent_otel_http/no_spool/deadline_10k"
        };
        let mut times = Vec::new();
        let mut last = String::new();
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = match tempfile::tempdir() {
                        Ok(d) => d,
                        Err(e) => panic!("temp dir: {e}"),
                    };
                    let spool = spooled.then(|| dir.path().join("spool"));
                    let (elapsed, stats) = shutdown_with(
                        &collector,
                        spool.as_deref(),
                        SHUTDOWN_EVENTS,
                        pipeline_options(32_768, Duration::from_secs(60)),
                        timeout,
                    );
                    total += elapsed;
                    times.push(elapsed);
                    last = stats;
                }
                total
            });
        });
        let past = |t: Duration| t.saturating_sub(Duration::from_millis(750));
        lines.push(format!(
            "{name}: {} runs, min {:?}, max {:?}{}; last: {last}",
            times.len(),
            times.iter().min().copied().unwrap_or_default(),
            times.iter().max().copied().unwrap_or_default(),
            if spooled {
                format!(
                    ", spooling (time past the 750 ms export cut) min {:?} max {:?}",
                    past(times.iter().min().copied().unwrap_or_default()),
                    past(times.iter().max().copied().unwrap_or_default())
                )
            } else {
                String::new()
            }
        ));
    }
    g.finish();
}

fn replay(c: &mut Criterion, lines: &mut Vec<String>) {
    let collector = match Collector::start(CollectorConfig {
        keep_requests: false,
        ..CollectorConfig::http_only()
    }) {
        Ok(c) => c,
        Err(e) => panic!("collector: {e}"),
    };
    let mut g = c.benchmark_group("spool");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(REPLAY_EVENTS as u64));
    let mut times = Vec::new();
    let mut incomplete = 0usize;
    g.bench_function("agent_otel_http/replay_20k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = match tempfile::tempdir() {
                    Ok(d) => d,
                    Err(e) => panic!("temp dir: {e}"),
                };
                let spool = dir.path().join("spool");
                // Fill the spool (untimed): everything refused, spooled.
                collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
                let _ = shutdown_run(&collector, Some(&spool), REPLAY_EVENTS);
                collector.set_default_fault(None);
                collector.clear();
                let start = Instant::now();
                let report = replay_spool(
                    SpoolOptions::new(&spool),
                    SignalExporters {
                        logs: Some(http(&collector)),
                        traces: None,
                        metrics: None,
                    },
                    options(),
                    &mut |_| {},
                );
                let elapsed = start.elapsed();
                total += elapsed;
                times.push(elapsed);
                let delivered = report.as_ref().map_or(0, |r| r.records_delivered);
                if delivered != REPLAY_EVENTS as u64 || collector.record_count() != REPLAY_EVENTS {
                    incomplete += 1;
                    eprintln!("incomplete replay: {report:?}");
                }
            }
            total
        });
    });
    let best = times.iter().min().copied().unwrap_or_default();
    let mean = times.iter().sum::<Duration>() / u32::try_from(times.len().max(1)).unwrap_or(1);
    lines.push(format!(
        "agent_otel_http/replay_20k: {} runs, mean {mean:?} ({:.0} events/s), best {best:?} ({:.0} events/s), incomplete runs: {incomplete}",
        times.len(),
        REPLAY_EVENTS as f64 / mean.as_secs_f64(),
        REPLAY_EVENTS as f64 / best.as_secs_f64(),
    ));
    g.finish();
}

fn benches(c: &mut Criterion) {
    println!("machine: {}", machine());
    install_crypto_provider();
    let mut lines = Vec::new();
    shutdown(c, &mut lines);
    deadline(c, &mut lines);
    replay(c, &mut lines);
    for line in lines {
        println!("{line}");
    }
}

criterion_group!(spool, benches);
criterion_main!(spool);
