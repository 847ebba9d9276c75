//! The open event model, end to end through a real pipeline: custom events
//! with every value type, sensitive attributes under both content policies,
//! collisions with common attributes, the attribute limits, session
//! attributes and VCS attribution. Every check decodes the bytes the
//! pipeline produced with the official `opentelemetry-proto` types.

use std::collections::BTreeMap;
use std::time::{Duration, UNIX_EPOCH};

use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_core::opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value,
};
use agent_otel_core::opentelemetry_proto::tonic::logs::v1::LogRecord;
use agent_otel_core::testing::ScriptedExporter;
use agent_otel_core::{
    AttributeLimits, AttributeValue, ContentPolicy, PipelineOptions, PipelineStats, Sensitivity,
    SessionMetadata, Telemetry, TelemetryOptions, ToolResult, VcsInfo, WireFormat, catalog,
};
use prost::Message;

/// Runs `emit` on a pipeline with `options`, shuts down, and returns every
/// record delivered (in order, across however many batches) with the stats.
fn run(
    options: TelemetryOptions,
    format: WireFormat,
    emit: impl FnOnce(&Telemetry),
) -> (Vec<LogRecord>, PipelineStats, ScriptedExporter) {
    let exporter = ScriptedExporter::with_format(format);
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
    (exporter.delivered(), telemetry.stats(), exporter)
}

fn metadata() -> SessionMetadata {
    SessionMetadata {
        conversation_id: "conv-1".into(),
        app_version: "1.2.3".into(),
        model: "gpt-5-codex".into(),
        ..SessionMetadata::default()
    }
}

fn attributes(record: &LogRecord) -> BTreeMap<&str, Option<&Value>> {
    record
        .attributes
        .iter()
        .map(|kv| {
            (
                kv.key.as_str(),
                kv.value.as_ref().and_then(|v| v.value.as_ref()),
            )
        })
        .collect()
}

fn s(text: &str) -> Value {
    Value::StringValue(text.to_owned())
}

fn any(value: Value) -> AnyValue {
    AnyValue { value: Some(value) }
}

fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(any(value)),
        ..Default::default()
    }
}

#[test]
fn custom_events_carry_every_value_type_and_the_common_attributes() {
    let (records, stats, _) = run(
        TelemetryOptions::default(),
        WireFormat::Protobuf,
        |telemetry| {
            let session = telemetry.session(metadata());
            session
                .event("codex.sandbox_outcome")
                .str("outcome", "allowed")
                .int("initial_duration_ms", -12)
                .double("ratio", 0.5)
                .bool("escalated", false)
                .value("paths", vec!["a", "b"])
                .value(
                    "nested",
                    AttributeValue::Map(vec![
                        ("depth".into(), AttributeValue::Int(2)),
                        (
                            "list".into(),
                            AttributeValue::Array(vec![
                                AttributeValue::Bool(true),
                                AttributeValue::Double(-1.25),
                                AttributeValue::Map(vec![("".into(), "empty key".into())]),
                            ]),
                        ),
                    ]),
                )
                .emit();
        },
    );
    assert_eq!(stats.exported, 1, "{stats}");
    let record = &records[0];
    assert_eq!(record.event_name, "codex.sandbox_outcome");
    let attrs = attributes(record);
    assert_eq!(
        attrs[catalog::EVENT_NAME],
        Some(&s("codex.sandbox_outcome"))
    );
    assert_eq!(attrs[catalog::CONVERSATION_ID], Some(&s("conv-1")));
    assert_eq!(attrs[catalog::MODEL], Some(&s("gpt-5-codex")));
    assert_eq!(attrs["outcome"], Some(&s("allowed")));
    assert_eq!(attrs["initial_duration_ms"], Some(&Value::IntValue(-12)));
    assert_eq!(attrs["ratio"], Some(&Value::DoubleValue(0.5)));
    assert_eq!(attrs["escalated"], Some(&Value::BoolValue(false)));
    assert_eq!(
        attrs["paths"],
        Some(&Value::ArrayValue(ArrayValue {
            values: vec![any(s("a")), any(s("b"))]
        }))
    );
    assert_eq!(
        attrs["nested"],
        Some(&Value::KvlistValue(KeyValueList {
            values: vec![
                kv("depth", Value::IntValue(2)),
                kv(
                    "list",
                    Value::ArrayValue(ArrayValue {
                        values: vec![
                            any(Value::BoolValue(true)),
                            any(Value::DoubleValue(-1.25)),
                            any(Value::KvlistValue(KeyValueList {
                                values: vec![kv("", s("empty key"))]
                            })),
                        ]
                    })
                ),
            ]
        }))
    );
    assert_eq!(record.dropped_attributes_count, 0);
}

