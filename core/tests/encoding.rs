//! Every event kind goes through the real pipeline and encoder; the test
//! exporter decodes the protobuf bytes, and each attribute is checked for
//! name, value and type.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_core::opentelemetry_proto::tonic::common::v1::{
    AnyValue, KeyValue, any_value::Value,
};
use agent_otel_core::opentelemetry_proto::tonic::logs::v1::{LogRecord, SeverityNumber};
use agent_otel_core::testing::ScriptedExporter;
use agent_otel_core::{
    ApiRequest, ContentPolicy, DecisionSource, EventData, PipelineOptions, Resource,
    SessionMetadata, SseEvent, Telemetry, TelemetryOptions, TokenCounts, ToolDecision,
    ToolDecisionEvent, ToolResult,
};

#[derive(Debug, PartialEq)]
enum V<'a> {
    S(&'a str),
    I(i64),
}

fn value(v: &AnyValue) -> V<'_> {
    match &v.value {
        Some(Value::StringValue(s)) => V::S(s),
        Some(Value::IntValue(i)) => V::I(*i),
        other => panic!("unexpected attribute type {other:?}"),
    }
}

fn attrs(kvs: &[KeyValue]) -> Vec<(&str, V<'_>)> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.as_str(),
                value(kv.value.as_ref().expect("value set")),
            )
        })
        .collect()
}

fn metadata(full: bool) -> SessionMetadata {
    SessionMetadata {
        conversation_id: "conv-1".into(),
        app_version: "0.42.0".into(),
        auth_mode: full.then(|| "ChatGPT".into()),
        account_id: full.then(|| "acct-9".into()),
        terminal_type: "xterm-256color".into(),
        model: "gpt-5-codex".into(),
        slug: "openai".into(),
        vcs: None,
        attributes: Vec::new(),
    }
}

fn options(log_user_prompt: bool) -> TelemetryOptions {
    TelemetryOptions {
        resource: Resource {
            service_name: "codex-cli".into(),
            service_version: "0.42.0".into(),
            environment: "staging".into(),
            attributes: vec![("team".into(), "platform".into())],
        },
        content: ContentPolicy {
            log_user_prompt,
            ..ContentPolicy::default()
        },
        ..TelemetryOptions::default()
    }
}

/// Emits with `emit`, shuts down, returns the single decoded request.
fn capture(options: TelemetryOptions, emit: impl FnOnce(&Telemetry)) -> ExportLogsServiceRequest {
    let exporter = ScriptedExporter::new();
    let telemetry = Telemetry::new(
        options,
        Box::new(exporter.clone()),
        PipelineOptions::default(),
    )
    .expect("pipeline starts");
    emit(&telemetry);
    telemetry
        .shutdown(Duration::from_secs(10))
        .expect("shutdown delivers");
    let calls = exporter.calls();
    assert_eq!(calls.len(), 1, "one batch expected");
    calls[0].request.clone()
}

fn records(request: &ExportLogsServiceRequest) -> Vec<&LogRecord> {
    request
        .resource_logs
        .iter()
        .flat_map(|r| &r.scope_logs)
        .flat_map(|s| &s.log_records)
        .collect()
}

const T0: u64 = 1_764_025_614_123; // 2025-11-24T23:06:54.123Z

fn t0() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T0)
}

fn common<'a>(name: &'a str, full: bool) -> Vec<(&'a str, V<'a>)> {
    let mut v = vec![
        ("event.name", V::S(name)),
        ("event.timestamp", V::S("2025-11-24T23:06:54.123Z")),
        ("conversation.id", V::S("conv-1")),
        ("app.version", V::S("0.42.0")),
    ];
    if full {
        v.push(("auth_mode", V::S("ChatGPT")));
        v.push(("user.account_id", V::S("acct-9")));
    }
    v.extend([
        ("terminal.type", V::S("xterm-256color")),
        ("model", V::S("gpt-5-codex")),
        ("slug", V::S("openai")),
    ]);
    v
}

