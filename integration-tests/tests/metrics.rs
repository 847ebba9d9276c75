//! Metrics end to end: interop with the OpenTelemetry SDK's metric
//! exporter (opentelemetry-otlp), which must deliver to our collector over
//! HTTP protobuf, HTTP JSON and gRPC, decoded with the official types.

use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_core::opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn the_sdk_metric_exporter_delivers_to_our_collector() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    for protocol in ["http-protobuf", "http-json", "grpc"] {
        let collector = Collector::start(CollectorConfig::default()).expect("collector");
        // The tonic client needs the runtime when it is built.
        let guard = runtime.enter();
        let exporter = match protocol {
            "grpc" => opentelemetry_otlp::MetricExporter::builder()
                .with_tonic()
                .with_endpoint(collector.grpc_endpoint().expect("grpc"))
                .with_temporality(opentelemetry_sdk::metrics::Temporality::Delta)
                .build(),
            other => opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_endpoint(collector.http_metrics_endpoint().expect("http"))
                .with_protocol(if other == "http-json" {
                    Protocol::HttpJson
                } else {
                    Protocol::HttpBinary
                })
                .with_temporality(opentelemetry_sdk::metrics::Temporality::Delta)
                .build(),
        }
        .expect("exporter builds");
        let provider = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
            .with_periodic_exporter(exporter)
            .build();
        drop(guard);
        let meter = provider.meter("interop");
        let counter = meter.u64_counter("sdk.calls").with_unit("{call}").build();
        counter.add(3, &[opentelemetry::KeyValue::new("tool_name", "shell")]);
        counter.add(4, &[opentelemetry::KeyValue::new("tool_name", "shell")]);
        let histogram = meter
            .f64_histogram("sdk.duration")
            .with_unit("ms")
            .with_boundaries(vec![10.0, 100.0])
            .build();
        histogram.record(5.0, &[]);
        histogram.record(50.0, &[]);
        provider.force_flush().expect("the SDK flushes");
        let _ = provider.shutdown();
        collector
            .wait_for_data_points(2, WAIT)
            .unwrap_or_else(|e| panic!("{protocol}: {e:?}"));
        let metrics = collector.metrics();
        let calls = metrics
            .iter()
            .find(|m| m.name() == "sdk.calls")
            .unwrap_or_else(|| panic!("{protocol}: the counter arrived"));
        assert_eq!(calls.metric.unit, "{call}");
        let Some(metric::Data::Sum(sum)) = &calls.metric.data else {
            panic!("{protocol}: a sum");
        };
        assert!(sum.is_monotonic);
        let total: u64 = sum
            .data_points
            .iter()
            .map(|p| match p.value {
                Some(number_data_point::Value::AsInt(v)) => u64::try_from(v).unwrap_or(0),
                _ => 0,
            })
            .sum();
        assert_eq!(total, 7, "{protocol}");
        let duration = metrics
            .iter()
            .find(|m| m.name() == "sdk.duration")
            .unwrap_or_else(|| panic!("{protocol}: the histogram arrived"));
        let Some(metric::Data::Histogram(histogram)) = &duration.metric.data else {
            panic!("{protocol}: a histogram");
        };
        let point = &histogram.data_points[0];
        assert_eq!(point.explicit_bounds, [10.0, 100.0], "{protocol}");
        assert_eq!(point.bucket_counts, [1, 1, 0], "{protocol}");
        assert_eq!((point.count, point.sum), (2, Some(55.0)), "{protocol}");
    }
}
