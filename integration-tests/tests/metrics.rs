//! Metrics end to end: a config file with `metrics_exporter` -> resolver
//! -> exporter -> our collector on every transport, delta and cumulative,
//! decoded with the official types; and interop: the OpenTelemetry SDK's
//! metric exporter (opentelemetry-otlp) delivers to our collector over
//! HTTP protobuf, HTTP JSON and gRPC.

use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_config::{Environment, HostInfo, OtelConfig};
use agent_otel_core::opentelemetry_proto::tonic::common::v1::any_value;
use agent_otel_core::opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, metric, number_data_point,
};
use agent_otel_core::{SessionMetadata, SseEvent, TokenCounts, catalog};
use agent_otel_integration_tests::sdk_runtime;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};

const WAIT: Duration = Duration::from_secs(20);

#[test]
fn the_sdk_metric_exporter_delivers_to_our_collector() {
    let runtime = sdk_runtime();
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

/// `metrics_exporter` for `transport` at `collector` (logs off).
fn metrics_config(transport: &str, collector: &Collector, temporality: &str) -> String {
    let exporter = match transport {
        "http" => format!(
            "{{ otlp-http = {{ endpoint = \"{}\" }} }}",
            collector.http_metrics_endpoint().expect("http")
        ),
        "http-json" => format!(
            "{{ otlp-http = {{ endpoint = \"{}\", protocol = \"json\" }} }}",
            collector.http_metrics_endpoint().expect("http")
        ),
        _ => format!(
            "{{ otlp-grpc = {{ endpoint = \"{}\" }} }}",
            collector.grpc_endpoint().expect("grpc")
        ),
    };
    format!("[otel]\nmetrics_exporter = {exporter}\nmetrics_temporality = \"{temporality}\"\n")
}

#[test]
fn metrics_arrive_from_a_config_file_on_every_transport() {
    for transport in ["http", "http-json", "grpc"] {
        for temporality in ["delta", "cumulative"] {
            let collector = Collector::start(CollectorConfig::default()).expect("collector");
            let resolved = OtelConfig::parse(&metrics_config(transport, &collector, temporality))
                .expect("parses")
                .resolve(&Environment::empty(), &HostInfo::default())
                .expect("resolves");
            let telemetry = resolved.start().expect("starts");
            let session = telemetry.session(SessionMetadata {
                conversation_id: "conv-m".into(),
                model: "gpt-5-codex".into(),
                ..SessionMetadata::default()
            });
            session.sse_event(SseEvent {
                kind: "response.completed",
                tokens: Some(TokenCounts {
                    input: 120,
                    output: 30,
                    ..TokenCounts::default()
                }),
                ..SseEvent::default()
            });
            telemetry.force_flush(WAIT).expect("first interval");
            session.sse_event(SseEvent {
                kind: "response.completed",
                tokens: Some(TokenCounts {
                    input: 80,
                    output: 10,
                    ..TokenCounts::default()
                }),
                ..SseEvent::default()
            });
            telemetry.shutdown(WAIT).expect("shutdown delivers");
            let context = format!("{transport}/{temporality}");
            assert_eq!(telemetry.stats().emitted, 0, "{context}: logs are off");
            let stats = telemetry.metric_stats();
            assert_eq!(stats.exported, stats.emitted, "{context}: {stats}");
            let requests = collector.metrics_requests();
            assert_eq!(requests.len(), 2, "{context}: one export per interval");
            let inputs: Vec<i64> = requests
                .iter()
                .map(|request| {
                    let metrics = request.metrics();
                    let usage = metrics
                        .iter()
                        .find(|m| m.name() == "codex.token.usage")
                        .unwrap_or_else(|| panic!("{context}: token usage"));
                    let Some(metric::Data::Sum(sum)) = &usage.metric.data else {
                        panic!("{context}: a sum");
                    };
                    let expected = if temporality == "delta" {
                        AggregationTemporality::Delta
                    } else {
                        AggregationTemporality::Cumulative
                    };
                    assert_eq!(sum.aggregation_temporality, expected as i32, "{context}");
                    sum.data_points
                        .iter()
                        .filter(|p| {
                            p.attributes.iter().any(|kv| {
                                kv.key == catalog::TOKEN_TYPE
                                    && kv.value.as_ref().and_then(|v| v.value.as_ref())
                                        == Some(&any_value::Value::StringValue("input".into()))
                            })
                        })
                        .map(|p| match p.value {
                            Some(number_data_point::Value::AsInt(v)) => v,
                            _ => panic!("{context}: integer"),
                        })
                        .sum()
                })
                .collect();
            let expected = if temporality == "delta" {
                [120, 80]
            } else {
                [120, 200]
            };
            assert_eq!(inputs, expected, "{context}");
            let resource = &requests[0].metrics()[0];
            assert_eq!(
                resource.resource_str("service.name"),
                Some("codex-cli"),
                "{context}"
            );
        }
    }
}
