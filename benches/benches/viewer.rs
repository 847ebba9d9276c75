//! Render time of the viewer's session page for a 10,000-event session
//! (100 turns of 100 events and 4 spans) in a file store.
//!
//! Side by side, on the same store and session:
//! - `query`: the store queries alone (`data::session`), the floor;
//! - `json`: the queries, serialized as `/api/sessions/{id}` serves them
//!   (the baseline: what a script-driven front-end would fetch instead);
//! - `html`: the queries, rendered as `/sessions/{id}` serves them.
//!
//! `cargo bench -p agent-otel-benches --bench viewer`

use std::time::SystemTime;

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use agent_otel_collector::opentelemetry_proto::tonic::logs::v1::{
    LogRecord, ResourceLogs, ScopeLogs,
};
use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span,
};
use agent_otel_collector::{Answer, ReceivedRequest, SignalRequest, Transport};
use agent_otel_store::Store;
use agent_otel_viewer::{data, pages};
use criterion::{Criterion, criterion_group, criterion_main};

const SESSION: &str = "bench-session";
const TURNS: u64 = 100;
const EVENTS_PER_TURN: u64 = 100;
const T0: u64 = 1_764_000_000_000_000_000;
const MS: u64 = 1_000_000;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn received<R>(request: R) -> ReceivedRequest<R> {
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
}

/// One turn's events: a prompt, an API request, 96 stream events (the
/// last with token counts), a tool decision and a tool result.
fn turn_events(turn: u64) -> Vec<LogRecord> {
    let trace = turn.to_be_bytes().repeat(2);
    (0..EVENTS_PER_TURN)
        .map(|i| {
            let mut attrs = vec![kv("conversation.id", SESSION), kv("model", "gpt-5-codex")];
            let name = match i {
                0 => {
                    attrs.push(kv("prompt_length", "40"));
                    "codex.user_prompt"
                }
                1 => {
                    attrs.push(kv("duration_ms", "420"));
                    "codex.api_request"
                }
                97 => {
                    attrs.push(kv("event.kind", "response.completed"));
                    attrs.push(kv("input_token_count", "1800"));
                    attrs.push(kv("output_token_count", "300"));
                    "codex.sse_event"
                }
                98 => {
                    attrs.push(kv("tool_name", "shell"));
                    attrs.push(kv("decision", "approved"));
                    "codex.tool_decision"
                }
                99 => {
                    attrs.push(kv("tool_name", "shell"));
                    attrs.push(kv(
                        "success",
                        if turn.is_multiple_of(3) {
                            "false"
                        } else {
                            "true"
                        },
                    ));
                    attrs.push(kv("duration_ms", "800"));
                    "codex.tool_result"
                }
                _ => {
                    attrs.push(kv("event.kind", "response.output_text.delta"));
                    "codex.sse_event"
                }
            };
            LogRecord {
                time_unix_nano: T0 + (turn * EVENTS_PER_TURN + i) * 50 * MS,
                event_name: name.into(),
                trace_id: trace.clone(),
                span_id: turn.to_be_bytes().to_vec(),
                attributes: attrs,
                ..Default::default()
            }
        })
        .collect()
}

fn turn_spans(turn: u64) -> Vec<Span> {
    let trace = turn.to_be_bytes().repeat(2);
    let start = T0 + turn * EVENTS_PER_TURN * 50 * MS;
    let span = |id: u64, parent: Option<u64>, name: &str, from: u64, to: u64| Span {
        trace_id: trace.clone(),
        span_id: (turn * 10 + id).to_be_bytes().to_vec(),
        parent_span_id: parent
            .map(|p| (turn * 10 + p).to_be_bytes().to_vec())
            .unwrap_or_default(),
        name: name.into(),
        start_time_unix_nano: start + from * MS,
        end_time_unix_nano: start + to * MS,
        attributes: vec![kv("gen_ai.conversation.id", SESSION)],
        ..Default::default()
    };
    vec![
        span(1, None, "invoke_agent codex-cli", 0, 4900),
        span(2, Some(1), "chat gpt-5-codex", 50, 470),
        span(3, Some(1), "chat gpt-5-codex", 500, 4000),
        span(4, Some(1), "execute_tool shell", 4000, 4800),
    ]
}

fn filled_store(path: &std::path::Path) -> Store {
    let store = Store::open(path).expect("open the store");
    for chunk in (0..TURNS).collect::<Vec<_>>().chunks(10) {
        let logs = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: chunk.iter().flat_map(|&t| turn_events(t)).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        store
            .write(SignalRequest::Logs(&received(logs)))
            .expect("write logs");
        let traces = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: chunk.iter().flat_map(|&t| turn_spans(t)).collect(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        store
            .write(SignalRequest::Traces(&received(traces)))
            .expect("write spans");
    }
    store
}

fn session_page(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = filled_store(&dir.path().join("bench.db"));
    let view = data::session(&store, SESSION)
        .expect("query")
        .expect("the session");
    assert_eq!(view.events.len() as u64, TURNS * EVENTS_PER_TURN);
    assert_eq!(view.turns.len() as u64, TURNS);
    let html = pages::session(&view);
    let json = serde_json::to_string(&view).expect("json");
    eprintln!(
        "session page: {} events, {} spans; HTML {} bytes, JSON {} bytes",
        view.events.len(),
        view.turns.iter().map(|t| t.spans.len()).sum::<usize>(),
        html.len(),
        json.len()
    );

    let mut group = c.benchmark_group("viewer_session_10k_events");
    group.sample_size(20);
    group.bench_function("query", |b| {
        b.iter(|| data::session(&store, SESSION).expect("query"))
    });
    group.bench_function("json", |b| {
        b.iter(|| {
            let view = data::session(&store, SESSION).expect("query");
            serde_json::to_string(&view).expect("json")
        })
    });
    group.bench_function("html", |b| {
        b.iter(|| {
            let view = data::session(&store, SESSION)
                .expect("query")
                .expect("the session");
            pages::session(&view)
        })
    });
    group.finish();
}

criterion_group!(benches, session_page);
criterion_main!(benches);
