//! `GrpcExporter::export` against real loopback tonic servers (plaintext).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use agent_otel_core::testing::{expect_permanent, expect_retryable};
use agent_otel_core::{
    Compression, ExportOutcome, Exporter, FailureKind, SecretString, TransportOptions,
};
use agent_otel_exporter_grpc::{GrpcExporter, GrpcExporterConfig};
use common::{Behaviour, ServerOptions, batch, received_records, records, start};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

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

fn retry_info(code: Code, delay: Duration) -> Behaviour {
    Behaviour::fail(move || {
        Status::with_error_details(
            code,
            "slow down",
            ErrorDetails::with_retry_info(Some(delay)),
        )
    })
}

#[tokio::test]
async fn request_decodes_to_the_same_records() {
    let server = start(Behaviour::Accept, ServerOptions::default()).await;
    let exporter = exporter(server.http_endpoint());
    let batch = batch();
    assert_eq!(exporter.export(&batch).await, ExportOutcome::Accepted);
    assert_eq!(received_records(&server), records());
    assert_eq!(server.received()[0].request, *batch.request());
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
async fn headers_arrive_as_metadata() {
    let server = start(Behaviour::Accept, ServerOptions::default()).await;
    let mut transport = TransportOptions::default();
    transport
        .headers
        .insert("X-OTLP-API-Key", SecretString::new("abc123"));
    transport
        .headers
        .insert("x-trace-bin", SecretString::new("raw\u{1}bytes"));
    let exporter = exporter_with(server.http_endpoint(), transport);
    assert_eq!(exporter.export(&batch()).await, ExportOutcome::Accepted);
    let metadata = &server.received()[0].metadata;
    assert_eq!(
        metadata.get("x-otlp-api-key").unwrap().to_str().unwrap(),
        "abc123"
    );
    assert_eq!(
        metadata.get_bin("x-trace-bin").unwrap().to_bytes().unwrap(),
        "raw\u{1}bytes".as_bytes()
    );
    let user_agent = metadata.get("user-agent").unwrap().to_str().unwrap();
    assert!(
        user_agent.starts_with("agent-otel-exporter-grpc/"),
        "{user_agent}"
    );
    assert!(metadata.get("grpc-timeout").is_some());
}

#[tokio::test]
async fn gzip_is_accepted_by_a_server_that_accepts_it() {
    let options = ServerOptions {
        accept_gzip: true,
        ..ServerOptions::default()
    };
    let server = start(Behaviour::Accept, options).await;
    let transport = TransportOptions {
        compression: Compression::Gzip,
        ..TransportOptions::default()
    };
    let exporter = exporter_with(server.http_endpoint(), transport);
    assert_eq!(exporter.export(&batch()).await, ExportOutcome::Accepted);
    let received = server.received();
    assert_eq!(
        received[0]
            .metadata
            .get("grpc-encoding")
            .unwrap()
            .to_str()
            .unwrap(),
        "gzip"
    );
    assert_eq!(received_records(&server), records());
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
async fn partial_success_is_partially_rejected() {
    let server = start(
        Behaviour::Partial(1, "one too old"),
        ServerOptions::default(),
    )
    .await;
    let exporter = exporter(server.http_endpoint());
    assert_eq!(
        exporter.export(&batch()).await,
        ExportOutcome::PartiallyRejected {
            rejected: 1,
            message: "one too old".to_owned()
        }
    );
}

#[tokio::test]
async fn unavailable_with_retry_info_is_retryable_after_the_delay() {
    let server = start(
        retry_info(Code::Unavailable, Duration::from_secs(2)),
        ServerOptions::default(),
    )
    .await;
    let exporter = exporter(server.http_endpoint());
    let (error, retry_after) = expect_retryable(exporter.export(&batch()).await);
    assert_eq!(retry_after, Some(Duration::from_secs(2)));
    assert_eq!(error.kind, FailureKind::GrpcStatus);
    assert_eq!(error.status, Some(Code::Unavailable as i32));
    assert!(error.message.contains("slow down"), "{error}");
}

#[tokio::test]
async fn unavailable_without_retry_info_is_retryable() {
    let server = start(
        Behaviour::fail(|| Status::unavailable("draining")),
        ServerOptions::default(),
    )
    .await;
    let exporter = exporter(server.http_endpoint());
    let (error, retry_after) = expect_retryable(exporter.export(&batch()).await);
    assert_eq!(retry_after, None);
    assert_eq!(error.kind, FailureKind::GrpcStatus);
    assert_eq!(error.status, Some(14));
}

#[tokio::test]
async fn resource_exhausted_with_retry_info_is_retryable() {
    let server = start(
        retry_info(Code::ResourceExhausted, Duration::from_millis(1500)),
        ServerOptions::default(),
    )
    .await;
    let exporter = exporter(server.http_endpoint());
    let (error, retry_after) = expect_retryable(exporter.export(&batch()).await);
    assert_eq!(retry_after, Some(Duration::from_millis(1500)));
    assert_eq!(error.status, Some(Code::ResourceExhausted as i32));
}

#[tokio::test]
async fn resource_exhausted_without_retry_info_is_permanent() {
    let server = start(
        Behaviour::fail(|| Status::resource_exhausted("quota")),
        ServerOptions::default(),
    )
    .await;
    let exporter = exporter(server.http_endpoint());
    let error = expect_permanent(exporter.export(&batch()).await);
    assert_eq!(error.kind, FailureKind::GrpcStatus);
    assert_eq!(error.status, Some(Code::ResourceExhausted as i32));
}

#[tokio::test]
async fn invalid_argument_and_unauthenticated_are_permanent_with_their_code() {
    for (status, code) in [
        (
            Behaviour::fail(|| Status::invalid_argument("bad record")),
            Code::InvalidArgument,
        ),
        (
            Behaviour::fail(|| Status::unauthenticated("who are you")),
            Code::Unauthenticated,
        ),
    ] {
        let server = start(status, ServerOptions::default()).await;
        let exporter = exporter(server.http_endpoint());
        let error = expect_permanent(exporter.export(&batch()).await);
        assert_eq!(error.kind, FailureKind::GrpcStatus, "{code:?}: {error}");
        assert_eq!(error.status, Some(code as i32), "{code:?}: {error}");
    }
}

#[tokio::test]
async fn connection_refused_is_retryable_connection() {
    let addr = common::closed_port().await;
    let exporter = exporter(format!("http://{addr}"));
    let (error, retry_after) = expect_retryable(exporter.export(&batch()).await);
    assert_eq!(error.kind, FailureKind::Connection, "{error}");
    assert_eq!(error.status, None);
    assert_eq!(retry_after, None);
    assert!(error.message.contains(&addr.to_string()), "{error}");
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
async fn a_server_that_never_answers_times_out() {
    let server = start(Behaviour::Hang, ServerOptions::default()).await;
    let transport = TransportOptions {
        timeout: common::SHORT,
        ..TransportOptions::default()
    };
    let exporter = exporter_with(server.http_endpoint(), transport);
    let (error, _) = expect_retryable(exporter.export(&batch()).await);
    assert_eq!(error.kind, FailureKind::Timeout, "{error}");
    // The request did reach the server (it may be recorded only after the
    // client gave up, so wait for it).
    let received = server.wait_for_received(1, common::BOUND).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].request, *batch().request());
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