#[test]
fn sensitive_attributes_follow_both_content_policies() {
    for (log_user_prompt, log_tool_content) in
        [(false, false), (true, false), (false, true), (true, true)]
    {
        let options = TelemetryOptions {
            content: ContentPolicy {
                log_user_prompt,
                log_tool_content,
            },
            ..TelemetryOptions::default()
        };
        let (records, _, _) = run(options, WireFormat::Protobuf, |telemetry| {
            let session = telemetry.session(metadata());
            session
                .event("codex.command")
                .sensitive("typed", "my secret prompt", Sensitivity::Prompt)
                .sensitive("command", "cat ~/.ssh/id_rsa", Sensitivity::Tool)
                .sensitive_value("argv", vec!["rm", "-rf"], Sensitivity::Tool)
                .emit();
            session.tool_result(ToolResult {
                tool_name: "shell",
                call_id: "c1",
                arguments: "{\"cmd\":\"ls\"}",
                duration: Duration::from_millis(5),
                success: true,
                output: "file.txt",
            });
        });
        let redacted = s("[REDACTED]");
        let custom = attributes(&records[0]);
        let expect = |allowed: bool, value: Value| if allowed { value } else { redacted.clone() };
        assert_eq!(
            custom["typed"],
            Some(&expect(log_user_prompt, s("my secret prompt")))
        );
        assert_eq!(
            custom["command"],
            Some(&expect(log_tool_content, s("cat ~/.ssh/id_rsa")))
        );
        assert_eq!(
            custom["argv"],
            Some(&expect(
                log_tool_content,
                Value::ArrayValue(ArrayValue {
                    values: vec![any(s("rm")), any(s("-rf"))]
                })
            ))
        );
        let tool = attributes(&records[1]);
        assert_eq!(
            tool[catalog::ARGUMENTS],
            Some(&expect(log_tool_content, s("{\"cmd\":\"ls\"}")))
        );
        assert_eq!(
            tool[catalog::OUTPUT],
            Some(&expect(log_tool_content, s("file.txt")))
        );
        assert_eq!(
            tool[catalog::TOOL_NAME],
            Some(&s("shell")),
            "never redacted"
        );
    }
}

#[test]
fn colliding_keys_are_dropped_and_counted() {
    let (records, stats, _) = run(
        TelemetryOptions::default(),
        WireFormat::Protobuf,
        |telemetry| {
            let session = telemetry.session(SessionMetadata {
                attributes: vec![
                    ("team".into(), "platform".into()),
                    (catalog::CONVERSATION_ID.into(), "forged".into()),
                ],
                ..metadata()
            });
            session
                .event("codex.custom")
                .str(catalog::MODEL, "forged-model")
                .str(catalog::EVENT_NAME, "codex.tool_result")
                .str("team", "forged-team")
                .str("kept", "yes")
                .emit();
        },
    );
    let attrs = attributes(&records[0]);
    assert_eq!(attrs[catalog::MODEL], Some(&s("gpt-5-codex")));
    assert_eq!(attrs[catalog::EVENT_NAME], Some(&s("codex.custom")));
    assert_eq!(attrs[catalog::CONVERSATION_ID], Some(&s("conv-1")));
    assert_eq!(attrs["team"], Some(&s("platform")));
    assert_eq!(attrs["kept"], Some(&s("yes")));
    let keys: Vec<&str> = records[0]
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    let mut unique = keys.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "no duplicate keys: {keys:?}");
    // conversation.id on the session, and model, event.name, team on the event.
    assert_eq!(stats.attributes.dropped_collision, 4, "{stats}");
}

