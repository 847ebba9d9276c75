//! OTLP/HTTP receiver tests over real loopback traffic.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use agent_otel_collector::{Answer, Collector, CollectorConfig, Fault, Transport};
use common::{BOUND, gzip, http_client, sample_request};
use prost::Message as _;
use reqwest::StatusCode;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

async fn post(
    c: &Collector,
    content_type: &str,
    encoding: Option<&str>,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = http_client()
        .post(c.http_logs_endpoint().unwrap())
        .header("content-type", content_type)
        .header("x-otlp-api-key", "secret-token")
        .body(body);
    if let Some(enc) = encoding {
        req = req.header("content-encoding", enc);
    }
    req.send().await.unwrap()
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn retry_after(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn protobuf_request_is_recorded_and_answered_in_protobuf() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let body = sample_request(3).encode_to_vec();
    let sent = body.len();
    let resp = post(&c, PROTOBUF, None, body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(content_type(&resp), PROTOBUF);
    let answer = ExportLogsServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.partial_success, None);

    let records = c.wait_for_records(3, BOUND).unwrap();
    assert_eq!(records.len(), 3);
    let r = &records[1];
    assert_eq!(r.transport, Transport::Http);
    assert_eq!(r.event_name(), "codex.tool_result");
    assert_eq!(r.attr_str("call_id"), Some("call-1"));
    assert_eq!(r.attr_int("duration_ms"), Some(41));
    assert_eq!(r.attr_bool("sandboxed"), Some(true));
    assert_eq!(r.resource_str("service.name"), Some("codex-cli"));
    assert_eq!(r.scope_name, "agent-otel");
    assert_eq!(r.scope_version, "0.1.0");
    assert_eq!(r.body_str(), Some("tool ran"));
    assert_eq!(r.attributes().count(), 6);

    let reqs = c.requests();
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.transport, Transport::Http);
    assert_eq!(req.body_len, sent);
    assert_eq!(req.content_type.as_deref(), Some(PROTOBUF));
    assert_eq!(req.content_encoding, None);
    assert_eq!(req.header("x-otlp-api-key"), Some("secret-token"));
    assert_eq!(req.header("X-OTLP-API-KEY"), Some("secret-token"));
    assert!(
        req.headers
            .iter()
            .all(|(k, _)| *k == k.to_ascii_lowercase())
    );
    assert_eq!(req.answered, Answer::Accepted);
    assert_eq!(req.request, sample_request(3));
}

#[tokio::test]
async fn json_request_is_answered_in_json() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let body = serde_json::to_vec(&sample_request(2)).unwrap();
    let resp = post(&c, "application/json; charset=utf-8", None, body).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(content_type(&resp), JSON);
    let answer: ExportLogsServiceResponse = serde_json::from_slice(&resp.bytes().await.unwrap())
        .expect("JSON ExportLogsServiceResponse");
    assert_eq!(answer.partial_success, None);
    let records = c.wait_for_records(2, BOUND).unwrap();
    assert_eq!(records[0].attr_str("tool_name"), Some("shell"));
    assert_eq!(c.requests()[0].request, sample_request(2));
}

#[tokio::test]
async fn hand_written_otlp_json_is_accepted() {
    // The shape other OTLP exporters produce: int64 as strings, hex ids.
    let body = r#"{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
      "scopeLogs":[{"scope":{"name":"s"},"logRecords":[{"timeUnixNano":"1700000000000000000",
      "eventName":"codex.user_prompt","severityNumber":9,
      "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
      "attributes":[{"key":"prompt_length","value":{"intValue":"12"}}]}]}]}]}"#;
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let resp = post(&c, JSON, None, body.as_bytes().to_vec()).await;
    let status = resp.status();
    assert_eq!(status, StatusCode::OK, "{}", resp.text().await.unwrap());
    let records = c.wait_for_records(1, BOUND).unwrap();
    assert_eq!(records[0].event_name(), "codex.user_prompt");
    assert_eq!(records[0].attr_int("prompt_length"), Some(12));
    assert_eq!(records[0].record.trace_id.len(), 16);
}

#[tokio::test]
async fn gzip_bodies_are_decompressed_in_both_encodings() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let proto = gzip(&sample_request(2).encode_to_vec());
    let proto_len = proto.len();
    let resp = post(&c, PROTOBUF, Some("gzip"), proto).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let json = gzip(&serde_json::to_vec(&sample_request(1)).unwrap());
    let resp = post(&c, JSON, Some("gzip"), json).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(content_type(&resp), JSON);

    assert_eq!(c.wait_for_records(3, BOUND).unwrap().len(), 3);
    let reqs = c.requests();
    assert_eq!(reqs[0].content_encoding.as_deref(), Some("gzip"));
    assert_eq!(
        reqs[0].body_len, proto_len,
        "wire size, before decompression"
    );
    assert_eq!(reqs[0].request, sample_request(2));
    assert_eq!(reqs[1].request, sample_request(1));
}

