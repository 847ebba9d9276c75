//! Traces end to end: a config file with `trace_exporter` -> resolver ->
//! exporter -> our collector, on every transport, decoded with the official
//! types; and interop: the OpenTelemetry SDK's span exporter
//! (opentelemetry-otlp) delivers to our collector.

use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_config::{Environment, HostInfo, OtelConfig};
use agent_otel_core::{ApiRequest, SessionMetadata, SseEvent, TokenCounts, ToolResult, catalog};
use agent_otel_integration_tests::sdk_runtime;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};

const WAIT: Duration = Duration::from_secs(20);

fn exporters(transport: &str, collector: &Collector) -> String {
    match transport {
        "http" => format!(
            "exporter = {{ otlp-http = {{ endpoint = \"{}\" }} }}\ntrace_exporter = {{ otlp-http = {{ endpoint = \"{}\" }} }}\n",
            collector.http_logs_endpoint().expect("http"),
            collector.http_traces_endpoint().expect("http")
        ),
        "http-json" => format!(
            "exporter = {{ otlp-http = {{ endpoint = \"{}\", protocol = \"json\" }} }}\ntrace_exporter = {{ otlp-http = {{ endpoint = \"{}\", protocol = \"json\" }} }}\n",
            collector.http_logs_endpoint().expect("http"),
            collector.http_traces_endpoint().expect("http")
        ),
        _ => format!(
            "exporter = {{ otlp-grpc = {{ endpoint = \"{0}\" }} }}\ntrace_exporter = {{ otlp-grpc = {{ endpoint = \"{0}\" }} }}\n",
            collector.grpc_endpoint().expect("grpc")
        ),
    }
}

#[test]
fn turns_arrive_as_span_trees_on_every_transport() {
    for transport in ["http", "http-json", "grpc"] {
        let collector = Collector::start(CollectorConfig::default()).expect("collector");
        let toml = format!("[otel]\n{}", exporters(transport, &collector));
        let resolved = OtelConfig::parse(&toml)
            .expect("parses")
            .resolve(&Environment::empty(), &HostInfo::default())
            .expect("resolves");
        let telemetry = resolved.start().expect("starts");
        let session = telemetry.session(SessionMetadata {
            conversation_id: "conv-int".into(),
            model: "gpt-5-codex".into(),
            ..SessionMetadata::default()
        });
        let turn = session.turn();
        turn.api_request(ApiRequest {
            attempt: 1,
            duration: Duration::from_millis(120),
            status_code: Some(200),
            ..ApiRequest::default()
        });
        turn.sse_event(SseEvent {
            kind: "response.completed",
            tokens: Some(TokenCounts {
                input: 10,
                output: 3,
                ..TokenCounts::default()
            }),
            ..SseEvent::default()
        });
        turn.tool_result(ToolResult {
            tool_name: "shell",
            call_id: "c1",
            arguments: "{}",
            duration: Duration::from_millis(30),
            success: false,
            output: "boom",
        });
        turn.end();
        telemetry.shutdown(WAIT).expect("delivers");
        let spans = collector.wait_for_spans(3, WAIT).expect("spans");
        let names: Vec<&str> = spans.iter().map(|s| s.span.name.as_str()).collect();
        let root = spans
            .iter()
            .find(|s| s.span.name == "invoke_agent codex-cli")
            .unwrap_or_else(|| panic!("{transport}: {names:?}"));
        for child in spans.iter().filter(|s| s.span.span_id != root.span.span_id) {
            assert_eq!(child.span.parent_span_id, root.span.span_id, "{transport}");
            assert_eq!(child.span.trace_id, root.span.trace_id, "{transport}");
        }
        assert_eq!(
            root.attr_str(catalog::GEN_AI_CONVERSATION_ID),
            Some("conv-int"),
            "{transport}"
        );
        let records = collector.wait_for_records(3, WAIT).expect("records");
        assert!(
            records
                .iter()
                .all(|r| r.record.trace_id == root.span.trace_id),
            "{transport}: log records carry the turn's trace"
        );
        assert_eq!(telemetry.trace_stats().exported, 3, "{transport}");
    }
}

#[test]
fn the_sdk_span_exporter_delivers_to_our_collector() {
    let runtime = sdk_runtime();
    for protocol in ["http-protobuf", "http-json", "grpc"] {
        let collector = Collector::start(CollectorConfig::default()).expect("collector");
        // The tonic client needs the runtime when it is built.
        let guard = runtime.enter();
        let exporter = match protocol {
            "grpc" => opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(collector.grpc_endpoint().expect("grpc"))
                .build(),
            other => opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(collector.http_traces_endpoint().expect("http"))
                .with_protocol(if other == "http-json" {
                    Protocol::HttpJson
                } else {
                    Protocol::HttpBinary
                })
                .build(),
        }
        .expect("exporter builds");
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .build();
        drop(guard);
        let tracer = provider.tracer("interop");
        let mut span = tracer.start("sdk-span");
        span.set_attribute(opentelemetry::KeyValue::new("k", "v"));
        span.end();
        provider.force_flush().expect("the SDK flushes");
        let _ = provider.shutdown();
        let spans = collector.wait_for_spans(1, WAIT).expect("spans");
        assert_eq!(spans[0].span.name, "sdk-span", "{protocol}");
        assert_eq!(spans[0].attr_str("k"), Some("v"), "{protocol}");
    }
}
