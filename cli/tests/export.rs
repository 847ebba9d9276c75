//! `agent-otel export`: sessions sent through the real pipeline (`emit`
//! with a config) to our collector writing the SQLite store, exported,
//! and every line decoded with opentelemetry-proto's serde types.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::KeyValue;
use agent_otel_collector::{Collector, CollectorConfig, Sink, any_value_text};
use agent_otel_store::Store;
use predicates::str::contains;

mod common;

use common::{agent_otel, write};

/// Attributes as key -> text, as the store keeps them.
fn texts(attrs: &[KeyValue]) -> BTreeMap<String, String> {
    attrs
        .iter()
        .map(|kv| {
            let text = kv.value.as_ref().map(any_value_text).unwrap_or_default();
            (kv.key.clone(), text)
        })
        .collect()
}

fn send(config: &Path, session: &str) {
    let input = [
        format!(r#"{{"type":"session","conversation_id":"{session}","model":"gpt-5-codex"}}"#),
        r#"{"type":"turn_start"}"#.to_owned(),
        r#"{"type":"user_prompt","prompt":"fix the build"}"#.to_owned(),
        r#"{"type":"api_request","attempt":1,"duration_ms":321,"http.response.status_code":200}"#
            .to_owned(),
        r#"{"type":"tool_result","tool_name":"shell","call_id":"k1","duration_ms":5,"success":true}"#
            .to_owned(),
        r#"{"type":"turn_end"}"#.to_owned(),
    ]
    .join("\n");
    agent_otel()
        .args(["emit", "--config"])
        .arg(config)
        .write_stdin(input)
        .assert()
        .success();
}

#[test]
fn a_session_is_exported_as_decodable_otlp_json_lines_without_other_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("otel.db");
    let store = Arc::new(Store::open(&db).expect("store"));
    let collector = Collector::start_with_sink(
        CollectorConfig::http_only(),
        Arc::clone(&store) as Arc<dyn Sink>,
    )
    .expect("collector");
    let config = write(
        dir.path(),
        "config.toml",
        &format!(
            "[otel]\nexporter = {{ otlp-http = {{ endpoint = \"{}\" }} }}\n\
             trace_exporter = {{ otlp-http = {{ endpoint = \"{}\" }} }}\nretry_budget_ms = 0\n",
            collector.http_logs_endpoint().expect("http"),
            collector.http_traces_endpoint().expect("http"),
        ),
    );
    send(&config, "c1");
    send(&config, "c2");
    // Three events per session (prompt, API request, tool result); emit
    // returns once they are delivered, and the collector acknowledges only
    // committed requests.
    let sent = collector
        .wait_for_records(6, Duration::from_secs(20))
        .expect("records");
    let sent_c1: Vec<_> = sent
        .iter()
        .filter(|r| r.attr_str("conversation.id") == Some("c1"))
        .collect();
    assert_eq!(sent.len(), 6);
    assert_eq!(sent_c1.len(), 3);
    let sent_spans = collector.spans();
    let c1_traces: Vec<&Vec<u8>> = sent_c1.iter().map(|r| &r.record.trace_id).collect();
    let sent_c1_spans: Vec<_> = sent_spans
        .iter()
        .filter(|s| c1_traces.contains(&&s.span.trace_id))
        .collect();
    assert!(!sent_c1_spans.is_empty(), "c1's turn has spans");
    assert!(sent_spans.len() > sent_c1_spans.len(), "c2 has spans too");

    let out = dir.path().join("c1.jsonl");
    agent_otel()
        .args(["export", "--session", "c1", "--db"])
        .arg(&db)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let text = std::fs::read_to_string(&out).expect("export file");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "one logs line, one traces line: {text}");
    let logs: ExportLogsServiceRequest = serde_json::from_str(lines[0]).expect("logs line");
    let traces: ExportTraceServiceRequest = serde_json::from_str(lines[1]).expect("traces line");

    let exported: Vec<_> = logs
        .resource_logs
        .iter()
        .flat_map(|rl| {
            rl.scope_logs.iter().flat_map(move |sl| {
                sl.log_records
                    .iter()
                    .map(move |r| (rl.resource.clone(), sl.scope.clone(), r))
            })
        })
        .collect();
    assert_eq!(exported.len(), sent_c1.len(), "only c1's records");
    for ((resource, scope, got), want) in exported.iter().zip(&sent_c1) {
        assert_eq!(got.event_name, want.record.event_name);
        assert_eq!(got.time_unix_nano, want.record.time_unix_nano);
        assert_eq!(got.trace_id, want.record.trace_id);
        assert_eq!(got.span_id, want.record.span_id);
        assert_eq!(got.severity_number, want.record.severity_number);
        assert_eq!(texts(&got.attributes), texts(&want.record.attributes));
        assert_eq!(
            texts(&resource.as_ref().expect("resource").attributes),
            texts(&want.resource_attributes)
        );
        assert_eq!(scope.as_ref().expect("scope").name, want.scope_name);
        assert_eq!(
            texts(&got.attributes)
                .get("conversation.id")
                .map(String::as_str),
            Some("c1")
        );
    }

    let spans: Vec<_> = traces
        .resource_spans
        .iter()
        .flat_map(|rs| rs.scope_spans.iter().flat_map(|ss| ss.spans.iter()))
        .collect();
    assert_eq!(spans.len(), sent_c1_spans.len(), "only c1's spans");
    for want in &sent_c1_spans {
        let got = spans
            .iter()
            .find(|s| s.span_id == want.span.span_id)
            .expect("every span of c1 is exported");
        assert_eq!(got.name, want.span.name);
        assert_eq!(got.trace_id, want.span.trace_id);
        assert_eq!(got.parent_span_id, want.span.parent_span_id);
        assert_eq!(got.kind, want.span.kind);
        assert_eq!(got.start_time_unix_nano, want.span.start_time_unix_nano);
        assert_eq!(got.end_time_unix_nano, want.span.end_time_unix_nano);
        assert_eq!(texts(&got.attributes), texts(&want.span.attributes));
    }
}

#[test]
fn an_unknown_session_or_a_missing_store_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("otel.db");
    Store::open(&db).expect("store");
    agent_otel()
        .args(["export", "--session", "nope", "--db"])
        .arg(&db)
        .assert()
        .code(1)
        .stdout("")
        .stderr(contains("no session \"nope\" in the store"));
    agent_otel()
        .args(["export", "--session", "c1", "--db"])
        .arg(dir.path().join("absent.db"))
        .assert()
        .code(2)
        .stderr(contains("no store at"));
    assert!(!dir.path().join("absent.db").exists());
}