#[tokio::test]
async fn wrong_path_method_type_and_encoding_are_refused() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let client = http_client();
    let base = c.http_base_endpoint().unwrap();

    let resp = client
        .post(format!("{base}/v1/profiles"))
        .header("content-type", PROTOBUF)
        .body(Vec::new())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);

    let resp = client
        .get(c.http_logs_endpoint().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers().get("allow").unwrap(), "POST");

    let resp = post(&c, "text/plain", None, b"hello".to_vec()).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("application/x-protobuf")
    );

    let resp = post(&c, PROTOBUF, Some("br"), b"hello".to_vec()).await;
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);

    assert_eq!(c.request_count(), 0, "refused requests are not recorded");
}

#[tokio::test]
async fn undecodable_bodies_get_400_with_a_status_message() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    c.push_fault(Fault::Unauthenticated, 1);

    let resp = post(&c, PROTOBUF, None, vec![0xff, 0xff, 0xff, 0x01]).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(content_type(&resp), PROTOBUF);
    let status = tonic_types::pb::Status::decode(resp.bytes().await.unwrap()).unwrap();
    assert_eq!(status.code, tonic::Code::InvalidArgument as i32);
    assert!(status.message.contains("protobuf"), "{}", status.message);

    let resp = post(&c, JSON, None, b"{\"resourceLogs\": 5}".to_vec()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let text = resp.text().await.unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(v["message"].as_str().unwrap().contains("JSON"), "{text}");

    let resp = post(&c, PROTOBUF, Some("gzip"), b"not gzip at all".to_vec()).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

    assert_eq!(c.request_count(), 0);
    assert_eq!(c.pending_faults(), 1, "bad requests do not consume faults");
}

#[tokio::test]
async fn bodies_over_the_cap_get_413() {
    let config = CollectorConfig {
        max_body_bytes: 1024,
        ..CollectorConfig::http_only()
    };
    let c = Collector::start(config).unwrap();
    let big = sample_request(40).encode_to_vec();
    assert!(big.len() > 1024);
    let resp = post(&c, PROTOBUF, None, big.clone()).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Small on the wire, too large once decompressed.
    let mut padded = sample_request(1);
    padded.resource_logs[0].scope_logs[0].log_records[0].severity_text = "x".repeat(100_000);
    let bomb = gzip(&padded.encode_to_vec());
    assert!(bomb.len() < 1024);
    let resp = post(&c, PROTOBUF, Some("gzip"), bomb).await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // Chunked (no Content-Length) bodies are capped while reading.
    let status_line = raw_chunked_post(c.http_addr().unwrap(), &big);
    assert!(status_line.starts_with("HTTP/1.1 413"), "{status_line}");

    let small = sample_request(1).encode_to_vec();
    assert_eq!(
        post(&c, PROTOBUF, None, small).await.status(),
        StatusCode::OK
    );
    assert_eq!(c.request_count(), 1);
}

/// POSTs `data` with `Transfer-Encoding: chunked` over a raw socket and
/// returns the response's status line.
fn raw_chunked_post(addr: std::net::SocketAddr, data: &[u8]) -> String {
    use std::io::{BufRead as _, BufReader, Write as _};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(BOUND)).unwrap();
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nhost: {addr}\r\ncontent-type: {PROTOBUF}\r\ntransfer-encoding: chunked\r\n\r\n"
    );
    let mut out = head.into_bytes();
    for chunk in data.chunks(256) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    // The server may answer and stop reading before everything is written.
    let _ = stream.write_all(&out);
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    line
}