#[test]
fn value_length_limit_cuts_on_characters_with_a_marker() {
    let options = TelemetryOptions {
        attribute_limits: AttributeLimits {
            value_length: Some(4),
            ..AttributeLimits::default()
        },
        ..TelemetryOptions::default()
    };
    let (records, stats, _) = run(options, WireFormat::Protobuf, |telemetry| {
        let session = telemetry.session(metadata());
        session
            .event("codex.custom")
            .str("short", "abcd")
            .str("accents", "éééééé")
            .value("list", vec!["123456", "12"])
            .emit();
    });
    let attrs = attributes(&records[0]);
    assert_eq!(attrs["short"], Some(&s("abcd")));
    assert_eq!(attrs["accents"], Some(&s("éééé…[truncated 4 bytes]")));
    assert_eq!(
        attrs["list"],
        Some(&Value::ArrayValue(ArrayValue {
            values: vec![any(s("1234…[truncated 2 bytes]")), any(s("12"))]
        }))
    );
    // The model name ("gpt-5-codex") and app version are cut too.
    assert_eq!(attrs[catalog::MODEL], Some(&s("gpt-…[truncated 7 bytes]")));
    assert_eq!(
        attrs[catalog::EVENT_NAME],
        Some(&s("codex.custom")),
        "names are never cut"
    );
    assert!(stats.attributes.truncated >= 4, "{stats}");
}

#[test]
fn count_limit_drops_extra_attributes_and_sets_the_record_count() {
    let options = TelemetryOptions {
        attribute_limits: AttributeLimits {
            count: 10,
            ..AttributeLimits::default()
        },
        ..TelemetryOptions::default()
    };
    let (records, stats, _) = run(options, WireFormat::Protobuf, |telemetry| {
        let session = telemetry.session(metadata());
        let mut event = session.event("codex.custom");
        for i in 0..8 {
            event = event.int(&format!("k{i}"), i);
        }
        event.emit();
    });
    let record = &records[0];
    // event.name, event.timestamp, 5 session attributes, then 3 of the 8.
    assert_eq!(record.attributes.len(), 10);
    assert_eq!(record.dropped_attributes_count, 5);
    let attrs = attributes(record);
    assert!(attrs.contains_key("k2") && !attrs.contains_key("k3"));
    assert_eq!(stats.attributes.dropped_count_limit, 5, "{stats}");
}

#[test]
fn session_attributes_and_vcs_attribution_are_on_every_event() {
    let (records, _, _) = run(
        TelemetryOptions::default(),
        WireFormat::Protobuf,
        |telemetry| {
            let session = telemetry.session(SessionMetadata {
                vcs: Some(VcsInfo {
                    repository_url: Some("https://github.com/org/repo".into()),
                    ref_name: Some("main".into()),
                    revision: Some("0123456789abcdef0123456789abcdef01234567".into()),
                }),
                attributes: vec![
                    ("team".into(), "platform".into()),
                    ("tier".into(), 2i64.into()),
                ],
                ..metadata()
            });
            session.user_prompt("hi");
            session.event("codex.custom").emit();
        },
    );
    for record in &records {
        let attrs = attributes(record);
        assert_eq!(
            attrs[catalog::VCS_REPOSITORY_URL_FULL],
            Some(&s("https://github.com/org/repo"))
        );
        assert_eq!(attrs[catalog::VCS_REF_HEAD_NAME], Some(&s("main")));
        assert_eq!(
            attrs[catalog::VCS_REF_HEAD_REVISION],
            Some(&s("0123456789abcdef0123456789abcdef01234567"))
        );
        assert_eq!(attrs["team"], Some(&s("platform")));
        assert_eq!(attrs["tier"], Some(&Value::IntValue(2)));
    }
}

