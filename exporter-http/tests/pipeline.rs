//! End to end through the core pipeline: session -> worker -> HttpExporter -> wiremock.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_core::{
    DecisionSource, HttpProtocol, PipelineOptions, SessionMetadata, Telemetry, TelemetryOptions,
    ToolDecision, ToolDecisionEvent, TransportOptions,
};
use agent_otel_exporter_http::{HttpExporter, HttpExporterConfig};
use prost::Message;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[test]
fn an_emitted_event_reaches_the_collector() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/logs"))
            .respond_with(ResponseTemplate::new(200))
            .mount(&server)
            .await;
        server
    });

    let exporter = HttpExporter::new(HttpExporterConfig {
        endpoint: format!("{}/v1/logs", server.uri()),
        protocol: HttpProtocol::Binary,
        transport: TransportOptions::default(),
    })
    .unwrap();
    let telemetry = Telemetry::new(
        TelemetryOptions::default(),
        Box::new(exporter),
        PipelineOptions::default(),
    )
    .unwrap();
    assert_eq!(telemetry.exporter_name(), "otlp-http");
    let session = telemetry.session(SessionMetadata {
        conversation_id: "conv-1".to_owned(),
        model: "gpt-5".to_owned(),
        ..Default::default()
    });
    session.tool_decision(ToolDecisionEvent {
        tool_name: "shell",
        call_id: "call-1",
        decision: ToolDecision::Approved,
        source: DecisionSource::User,
    });
    telemetry.shutdown(Duration::from_secs(10)).unwrap();

    let stats = telemetry.stats();
    assert_eq!(stats.emitted, 1);
    assert_eq!(stats.exported, 1, "{stats:?}");

    let received = runtime.block_on(server.received_requests()).unwrap();
    assert_eq!(received.len(), 1);
    let request = ExportLogsServiceRequest::decode(received[0].body.as_slice()).unwrap();
    let records: Vec<_> = request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .collect();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event_name, "codex.tool_decision");
}