#[tokio::test]
async fn each_fault_gives_its_http_status() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let date = "Wed, 21 Oct 2015 07:28:00 GMT";
    c.push_fault(
        Fault::Unavailable {
            retry_after: Some(Duration::from_millis(1500)),
        },
        1,
    );
    c.push_fault(Fault::Unavailable { retry_after: None }, 1);
    c.push_fault(
        Fault::Throttled {
            retry_after: Some(Duration::from_secs(3)),
        },
        1,
    );
    c.push_fault(Fault::InvalidArgument, 1);
    c.push_fault(Fault::Unauthenticated, 1);
    c.push_fault(
        Fault::HttpStatus {
            status: 502,
            retry_after: Some(date.to_owned()),
        },
        1,
    );
    c.push_fault(
        Fault::GrpcStatus {
            code: tonic::Code::DeadlineExceeded,
            retry_after: None,
        },
        1,
    );
    c.push_fault(
        Fault::GrpcStatus {
            code: tonic::Code::PermissionDenied,
            retry_after: Some(Duration::from_secs(4)),
        },
        1,
    );
    let expected: [(u16, Option<&str>); 8] = [
        (503, Some("2")),
        (503, None),
        (429, Some("3")),
        (400, None),
        (401, None),
        (502, Some(date)),
        (504, None),
        (403, Some("4")),
    ];
    for (i, (status, ra)) in expected.into_iter().enumerate() {
        let resp = post(&c, PROTOBUF, None, sample_request(1).encode_to_vec()).await;
        assert_eq!(resp.status().as_u16(), status, "fault #{i}");
        assert_eq!(retry_after(&resp).as_deref(), ra, "fault #{i}");
        assert_eq!(content_type(&resp), PROTOBUF);
        tonic_types::pb::Status::decode(resp.bytes().await.unwrap()).unwrap();
    }
    // Script used up: normal acceptance resumes.
    let resp = post(&c, PROTOBUF, None, sample_request(1).encode_to_vec()).await;
    assert_eq!(resp.status(), StatusCode::OK);

    assert_eq!(c.request_count(), 9);
    assert_eq!(
        c.record_count(),
        1,
        "refused requests' records are not counted"
    );
    assert_eq!(c.records().len(), 1);
    let reqs = c.requests();
    assert!(matches!(
        reqs[0].answered,
        Answer::Fault(Fault::Unavailable { .. })
    ));
    assert_eq!(reqs[8].answered, Answer::Accepted);
}

#[tokio::test]
async fn partial_success_in_protobuf_and_json() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let fault = Fault::PartialSuccess {
        rejected: 2,
        message: "two records were too old".to_owned(),
    };
    c.push_fault(fault.clone(), 2);

    let resp = post(&c, PROTOBUF, None, sample_request(3).encode_to_vec()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let answer = ExportLogsServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    let partial = answer.partial_success.unwrap();
    assert_eq!(partial.rejected_log_records, 2);
    assert_eq!(partial.error_message, "two records were too old");

    let resp = post(
        &c,
        JSON,
        None,
        serde_json::to_vec(&sample_request(3)).unwrap(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(content_type(&resp), JSON);
    let v: serde_json::Value = serde_json::from_slice(&resp.bytes().await.unwrap()).unwrap();
    assert_eq!(
        v["partialSuccess"]["errorMessage"],
        "two records were too old"
    );
    let rejected = &v["partialSuccess"]["rejectedLogRecords"];
    assert!(rejected == 2 || rejected == "2", "{v}");

    // Partially successful requests count their records.
    assert_eq!(c.wait_for_records(6, BOUND).unwrap().len(), 6);
    assert_eq!(
        c.requests()[1].answered,
        Answer::PartialSuccess {
            rejected: 2,
            message: "two records were too old".to_owned()
        }
    );
}

#[tokio::test]
async fn delay_answers_normally_after_the_delay() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let delay = Duration::from_millis(200);
    c.push_fault(Fault::Delay(delay), 1);
    let started = Instant::now();
    let resp = post(&c, PROTOBUF, None, sample_request(1).encode_to_vec()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(started.elapsed() >= delay);
    assert_eq!(c.requests()[0].answered, Answer::Delayed(delay));
    assert_eq!(c.record_count(), 1);
}

#[test]
fn never_answer_does_not_block_drop() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    c.push_fault(Fault::NeverAnswer, 1);
    let endpoint = c.http_logs_endpoint().unwrap();
    let client_thread = common::post_in_thread(endpoint, sample_request(1).encode_to_vec());
    let reqs = c.wait_for_requests(1, BOUND).unwrap();
    assert_eq!(reqs[0].answered, Answer::Fault(Fault::NeverAnswer));
    assert_eq!(c.record_count(), 0);

    let started = Instant::now();
    drop(c);
    assert!(
        started.elapsed() < BOUND,
        "drop took {:?}",
        started.elapsed()
    );
    // The held request ends (503 or a closed connection) once the collector is gone.
    match client_thread.join().unwrap() {
        Ok(status) => assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE),
        // Cut off by the collector going away, not by the client's own timeout.
        Err(err) => assert!(
            (err.is_request() || err.is_connect() || err.is_body()) && !err.is_timeout(),
            "unexpected client error: {err:?}"
        ),
    }
}

#[test]
fn works_from_a_plain_thread_without_any_runtime_of_the_callers() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let endpoint = c.http_logs_endpoint().unwrap();
    let sender = common::post_in_thread(endpoint, sample_request(2).encode_to_vec());
    // Blocks this (runtime-less) thread while the sender runs elsewhere.
    let records = c.wait_for_records(2, BOUND).unwrap();
    assert_eq!(records.len(), 2);
    assert_eq!(sender.join().unwrap().unwrap(), StatusCode::OK);
    assert_eq!(c.requests()[0].request, sample_request(2));
}