#[test]
fn json_encoding_carries_the_same_custom_events() {
    let emit = |telemetry: &Telemetry| {
        let session = telemetry.session(metadata());
        session
            .event("codex.custom")
            .str("text", "quote \" newline \n ✓")
            .double("big", 1e300)
            .double("small", -2.5e-300)
            .value(
                "m",
                AttributeValue::Map(vec![("a".into(), vec![1i64, 2].into())]),
            )
            .emit();
    };
    let (protobuf, _, _) = run(TelemetryOptions::default(), WireFormat::Protobuf, emit);
    let (_, _, json_exporter) = run(TelemetryOptions::default(), WireFormat::Json, emit);
    let wire = &json_exporter.calls()[0].wire;
    let from_json: ExportLogsServiceRequest =
        serde_json::from_slice(wire).expect("our JSON parses as OTLP JSON");
    let json_record = &from_json.resource_logs[0].scope_logs[0].log_records[0];
    let strip = |r: &LogRecord| LogRecord {
        time_unix_nano: 0,
        observed_time_unix_nano: 0,
        attributes: r
            .attributes
            .iter()
            .filter(|kv| kv.key != catalog::EVENT_TIMESTAMP)
            .cloned()
            .collect(),
        ..r.clone()
    };
    assert_eq!(strip(json_record), strip(&protobuf[0]));
}

#[test]
fn non_finite_doubles_use_the_proto3_json_strings() {
    let (_, _, exporter) = run(TelemetryOptions::default(), WireFormat::Json, |telemetry| {
        telemetry
            .session(metadata())
            .event("codex.custom")
            .double("nan", f64::NAN)
            .double("inf", f64::INFINITY)
            .double("ninf", f64::NEG_INFINITY)
            .emit();
    });
    let text = String::from_utf8(exporter.calls()[0].wire.to_vec()).expect("utf-8");
    for expected in [
        r#"{"key":"nan","value":{"doubleValue":"NaN"}}"#,
        r#"{"key":"inf","value":{"doubleValue":"Infinity"}}"#,
        r#"{"key":"ninf","value":{"doubleValue":"-Infinity"}}"#,
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let value: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    assert!(value["resourceLogs"].is_array());
}

#[test]
fn protobuf_bytes_equal_prosts_encoding_of_the_same_request() {
    let (_, _, exporter) = run(
        TelemetryOptions::default(),
        WireFormat::Protobuf,
        |telemetry| {
            let session = telemetry.session(SessionMetadata {
                attributes: vec![("team".into(), "platform".into())],
                ..metadata()
            });
            session.user_prompt("hello");
            session
                .event("codex.custom")
                .str("s", "")
                .int("i", i64::MIN)
                .double("d", f64::MIN_POSITIVE)
                .bool("b", false)
                .value("a", AttributeValue::Array(vec![]))
                .value("m", AttributeValue::Map(vec![("".into(), 0i64.into())]))
                .emit();
        },
    );
    for call in exporter.calls() {
        let decoded = ExportLogsServiceRequest::decode(call.wire.clone()).expect("decodes");
        assert_eq!(decoded.encode_to_vec(), call.wire.to_vec());
    }
}

#[test]
fn backfilled_custom_events_keep_their_time() {
    let at = UNIX_EPOCH + Duration::from_millis(1_764_025_614_123);
    let (records, _, _) = run(
        TelemetryOptions::default(),
        WireFormat::Protobuf,
        |telemetry| {
            let session = telemetry.session(metadata());
            session.event("codex.backfilled").at(at).emit();
            session.event("codex.now").emit();
        },
    );
    assert_eq!(records[0].time_unix_nano, 1_764_025_614_123_000_000);
    assert!(records[1].time_unix_nano > records[0].time_unix_nano);
}

#[test]
fn a_disabled_telemetry_builds_nothing() {
    let telemetry = Telemetry::disabled();
    let session = telemetry.session(metadata());
    session.event("codex.custom").str("k", "v").emit();
    assert_eq!(telemetry.stats().emitted, 0);
}
