//! Export throughput: events per second from the first emit to the last
//! record decoded by `agent_otel_collector` over loopback, batches of 512.
//!
//! One iteration emits 20,480 events (a round-robin mix of the five kinds,
//! 40 full batches) as fast as the caller can, then waits until the
//! collector has decoded all of them. The queue holds all of them, so
//! nothing is dropped (checked and printed at the end).
//!
//! * `throughput/agent_otel/*`: `HttpExporter` (binary, json, json+gzip) and
//!   `GrpcExporter` behind the agent-otel pipeline.
//! * baseline `throughput/sdk_otlp/*`: the same records through
//!   `opentelemetry-otlp` 0.33's `LogExporter` (http-proto over its blocking
//!   reqwest 0.13 client, and grpc-tonic over tonic 0.14) behind the SDK's
//!   `BatchLogProcessor`, to the same collector.
//! * ceiling `encode_ceiling/*`: the agent-otel pipeline with an exporter
//!   that only serializes each batch (`Batch::protobuf()` / `json()`):
//!   emit + queue + `OtlpEncoder::encode` + serialization, no network. And
//!   `encode_only/*`: `OtlpEncoder::encode` of one 512-event batch of the
//!   same mix to protobuf (`Batch::protobuf()`) or JSON (`json()`), on
//!   one core.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use agent_otel_benches::{
    EncodeExporter, SdkSession, emit, event_data, grpc_exporter, install_crypto_provider, machine,
    metadata, mixed_kind, pipeline_options, sdk_provider, telemetry,
};
use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_core::{
    Compression, Event, Exporter, HttpProtocol, OtlpEncoder, PipelineOptions, Telemetry,
    TelemetryOptions, TransportOptions, WireFormat,
};
use agent_otel_exporter_http::{HttpExporter, HttpExporterConfig};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::logs::SdkLoggerProvider;

const N: usize = 512 * 40;
const WAIT: Duration = Duration::from_secs(120);

fn wait_collected(collector: &Collector, n: usize) {
    let deadline = Instant::now() + WAIT;
    while collector.record_count() < n {
        if Instant::now() > deadline {
            panic!(
                "collector got {} of {n} records within {WAIT:?}",
                collector.record_count()
            );
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn http(
    collector: &Collector,
    protocol: HttpProtocol,
    compression: Compression,
) -> Box<dyn Exporter> {
    let endpoint = collector.http_logs_endpoint().unwrap_or_default();
    let exporter = HttpExporter::new(HttpExporterConfig {
        endpoint,
        protocol,
        transport: TransportOptions {
            compression,
            ..TransportOptions::default()
        },
    });
    match exporter {
        Ok(e) => Box::new(e),
        Err(e) => panic!("HttpExporter: {e}"),
    }
}

fn grpc(collector: &Collector) -> Box<dyn Exporter> {
    grpc_exporter(collector.grpc_endpoint().unwrap_or_default())
}

fn configure(g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(N as u64));
}

fn end_to_end(c: &mut Criterion, collector: &Collector, report: &Mutex<Vec<String>>) {
    let mut g = c.benchmark_group("throughput");
    configure(&mut g);
    let cases: Vec<(&str, Box<dyn Exporter>)> = vec![
        (
            "agent_otel/http_binary",
            http(collector, HttpProtocol::Binary, Compression::None),
        ),
        (
            "agent_otel/http_json",
            http(collector, HttpProtocol::Json, Compression::None),
        ),
        (
            "agent_otel/http_json_gzip",
            http(collector, HttpProtocol::Json, Compression::Gzip),
        ),
        ("agent_otel/grpc", grpc(collector)),
    ];
    for (name, exporter) in cases {
        let t = pipeline(exporter);
        let session = t.session(metadata());
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    collector.clear();
                    let start = Instant::now();
                    for i in 0..N {
                        emit(&session, mixed_kind(i));
                    }
                    wait_collected(collector, N);
                    total += start.elapsed();
                }
                total
            });
        });
        let _ = t.shutdown(Duration::from_secs(10));
        let stats = t.stats();
        report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!(
                "{name}: {stats} (dropped_total {})",
                stats.dropped_total()
            ));
    }

    // Baselines: opentelemetry-otlp behind the SDK's BatchLogProcessor. The
    // tonic client needs a tokio runtime to drive its connection.
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => panic!("tokio runtime: {e}"),
    };
    let http_endpoint = collector.http_logs_endpoint().unwrap_or_default();
    let grpc_endpoint = collector.grpc_endpoint().unwrap_or_default();
    let baselines: Vec<(&str, opentelemetry_otlp::LogExporter)> = {
        let _guard = runtime.enter();
        let http = opentelemetry_otlp::LogExporter::builder()
            .with_http()
            .with_endpoint(http_endpoint)
            .with_protocol(Protocol::HttpBinary)
            .build();
        let grpc = opentelemetry_otlp::LogExporter::builder()
            .with_tonic()
            .with_endpoint(grpc_endpoint)
            .build();
        match (http, grpc) {
            (Ok(h), Ok(g)) => vec![("sdk_otlp/http_binary", h), ("sdk_otlp/grpc", g)],
            (h, g) => panic!("opentelemetry-otlp exporters: {:?} {:?}", h.err(), g.err()),
        }
    };
    for (name, exporter) in baselines {
        let provider: SdkLoggerProvider = sdk_provider(exporter, N * 2, Duration::from_secs(1));
        let session = SdkSession::new(&provider);
        let emitted = AtomicU64::new(0);
        let received = AtomicU64::new(0);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    collector.clear();
                    let start = Instant::now();
                    for i in 0..N {
                        session.emit(mixed_kind(i));
                    }
                    wait_collected(collector, N);
                    total += start.elapsed();
                    emitted.fetch_add(N as u64, Ordering::Relaxed);
                    received.fetch_add(collector.record_count() as u64, Ordering::Relaxed);
                }
                total
            });
        });
        let _ = provider.shutdown();
        report
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!(
                "{name}: emitted {} received {}",
                emitted.load(Ordering::Relaxed),
                received.load(Ordering::Relaxed)
            ));
    }
    g.finish();
    drop(runtime);
}

