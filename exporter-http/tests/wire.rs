//! HTTP edge cases against wiremock and raw loopback servers: retries reuse
//! the batch's (compressed) body, `Retry-After` as an HTTP date, redirects,
//! large and endless answers. What every transport must do (bodies,
//! headers, gzip, each status, partial success, timeouts) is the
//! conformance suite (integration-tests/src/conformance.rs).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, SystemTime};

use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use agent_otel_core::testing::{expect_permanent, expect_retryable};
use agent_otel_core::{Compression, ExportOutcome, Exporter, FailureKind, HttpProtocol};
use common::{batch, config, exporter};
use prost::Message;
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server_answering(template: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/logs"))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

fn endpoint(server: &MockServer) -> String {
    format!("{}/v1/logs", server.uri())
}

async fn export_to(server: &MockServer, protocol: HttpProtocol) -> ExportOutcome {
    exporter(config(endpoint(server), protocol))
        .export(&batch())
        .await
}

#[tokio::test]
async fn the_same_batch_can_be_sent_twice() {
    let server = server_answering(ResponseTemplate::new(200)).await;
    let exporter = exporter(config(endpoint(&server), HttpProtocol::Json));
    let batch = batch();
    assert_eq!(exporter.export(&batch).await, ExportOutcome::Accepted);
    assert_eq!(exporter.export(&batch).await, ExportOutcome::Accepted);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, received[1].body);
}

#[tokio::test]
async fn a_gzip_retry_reuses_the_compressed_body_of_the_batch() {
    let server = server_answering(ResponseTemplate::new(200)).await;
    let mut config = config(endpoint(&server), HttpProtocol::Binary);
    config.transport.compression = Compression::Gzip;
    let exporter = exporter(config);
    let batch = batch();
    assert!(batch.transport_body().is_none());
    assert_eq!(exporter.export(&batch).await, ExportOutcome::Accepted);
    let stored = batch.transport_body().expect("gzip body stored").clone();
    assert_eq!(exporter.export(&batch).await, ExportOutcome::Accepted);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[0].body, stored.to_vec());
    assert_eq!(received[1].body, stored.to_vec());
}

#[tokio::test]
async fn empty_partial_success_is_accepted() {
    let body = ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess::default()),
    }
    .encode_to_vec();
    let server =
        server_answering(ResponseTemplate::new(200).set_body_raw(body, "application/x-protobuf"))
            .await;
    assert_eq!(
        export_to(&server, HttpProtocol::Binary).await,
        ExportOutcome::Accepted
    );
    let server =
        server_answering(ResponseTemplate::new(200).set_body_raw("{}", "application/json")).await;
    assert_eq!(
        export_to(&server, HttpProtocol::Json).await,
        ExportOutcome::Accepted
    );
}

#[tokio::test]
async fn retry_after_as_http_date_is_honoured() {
    for status in [429u16, 503] {
        let at = SystemTime::now() + Duration::from_secs(120);
        let server = server_answering(
            ResponseTemplate::new(status).insert_header("Retry-After", httpdate::fmt_http_date(at)),
        )
        .await;
        let (_, retry_after) = expect_retryable(export_to(&server, HttpProtocol::Binary).await);
        // The date has one-second resolution and some time passed since.
        let delay = retry_after.unwrap();
        assert!(
            delay > Duration::from_secs(100) && delay <= Duration::from_secs(120),
            "{delay:?}"
        );
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = server_answering(
        ResponseTemplate::new(307).insert_header("Location", "http://elsewhere.invalid/v1/logs"),
    )
    .await;
    let error = expect_permanent(export_to(&server, HttpProtocol::Binary).await);
    assert_eq!(error.status, Some(307));
    assert!(
        error.message.contains("elsewhere.invalid"),
        "{}",
        error.message
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn large_success_body_is_accepted() {
    let server = server_answering(
        ResponseTemplate::new(200).set_body_raw(vec![b'x'; 1024 * 1024], "application/x-protobuf"),
    )
    .await;
    assert_eq!(
        export_to(&server, HttpProtocol::Binary).await,
        ExportOutcome::Accepted
    );
}

/// A server whose error body never ends: the exporter must stop reading
/// after its cap and classify by status instead of waiting for the end.
#[tokio::test]
async fn endless_response_body_is_cut_at_the_cap() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut buf = vec![0u8; 64 * 1024];
        // Read the request head and body (enough for this small batch).
        let _ = tokio::io::AsyncReadExt::read(&mut socket, &mut buf).await;
        let head = b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\n\
                     transfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head).await.is_err() {
            return;
        }
        let chunk = format!("4000\r\n{}\r\n", "y".repeat(0x4000));
        while socket.write_all(chunk.as_bytes()).await.is_ok() {}
    });
    let mut config = config(
        format!("http://127.0.0.1:{port}/v1/logs"),
        HttpProtocol::Binary,
    );
    config.transport.timeout = Duration::from_secs(60);
    let error = expect_permanent(exporter(config).export(&batch()).await);
    assert_eq!(error.kind, FailureKind::HttpStatus);
    assert_eq!(error.status, Some(400));
    assert!(error.message.len() < 1024, "{}", error.message);
}
