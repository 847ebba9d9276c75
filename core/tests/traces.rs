//! Traces derived from turns, end to end through a real pipeline: the span
//! tree of a turn, timing, attributes and status, log/span correlation,
//! TRACEPARENT parenting and sampling, turns on several threads, and turns
//! that are dropped or never ended. Spans are decoded from the bytes the
//! pipeline produced with the official `opentelemetry-proto` types.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_otel_core::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use agent_otel_core::opentelemetry_proto::tonic::common::v1::any_value::Value;
use agent_otel_core::opentelemetry_proto::tonic::logs::v1::LogRecord;
use agent_otel_core::opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use agent_otel_core::opentelemetry_proto::tonic::trace::v1::{Span, status::StatusCode};
use agent_otel_core::testing::ScriptedExporter;
use agent_otel_core::{
    ApiRequest, PipelineOptions, PipelineStats, Sampler, SessionMetadata, SignalExporters, SpanId,
    SseEvent, Telemetry, TelemetryOptions, TokenCounts, ToolResult, TraceId, TraceOptions,
    TraceParent, catalog,
};
use prost::Message;

struct Run {
    spans: Vec<Span>,
    logs: Vec<LogRecord>,
    trace_stats: PipelineStats,
}

fn run(trace: TraceOptions, emit: impl FnOnce(&Telemetry)) -> Run {
    let logs = ScriptedExporter::new();
    let traces = ScriptedExporter::new();
    let telemetry = Telemetry::with_exporters(
        TelemetryOptions {
            trace,
            ..TelemetryOptions::default()
        },
        SignalExporters {
            logs: Some(Box::new(logs.clone())),
            traces: Some(Box::new(traces.clone())),
            metrics: None,
        },
        PipelineOptions::default(),
    )
    .expect("pipeline starts");
    emit(&telemetry);
    telemetry
        .shutdown(Duration::from_secs(10))
        .expect("shutdown delivers");
    let spans = traces
        .calls()
        .iter()
        .flat_map(|call| {
            let request = ExportTraceServiceRequest::decode(call.wire.clone()).expect("decodes");
            request
                .resource_spans
                .into_iter()
                .flat_map(|r| r.scope_spans)
                .flat_map(|s| s.spans)
                .collect::<Vec<_>>()
        })
        .collect();
    Run {
        spans,
        logs: logs.delivered(),
        trace_stats: telemetry.trace_stats(),
    }
}

fn metadata() -> SessionMetadata {
    SessionMetadata {
        conversation_id: "conv-7".into(),
        model: "gpt-5-codex".into(),
        slug: "openai".into(),
        ..SessionMetadata::default()
    }
}

fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn s(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

fn named<'a>(spans: &'a [Span], prefix: &str) -> Vec<&'a Span> {
    spans
        .iter()
        .filter(|s| s.name.starts_with(prefix))
        .collect()
}

const T0_MS: u64 = 1_795_558_014_000;

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(T0_MS + ms)
}

fn nanos(ms: u64) -> u64 {
    (T0_MS + ms) * 1_000_000
}

/// One turn: a chat (300 ms request, completion 50 ms later), a failed and
/// a successful tool call, a prompt.
fn scripted_turn(telemetry: &Telemetry) {
    let session = telemetry.session(metadata());
    let turn = session.turn();
    turn.user_prompt("secret prompt text");
    turn.emit_at(
        at(1000),
        agent_otel_core::EventData::ApiRequest(ApiRequest {
            attempt: 1,
            duration: Duration::from_millis(300),
            status_code: Some(200),
            ..ApiRequest::default()
        }),
    );
    turn.emit_at(
        at(1050),
        agent_otel_core::EventData::SseEvent(SseEvent {
            kind: "response.completed",
            duration: Duration::from_millis(50),
            error: None,
            tokens: Some(TokenCounts {
                input: 120,
                output: 30,
                ..TokenCounts::default()
            }),
        }),
    );
    for (ms, success, call) in [(1400, false, "c1"), (1600, true, "c2")] {
        turn.emit_at(
            at(ms),
            agent_otel_core::EventData::ToolResult(ToolResult {
                tool_name: "shell",
                call_id: call,
                arguments: "secret arguments",
                duration: Duration::from_millis(200),
                success,
                output: "secret output",
            }),
        );
    }
    turn.end();
}