fn expect(record: &LogRecord, name: &str, full: bool, specific: Vec<(&str, V<'_>)>) {
    let mut expected = common(name, full);
    expected.extend(specific);
    assert_eq!(attrs(&record.attributes), expected, "attributes of {name}");
    assert_eq!(record.event_name, name);
    assert_eq!(record.severity_number, SeverityNumber::Info as i32);
    assert_eq!(record.severity_text, "INFO");
    assert_eq!(record.time_unix_nano, T0 * 1_000_000);
    assert!(record.observed_time_unix_nano >= record.time_unix_nano);
}

#[test]
fn every_event_kind_has_every_catalog_attribute_with_its_type() {
    let request = capture(options(false), |telemetry| {
        let s = telemetry.session(metadata(true));
        s.emit_at(
            t0(),
            EventData::ApiRequest(ApiRequest {
                attempt: 2,
                duration: Duration::from_millis(1234),
                status_code: Some(502),
                cf_ray: Some("8f00-SJC"),
                error: Some("bad gateway"),
            }),
        );
        s.emit_at(
            t0(),
            EventData::SseEvent(SseEvent {
                kind: "response.completed",
                duration: Duration::from_millis(15),
                error: None,
                tokens: Some(TokenCounts {
                    input: 1200,
                    output: 340,
                    cached: Some(1000),
                    reasoning: Some(64),
                    tool: 12,
                }),
            }),
        );
        s.emit_at(t0(), EventData::UserPrompt("fix the failing test ✓"));
        s.emit_at(
            t0(),
            EventData::ToolDecision(ToolDecisionEvent {
                tool_name: "shell",
                call_id: "call_1",
                decision: ToolDecision::ApprovedForSession,
                source: DecisionSource::User,
            }),
        );
        s.emit_at(
            t0(),
            EventData::ToolResult(ToolResult {
                tool_name: "shell",
                call_id: "call_1",
                arguments: r#"{"command":["cargo","test"]}"#,
                duration: Duration::from_millis(4321),
                success: false,
                output: "1 failed",
            }),
        );
    });

    let resource = request.resource_logs[0]
        .resource
        .as_ref()
        .expect("resource");
    assert_eq!(
        attrs(&resource.attributes),
        vec![
            ("service.name", V::S("codex-cli")),
            ("service.version", V::S("0.42.0")),
            ("env", V::S("staging")),
            ("team", V::S("platform")),
        ]
    );
    let scope = request.resource_logs[0].scope_logs[0]
        .scope
        .as_ref()
        .expect("scope");
    assert_eq!(scope.name, "codex_otel");
    assert_eq!(scope.version, env!("CARGO_PKG_VERSION"));

    let records = records(&request);
    assert_eq!(records.len(), 5);
    expect(
        records[0],
        "codex.api_request",
        true,
        vec![
            ("attempt", V::I(2)),
            ("duration_ms", V::I(1234)),
            ("http.response.status_code", V::I(502)),
            ("cf_ray", V::S("8f00-SJC")),
            ("error.message", V::S("bad gateway")),
        ],
    );
    expect(
        records[1],
        "codex.sse_event",
        true,
        vec![
            ("event.kind", V::S("response.completed")),
            ("duration_ms", V::I(15)),
            ("input_token_count", V::I(1200)),
            ("output_token_count", V::I(340)),
            ("cached_token_count", V::I(1000)),
            ("reasoning_token_count", V::I(64)),
            ("tool_token_count", V::I(12)),
        ],
    );
    expect(
        records[2],
        "codex.user_prompt",
        true,
        vec![("prompt_length", V::I(22)), ("prompt", V::S("[REDACTED]"))],
    );
    expect(
        records[3],
        "codex.tool_decision",
        true,
        vec![
            ("tool_name", V::S("shell")),
            ("call_id", V::S("call_1")),
            ("decision", V::S("approved_for_session")),
            ("source", V::S("user")),
        ],
    );
    expect(
        records[4],
        "codex.tool_result",
        true,
        vec![
            ("tool_name", V::S("shell")),
            ("call_id", V::S("call_1")),
            ("arguments", V::S(r#"{"command":["cargo","test"]}"#)),
            ("duration_ms", V::I(4321)),
            ("success", V::S("false")),
            ("output", V::S("1 failed")),
        ],
    );
}

#[test]
fn optional_attributes_are_omitted_when_unknown() {
    let request = capture(options(false), |telemetry| {
        let s = telemetry.session(metadata(false));
        s.emit_at(
            t0(),
            EventData::ApiRequest(ApiRequest {
                attempt: 1,
                duration: Duration::from_millis(80),
                ..ApiRequest::default()
            }),
        );
        s.emit_at(
            t0(),
            EventData::SseEvent(SseEvent {
                kind: "response.failed",
                duration: Duration::from_millis(3),
                error: Some("stream closed"),
                tokens: None,
            }),
        );
        s.emit_at(
            t0(),
            EventData::SseEvent(SseEvent {
                kind: "response.completed",
                duration: Duration::from_millis(3),
                error: None,
                tokens: Some(TokenCounts {
                    input: 5,
                    output: 6,
                    cached: None,
                    reasoning: None,
                    tool: 0,
                }),
            }),
        );
    });
    let records = records(&request);
    assert_eq!(records.len(), 3);
    expect(
        records[0],
        "codex.api_request",
        false,
        vec![("attempt", V::I(1)), ("duration_ms", V::I(80))],
    );
    expect(
        records[1],
        "codex.sse_event",
        false,
        vec![
            ("event.kind", V::S("response.failed")),
            ("duration_ms", V::I(3)),
            ("error.message", V::S("stream closed")),
        ],
    );
    expect(
        records[2],
        "codex.sse_event",
        false,
        vec![
            ("event.kind", V::S("response.completed")),
            ("duration_ms", V::I(3)),
            ("input_token_count", V::I(5)),
            ("output_token_count", V::I(6)),
            ("tool_token_count", V::I(0)),
        ],
    );
}

#[test]
fn prompt_text_is_exported_only_when_log_user_prompt_is_on() {
    let emit = |telemetry: &Telemetry| {
        let s = telemetry.session(metadata(false));
        s.emit_at(t0(), EventData::UserPrompt("my secret plan"));
    };
    for (log, expected) in [(false, "[REDACTED]"), (true, "my secret plan")] {
        let request = capture(options(log), emit);
        let record = records(&request)[0];
        let got = attrs(&record.attributes);
        assert!(
            got.contains(&("prompt", V::S(expected))),
            "log={log}: {got:?}"
        );
        assert!(got.contains(&("prompt_length", V::I(14))));
    }
}

#[test]
fn host_chooses_prefix_scope_and_resource_overrides() {
    let mut opts = options(false);
    opts.event_prefix = "acme".into();
    opts.scope_name = "acme_agent".into();
    opts.scope_version = "9.9.9".into();
    opts.resource.attributes.push(("env".into(), "prod".into()));
    let request = capture(opts, |telemetry| {
        telemetry.session(metadata(false)).user_prompt("x");
    });
    let record = records(&request)[0];
    assert_eq!(record.event_name, "acme.user_prompt");
    let scope = request.resource_logs[0].scope_logs[0]
        .scope
        .as_ref()
        .expect("scope");
    assert_eq!(
        (scope.name.as_str(), scope.version.as_str()),
        ("acme_agent", "9.9.9")
    );
    let resource = request.resource_logs[0]
        .resource
        .as_ref()
        .expect("resource");
    assert!(attrs(&resource.attributes).contains(&("env", V::S("prod"))));
    assert!(!attrs(&resource.attributes).contains(&("env", V::S("staging"))));
}

#[test]
fn interleaved_sessions_keep_their_own_metadata() {
    let request = capture(options(false), |telemetry| {
        let a = telemetry.session(metadata(true));
        let b = telemetry.session(SessionMetadata {
            conversation_id: "conv-2".into(),
            model: "o4-mini".into(),
            ..metadata(false)
        });
        a.user_prompt("one");
        b.user_prompt("two");
        a.user_prompt("three");
    });
    let seen: Vec<(String, String, bool)> = records(&request)
        .iter()
        .map(|r| {
            let attrs = attrs(&r.attributes);
            let get = |key: &str| {
                attrs
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map(|(_, v)| format!("{v:?}"))
                    .unwrap_or_default()
            };
            (
                get("conversation.id"),
                get("model"),
                attrs.iter().any(|(k, _)| *k == "auth_mode"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (r#"S("conv-1")"#.into(), r#"S("gpt-5-codex")"#.into(), true),
            (r#"S("conv-2")"#.into(), r#"S("o4-mini")"#.into(), false),
            (r#"S("conv-1")"#.into(), r#"S("gpt-5-codex")"#.into(), true),
        ]
    );
}
