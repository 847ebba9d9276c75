//! The exporter against wiremock and raw loopback servers: bodies, headers,
//! compression and the classification of every kind of answer.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::time::{Duration, SystemTime};

use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use agent_otel_core::testing::{expect_permanent, expect_retryable};
use agent_otel_core::{
    Compression, ExportOutcome, Exporter, FailureKind, HttpProtocol, SecretString,
};
use common::{batch, config, exporter, request};
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

fn header<'a>(request: &'a wiremock::Request, name: &str) -> &'a str {
    request
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn binary_body_decodes_back_to_the_request() {
    let server = server_answering(ResponseTemplate::new(200)).await;
    assert_eq!(
        export_to(&server, HttpProtocol::Binary).await,
        ExportOutcome::Accepted
    );
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(header(sent, "content-type"), "application/x-protobuf");
    assert_eq!(
        header(sent, "content-length"),
        sent.body.len().to_string().as_str()
    );
    assert!(header(sent, "content-encoding").is_empty());
    assert_eq!(
        ExportLogsServiceRequest::decode(sent.body.as_slice()).unwrap(),
        request()
    );
}

#[tokio::test]
async fn json_body_decodes_back_to_the_request() {
    let server = server_answering(ResponseTemplate::new(200)).await;
    assert_eq!(
        export_to(&server, HttpProtocol::Json).await,
        ExportOutcome::Accepted
    );
    let received = server.received_requests().await.unwrap();
    let sent = &received[0];
    assert_eq!(header(sent, "content-type"), "application/json");
    let decoded: ExportLogsServiceRequest = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(decoded, request());
    // OTLP JSON: lowerCamelCase keys.
    let text = String::from_utf8(sent.body.clone()).unwrap();
    assert!(text.contains("\"resourceLogs\""), "{text}");
}

#[tokio::test]
async fn sends_user_agent_and_custom_headers() {
    let server = server_answering(ResponseTemplate::new(200)).await;
    let mut config = config(endpoint(&server), HttpProtocol::Binary);
    config
        .transport
        .headers
        .insert("X-OTLP-Api-Key", SecretString::new("s3cr3t-token"));
    config
        .transport
        .headers
        .insert("x-team", SecretString::new("platform"));
    let exporter = exporter(config);
    // The secret never shows in Debug.
    assert!(!format!("{exporter:?}").contains("s3cr3t"));
    assert_eq!(exporter.export(&batch()).await, ExportOutcome::Accepted);

    let received = server.received_requests().await.unwrap();
    let sent = &received[0];
    assert_eq!(header(sent, "x-otlp-api-key"), "s3cr3t-token");
    assert_eq!(header(sent, "x-team"), "platform");
    assert_eq!(
        header(sent, "user-agent"),
        format!("agent-otel/{}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn gzip_body_decompresses_to_the_request() {
    let server = server_answering(ResponseTemplate::new(200)).await;
    let mut config = config(endpoint(&server), HttpProtocol::Binary);
    config.transport.compression = Compression::Gzip;
    assert_eq!(
        exporter(config).export(&batch()).await,
        ExportOutcome::Accepted
    );
    let received = server.received_requests().await.unwrap();
    let sent = &received[0];
    assert_eq!(header(sent, "content-encoding"), "gzip");
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(sent.body.as_slice())
        .read_to_end(&mut plain)
        .unwrap();
    assert_eq!(
        ExportLogsServiceRequest::decode(plain.as_slice()).unwrap(),
        request()
    );
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
async fn protobuf_partial_success_is_partially_rejected() {
    let response = ExportLogsServiceResponse {
        partial_success: Some(ExportLogsPartialSuccess {
            rejected_log_records: 1,
            error_message: "record too old".to_owned(),
        }),
    };
    let server = server_answering(
        ResponseTemplate::new(200).set_body_raw(response.encode_to_vec(), "application/x-protobuf"),
    )
    .await;
    assert_eq!(
        export_to(&server, HttpProtocol::Binary).await,
        ExportOutcome::PartiallyRejected {
            rejected: 1,
            message: "record too old".to_owned()
        }
    );
}

#[tokio::test]
async fn json_partial_success_is_partially_rejected() {
    // The collector writes int64 as a JSON string.
    let body = r#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"missing body"}}"#;
    let server =
        server_answering(ResponseTemplate::new(200).set_body_raw(body, "application/json")).await;
    assert_eq!(
        export_to(&server, HttpProtocol::Json).await,
        ExportOutcome::PartiallyRejected {
            rejected: 2,
            message: "missing body".to_owned()
        }
    );
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
async fn throttling_statuses_are_retryable_with_retry_after_seconds() {
    for status in [429u16, 503] {
        let server =
            server_answering(ResponseTemplate::new(status).insert_header("Retry-After", "3")).await;
        let (error, retry_after) = expect_retryable(export_to(&server, HttpProtocol::Binary).await);
        assert_eq!(error.kind, FailureKind::HttpStatus);
        assert_eq!(error.status, Some(i32::from(status)));
        assert_eq!(retry_after, Some(Duration::from_secs(3)), "status {status}");
    }
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
async fn gateway_errors_are_retryable_without_delay() {
    for status in [502u16, 503, 504] {
        let server = server_answering(ResponseTemplate::new(status)).await;
        let (error, retry_after) = expect_retryable(export_to(&server, HttpProtocol::Binary).await);
        assert_eq!(error.kind, FailureKind::HttpStatus);
        assert_eq!(error.status, Some(i32::from(status)));
        assert_eq!(retry_after, None);
    }
}

#[tokio::test]
async fn client_errors_are_permanent_with_status_and_message() {
    for status in [400u16, 401, 404, 413, 500] {
        let server = server_answering(
            ResponseTemplate::new(status)
                .insert_header("Retry-After", "3")
                .set_body_raw(format!("nope {status}\n"), "text/plain"),
        )
        .await;
        let error = expect_permanent(export_to(&server, HttpProtocol::Binary).await);
        assert_eq!(error.kind, FailureKind::HttpStatus);
        assert_eq!(error.status, Some(i32::from(status)));
        assert!(
            error.message.contains(&format!("nope {status}")),
            "{}",
            error.message
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
async fn connection_refused_is_retryable_connection() {
    // Bound but not listening: connections are refused, and the port
    // stays ours (it is never released and reused).
    let refusing =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    refusing
        .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = refusing.local_addr().unwrap().as_socket().unwrap().port();
    let exporter = exporter(config(
        format!("http://127.0.0.1:{port}/v1/logs"),
        HttpProtocol::Binary,
    ));
    let (error, retry_after) = expect_retryable(exporter.export(&batch()).await);
    assert_eq!(error.kind, FailureKind::Connection, "{error}");
    assert_eq!(retry_after, None);
    assert!(!error.message.contains("127.0.0.1"), "{}", error.message);
}

#[tokio::test]
async fn slow_answer_is_retryable_timeout() {
    let server =
        server_answering(ResponseTemplate::new(200).set_delay(Duration::from_secs(30))).await;
    let mut config = config(endpoint(&server), HttpProtocol::Binary);
    config.transport.timeout = Duration::from_millis(200);
    let (error, _) = expect_retryable(exporter(config).export(&batch()).await);
    assert_eq!(error.kind, FailureKind::Timeout, "{error}");
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