#[test]
fn a_turn_becomes_an_invoke_agent_tree_with_chat_and_tool_children() {
    let run = run(TraceOptions::default(), scripted_turn);
    assert_eq!(run.spans.len(), 4, "{:#?}", run.spans);
    let root = named(&run.spans, "invoke_agent")[0];
    assert_eq!(root.name, "invoke_agent codex-cli");
    assert_eq!(root.kind, SpanKind::Internal as i32);
    assert!(root.parent_span_id.is_empty());
    assert_eq!(
        attr(root, catalog::GEN_AI_OPERATION_NAME),
        Some(&s("invoke_agent"))
    );
    assert_eq!(
        attr(root, catalog::GEN_AI_AGENT_NAME),
        Some(&s("codex-cli"))
    );
    assert_eq!(
        attr(root, catalog::GEN_AI_CONVERSATION_ID),
        Some(&s("conv-7"))
    );
    assert_eq!(
        attr(root, catalog::GEN_AI_REQUEST_MODEL),
        Some(&s("gpt-5-codex"))
    );
    assert_eq!(
        attr(root, catalog::GEN_AI_USAGE_INPUT_TOKENS),
        Some(&Value::IntValue(120))
    );
    assert_eq!(
        attr(root, catalog::GEN_AI_USAGE_OUTPUT_TOKENS),
        Some(&Value::IntValue(30))
    );

    let chat = named(&run.spans, "chat")[0];
    assert_eq!(chat.name, "chat gpt-5-codex");
    assert_eq!(chat.kind, SpanKind::Client as i32);
    assert_eq!(chat.parent_span_id, root.span_id);
    assert_eq!(chat.trace_id, root.trace_id);
    assert_eq!(chat.start_time_unix_nano, nanos(700));
    assert_eq!(
        chat.end_time_unix_nano,
        nanos(1050),
        "extended to the completion"
    );
    assert_eq!(
        attr(chat, catalog::GEN_AI_PROVIDER_NAME),
        Some(&s("openai"))
    );
    assert_eq!(
        attr(chat, catalog::HTTP_RESPONSE_STATUS_CODE),
        Some(&Value::IntValue(200))
    );
    assert_eq!(
        attr(chat, catalog::GEN_AI_USAGE_INPUT_TOKENS),
        Some(&Value::IntValue(120))
    );
    assert!(chat.status.is_none());

    let tools = named(&run.spans, "execute_tool");
    assert_eq!(tools.len(), 2);
    let failed = tools
        .iter()
        .find(|t| attr(t, catalog::GEN_AI_TOOL_CALL_ID) == Some(&s("c1")))
        .expect("c1");
    assert_eq!(failed.name, "execute_tool shell");
    assert_eq!(failed.parent_span_id, root.span_id);
    assert_eq!(failed.start_time_unix_nano, nanos(1200));
    assert_eq!(failed.end_time_unix_nano, nanos(1400));
    assert_eq!(
        failed.status.as_ref().map(|st| st.code),
        Some(StatusCode::Error as i32)
    );
    assert!(attr(failed, catalog::ERROR_TYPE).is_some());
    let ok = tools
        .iter()
        .find(|t| attr(t, catalog::GEN_AI_TOOL_CALL_ID) == Some(&s("c2")))
        .expect("c2");
    assert!(ok.status.is_none());
    assert_eq!(attr(ok, catalog::GEN_AI_TOOL_NAME), Some(&s("shell")));

    // Spans never carry prompt or tool content.
    let bytes: Vec<u8> = run.spans.iter().flat_map(Message::encode_to_vec).collect();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("secret"), "content in spans: {text}");
    assert_eq!(run.trace_stats.emitted, 4);
    assert_eq!(run.trace_stats.exported, 4, "{}", run.trace_stats);
}

#[test]
fn log_records_carry_the_trace_and_the_span_they_belong_to() {
    let run = run(TraceOptions::default(), scripted_turn);
    let root = named(&run.spans, "invoke_agent")[0];
    let chat = named(&run.spans, "chat")[0];
    let tools = named(&run.spans, "execute_tool");
    assert_eq!(run.logs.len(), 5);
    for record in &run.logs {
        assert_eq!(record.trace_id, root.trace_id, "{}", record.event_name);
        assert_eq!(record.flags, 1, "sampled");
    }
    let span_of = |name: &str| -> Vec<&Vec<u8>> {
        run.logs
            .iter()
            .filter(|r| r.event_name == name)
            .map(|r| &r.span_id)
            .collect()
    };
    assert_eq!(span_of("codex.user_prompt"), [&root.span_id]);
    assert_eq!(span_of("codex.api_request"), [&chat.span_id]);
    assert_eq!(span_of("codex.sse_event"), [&chat.span_id]);
    let mut tool_logs = span_of("codex.tool_result");
    tool_logs.sort();
    let mut tool_spans: Vec<&Vec<u8>> = tools.iter().map(|t| &t.span_id).collect();
    tool_spans.sort();
    assert_eq!(tool_logs, tool_spans);
}

