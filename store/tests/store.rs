//! The store behind a real collector: what is acknowledged is in SQLite,
//! in the ClickHouse-named tables; a failing store answers 503.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use agent_otel_collector::opentelemetry_proto::tonic::logs::v1::{
    LogRecord, ResourceLogs, ScopeLogs,
};
use agent_otel_collector::opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, HistogramDataPoint,
    Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
    exponential_histogram_data_point, metric, number_data_point, summary_data_point,
};
use agent_otel_collector::opentelemetry_proto::tonic::resource::v1::Resource;
use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use agent_otel_collector::{Collector, CollectorConfig, Signal};
use agent_otel_store::Store;
use prost::Message as _;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv("service.name", "codex-cli")],
        ..Default::default()
    })
}

fn logs(conversation: &str, n: usize) -> ExportLogsServiceRequest {
    let records = (0..n)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            event_name: if i % 2 == 0 {
                "codex.sse_event".into()
            } else {
                "codex.tool_result".into()
            },
            trace_id: vec![0xab; 16],
            span_id: vec![0xcd; 8],
            attributes: vec![
                kv("conversation.id", conversation),
                kv("model", "gpt-5-codex"),
                int("input_token_count", 10),
                kv("success", if i == 1 { "false" } else { "true" }),
            ],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn traces() -> ExportTraceServiceRequest {
    let span = |id: u8, parent: Option<u8>, name: &str, error: bool| Span {
        trace_id: vec![0xab; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        kind: span::SpanKind::Client as i32,
        start_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(id) * 1000,
        end_time_unix_nano: 1_700_000_000_000_000_000 + u64::from(id) * 1000 + 500,
        attributes: vec![kv("gen_ai.conversation.id", "c1")],
        status: Some(Status {
            code: if error {
                status::StatusCode::Error
            } else {
                status::StatusCode::Ok
            } as i32,
            message: String::new(),
        }),
        events: vec![span::Event {
            name: "retry".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    span(1, None, "invoke_agent codex", false),
                    span(2, Some(1), "chat gpt-5-codex", true),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn metrics() -> ExportMetricsServiceRequest {
    let point = |ty: &str, v: i64| NumberDataPoint {
        attributes: vec![kv("type", ty)],
        time_unix_nano: 1_700_000_000_000_000_000,
        value: Some(number_data_point::Value::AsInt(v)),
        ..Default::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "codex.token.usage".into(),
                        data: Some(metric::Data::Sum(Sum {
                            data_points: vec![point("input", 30), point("output", 7)],
                            aggregation_temporality: 1,
                            is_monotonic: true,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "codex.api_request.duration_ms".into(),
                        data: Some(metric::Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                count: 3,
                                sum: Some(120.0),
                                bucket_counts: vec![1, 2, 0],
                                explicit_bounds: vec![10.0, 100.0],
                                ..Default::default()
                            }],
                            aggregation_temporality: 1,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "codex.queue.depth".into(),
                        data: Some(metric::Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                attributes: vec![kv("queue", "events")],
                                time_unix_nano: 1_700_000_000_000_000_000,
                                value: Some(number_data_point::Value::AsDouble(5.5)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "gen_ai.client.operation.duration".into(),
                        data: Some(metric::Data::ExponentialHistogram(ExponentialHistogram {
                            data_points: vec![ExponentialHistogramDataPoint {
                                count: 5,
                                sum: Some(2.5),
                                scale: 3,
                                zero_count: 1,
                                positive: Some(exponential_histogram_data_point::Buckets {
                                    offset: -2,
                                    bucket_counts: vec![1, 3],
                                }),
                                min: Some(0.0),
                                max: Some(1.25),
                                flags: 1,
                                start_time_unix_nano: 1_699_999_999_000_000_000,
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "http.server.duration".into(),
                        data: Some(metric::Data::Summary(Summary {
                            data_points: vec![SummaryDataPoint {
                                count: 4,
                                sum: 10.0,
                                quantile_values: vec![
                                    summary_data_point::ValueAtQuantile {
                                        quantile: 0.5,
                                        value: 2.0,
                                    },
                                    summary_data_point::ValueAtQuantile {
                                        quantile: 0.99,
                                        value: 4.5,
                                    },
                                ],
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

async fn post(endpoint: String, body: Vec<u8>) -> reqwest::StatusCode {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .post(endpoint)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "current_thread")]
async fn acknowledged_requests_are_committed_in_clickhouse_named_tables() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otel.db");
    let store = Arc::new(Store::open(&path).unwrap());
    let c = Collector::start_with_sink(CollectorConfig::http_only(), store.clone()).unwrap();
    assert!(
        post(
            c.http_logs_endpoint().unwrap(),
            logs("c1", 4).encode_to_vec()
        )
        .await
        .is_success()
    );
    assert!(
        post(
            c.http_logs_endpoint().unwrap(),
            logs("c2", 2).encode_to_vec()
        )
        .await
        .is_success()
    );
    assert!(
        post(c.http_traces_endpoint().unwrap(), traces().encode_to_vec())
            .await
            .is_success()
    );
    assert!(
        post(
            c.http_metrics_endpoint().unwrap(),
            metrics().encode_to_vec()
        )
        .await
        .is_success()
    );

    // Acknowledged = committed: another connection sees it at once.
    let db = rusqlite::Connection::open(&path).unwrap();
    let one = |sql: &str| -> String { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(one("SELECT count(*) || '' FROM otel_logs"), "6");
    assert_eq!(
        one(
            "SELECT TraceId || ' ' || SpanId || ' ' || ServiceName || ' ' || EventName FROM otel_logs LIMIT 1"
        ),
        format!(
            "{} {} codex-cli codex.sse_event",
            "ab".repeat(16),
            "cd".repeat(8)
        )
    );
    assert_eq!(
        one(
            r#"SELECT json_extract(LogAttributes, '$."conversation.id"') || json_extract(LogAttributes, '$.input_token_count') FROM otel_logs LIMIT 1"#
        ),
        "c110"
    );
    // The added column copies the attribute, row by row.
    assert_eq!(
        one("SELECT group_concat(ConversationId, ',') FROM otel_logs"),
        "c1,c1,c1,c1,c2,c2"
    );
    assert_eq!(
        one(
            r#"SELECT SpanName || '|' || SpanKind || '|' || StatusCode || '|' || Duration || '|' || ParentSpanId || '|' || "Events.Name" FROM otel_traces ORDER BY Timestamp DESC LIMIT 1"#
        ),
        format!(
            "chat gpt-5-codex|Client|Error|500|{}|[\"retry\"]",
            "01".repeat(8)
        )
    );
    assert_eq!(
        one(
            "SELECT group_concat(Value, ',') FROM otel_metrics_sum WHERE MetricName = 'codex.token.usage'"
        ),
        "30.0,7.0"
    );
    assert_eq!(
        one(
            "SELECT Count || ' ' || Sum || ' ' || BucketCounts || ' ' || ExplicitBounds || ' ' || AggregationTemporality || ' ' || ServiceName FROM otel_metrics_histogram"
        ),
        "3 120.0 [1,2,0] [10.0,100.0] 1 codex-cli"
    );
    assert_eq!(
        one(
            "SELECT group_concat(AggregationTemporality || IsMonotonic || ' ' || Attributes, ',') FROM otel_metrics_sum"
        ),
        r#"11 {"type":"input"},11 {"type":"output"}"#
    );
    assert_eq!(
        one(
            "SELECT MetricName || ' ' || Value || ' ' || Attributes || ' ' || TimeUnix || ' ' || \"Exemplars.Value\" FROM otel_metrics_gauge"
        ),
        r#"codex.queue.depth 5.5 {"queue":"events"} 1700000000000000000 []"#
    );
    // Exponential histograms and summaries are kept too (acknowledged =
    // stored, whatever the point type).
    assert_eq!(
        one(
            "SELECT MetricName || ' ' || Count || ' ' || Sum || ' ' || Scale || ' ' || ZeroCount || ' ' || PositiveOffset || ' ' || PositiveBucketCounts || ' ' || NegativeOffset || ' ' || NegativeBucketCounts || ' ' || Min || ' ' || Max || ' ' || AggregationTemporality || ' ' || Flags || ' ' || StartTimeUnix FROM otel_metrics_exponential_histogram"
        ),
        "gen_ai.client.operation.duration 5 2.5 3 1 -2 [1,3] 0 [] 0.0 1.25 2 1 1699999999000000000"
    );
    assert_eq!(
        one(
            r#"SELECT MetricName || ' ' || Count || ' ' || Sum || ' ' || "ValueAtQuantiles.Quantile" || ' ' || "ValueAtQuantiles.Value" || ' ' || ServiceName FROM otel_metrics_summary"#
        ),
        "http.server.duration 4 10.0 [0.5,0.99] [2.0,4.5] codex-cli"
    );
    // The viewer's indexes exist and serve its queries.
    let plan: String = db
        .query_row(
            "EXPLAIN QUERY PLAN SELECT * FROM otel_logs WHERE ConversationId = 'c1' ORDER BY Timestamp",
            [],
            |r| r.get(3),
        )
        .unwrap();
    assert!(plan.contains("otel_logs_conversation"), "{plan}");
    let page_size: i64 = db.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
    assert_eq!(page_size, 65536);

    let counts = store.counts().unwrap();
    assert_eq!((counts.logs, counts.spans, counts.data_points), (6, 2, 6));
    let sessions = store.sessions(10).unwrap();
    assert_eq!(sessions.len(), 2);
    let c1 = sessions.iter().find(|s| s.conversation_id == "c1").unwrap();
    assert_eq!((c1.events, c1.tool_calls, c1.failures), (4, 2, 1));
    assert_eq!(c1.input_tokens, 40);
    assert_eq!(c1.model, "gpt-5-codex");
    assert_eq!(store.session_events("c2").unwrap().len(), 2);
    let spans = store.trace_spans(&"ab".repeat(16)).unwrap();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[1].parent_span_id, spans[0].span_id);
    assert_eq!(
        store.metric_sum_by("codex.token.usage", "type").unwrap(),
        vec![("input".to_owned(), 30.0), ("output".to_owned(), 7.0)]
    );
    assert_eq!(c.counts(Signal::Logs), (2, 6));
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_that_cannot_write_answers_503_and_counts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otel.db");
    let store = Arc::new(Store::open(&path).unwrap());
    let c = Collector::start_with_sink(CollectorConfig::http_only(), store.clone()).unwrap();
    // Another process holds the database's write lock: every write fails
    // once SQLite's busy timeout passes.
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let status = post(
        c.http_logs_endpoint().unwrap(),
        logs("c1", 3).encode_to_vec(),
    )
    .await;
    assert_eq!(status, reqwest::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(c.counts(Signal::Logs), (1, 0));
    blocker.execute_batch("ROLLBACK").unwrap();
    // The retry goes through.
    let status = post(
        c.http_logs_endpoint().unwrap(),
        logs("c1", 3).encode_to_vec(),
    )
    .await;
    assert!(status.is_success());
    assert_eq!(store.counts().unwrap().logs, 3);
}

#[tokio::test(flavor = "current_thread")]
async fn the_memory_store_evicts_the_oldest_rows_and_counts_them() {
    let store = Arc::new(Store::in_memory(5).unwrap());
    let c = Collector::start_with_sink(CollectorConfig::http_only(), store.clone()).unwrap();
    for i in 0..4 {
        let body = logs(&format!("c{i}"), 2).encode_to_vec();
        assert!(
            post(c.http_logs_endpoint().unwrap(), body)
                .await
                .is_success()
        );
    }
    let counts = store.counts().unwrap();
    assert_eq!((counts.logs, counts.evicted), (5, 3));
    let sessions = store.sessions(10).unwrap();
    // c0 is gone, c1 lost its oldest event.
    assert!(sessions.iter().all(|s| s.conversation_id != "c0"));
    assert_eq!(store.session_events("c1").unwrap().len(), 1);
}

/// `otel_logs` as the first store version created it: no
/// `ConversationId`, an expression index on the attribute instead.
const FIRST_LAYOUT: &str = r#"
CREATE TABLE otel_logs (
    Timestamp INTEGER NOT NULL, TraceId TEXT NOT NULL, SpanId TEXT NOT NULL,
    TraceFlags INTEGER NOT NULL, SeverityText TEXT NOT NULL, SeverityNumber INTEGER NOT NULL,
    ServiceName TEXT NOT NULL, Body TEXT NOT NULL, ResourceSchemaUrl TEXT NOT NULL,
    ResourceAttributes TEXT NOT NULL, ScopeSchemaUrl TEXT NOT NULL, ScopeName TEXT NOT NULL,
    ScopeVersion TEXT NOT NULL, ScopeAttributes TEXT NOT NULL, LogAttributes TEXT NOT NULL,
    EventName TEXT NOT NULL
);
CREATE INDEX otel_logs_session
    ON otel_logs (json_extract(LogAttributes, '$."conversation.id"'), Timestamp);
CREATE INDEX otel_logs_trace ON otel_logs (TraceId);
INSERT INTO otel_logs VALUES (1, '', '', 0, '', 0, 'codex-cli', '', '', '{}', '', '', '', '{}',
    '{"conversation.id":"old","model":"gpt-5-codex"}', 'codex.user_prompt');
INSERT INTO otel_logs VALUES (2, '', '', 0, '', 0, 'codex-cli', '', '', '{}', '', '', '', '{}',
    '{"model":"gpt-5-codex"}', 'codex.user_prompt');
"#;

#[tokio::test(flavor = "current_thread")]
async fn a_store_of_the_first_layout_is_migrated_and_keeps_its_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("otel.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(FIRST_LAYOUT)
        .unwrap();
    let store = Arc::new(Store::open(&path).unwrap());
    let sessions = store.sessions(10).unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].conversation_id, "old");
    assert_eq!(store.counts().unwrap().logs, 2);
    // New writes land next to the migrated rows, in the same session.
    let c = Collector::start_with_sink(CollectorConfig::http_only(), store.clone()).unwrap();
    let status = post(
        c.http_logs_endpoint().unwrap(),
        logs("old", 3).encode_to_vec(),
    )
    .await;
    assert!(status.is_success());
    assert_eq!(store.session_events("old").unwrap().len(), 4);
    let db = rusqlite::Connection::open(&path).unwrap();
    let indexes: String = db
        .query_row(
            "SELECT group_concat(name, ',') FROM (SELECT name FROM sqlite_master \
             WHERE type = 'index' AND tbl_name = 'otel_logs' ORDER BY name)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, "otel_logs_conversation");
    // Opening again is a no-op.
    drop(c);
    drop(store);
    assert_eq!(Store::open(&path).unwrap().sessions(10).unwrap().len(), 1);
}
