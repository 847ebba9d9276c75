//! Interop: the standard OpenTelemetry Rust exporters (`opentelemetry-otlp`
//! behind the SDK's batch processor) deliver to our collector over OTLP/HTTP
//! protobuf, OTLP/HTTP JSON and OTLP/gRPC, and what arrives decodes with
//! every attribute. This is what `agent-otel collect` receives from any
//! standard exporter.

use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_integration_tests::sdk_runtime;
use opentelemetry::logs::{LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::logs::SdkLoggerProvider;

#[derive(Debug, Clone, Copy)]
enum Transport {
    HttpProtobuf,
    HttpJson,
    Grpc,
}

fn exporter(transport: Transport, collector: &Collector) -> opentelemetry_otlp::LogExporter {
    let built = match transport {
        Transport::HttpProtobuf | Transport::HttpJson => {
            let protocol = match transport {
                Transport::HttpJson => Protocol::HttpJson,
                _ => Protocol::HttpBinary,
            };
            opentelemetry_otlp::LogExporter::builder()
                .with_http()
                .with_endpoint(collector.http_logs_endpoint().expect("http receiver"))
                .with_protocol(protocol)
                .build()
        }
        Transport::Grpc => opentelemetry_otlp::LogExporter::builder()
            .with_tonic()
            .with_endpoint(collector.grpc_endpoint().expect("grpc receiver"))
            .build(),
    };
    built.expect("opentelemetry-otlp exporter builds")
}

#[test]
fn opentelemetry_otlp_exporters_deliver_to_the_collector() {
    let runtime = sdk_runtime();
    for transport in [
        Transport::HttpProtobuf,
        Transport::HttpJson,
        Transport::Grpc,
    ] {
        let collector = Collector::start(CollectorConfig::default()).expect("collector");
        let provider = {
            let _guard = runtime.enter();
            SdkLoggerProvider::builder()
                .with_batch_exporter(exporter(transport, &collector))
                .with_resource(
                    opentelemetry_sdk::Resource::builder_empty()
                        .with_service_name("interop-agent")
                        .build(),
                )
                .build()
        };
        let logger = provider.logger("interop_scope");
        let mut record = logger.create_log_record();
        record.set_event_name("codex.tool_result");
        record.set_severity_number(Severity::Info);
        record.add_attribute("tool_name", "shell");
        record.add_attribute("duration_ms", 42_i64);
        record.add_attribute("success", "true");
        logger.emit(record);
        provider.shutdown().expect("SDK shutdown delivers");

        let records = collector
            .wait_for_records(1, Duration::from_secs(20))
            .unwrap_or_else(|e| panic!("{transport:?}: {e}"));
        let got = &records[0];
        assert_eq!(got.event_name(), "codex.tool_result", "{transport:?}");
        assert_eq!(got.attr_str("tool_name"), Some("shell"), "{transport:?}");
        assert_eq!(got.attr_int("duration_ms"), Some(42), "{transport:?}");
        assert_eq!(got.attr_str("success"), Some("true"), "{transport:?}");
        assert_eq!(got.resource_str("service.name"), Some("interop-agent"));
        assert_eq!(got.scope_name, "interop_scope");
        assert_eq!(
            got.record.severity_number,
            Severity::Info as i32,
            "{transport:?}"
        );
    }
}