#[test]
fn a_traceparent_parents_every_turn_and_its_sampled_flag_is_honoured() {
    let parent = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .expect("valid");
    let run = run(
        TraceOptions {
            parent: Some(parent),
            ..TraceOptions::default()
        },
        |telemetry| {
            let session = telemetry.session(metadata());
            let turn = session.turn();
            assert_eq!(turn.trace_id(), parent.trace_id);
            let child = TraceParent::parse(&turn.traceparent()).expect("valid traceparent");
            assert_eq!(child.trace_id, parent.trace_id);
            assert_eq!(child.span_id, turn.span_id());
            assert!(child.sampled);
            turn.end();
        },
    );
    assert_eq!(run.spans.len(), 1);
    assert_eq!(run.spans[0].trace_id, parent.trace_id.0.to_vec());
    assert_eq!(run.spans[0].parent_span_id, parent.span_id.0.to_vec());

    let unsampled = TraceParent {
        sampled: false,
        ..parent
    };
    let run = run_unsampled(unsampled);
    assert!(run.spans.is_empty(), "{:?}", run.spans);
    assert_eq!(run.logs.len(), 1);
    assert_eq!(
        run.logs[0].trace_id,
        parent.trace_id.0.to_vec(),
        "logs keep the trace"
    );
    assert_eq!(run.logs[0].flags, 0);
}

fn run_unsampled(parent: TraceParent) -> Run {
    run(
        TraceOptions {
            parent: Some(parent),
            ..TraceOptions::default()
        },
        |telemetry| {
            let session = telemetry.session(metadata());
            let turn = session.turn();
            assert!(turn.traceparent().ends_with("-00"));
            turn.user_prompt("hi");
        },
    )
}

#[test]
fn always_off_exports_no_span() {
    let run = run(
        TraceOptions {
            sampler: Sampler::AlwaysOff,
            parent: None,
        },
        scripted_turn,
    );
    assert!(run.spans.is_empty());
    assert_eq!(run.logs.len(), 5);
    assert_eq!(run.trace_stats.emitted, 0);
}

#[test]
fn turns_on_several_threads_each_get_their_own_tree() {
    let run = run(TraceOptions::default(), |telemetry| {
        std::thread::scope(|scope| {
            for t in 0..4 {
                let telemetry = telemetry.clone();
                scope.spawn(move || {
                    let session = telemetry.session(SessionMetadata {
                        conversation_id: format!("conv-{t}"),
                        ..metadata()
                    });
                    for i in 0..10 {
                        let turn = session.turn();
                        turn.tool_result(ToolResult {
                            tool_name: "shell",
                            call_id: &format!("{t}-{i}"),
                            arguments: "",
                            duration: Duration::from_millis(1),
                            success: true,
                            output: "",
                        });
                    }
                });
            }
        });
    });
    let roots = named(&run.spans, "invoke_agent");
    let tools = named(&run.spans, "execute_tool");
    assert_eq!((roots.len(), tools.len()), (40, 40));
    let mut traces: Vec<&Vec<u8>> = roots.iter().map(|r| &r.trace_id).collect();
    traces.sort();
    traces.dedup();
    assert_eq!(traces.len(), 40, "every turn is its own trace");
    for tool in tools {
        let root = roots
            .iter()
            .find(|r| r.span_id == tool.parent_span_id)
            .expect("the tool's turn");
        assert_eq!(root.trace_id, tool.trace_id);
        let call = match attr(tool, catalog::GEN_AI_TOOL_CALL_ID) {
            Some(Value::StringValue(call)) => call.clone(),
            other => panic!("call id: {other:?}"),
        };
        let thread = call.split('-').next().unwrap_or_default().to_owned();
        assert_eq!(
            attr(root, catalog::GEN_AI_CONVERSATION_ID),
            Some(&s(&format!("conv-{thread}")))
        );
    }
}

#[test]
fn a_turn_never_ended_is_closed_at_shutdown() {
    let run = run(TraceOptions::default(), |telemetry| {
        let session = telemetry.session(metadata());
        let turn = session.turn();
        turn.user_prompt("hi");
        std::mem::forget(turn);
    });
    assert_eq!(named(&run.spans, "invoke_agent").len(), 1);
}

#[test]
fn ids_are_random_and_valid() {
    assert_ne!(TraceId::random(), TraceId::random());
    assert_ne!(SpanId::random(), SpanId::random());
}
