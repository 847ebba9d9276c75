//! The collector bounds what a client can make it hold: connections,
//! silent connections, concurrent requests, records and values per request.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use agent_otel_collector::opentelemetry_proto::tonic::logs::v1::{
    LogRecord, ResourceLogs, ScopeLogs,
};
use agent_otel_collector::{Collector, CollectorConfig, Fault, Signal};
use common::{BOUND, sample_request, sample_traces};
use prost::Message as _;
use reqwest::StatusCode;

const PROTOBUF: &str = "application/x-protobuf";

fn empty_records(n: usize) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord::default(); n],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A client that gives up after half a second.
fn impatient_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

/// Reads until the server closes the connection (or resets it).
fn closed_by_server(mut conn: TcpStream) -> bool {
    conn.set_read_timeout(Some(BOUND)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match conn.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn two_thousand_half_open_connections_are_closed() {
    let c = Collector::start(CollectorConfig {
        header_read_timeout: Duration::from_millis(300),
        // Every connection gets a slot at once: this test is about silence,
        // not the cap (a full listen backlog would make the connects retry).
        max_connections: 1024,
        ..CollectorConfig::default()
    })
    .unwrap();
    let http = c.http_addr().unwrap();
    let grpc = c.grpc_addr().unwrap();
    let mut conns = Vec::new();
    for i in 0..2000 {
        let addr = if i % 2 == 0 { http } else { grpc };
        conns.push(TcpStream::connect(addr).unwrap());
    }
    // Every silent connection is closed by the server, on both receivers.
    c.wait_for_timed_out_connections(2000, Duration::from_secs(120))
        .unwrap();
    for conn in conns {
        assert!(closed_by_server(conn));
    }
    // And the collector still serves.
    let status = common::post_in_thread(
        c.http_logs_endpoint().unwrap(),
        sample_request(1).encode_to_vec(),
    )
    .join()
    .unwrap()
    .unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let c = Collector::start(CollectorConfig {
        idle_timeout: Duration::from_millis(300),
        ..CollectorConfig::http_only()
    })
    .unwrap();
    let body = sample_request(1).encode_to_vec();
    let mut conn = TcpStream::connect(c.http_addr().unwrap()).unwrap();
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nhost: x\r\ncontent-type: {PROTOBUF}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(&body).unwrap();
    c.wait_for_records(1, BOUND).unwrap();
    // The answer arrives, then the connection goes quiet and is closed.
    assert!(closed_by_server(conn));
    assert_eq!(c.wait_for_timed_out_connections(1, BOUND).unwrap(), 1);
}

#[test]
fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let c = Collector::start(CollectorConfig {
        max_connections: 1,
        ..CollectorConfig::http_only()
    })
    .unwrap();
    // A silent client holds the only slot.
    let silent = TcpStream::connect(c.http_addr().unwrap()).unwrap();
    let endpoint = c.http_logs_endpoint().unwrap();
    let body = sample_request(1).encode_to_vec();
    let blocked = common::runtime().block_on(async {
        impatient_client()
            .post(&endpoint)
            .header("content-type", PROTOBUF)
            .body(body.clone())
            .send()
            .await
    });
    assert!(blocked.unwrap_err().is_timeout());
    assert_eq!(c.request_count(), 0);
    // Once it leaves, the next client is served.
    drop(silent);
    let status = common::post_in_thread(endpoint, body)
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn requests_beyond_the_concurrency_cap_wait_for_a_slot() {
    let c = Collector::start(CollectorConfig {
        max_concurrent_requests: 1,
        ..CollectorConfig::http_only()
    })
    .unwrap();
    c.push_fault(Fault::NeverAnswer, 1);
    let endpoint = c.http_logs_endpoint().unwrap();
    let body = sample_request(1).encode_to_vec();
    // The first request holds the only slot and is never answered.
    let _held = common::post_in_thread(endpoint.clone(), body.clone());
    c.wait_for_requests(1, BOUND).unwrap();
    let second = common::runtime().block_on(async {
        impatient_client()
            .post(&endpoint)
            .header("content-type", PROTOBUF)
            .body(body)
            .send()
            .await
    });
    assert!(second.unwrap_err().is_timeout());
    assert_eq!(c.request_count(), 1, "the second request was not read");
}

#[tokio::test]
async fn requests_with_too_many_records_or_values_are_refused_before_decoding() {
    let c = Collector::start(CollectorConfig {
        max_records_per_request: 10,
        max_values_per_request: 10_000,
        ..CollectorConfig::http_only()
    })
    .unwrap();
    let client = common::http_client();
    let post = |body: Vec<u8>, path: &'static str| {
        client
            .post(format!("{}{path}", c.http_base_endpoint().unwrap()))
            .header("content-type", PROTOBUF)
            .body(body)
            .send()
    };
    let resp = post(sample_request(11).encode_to_vec(), "/v1/logs")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let status = tonic_types::pb::Status::decode(resp.bytes().await.unwrap()).unwrap();
    assert!(
        status.message.contains("more than 10 log records"),
        "{status:?}"
    );
    let resp = post(sample_traces(11).encode_to_vec(), "/v1/traces")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // 40,000 empty records: 80 kB on the wire, counted before decoding.
    let body = empty_records(40_000).encode_to_vec();
    assert!(body.len() < 100_000);
    let resp = post(body, "/v1/logs").await.unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let status = tonic_types::pb::Status::decode(resp.bytes().await.unwrap()).unwrap();
    assert!(
        status.message.contains("more than 10000 values"),
        "{status:?}"
    );

    let json = serde_json::to_vec(&empty_records(40_000)).unwrap();
    let resp = client
        .post(c.http_logs_endpoint().unwrap())
        .header("content-type", "application/json")
        .body(json)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Within the caps, all is well.
    let resp = post(sample_request(10).encode_to_vec(), "/v1/logs")
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(c.refused_oversized(), 4);
    assert_eq!(
        c.counts(Signal::Logs),
        (1, 10),
        "refused requests are not recorded"
    );
    assert_eq!(c.counts(Signal::Traces), (0, 0));
}

#[test]
fn grpc_requests_with_too_many_values_are_refused_even_gzipped() {
    let c = Collector::start(CollectorConfig {
        max_values_per_request: 10_000,
        ..CollectorConfig::grpc_only()
    })
    .unwrap();
    let endpoint = c.grpc_endpoint().unwrap();
    common::runtime().block_on(async {
        let mut logs = LogsServiceClient::connect(endpoint)
            .await
            .unwrap()
            .send_compressed(tonic::codec::CompressionEncoding::Gzip);
        let err = logs.export(empty_records(40_000)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::ResourceExhausted);
        assert!(err.message().contains("values"), "{err:?}");
        logs.export(sample_request(2)).await.unwrap();
    });
    assert_eq!(c.refused_oversized(), 1);
    assert_eq!(c.counts(Signal::Logs), (1, 2));
}
