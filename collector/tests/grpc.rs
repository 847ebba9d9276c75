//! OTLP/gRPC receiver tests over real loopback traffic.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use agent_otel_collector::{Answer, Collector, CollectorConfig, Fault, Transport};
use common::{BOUND, sample_request};
use prost::Message as _;
use tonic::Code;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;

async fn client(c: &Collector) -> LogsServiceClient<Channel> {
    LogsServiceClient::connect(c.grpc_endpoint().unwrap())
        .await
        .unwrap()
}

fn with_meta<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    req.metadata_mut()
        .insert("x-otlp-meta", "abc123".parse().unwrap());
    req
}

#[tokio::test]
async fn plain_export_is_recorded_with_metadata() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    let mut cl = client(&c).await;
    let resp = cl.export(with_meta(sample_request(2))).await.unwrap();
    assert_eq!(resp.into_inner().partial_success, None);

    let records = c.wait_for_records(2, BOUND).unwrap();
    assert_eq!(records[0].transport, Transport::Grpc);
    assert_eq!(records[0].attr_str("call_id"), Some("call-0"));
    assert_eq!(records[1].resource_str("env"), Some("test"));

    let req = &c.requests()[0];
    assert_eq!(req.transport, Transport::Grpc);
    assert_eq!(req.header("x-otlp-meta"), Some("abc123"));
    assert!(
        req.content_type
            .as_deref()
            .unwrap()
            .starts_with("application/grpc")
    );
    assert_eq!(req.content_encoding, None);
    assert_eq!(req.body_len, sample_request(2).encoded_len() + 5);
    assert_eq!(req.request, sample_request(2));
    assert_eq!(req.answered, Answer::Accepted);
}

#[tokio::test]
async fn gzip_export_is_decompressed() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    let mut cl = client(&c).await.send_compressed(CompressionEncoding::Gzip);
    cl.export(sample_request(50)).await.unwrap();
    let req = &c.wait_for_requests(1, BOUND).unwrap()[0];
    assert_eq!(req.content_encoding.as_deref(), Some("gzip"));
    assert!(req.body_len < sample_request(50).encoded_len());
    assert_eq!(req.request, sample_request(50));
    assert_eq!(c.record_count(), 50);
}

#[tokio::test]
async fn messages_over_the_cap_are_refused() {
    let config = CollectorConfig {
        max_body_bytes: 1024,
        ..CollectorConfig::grpc_only()
    };
    let c = Collector::start(config).unwrap();
    let mut cl = client(&c).await;
    let err = cl.export(sample_request(40)).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::ResourceExhausted | Code::OutOfRange),
        "{err:?}"
    );
    // Far over the cap on the wire: refused before decoding.
    let err = cl.export(sample_request(400)).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // A gzip body small on the wire but too large decoded is refused too.
    let mut cl = client(&c).await.send_compressed(CompressionEncoding::Gzip);
    let err = cl.export(sample_request(40)).await.unwrap_err();
    assert!(
        matches!(err.code(), Code::ResourceExhausted | Code::OutOfRange),
        "{err:?}"
    );
    assert_eq!(c.request_count(), 0);
    cl.export(sample_request(1)).await.unwrap();
    assert_eq!(c.request_count(), 1);
}

fn retry_delay(status: &tonic::Status) -> Option<Option<Duration>> {
    status.get_details_retry_info().map(|info| info.retry_delay)
}

