//! Ingest throughput: log records per second from the first emit to the
//! last record **committed** by `agent-otel collect --db`'s store
//! (write before acknowledge), over loopback, batches of 512.
//!
//! One iteration emits 20,480 events (a round-robin mix of the five codex
//! event kinds with their catalog attributes, 40 full batches) through the
//! agent-otel pipeline and its `HttpExporter` (protobuf) or `GrpcExporter`
//! into a collector started with `agent_otel_store::Store` as its sink, then
//! waits until the store holds all of them. The collector keeps no
//! requests in memory (`keep_requests: false`), as `collect` runs.
//!
//! * `ingest/sqlite_file/*`: `Store::open` (a file, WAL): what
//!   `collect --db FILE` does.
//! * baseline `ingest/sqlite_memory/http_binary`: `Store::in_memory`
//!   (bounded, no disk): what `collect` without `--db` does; the difference
//!   is the cost of the file and its syncs.
//! * baseline `ingest/no_store/http_binary`: the same collector without a
//!   sink (decode and acknowledge only): the ceiling of sender + network +
//!   collector, so the store's share is visible.
//! * `ingest/store_only/sqlite_file`: the same 40 requests, received once,
//!   written straight into a `Store::open` file by one thread (no network,
//!   no pipeline): the store's own cost per record.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_otel_benches::{
    emit, grpc_exporter, http_exporter, machine, metadata, mixed_kind, pipeline_options, telemetry,
};
use agent_otel_collector::{Collector, CollectorConfig, SignalRequest, Sink};
use agent_otel_core::{Exporter, Telemetry};
use agent_otel_store::Store;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

const N: usize = 512 * 40;
const WAIT: Duration = Duration::from_secs(120);

/// Waits until the collector has acknowledged `n` more records than `base`
/// (on the collector's condition variable; it keeps no records, so
/// nothing is copied).
fn wait_collected(collector: &Collector, base: usize, n: usize) {
    if let Err(e) = collector.wait_for_records(base + n, WAIT) {
        panic!("the collector did not get all {n} records: {e}");
    }
}

fn http(collector: &Collector) -> Box<dyn Exporter> {
    http_exporter(collector.http_logs_endpoint().unwrap_or_default())
}

fn grpc(collector: &Collector) -> Box<dyn Exporter> {
    grpc_exporter(collector.grpc_endpoint().unwrap_or_default())
}

fn pipeline(exporter: Box<dyn Exporter>) -> Telemetry {
    telemetry(exporter, pipeline_options(N * 2, Duration::from_secs(1)))
}

/// Which store the collector writes to.
#[derive(Clone, Copy)]
enum Backing {
    File,
    Memory,
    None,
}

fn bench_case(
    c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    backing: Backing,
    grpc_sender: bool,
) -> String {
    let dir = match tempfile::tempdir() {
        Ok(d) => d,
        Err(e) => panic!("tempdir: {e}"),
    };
    let store = match backing {
        Backing::File => Some(Store::open(&dir.path().join("ingest.db"))),
        Backing::Memory => Some(Store::in_memory(100_000)),
        Backing::None => None,
    }
    .transpose()
    .unwrap_or_else(|e| panic!("store: {e}"));
    let store = store.map(Arc::new);
    let config = CollectorConfig {
        keep_requests: false,
        ..CollectorConfig::default()
    };
    let collector = match &store {
        Some(s) => Collector::start_with_sink(config, Arc::clone(s) as Arc<dyn Sink>),
        None => Collector::start(config),
    }
    .unwrap_or_else(|e| panic!("collector: {e}"));
    let exporter = if grpc_sender {
        grpc(&collector)
    } else {
        http(&collector)
    };
    let t = pipeline(exporter);
    let session = t.session(metadata());
    c.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let base = collector.record_count();
                let start = Instant::now();
                for i in 0..N {
                    emit(&session, mixed_kind(i));
                }
                wait_collected(&collector, base, N);
                total += start.elapsed();
            }
            total
        });
    });
    let _ = t.shutdown(Duration::from_secs(10));
    let stats = t.stats();
    let kept = store
        .as_ref()
        .map(|s| s.counts().map(|c| c.logs + c.evicted).unwrap_or(0));
    format!(
        "{name}: {stats} (dropped_total {}); collector acknowledged {} records, store kept {kept:?}",
        stats.dropped_total(),
        collector.record_count()
    )
}

/// The requests the pipeline sends for one iteration, as the collector
/// received them.
fn received_requests() -> Vec<agent_otel_collector::ReceivedRequest> {
    let collector =
        Collector::start(CollectorConfig::default()).unwrap_or_else(|e| panic!("collector: {e}"));
    let t = pipeline(http(&collector));
    let session = t.session(metadata());
    for i in 0..N {
        emit(&session, mixed_kind(i));
    }
    let _ = t.shutdown(Duration::from_secs(10));
    let requests = collector.requests();
    let records: usize = requests.iter().map(|r| r.record_count()).sum();
    assert_eq!(records, N, "the pipeline delivered every record");
    requests
}

fn store_only(c: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) -> String {
    let requests = received_requests();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let store = Store::open(&dir.path().join("ingest.db")).unwrap_or_else(|e| panic!("store: {e}"));
    c.bench_function("store_only/sqlite_file", |b| {
        b.iter(|| {
            for r in &requests {
                if let Err(e) = store.write(SignalRequest::Logs(r)) {
                    panic!("store write: {e}");
                }
            }
        });
    });
    format!(
        "store_only/sqlite_file: {} requests per iteration; store kept {:?}",
        requests.len(),
        store.counts().map(|c| c.logs)
    )
}

fn benches(c: &mut Criterion) {
    println!("machine: {}", machine());
    let mut g = c.benchmark_group("ingest");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(N as u64));
    let report = vec![
        bench_case(&mut g, "sqlite_file/http_binary", Backing::File, false),
        bench_case(&mut g, "sqlite_file/grpc", Backing::File, true),
        bench_case(&mut g, "sqlite_memory/http_binary", Backing::Memory, false),
        bench_case(&mut g, "no_store/http_binary", Backing::None, false),
        store_only(&mut g),
    ];
    g.finish();
    for line in report {
        println!("{line}");
    }
}

criterion_group!(ingest, benches);
criterion_main!(ingest);
