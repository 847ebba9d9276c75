//! `GrpcExporter::export` against real loopback tonic servers (plaintext).
#![allow(clippy::unwrap_used)]

mod common;

use agent_otel_core::testing::{expect_permanent, expect_retryable};
use agent_otel_core::{
    Compression, ExportOutcome, Exporter, FailureKind, SecretString, TransportOptions,
};
use agent_otel_exporter_grpc::{GrpcExporter, GrpcExporterConfig};
use common::{Behaviour, ServerOptions, batch, start};
use tonic::Code;

fn exporter(endpoint: String) -> GrpcExporter {
    exporter_with(endpoint, TransportOptions::default())
}

fn exporter_with(endpoint: String, transport: TransportOptions) -> GrpcExporter {
    GrpcExporter::new(GrpcExporterConfig {
        endpoint,
        transport,
    })
    .unwrap()
}

#[tokio::test]
async fn the_same_batch_can_be_sent_again() {
    let server = start(Behaviour::Accept, ServerOptions::default()).await;
    let exporter = exporter(server.http_endpoint());
    let batch = batch();
    let encoded = batch.protobuf().clone();
    assert_eq!(exporter.export(&batch).await, ExportOutcome::Accepted);
    assert_eq!(exporter.export(&batch).await, ExportOutcome::Accepted);
    // The cached encoding is what went out, both times.
    assert_eq!(batch.protobuf(), &encoded);
    let received = server.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].request, received[1].request);
}

#[tokio::test]
async fn gzip_to_a_server_without_it_is_permanent() {
    let server = start(Behaviour::Accept, ServerOptions::default()).await;
    let transport = TransportOptions {
        compression: Compression::Gzip,
        ..TransportOptions::default()
    };
    let exporter = exporter_with(server.http_endpoint(), transport);
    let error = expect_permanent(exporter.export(&batch()).await);
    assert_eq!(error.kind, FailureKind::GrpcStatus);
    assert_eq!(error.status, Some(Code::Unimplemented as i32));
}

#[tokio::test]
async fn unresolvable_host_is_retryable_connection() {
    let exporter = exporter("http://collector.invalid:4317".to_owned());
    let (error, _) = expect_retryable(exporter.export(&batch()).await);
    assert!(
        matches!(error.kind, FailureKind::Connection | FailureKind::Timeout),
        "{error}"
    );
}

#[tokio::test]
async fn secrets_never_show_in_failures() {
    let addr = common::closed_port().await;
    let mut transport = TransportOptions::default();
    transport
        .headers
        .insert("authorization", SecretString::new("Bearer hunter2"));
    let exporter = exporter_with(format!("http://{addr}"), transport);
    let outcome = exporter.export(&batch()).await;
    let text = format!("{outcome:?} {exporter:?}");
    assert!(!text.contains("hunter2"), "{text}");
}

#[tokio::test]
async fn export_after_shutdown_is_permanent() {
    let server = start(Behaviour::Accept, ServerOptions::default()).await;
    let exporter = exporter(server.http_endpoint());
    assert_eq!(exporter.export(&batch()).await, ExportOutcome::Accepted);
    exporter.shutdown().await;
    let error = expect_permanent(exporter.export(&batch()).await);
    assert_eq!(error.kind, FailureKind::Exporter, "{error}");
}

#[test]
fn one_exporter_serves_successive_runtimes() {
    // The server lives on its own runtime for the whole test.
    let server_rt = tokio::runtime::Runtime::new().unwrap();
    let server = server_rt.block_on(start(Behaviour::Accept, ServerOptions::default()));
    // Built outside any runtime.
    let exporter = exporter(server.http_endpoint());
    for _ in 0..2 {
        // Each runtime gets its own channel; the first one's task is gone
        // with its runtime when the second export runs.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert_eq!(
            rt.block_on(exporter.export(&batch())),
            ExportOutcome::Accepted
        );
    }
    assert_eq!(server.received().len(), 2);
}