#[tokio::test]
async fn each_fault_gives_its_grpc_code() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    let cases: Vec<(Fault, Code, Option<Option<Duration>>)> = vec![
        (
            Fault::Unavailable {
                retry_after: Some(Duration::from_millis(1500)),
            },
            Code::Unavailable,
            Some(Some(Duration::from_millis(1500))),
        ),
        (
            Fault::Unavailable { retry_after: None },
            Code::Unavailable,
            None,
        ),
        (
            Fault::Throttled {
                retry_after: Some(Duration::from_secs(3)),
            },
            Code::ResourceExhausted,
            Some(Some(Duration::from_secs(3))),
        ),
        (
            Fault::Throttled { retry_after: None },
            Code::ResourceExhausted,
            None,
        ),
        (Fault::InvalidArgument, Code::InvalidArgument, None),
        (Fault::Unauthenticated, Code::Unauthenticated, None),
        (
            Fault::HttpStatus {
                status: 503,
                retry_after: Some("7".to_owned()),
            },
            Code::Unavailable,
            Some(Some(Duration::from_secs(7))),
        ),
        (
            Fault::HttpStatus {
                status: 429,
                retry_after: None,
            },
            Code::ResourceExhausted,
            Some(None),
        ),
        (
            Fault::HttpStatus {
                status: 502,
                retry_after: Some("Wed, 21 Oct 2015 07:28:00 GMT".to_owned()),
            },
            Code::Unavailable,
            None,
        ),
        (
            Fault::HttpStatus {
                status: 400,
                retry_after: None,
            },
            Code::InvalidArgument,
            None,
        ),
        (
            Fault::HttpStatus {
                status: 418,
                retry_after: None,
            },
            Code::Unknown,
            None,
        ),
        // 408 is permanent under OTLP/HTTP, so not DEADLINE_EXCEEDED
        // (which gRPC senders retry).
        (
            Fault::HttpStatus {
                status: 408,
                retry_after: None,
            },
            Code::Unknown,
            None,
        ),
        (
            Fault::GrpcStatus {
                code: Code::Aborted,
                retry_after: Some(Duration::from_millis(250)),
            },
            Code::Aborted,
            Some(Some(Duration::from_millis(250))),
        ),
        (
            Fault::GrpcStatus {
                code: Code::PermissionDenied,
                retry_after: None,
            },
            Code::PermissionDenied,
            None,
        ),
    ];
    for (fault, _, _) in &cases {
        c.push_fault(fault.clone(), 1);
    }
    let mut cl = client(&c).await;
    for (i, (fault, code, retry)) in cases.iter().enumerate() {
        let err = cl.export(sample_request(1)).await.unwrap_err();
        assert_eq!(err.code(), *code, "case #{i}: {fault:?}: {err:?}");
        assert_eq!(retry_delay(&err), *retry, "case #{i}: {fault:?}");
    }
    cl.export(sample_request(1)).await.unwrap();
    assert_eq!(c.request_count(), cases.len() + 1);
    assert_eq!(c.record_count(), 1);
}

#[tokio::test]
async fn partial_success_over_grpc() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    c.push_fault(
        Fault::PartialSuccess {
            rejected: 1,
            message: "one record was malformed".to_owned(),
        },
        1,
    );
    let mut cl = client(&c).await;
    let resp = cl.export(sample_request(3)).await.unwrap().into_inner();
    let partial = resp.partial_success.unwrap();
    assert_eq!(partial.rejected_log_records, 1);
    assert_eq!(partial.error_message, "one record was malformed");
    assert_eq!(c.record_count(), 3);
}

#[tokio::test]
async fn delay_then_accept_over_grpc() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    let delay = Duration::from_millis(150);
    c.push_fault(Fault::Delay(delay), 1);
    let mut cl = client(&c).await;
    let started = Instant::now();
    cl.export(sample_request(1)).await.unwrap();
    assert!(started.elapsed() >= delay);
    assert_eq!(c.requests()[0].answered, Answer::Delayed(delay));
}

#[test]
fn never_answer_over_grpc_does_not_block_drop() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    c.push_fault(Fault::NeverAnswer, 1);
    let endpoint = c.grpc_endpoint().unwrap();
    let client_thread = common::export_grpc_in_thread(endpoint, vec![sample_request(1)]);
    c.wait_for_requests(1, BOUND).unwrap();
    let started = Instant::now();
    drop(c);
    assert!(
        started.elapsed() < BOUND,
        "drop took {:?}",
        started.elapsed()
    );
    let outcome = client_thread.join().unwrap();
    let err = outcome.unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled
        ),
        "{err:?}"
    );
}
