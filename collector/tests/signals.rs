//! All three signals over both transports, per-signal faults, the sink
//! (write before acknowledge) and `Debug` masking, over real loopback
//! traffic.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use agent_otel_collector::opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use agent_otel_collector::opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use agent_otel_collector::{
    Answer, Collector, CollectorConfig, Fault, Signal, SignalRequest, Sink, SinkError, Transport,
};
use common::{BOUND, gzip, http_client, sample_metrics, sample_request, sample_traces};
use prost::Message as _;
use reqwest::StatusCode;

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

async fn post(
    endpoint: String,
    content_type: &str,
    gzipped: bool,
    body: Vec<u8>,
) -> reqwest::Response {
    let mut req = http_client()
        .post(endpoint)
        .header("content-type", content_type)
        .header("x-otlp-api-key", "secret-token");
    let body = if gzipped {
        req = req.header("content-encoding", "gzip");
        gzip(&body)
    } else {
        body
    };
    req.body(body).send().await.unwrap()
}

#[tokio::test]
async fn http_receives_metrics_and_traces_in_protobuf_json_and_gzip() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    assert!(c.http_metrics_endpoint().unwrap().ends_with("/v1/metrics"));
    assert!(c.http_traces_endpoint().unwrap().ends_with("/v1/traces"));

    let resp = post(
        c.http_metrics_endpoint().unwrap(),
        PROTOBUF,
        false,
        sample_metrics(3).encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let answer = ExportMetricsServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    assert_eq!(answer.partial_success, None);

    let json = serde_json::to_vec(&sample_metrics(2)).unwrap();
    let resp = post(c.http_metrics_endpoint().unwrap(), JSON, true, json).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.text().await.unwrap(), "{}");

    let resp = post(
        c.http_traces_endpoint().unwrap(),
        PROTOBUF,
        true,
        sample_traces(4).encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    ExportTraceServiceResponse::decode(resp.bytes().await.unwrap()).unwrap();
    let json = serde_json::to_vec(&sample_traces(1)).unwrap();
    let resp = post(c.http_traces_endpoint().unwrap(), JSON, false, json).await;
    assert_eq!(resp.status(), StatusCode::OK);

    let metrics = c.wait_for_data_points(5, BOUND).unwrap();
    assert_eq!(metrics.len(), 2);
    assert_eq!(metrics[0].name(), "codex.tool.call");
    assert_eq!(metrics[0].data_point_count(), 3);
    assert_eq!(metrics[1].data_point_count(), 2);
    assert_eq!(metrics[0].resource_str("service.name"), Some("codex-cli"));
    let spans = c.wait_for_spans(5, BOUND).unwrap();
    assert_eq!(spans.len(), 5);
    assert_eq!(spans[1].span.name, "execute_tool shell-1");
    assert_eq!(spans[1].attr_str("gen_ai.tool.name"), Some("shell"));
    assert_eq!(spans[0].transport, Transport::Http);

    assert_eq!(c.counts(Signal::Metrics), (2, 5));
    assert_eq!(c.counts(Signal::Traces), (2, 5));
    assert_eq!(c.counts(Signal::Logs), (0, 0));
    assert_eq!(
        c.metrics_requests()[1].content_encoding.as_deref(),
        Some("gzip")
    );
    assert_eq!(c.trace_requests()[0].signal(), Signal::Traces);
    assert_eq!(c.record_count(), 0, "no log records were sent");
}

#[tokio::test]
async fn unknown_paths_name_every_signal() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let url = format!("{}/v1/profiles", c.http_base_endpoint().unwrap());
    let resp = post(url, PROTOBUF, false, Vec::new()).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("/v1/metrics") && text.contains("/v1/traces"),
        "{text}"
    );
}

#[tokio::test]
async fn undecodable_metrics_are_refused_and_not_recorded() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let resp = post(
        c.http_metrics_endpoint().unwrap(),
        JSON,
        false,
        b"{\"resourceMetrics\": 7}".to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_eq!(c.counts(Signal::Metrics), (0, 0));
}

#[test]
fn grpc_receives_metrics_and_traces_with_gzip() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    let endpoint = c.grpc_endpoint().unwrap();
    common::runtime().block_on(async {
        let mut metrics = MetricsServiceClient::connect(endpoint.clone())
            .await
            .unwrap()
            .send_compressed(tonic::codec::CompressionEncoding::Gzip);
        let answer = metrics.export(sample_metrics(2)).await.unwrap();
        assert_eq!(answer.get_ref().partial_success, None);
        let mut traces = TraceServiceClient::connect(endpoint).await.unwrap();
        traces.export(sample_traces(3)).await.unwrap();
    });
    let metrics = c.wait_for_data_points(2, BOUND).unwrap();
    assert_eq!(metrics[0].transport, Transport::Grpc);
    let spans = c.wait_for_spans(3, BOUND).unwrap();
    assert_eq!(spans[2].span.span_id, vec![3; 8]);
    let reqs = c.metrics_requests();
    assert_eq!(reqs[0].content_encoding.as_deref(), Some("gzip"));
    assert_eq!(c.wait_for_trace_requests(1, BOUND).unwrap().len(), 1);
}

