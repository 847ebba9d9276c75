//! Start-up: the host-thread cost of building the exporters and starting
//! the pipeline, with logs, traces and metrics over HTTPS and the system
//! root store (no `ca-certificate`).
//!
//! * `startup/agent_otel/https_logs_traces_metrics`: three `HttpExporter`s
//!   (`https://…/v1/logs`, `/v1/traces`, `/v1/metrics`) built and
//!   `Telemetry::with_exporters` started. Nothing is exported, so the
//!   system roots are never loaded (they are loaded once per process, on
//!   the worker, at the first export). Target ≤ 0.5 ms.
//! * `startup/otel_sdk/https_logs_traces_metrics`: the OpenTelemetry SDK's
//!   `SdkLoggerProvider` (batch processor) + `SdkTracerProvider` (batch
//!   span processor) + `SdkMeterProvider` (periodic reader), each with an
//!   opentelemetry-otlp http-proto exporter to the same HTTPS endpoints.
//!
//! Only the start is timed; shutdown happens after the timed region. The
//! endpoints point at a closed loopback port and nothing is emitted.

use std::hint::black_box;
use std::time::{Duration, Instant};

use agent_otel_benches::{http_exporter, install_crypto_provider, machine};
use agent_otel_core::{Exporter, PipelineOptions, SignalExporters, Telemetry, TelemetryOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::logs::SdkLoggerProvider;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;

/// A loopback port nothing listens on.
const BASE: &str = "https://127.0.0.1:9";

fn exporter(path: &str) -> Box<dyn Exporter> {
    http_exporter(format!("{BASE}{path}"))
}

fn start_ours() -> Telemetry {
    let exporters = SignalExporters {
        logs: Some(exporter("/v1/logs")),
        traces: Some(exporter("/v1/traces")),
        metrics: Some(exporter("/v1/metrics")),
    };
    match Telemetry::with_exporters(
        TelemetryOptions::default(),
        exporters,
        PipelineOptions::default(),
    ) {
        Ok(t) => t,
        Err(e) => panic!("start: {e}"),
    }
}

struct Sdk {
    logs: SdkLoggerProvider,
    traces: SdkTracerProvider,
    metrics: SdkMeterProvider,
}

fn start_sdk() -> Sdk {
    let logs = opentelemetry_otlp::LogExporter::builder()
        .with_http()
        .with_endpoint(format!("{BASE}/v1/logs"))
        .with_protocol(Protocol::HttpBinary)
        .build();
    let traces = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{BASE}/v1/traces"))
        .with_protocol(Protocol::HttpBinary)
        .build();
    let metrics = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_endpoint(format!("{BASE}/v1/metrics"))
        .with_protocol(Protocol::HttpBinary)
        .build();
    let (logs, traces, metrics) = match (logs, traces, metrics) {
        (Ok(l), Ok(t), Ok(m)) => (l, t, m),
        _ => panic!("opentelemetry-otlp exporters did not build"),
    };
    Sdk {
        logs: SdkLoggerProvider::builder()
            .with_batch_exporter(logs)
            .build(),
        traces: SdkTracerProvider::builder()
            .with_batch_exporter(traces)
            .build(),
        metrics: SdkMeterProvider::builder()
            .with_reader(PeriodicReader::builder(metrics).build())
            .build(),
    }
}

/// Times `iters` starts; each started pipeline is stopped untimed.
fn timed<T>(iters: u64, start: impl Fn() -> T, stop: impl Fn(T)) -> Duration {
    let mut total = Duration::ZERO;
    for _ in 0..iters {
        let begin = Instant::now();
        let started = black_box(start());
        total += begin.elapsed();
        stop(started);
    }
    total
}

fn startup(c: &mut Criterion) {
    install_crypto_provider();
    eprintln!("machine: {}", machine());
    let mut group = c.benchmark_group("startup");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("agent_otel/https_logs_traces_metrics", |b| {
        b.iter_custom(|iters| {
            timed(iters, start_ours, |t| {
                let _ = t.shutdown(Duration::from_secs(1));
            })
        });
    });
    group.bench_function("otel_sdk/https_logs_traces_metrics", |b| {
        b.iter_custom(|iters| {
            timed(iters, start_sdk, |sdk| {
                let _ = sdk.logs.shutdown_with_timeout(Duration::from_secs(1));
                let _ = sdk.traces.shutdown_with_timeout(Duration::from_secs(1));
                let _ = sdk.metrics.shutdown_with_timeout(Duration::from_secs(1));
            })
        });
    });
    group.finish();
}

criterion_group!(benches, startup);
criterion_main!(benches);
