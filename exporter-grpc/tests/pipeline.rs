//! End to end through the core pipeline: `Telemetry` -> `GrpcExporter` ->
//! loopback tonic server.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use agent_otel_core::{
    DecisionSource, PipelineOptions, SessionMetadata, Telemetry, TelemetryOptions, ToolDecision,
    ToolDecisionEvent,
};
use agent_otel_exporter_grpc::{GrpcExporter, GrpcExporterConfig};
use common::{Behaviour, ServerOptions, TestServer, start};

const SHUTDOWN: Duration = Duration::from_secs(10);

fn telemetry(endpoint: String) -> Telemetry {
    let exporter = GrpcExporter::new(GrpcExporterConfig::new(endpoint)).unwrap();
    Telemetry::new(
        TelemetryOptions::default(),
        Box::new(exporter),
        PipelineOptions::default(),
    )
    .unwrap()
}

fn emit_one(telemetry: &Telemetry) {
    let session = telemetry.session(SessionMetadata {
        model: "gpt-5".into(),
        ..Default::default()
    });
    session.tool_decision(ToolDecisionEvent {
        tool_name: "shell",
        call_id: "call-1",
        decision: ToolDecision::Approved,
        source: DecisionSource::User,
    });
}

fn assert_delivered(server: &TestServer, telemetry: &Telemetry) {
    let records = common::received_records(server);
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].event_name, "codex.tool_decision");
    let stats = telemetry.stats();
    assert_eq!(stats.exported, 1, "{stats:?}");
}

#[test]
fn from_a_plain_thread_without_a_runtime() {
    // The collector runs on its own runtime; the host thread has none.
    let server_rt = tokio::runtime::Runtime::new().unwrap();
    let server = server_rt.block_on(start(Behaviour::Accept, ServerOptions::default()));
    let telemetry = telemetry(server.http_endpoint());
    assert_eq!(telemetry.exporter_name(), "otlp-grpc");
    emit_one(&telemetry);
    telemetry.shutdown(SHUTDOWN).unwrap();
    assert_delivered(&server, &telemetry);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn from_inside_a_multi_thread_runtime() {
    let server = start(Behaviour::Accept, ServerOptions::default()).await;
    let telemetry = telemetry(server.http_endpoint());
    emit_one(&telemetry);
    tokio::task::block_in_place(|| telemetry.shutdown(SHUTDOWN)).unwrap();
    assert_delivered(&server, &telemetry);
}

#[tokio::test]
async fn from_inside_a_current_thread_runtime() {
    let server = start(Behaviour::Accept, ServerOptions::default()).await;
    let telemetry = std::sync::Arc::new(telemetry(server.http_endpoint()));
    emit_one(&telemetry);
    // Shutdown blocks; run it off this runtime's only thread so the server
    // (spawned here) keeps answering.
    let handle = std::sync::Arc::clone(&telemetry);
    tokio::task::spawn_blocking(move || handle.shutdown(SHUTDOWN))
        .await
        .unwrap()
        .unwrap();
    assert_delivered(&server, &telemetry);
}

#[test]
fn a_permanent_failure_is_counted_not_retried() {
    let server_rt = tokio::runtime::Runtime::new().unwrap();
    let server = server_rt.block_on(start(
        Behaviour::fail(|| tonic::Status::invalid_argument("nope")),
        ServerOptions::default(),
    ));
    let telemetry = telemetry(server.http_endpoint());
    emit_one(&telemetry);
    telemetry.shutdown(SHUTDOWN).unwrap();
    assert_eq!(server.received().len(), 1);
    let stats = telemetry.stats();
    assert_eq!(stats.exported, 0, "{stats:?}");
}