#[test]
fn faults_are_scripted_per_signal() {
    let c = Collector::start(CollectorConfig::default()).unwrap();
    c.push_fault_for(
        Signal::Traces,
        Fault::PartialSuccess {
            rejected: 2,
            message: "two spans too old".into(),
        },
        1,
    );
    c.push_fault_for(Signal::Metrics, Fault::Unavailable { retry_after: None }, 1);
    assert_eq!(c.pending_faults(), 2);
    let endpoint = c.grpc_endpoint().unwrap();
    let logs_endpoint = c.http_logs_endpoint().unwrap();
    common::runtime().block_on(async {
        // Logs are untouched by the faults of other signals.
        let resp = post(
            logs_endpoint,
            PROTOBUF,
            false,
            sample_request(1).encode_to_vec(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        let mut traces = TraceServiceClient::connect(endpoint.clone()).await.unwrap();
        let answer = traces.export(sample_traces(3)).await.unwrap();
        let partial = answer.get_ref().partial_success.clone().unwrap();
        assert_eq!(partial.rejected_spans, 2);
        assert_eq!(partial.error_message, "two spans too old");
        let mut metrics = MetricsServiceClient::connect(endpoint).await.unwrap();
        let err = metrics.export(sample_metrics(1)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable);
    });
    assert_eq!(c.pending_faults(), 0);
    assert_eq!(c.counts(Signal::Metrics), (1, 0), "refused: not counted");
    assert_eq!(c.counts(Signal::Traces), (1, 3));
    assert_eq!(c.counts(Signal::Logs), (1, 1));
}

/// A sink that keeps what it is given, or fails while `fail` is set.
#[derive(Default)]
struct Recording {
    fail: Mutex<bool>,
    written: Mutex<Vec<(Signal, usize)>>,
}

impl Sink for Recording {
    fn write(&self, request: SignalRequest<'_>) -> Result<(), SinkError> {
        if *self.fail.lock().unwrap() {
            return Err(SinkError::new("disk full (test double)"));
        }
        self.written
            .lock()
            .unwrap()
            .push((request.signal(), request.record_count()));
        Ok(())
    }
}

#[test]
fn the_sink_keeps_requests_before_they_are_acknowledged() {
    let sink = Arc::new(Recording::default());
    let c = Collector::start_with_sink(CollectorConfig::default(), sink.clone()).unwrap();
    let base = c.http_base_endpoint().unwrap();
    let grpc = c.grpc_endpoint().unwrap();
    common::runtime().block_on(async {
        let resp = post(
            format!("{base}/v1/logs"),
            PROTOBUF,
            false,
            sample_request(2).encode_to_vec(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::OK);
        // Acknowledged, so already written: no waiting needed.
        assert_eq!(*sink.written.lock().unwrap(), vec![(Signal::Logs, 2)]);
        let mut traces = TraceServiceClient::connect(grpc.clone()).await.unwrap();
        traces.export(sample_traces(3)).await.unwrap();
        assert_eq!(
            sink.written.lock().unwrap().last(),
            Some(&(Signal::Traces, 3))
        );

        *sink.fail.lock().unwrap() = true;
        let resp = post(
            format!("{base}/v1/metrics"),
            PROTOBUF,
            false,
            sample_metrics(1).encode_to_vec(),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        let status = tonic_types::pb::Status::decode(resp.bytes().await.unwrap()).unwrap();
        assert!(
            status.message.contains("disk full (test double)"),
            "{status:?}"
        );
        let mut metrics = MetricsServiceClient::connect(grpc).await.unwrap();
        let err = metrics.export(sample_metrics(1)).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unavailable);
        assert!(err.message().contains("disk full"), "{err:?}");
    });
    assert_eq!(sink.written.lock().unwrap().len(), 2);
    assert_eq!(c.counts(Signal::Metrics), (2, 0), "not stored: not counted");
    assert!(matches!(
        &c.metrics_requests()[0].answered,
        Answer::NotStored(m) if m.contains("disk full")
    ));
}

#[test]
fn refused_requests_never_reach_the_sink() {
    let sink = Arc::new(Recording::default());
    let c = Collector::start_with_sink(CollectorConfig::http_only(), sink.clone()).unwrap();
    c.push_fault(Fault::InvalidArgument, 1);
    let endpoint = c.http_logs_endpoint().unwrap();
    let status = common::post_in_thread(endpoint, sample_request(1).encode_to_vec())
        .join()
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(sink.written.lock().unwrap().is_empty());
}

#[tokio::test]
async fn debug_of_a_received_request_masks_header_values() {
    let c = Collector::start(CollectorConfig::http_only()).unwrap();
    let resp = post(
        c.http_traces_endpoint().unwrap(),
        PROTOBUF,
        false,
        sample_traces(1).encode_to_vec(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let req = &c.trace_requests()[0];
    assert_eq!(req.header("x-otlp-api-key"), Some("secret-token"));
    let debug = format!("{req:?}");
    assert!(debug.contains("x-otlp-api-key"), "{debug}");
    assert!(!debug.contains("secret-token"), "{debug}");
    let logs_debug = format!("{:?}", c.requests());
    assert!(!logs_debug.contains("secret-token"));
}

#[test]
fn the_request_types_round_trip_as_otlp_json() {
    let c = Collector::start(CollectorConfig::grpc_only()).unwrap();
    let endpoint = c.grpc_endpoint().unwrap();
    common::runtime().block_on(async {
        let mut traces = TraceServiceClient::connect(endpoint.clone()).await.unwrap();
        traces.export(sample_traces(2)).await.unwrap();
        let mut metrics = MetricsServiceClient::connect(endpoint).await.unwrap();
        metrics.export(sample_metrics(2)).await.unwrap();
    });
    let t = &c.wait_for_trace_requests(1, BOUND).unwrap()[0];
    let line = t.to_otlp_json();
    assert!(line.starts_with("{\"resourceSpans\""), "{line}");
    let back: ExportTraceServiceRequest = serde_json::from_str(&line).unwrap();
    assert_eq!(back, t.request);
    let m = &c.wait_for_metrics_requests(1, BOUND).unwrap()[0];
    let back: ExportMetricsServiceRequest = serde_json::from_str(&m.to_otlp_json()).unwrap();
    assert_eq!(back, m.request);
}
