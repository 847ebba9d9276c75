//! OTLP/HTTP edge cases against wiremock, through the whole
//! config file -> resolver -> exporter -> pipeline path.

use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::{Answer, ReceivedRecord, ReceivedRequest, Transport};
use agent_otel_config::Telemetry;
use agent_otel_core::{DropReason, FailureKind, PipelineStats};
use agent_otel_integration_tests::{
    API_KEY_HEADER, Backend, ConfigDir, ExpectedEvent, IT_TOKEN, OtelTable, assert_accounted,
    assert_every_event, emit_every_event, full_metadata, start_from,
};
use prost::Message as _;
use serde_json::Value as Json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn endpoint(server: &MockServer) -> String {
    format!("{}/v1/logs", server.uri())
}

fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(Vec::<u8>::new(), "application/x-protobuf")
}

/// Starts telemetry from `table`, emits every event and shuts down, off
/// the async runtime (the API blocks).
async fn emit_and_shut_down(table: OtelTable) -> (Vec<ExpectedEvent>, PipelineStats) {
    tokio::task::spawn_blocking(move || {
        let (_dir, _resolved, telemetry): (ConfigDir, _, Telemetry) = start_from(&table);
        let expected = emit_every_event(&telemetry.session(full_metadata()));
        telemetry
            .shutdown(Duration::from_secs(10))
            .expect("shutdown delivers");
        (expected, telemetry.stats())
    })
    .await
    .expect("the blocking part panicked")
}

/// The records of a decoded request, as the collector would flatten them.
fn records_of(request: ExportLogsServiceRequest) -> Vec<ReceivedRecord> {
    ReceivedRequest {
        transport: Transport::Http,
        received_at: SystemTime::now(),
        headers: Vec::new(),
        content_type: None,
        content_encoding: None,
        body_len: 0,
        request,
        answered: Answer::Accepted,
        client_certificate: false,
    }
    .records()
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers.get(name).and_then(|v| v.to_str().ok())
}

/// When a request arrived, and the `Retry-After` date it was answered with.
type Arrival = (SystemTime, Option<SystemTime>);

/// `Retry-After` as an HTTP date: the retry does not come before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_http_date_is_honoured() {
    let server = MockServer::start().await;
    let seen: Arc<Mutex<Vec<Arrival>>> = Arc::default();
    let log = Arc::clone(&seen);
    Mock::given(method("POST"))
        .and(path("/v1/logs"))
        .respond_with(move |_: &Request| {
            let now = SystemTime::now();
            // Whole seconds: 1 to 2 s from now.
            let date = httpdate::fmt_http_date(now + Duration::from_secs(2));
            let at = httpdate::parse_http_date(&date).expect("parse our own date");
            log.lock().expect("log").push((now, Some(at)));
            ResponseTemplate::new(503).insert_header("Retry-After", date.as_str())
        })
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    let log = Arc::clone(&seen);
    Mock::given(method("POST"))
        .and(path("/v1/logs"))
        .respond_with(move |_: &Request| {
            log.lock().expect("log").push((SystemTime::now(), None));
            accepted()
        })
        .with_priority(2)
        .mount(&server)
        .await;

    let table =
        OtelTable::pointing_at(Backend::HttpBinary, endpoint(&server)).deliver_on_shutdown();
    let (expected, stats) = emit_and_shut_down(table).await;

    let seen = seen.lock().expect("log").clone();
    assert_eq!(seen.len(), 2, "one refused request, one retry: {seen:?}");
    let (first, date) = seen[0];
    let date = date.expect("the first answer carried a date");
    let (second, _) = seen[1];
    assert!(
        date.duration_since(first).unwrap_or_default() >= Duration::from_secs(1),
        "the date is at least 1 s after the first request"
    );
    assert!(
        second >= date,
        "retried {:?} before the Retry-After date",
        date.duration_since(second).unwrap_or_default()
    );
    assert_accounted(&stats, "retry-after date");
    assert_eq!(stats.exported, expected.len() as u64, "{stats}");
    assert_eq!((stats.requests, stats.retries), (2, 1), "{stats}");
}

