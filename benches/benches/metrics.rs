//! Metrics: the host-thread cost of an emit with metrics on, and shutdown
//! with metrics pending.
//!
//! * `metrics/emit/*`: one `tool_result` emit (the event that feeds two
//!   instruments) with logs only vs logs + metrics (both exporters
//!   discarding), next to the OpenTelemetry SDK doing the same work by
//!   hand: the log record (`SdkSession::emit`) plus `tool.call` counter add
//!   and `tool.call.duration_ms` histogram record with the same five
//!   attributes, through a `PeriodicReader` with a discarding exporter.
//!   Targets: logs + metrics ≤ 1.1× logs only; ≤ 0.1× the SDK. As in
//!   `hot_path`, emits are timed in chunks of 4096 with an untimed flush
//!   after each.
//! * `metrics/shutdown/logs_and_metrics_http_10k`: 10,000 mixed events
//!   queued into a pipeline with logs and metrics exporters to a loopback
//!   collector (OTLP/HTTP protobuf, 60 s batch timeout and metrics
//!   interval), then `shutdown(10 s)` is timed until it returns with every
//!   record and the metrics at the collector (checked). Target ≤ 50 ms.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use agent_otel_benches::{
    SdkSession, Signals, chunked, discarding, emit, flush, http_exporter, machine, metadata,
    mixed_kind, pipeline_options, sdk_provider,
};
use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_core::{
    EventKind, Exporter, MetricsOptions, Session, SignalExporters, Telemetry, TelemetryOptions,
};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::ResourceMetrics;
use opentelemetry_sdk::metrics::exporter::PushMetricExporter;
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider, Temporality};

const QUEUE: usize = 65_536;
const FLUSH: Duration = Duration::from_secs(30);
const EVENTS: usize = 10_000;

/// An SDK metric exporter that drops what it is given.
#[derive(Debug, Default)]
struct DiscardMetricExporter;

impl PushMetricExporter for DiscardMetricExporter {
    async fn export(&self, metrics: &ResourceMetrics) -> OTelSdkResult {
        black_box(metrics);
        Ok(())
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        Temporality::Delta
    }
}

/// What an SDK user writes for one `tool_result`: the log record, then the
/// two instruments with the metric attributes (shared strings, built once).
struct SdkInstrumented {
    session: SdkSession,
    calls: Counter<u64>,
    durations: Histogram<f64>,
    model: opentelemetry::StringValue,
    app_version: opentelemetry::StringValue,
    auth_mode: opentelemetry::StringValue,
}

impl SdkInstrumented {
    fn tool_result(&self) {
        self.session.emit(EventKind::ToolResult);
        let attributes = [
            KeyValue::new("model", self.model.clone()),
            KeyValue::new("app.version", self.app_version.clone()),
            KeyValue::new("auth_mode", self.auth_mode.clone()),
            KeyValue::new("tool_name", "shell"),
            KeyValue::new("success", "true"),
        ];
        self.calls.add(1, &attributes);
        self.durations.record(2300.0, &attributes);
    }
}

fn emit_benches(c: &mut Criterion) {
    println!("machine: {}", machine());
    let options = pipeline_options(QUEUE, Duration::from_secs(1));
    let logs_only = discarding(Signals::default(), options);
    let with_metrics = discarding(
        Signals {
            metrics: true,
            ..Signals::default()
        },
        options,
    );
    let logs_session: Session = logs_only.session(metadata());
    let metrics_session: Session = with_metrics.session(metadata());

    let sdk_logs = sdk_provider(
        agent_otel_benches::DiscardLogExporter::new(),
        QUEUE,
        Duration::from_secs(1),
    );
    let sdk_meters = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(DiscardMetricExporter)
                .with_interval(Duration::from_secs(60))
                .build(),
        )
        .build();
    let meter = sdk_meters.meter("codex_otel");
    let m = metadata();
    let shared = |s: &str| opentelemetry::StringValue::from(Arc::<str>::from(s));
    let sdk = SdkInstrumented {
        session: SdkSession::new(&sdk_logs),
        calls: meter.u64_counter("codex.tool.call").build(),
        durations: meter
            .f64_histogram("codex.tool.call.duration_ms")
            .with_unit("ms")
            .build(),
        model: shared(&m.model),
        app_version: shared(&m.app_version),
        auth_mode: shared(m.auth_mode.as_deref().unwrap_or_default()),
    };

    let mut g = c.benchmark_group("metrics/emit");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    g.bench_function("agent_otel_logs_only", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |n| {
                    for _ in 0..n {
                        emit(&logs_session, EventKind::ToolResult);
                    }
                },
                || flush(&logs_only),
            )
        });
    });
    g.bench_function("agent_otel_logs_and_metrics", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |n| {
                    for _ in 0..n {
                        emit(&metrics_session, EventKind::ToolResult);
                    }
                },
                || flush(&with_metrics),
            )
        });
    });
    g.bench_function("sdk_log_and_metrics", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |n| {
                    for _ in 0..n {
                        sdk.tool_result();
                    }
                },
                || {
                    let _ = sdk_logs.force_flush();
                },
            )
        });
    });
    g.finish();
    let _ = logs_only.shutdown(FLUSH);
    let _ = with_metrics.shutdown(FLUSH);
    let _ = sdk_logs.shutdown();
    let _ = sdk_meters.shutdown();
}

fn http(endpoint: Option<String>) -> Box<dyn Exporter> {
    http_exporter(endpoint.unwrap_or_default())
}

fn shutdown_benches(c: &mut Criterion) {
    let collector =
        Collector::start(CollectorConfig::default()).unwrap_or_else(|e| panic!("collector: {e}"));
    let mut g = c.benchmark_group("metrics/shutdown");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_secs(2));
    let mut times = Vec::new();
    let mut incomplete = 0usize;
    g.bench_function("logs_and_metrics_http_10k", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                collector.clear();
                let telemetry = Telemetry::with_exporters(
                    TelemetryOptions {
                        metrics: MetricsOptions {
                            interval: Duration::from_secs(60),
                            ..MetricsOptions::default()
                        },
                        ..TelemetryOptions::default()
                    },
                    SignalExporters {
                        logs: Some(http(collector.http_logs_endpoint())),
                        traces: None,
                        metrics: Some(http(collector.http_metrics_endpoint())),
                    },
                    pipeline_options(16_384, Duration::from_secs(60)),
                )
                .unwrap_or_else(|e| panic!("pipeline: {e}"));
                let session = telemetry.session(metadata());
                for i in 0..EVENTS {
                    emit(&session, mixed_kind(i));
                }
                let start = Instant::now();
                let result = telemetry.shutdown(Duration::from_secs(10));
                let elapsed = start.elapsed();
                total += elapsed;
                times.push(elapsed);
                let points = telemetry.metric_stats();
                if result.is_err()
                    || telemetry.stats().exported != EVENTS as u64
                    || points.exported == 0
                    || points.exported != points.emitted
                    || collector.data_point_count() as u64 != points.exported
                {
                    incomplete += 1;
                }
            }
            total
        });
    });
    g.finish();
    let max = times.iter().max().copied().unwrap_or_default();
    let min = times.iter().min().copied().unwrap_or_default();
    println!(
        "metrics/shutdown/logs_and_metrics_http_10k: {} runs, min {min:?}, max {max:?}, incomplete {incomplete}",
        times.len()
    );
    assert_eq!(incomplete, 0, "every record and data point delivered");
}

criterion_group!(benches, emit_benches, shutdown_benches);
criterion_main!(benches);