fn ceiling(c: &mut Criterion) {
    let mut g = c.benchmark_group("encode_ceiling");
    configure(&mut g);
    for (name, json) in [("protobuf", false), ("json", true)] {
        let exporter = EncodeExporter {
            json,
            bytes: Arc::default(),
        };
        let t = pipeline(Box::new(exporter));
        let session = t.session(metadata());
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    for i in 0..N {
                        emit(&session, mixed_kind(i));
                    }
                    if let Err(e) = t.force_flush(WAIT) {
                        panic!("flush: {e}");
                    }
                    total += start.elapsed();
                }
                total
            });
        });
        let _ = t.shutdown(Duration::from_secs(10));
    }
    g.finish();

    // Encoding alone, on one core: one 512-event batch of the same mix,
    // typed events to OTLP protobuf (and JSON).
    let meta = Arc::new(metadata());
    let events: Vec<Event> = (0..512)
        .map(|i| {
            Event::new(
                SystemTime::now(),
                Arc::clone(&meta),
                event_data(mixed_kind(i)),
                agent_otel_core::ContentPolicy::default(),
            )
        })
        .collect();
    let encoder = OtlpEncoder::new(
        &TelemetryOptions::default(),
        PipelineOptions::default().max_request_bytes,
    );
    let mut g = c.benchmark_group("encode_only");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(512));
    g.bench_function("protobuf_512", |b| {
        b.iter(|| {
            let batches = encoder.encode(black_box(&events));
            batches.iter().map(|b| b.protobuf().len()).sum::<usize>()
        });
    });
    g.bench_function("json_512", |b| {
        b.iter(|| {
            let batches = encoder.encode_as(black_box(&events), WireFormat::Json);
            batches.iter().map(|b| b.json().len()).sum::<usize>()
        });
    });
    g.finish();
}

fn pipeline(exporter: Box<dyn Exporter>) -> Telemetry {
    telemetry(exporter, pipeline_options(N * 2, Duration::from_secs(1)))
}

fn benches(c: &mut Criterion) {
    println!("machine: {}", machine());
    install_crypto_provider();
    let collector = match Collector::start(CollectorConfig::default()) {
        Ok(c) => c,
        Err(e) => panic!("collector: {e}"),
    };
    let report = Mutex::new(Vec::new());
    end_to_end(c, &collector, &report);
    ceiling(c);
    for line in report.into_inner().unwrap_or_else(|p| p.into_inner()) {
        println!("{line}");
    }
}

criterion_group!(throughput, benches);
criterion_main!(throughput);