/// `compression = "gzip"`: `Content-Encoding: gzip`, and the body
/// gunzips to the OTLP protobuf of every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_body_is_declared_and_decodes() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/logs"))
        .respond_with(accepted())
        .mount(&server)
        .await;
    let table = OtelTable::pointing_at(Backend::HttpBinary, endpoint(&server))
        .deliver_on_shutdown()
        .exporter_key("compression", "\"gzip\"");
    let (expected, stats) = emit_and_shut_down(table).await;
    assert_eq!(stats.exported, expected.len() as u64, "{stats}");

    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(header(request, "content-encoding"), Some("gzip"));
    assert_eq!(
        header(request, "content-type"),
        Some("application/x-protobuf")
    );
    assert_eq!(header(request, API_KEY_HEADER), Some(IT_TOKEN));
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(request.body.as_slice())
        .read_to_end(&mut body)
        .expect("the body is gzip");
    assert!(body.len() > request.body.len(), "gzip made it smaller");
    let decoded = ExportLogsServiceRequest::decode(body.as_slice()).expect("OTLP protobuf");
    assert_every_event(&records_of(decoded), &expected, "gzip");
}

/// `protocol = "json"`: the body is OTLP JSON (lowerCamelCase field names,
/// 64-bit integers as strings) carrying every event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_protocol_sends_otlp_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/logs"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("{}", "application/json"))
        .mount(&server)
        .await;
    let table = OtelTable::pointing_at(Backend::HttpJson, endpoint(&server)).deliver_on_shutdown();
    let (expected, stats) = emit_and_shut_down(table).await;
    assert_eq!(stats.exported, expected.len() as u64, "{stats}");

    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(header(request, "content-type"), Some("application/json"));
    assert_eq!(header(request, API_KEY_HEADER), Some(IT_TOKEN));
    let json: Json = serde_json::from_slice(&request.body).expect("the body is JSON");

    let resource_logs = &json["resourceLogs"][0];
    let scope_logs = &resource_logs["scopeLogs"][0];
    assert_eq!(scope_logs["scope"]["name"], "codex_otel", "{json}");
    let records = scope_logs["logRecords"]
        .as_array()
        .expect("logRecords array");
    assert_eq!(records.len(), expected.len());
    let api = records
        .iter()
        .find(|r| r["eventName"] == "codex.api_request")
        .expect("an api_request record with eventName");
    let attr = |name: &str| {
        api["attributes"]
            .as_array()
            .expect("attributes array")
            .iter()
            .find(|kv| kv["key"] == name)
            .map(|kv| kv["value"].clone())
            .unwrap_or_else(|| panic!("attribute {name} in {api}"))
    };
    assert_eq!(attr("attempt"), serde_json::json!({ "intValue": "2" }));
    assert_eq!(
        attr("http.response.status_code"),
        serde_json::json!({ "intValue": "503" })
    );
    assert_eq!(
        attr("cf_ray"),
        serde_json::json!({ "stringValue": "8f1c2a3b4c5d6e7f-IAD" })
    );
    assert!(
        api["timeUnixNano"].is_string(),
        "timeUnixNano as a string: {api}"
    );
    let text = json.to_string();
    for snake in [
        "resource_logs",
        "scope_logs",
        "log_records",
        "event_name",
        "int_value",
        "time_unix_nano",
    ] {
        assert!(!text.contains(snake), "snake_case `{snake}` in OTLP JSON");
    }

    let decoded: ExportLogsServiceRequest =
        serde_json::from_slice(&request.body).expect("parses as OTLP JSON");
    assert_every_event(&records_of(decoded), &expected, "json");
}

/// A 404 is permanent: one request, every event dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let table =
        OtelTable::pointing_at(Backend::HttpBinary, endpoint(&server)).deliver_on_shutdown();
    let (expected, stats) = emit_and_shut_down(table).await;

    let requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1, "never retried");
    assert_accounted(&stats, "404");
    assert_eq!(stats.exported, 0, "{stats}");
    assert_eq!(
        stats.dropped(DropReason::PermanentFailure),
        expected.len() as u64,
        "{stats}"
    );
    assert_eq!(stats.failures(FailureKind::HttpStatus), 1, "{stats}");
    let error = stats.last_error.expect("the failure is recorded");
    assert_eq!(error.status, Some(404), "{error:?}");
}
