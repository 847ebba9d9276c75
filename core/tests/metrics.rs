//! Metrics derived from events, end to end through a real pipeline: every
//! instrument of DESIGN.md's table (name, unit, kind, temporality, bucket
//! boundaries, counts and sums) for a scripted session; delta and
//! cumulative across intervals; the periodic and the final export; the
//! cardinality limit; metrics without logs. What the pipeline produced is
//! decoded with the official `opentelemetry-proto` types.

use std::collections::BTreeMap;
use std::time::Duration;

use agent_otel_core::metrics::instruments::{MILLISECOND_BOUNDS, SECOND_BOUNDS, TOKEN_BOUNDS};
use agent_otel_core::opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use agent_otel_core::opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};
use agent_otel_core::opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, HistogramDataPoint, Metric, NumberDataPoint, metric, number_data_point,
};
use agent_otel_core::testing::ScriptedExporter;
use agent_otel_core::{
    ApiRequest, DecisionSource, MetricsOptions, PipelineOptions, SessionMetadata, SignalExporters,
    SseEvent, Telemetry, TelemetryOptions, Temporality, TokenCounts, ToolDecision,
    ToolDecisionEvent, ToolResult, WireFormat, catalog,
};
use prost::Message;

const WAIT: Duration = Duration::from_secs(20);

fn start(
    metrics: MetricsOptions,
    logs: Option<&ScriptedExporter>,
    exporter: &ScriptedExporter,
) -> Telemetry {
    Telemetry::with_exporters(
        TelemetryOptions {
            metrics,
            ..TelemetryOptions::default()
        },
        SignalExporters {
            logs: logs.map(|l| Box::new(l.clone()) as _),
            traces: None,
            metrics: Some(Box::new(exporter.clone())),
        },
        PipelineOptions::default(),
    )
    .expect("pipeline starts")
}

/// Options whose periodic export never comes during a test: exports happen
/// at flush and shutdown only.
fn manual(temporality: Temporality) -> MetricsOptions {
    MetricsOptions {
        temporality,
        interval: Duration::from_secs(3600),
        ..MetricsOptions::default()
    }
}

fn session_metadata() -> SessionMetadata {
    SessionMetadata {
        conversation_id: "conv-1".into(),
        app_version: "1.2.3".into(),
        auth_mode: Some("api_key".into()),
        model: "gpt-5-codex".into(),
        slug: "openai".into(),
        ..SessionMetadata::default()
    }
}

/// One export: metrics by name.
fn decode(wire: &[u8]) -> BTreeMap<String, Metric> {
    let request = ExportMetricsServiceRequest::decode(wire).expect("decodes");
    request
        .resource_metrics
        .into_iter()
        .flat_map(|r| r.scope_metrics)
        .flat_map(|s| s.metrics)
        .map(|m| (m.name.clone(), m))
        .collect()
}

fn exports(exporter: &ScriptedExporter) -> Vec<BTreeMap<String, Metric>> {
    exporter.calls().iter().map(|c| decode(&c.wire)).collect()
}

fn attrs(attributes: &[KeyValue]) -> BTreeMap<String, String> {
    attributes
        .iter()
        .map(|kv| {
            let value = match kv.value.as_ref().and_then(|v| v.value.clone()) {
                Some(Value::StringValue(s)) => s,
                Some(Value::IntValue(i)) => i.to_string(),
                Some(Value::BoolValue(b)) => b.to_string(),
                other => format!("{other:?}"),
            };
            (kv.key.clone(), value)
        })
        .collect()
}

fn common(extra: &[(&str, &str)]) -> BTreeMap<String, String> {
    let mut set: BTreeMap<String, String> = [
        (catalog::MODEL, "gpt-5-codex"),
        (catalog::APP_VERSION, "1.2.3"),
        (catalog::AUTH_MODE, "api_key"),
    ]
    .iter()
    .chain(extra)
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    set.retain(|_, v| !v.is_empty());
    set
}

fn sum_points(metric: &Metric, temporality: AggregationTemporality) -> Vec<&NumberDataPoint> {
    match &metric.data {
        Some(metric::Data::Sum(sum)) => {
            assert!(sum.is_monotonic, "{} is a monotonic sum", metric.name);
            assert_eq!(
                sum.aggregation_temporality, temporality as i32,
                "{}",
                metric.name
            );
            sum.data_points.iter().collect()
        }
        other => panic!("{} is not a sum: {other:?}", metric.name),
    }
}

fn histogram_points(
    metric: &Metric,
    temporality: AggregationTemporality,
) -> Vec<&HistogramDataPoint> {
    match &metric.data {
        Some(metric::Data::Histogram(histogram)) => {
            assert_eq!(
                histogram.aggregation_temporality, temporality as i32,
                "{}",
                metric.name
            );
            histogram.data_points.iter().collect()
        }
        other => panic!("{} is not a histogram: {other:?}", metric.name),
    }
}

/// Counter values by attribute set.
fn sums(
    metric: &Metric,
    temporality: AggregationTemporality,
) -> BTreeMap<BTreeMap<String, String>, i64> {
    sum_points(metric, temporality)
        .into_iter()
        .map(|p| match p.value {
            Some(number_data_point::Value::AsInt(v)) => (attrs(&p.attributes), v),
            other => panic!("{}: integer sums only, got {other:?}", metric.name),
        })
        .collect()
}

fn one_histogram<'m>(metric: &'m Metric, set: &BTreeMap<String, String>) -> &'m HistogramDataPoint {
    histogram_points(metric, AggregationTemporality::Delta)
        .into_iter()
        .find(|p| &attrs(&p.attributes) == set)
        .unwrap_or_else(|| panic!("{}: no point with {set:?}", metric.name))
}

/// Bucket counts with one value in bucket `index` of `buckets`.
fn one_in(buckets: usize, index: usize) -> Vec<u64> {
    let mut counts = vec![0; buckets];
    counts[index] = 1;
    counts
}

#[test]
fn a_scripted_session_exports_every_instrument_of_the_table() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(manual(Temporality::Delta), None, &exporter);
    let session = telemetry.session(session_metadata());
    session.user_prompt("fix the tests");
    session.user_prompt("and the docs");
    session.api_request(ApiRequest {
        attempt: 1,
        duration: Duration::from_millis(1200),
        status_code: Some(200),
        ..ApiRequest::default()
    });
    session.api_request(ApiRequest {
        attempt: 2,
        duration: Duration::from_millis(250),
        status_code: Some(503),
        error: Some("overloaded"),
        ..ApiRequest::default()
    });
    for _ in 0..3 {
        session.sse_event(SseEvent {
            kind: "response.output_text.delta",
            duration: Duration::from_millis(5),
            ..SseEvent::default()
        });
    }
    session.sse_event(SseEvent {
        kind: "response.completed",
        tokens: Some(TokenCounts {
            input: 1000,
            output: 200,
            cached: Some(300),
            reasoning: None,
            tool: 0,
        }),
        ..SseEvent::default()
    });
    session.tool_decision(ToolDecisionEvent {
        tool_name: "shell",
        call_id: "c1",
        decision: ToolDecision::Approved,
        source: DecisionSource::User,
    });
    for (tool, millis, success) in [("shell", 45, true), ("apply_patch", 700_000, false)] {
        session.tool_result(ToolResult {
            tool_name: tool,
            call_id: "c",
            arguments: "{}",
            duration: Duration::from_millis(millis),
            success,
            output: "",
        });
    }
    session
        .event("codex.sandbox_outcome")
        .str("outcome", "allowed")
        .emit();
    telemetry.shutdown(WAIT).expect("shutdown delivers");

    let all = exports(&exporter);
    assert_eq!(all.len(), 1, "one export, at shutdown");
    let metrics = &all[0];
    let names: Vec<&str> = metrics.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "codex.api_request",
            "codex.api_request.duration_ms",
            "codex.session.count",
            "codex.sse_event",
            "codex.token.usage",
            "codex.tool.call",
            "codex.tool.call.duration_ms",
            "codex.tool.decision",
            "codex.user_prompt",
            "gen_ai.client.operation.duration",
            "gen_ai.client.token.usage",
        ]
    );
    let units: BTreeMap<&str, &str> = metrics
        .values()
        .map(|m| (m.name.as_str(), m.unit.as_str()))
        .collect();
    assert_eq!(units["codex.api_request"], "{request}");
    assert_eq!(units["codex.api_request.duration_ms"], "ms");
    assert_eq!(units["codex.sse_event"], "{event}");
    assert_eq!(units["codex.token.usage"], "{token}");
    assert_eq!(units["codex.tool.call"], "{call}");
    assert_eq!(units["codex.tool.call.duration_ms"], "ms");
    assert_eq!(units["codex.tool.decision"], "{decision}");
    assert_eq!(units["codex.user_prompt"], "{prompt}");
    assert_eq!(units["codex.session.count"], "{session}");
    assert_eq!(units["gen_ai.client.token.usage"], "{token}");
    assert_eq!(units["gen_ai.client.operation.duration"], "s");

    let delta = AggregationTemporality::Delta;
    assert_eq!(
        sums(&metrics["codex.session.count"], delta),
        BTreeMap::from([(common(&[]), 1)])
    );
    assert_eq!(
        sums(&metrics["codex.user_prompt"], delta),
        BTreeMap::from([(common(&[]), 2)])
    );
    assert_eq!(
        sums(&metrics["codex.api_request"], delta),
        BTreeMap::from([
            (
                common(&[("http.response.status_code", "200"), ("success", "true")]),
                1
            ),
            (
                common(&[("http.response.status_code", "503"), ("success", "false")]),
                1
            ),
        ])
    );
    assert_eq!(
        sums(&metrics["codex.sse_event"], delta),
        BTreeMap::from([
            (
                common(&[
                    ("event.kind", "response.output_text.delta"),
                    ("success", "true")
                ]),
                3
            ),
            (
                common(&[("event.kind", "response.completed"), ("success", "true")]),
                1
            ),
        ])
    );
    assert_eq!(
        sums(&metrics["codex.token.usage"], delta),
        BTreeMap::from([
            (common(&[("type", "input")]), 1000),
            (common(&[("type", "output")]), 200),
            (common(&[("type", "cached")]), 300),
            (common(&[("type", "tool")]), 0),
        ])
    );
    assert_eq!(
        sums(&metrics["codex.tool.decision"], delta),
        BTreeMap::from([(
            common(&[
                ("tool_name", "shell"),
                ("decision", "approved"),
                ("source", "user")
            ]),
            1
        )])
    );
    assert_eq!(
        sums(&metrics["codex.tool.call"], delta),
        BTreeMap::from([
            (common(&[("tool_name", "shell"), ("success", "true")]), 1),
            (
                common(&[("tool_name", "apply_patch"), ("success", "false")]),
                1
            ),
        ])
    );

    let ms_buckets = MILLISECOND_BOUNDS.len() + 1;
    let api_ok = one_histogram(
        &metrics["codex.api_request.duration_ms"],
        &common(&[("success", "true")]),
    );
    assert_eq!(api_ok.explicit_bounds, MILLISECOND_BOUNDS);
    // 1200 ms: in (1000, 2500].
    assert_eq!(api_ok.bucket_counts, one_in(ms_buckets, 10));
    assert_eq!(
        (api_ok.count, api_ok.sum, api_ok.min, api_ok.max),
        (1, Some(1200.0), Some(1200.0), Some(1200.0))
    );
    let api_failed = one_histogram(
        &metrics["codex.api_request.duration_ms"],
        &common(&[("success", "false")]),
    );
    // 250 ms: bounds are inclusive upper limits.
    assert_eq!(api_failed.bucket_counts, one_in(ms_buckets, 7));
    let long_tool = one_histogram(
        &metrics["codex.tool.call.duration_ms"],
        &common(&[("tool_name", "apply_patch"), ("success", "false")]),
    );
    // 700 s lands in (600 s, 1200 s], not in an overflow bucket.
    assert_eq!(long_tool.bucket_counts, one_in(ms_buckets, 18));
    assert_eq!(long_tool.sum, Some(700_000.0));

    let gen_ai = |extra: &[(&str, &str)]| {
        let mut set: BTreeMap<String, String> = [
            ("gen_ai.operation.name", "chat"),
            ("gen_ai.provider.name", "openai"),
            ("gen_ai.request.model", "gpt-5-codex"),
            (catalog::APP_VERSION, "1.2.3"),
            (catalog::AUTH_MODE, "api_key"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        set.extend(
            extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        set
    };
    let token_buckets = TOKEN_BOUNDS.len() + 1;
    let input = one_histogram(
        &metrics["gen_ai.client.token.usage"],
        &gen_ai(&[("gen_ai.token.type", "input")]),
    );
    assert_eq!(input.explicit_bounds, TOKEN_BOUNDS);
    assert_eq!((input.count, input.sum), (1, Some(1000.0)));
    assert_eq!(input.bucket_counts, one_in(token_buckets, 5));
    let output = one_histogram(
        &metrics["gen_ai.client.token.usage"],
        &gen_ai(&[("gen_ai.token.type", "output")]),
    );
    assert_eq!(output.bucket_counts, one_in(token_buckets, 4));
    let second_buckets = SECOND_BOUNDS.len() + 1;
    let ok = one_histogram(&metrics["gen_ai.client.operation.duration"], &gen_ai(&[]));
    assert_eq!(ok.explicit_bounds, SECOND_BOUNDS);
    assert_eq!((ok.count, ok.sum), (1, Some(1.2)));
    // 1.2 s: in (0.64, 1.28].
    assert_eq!(ok.bucket_counts, one_in(second_buckets, 7));
    let failed = one_histogram(
        &metrics["gen_ai.client.operation.duration"],
        &gen_ai(&[("error.type", "503")]),
    );
    assert_eq!(failed.sum, Some(0.25));
    assert_eq!(failed.bucket_counts, one_in(second_buckets, 5));

    for metric in metrics.values() {
        let points: Vec<&[KeyValue]> = match &metric.data {
            Some(metric::Data::Sum(s)) => s.data_points.iter().map(|p| &p.attributes[..]).collect(),
            Some(metric::Data::Histogram(h)) => {
                h.data_points.iter().map(|p| &p.attributes[..]).collect()
            }
            _ => Vec::new(),
        };
        for attributes in points {
            assert!(
                attributes
                    .iter()
                    .all(|kv| kv.key != catalog::CONVERSATION_ID),
                "{} carries no conversation id",
                metric.name
            );
        }
    }
    let stats = telemetry.metric_stats();
    let points: u64 = metrics.values().map(|m| point_count(m) as u64).sum();
    assert_eq!(
        (stats.emitted, stats.exported, stats.overflowed),
        (points, points, 0)
    );
    assert_eq!(
        telemetry.stats().emitted,
        0,
        "no logs exporter: no log records"
    );
}

fn point_count(metric: &Metric) -> usize {
    match &metric.data {
        Some(metric::Data::Sum(s)) => s.data_points.len(),
        Some(metric::Data::Histogram(h)) => h.data_points.len(),
        _ => 0,
    }
}

/// `user_prompt` values and the (start, time) of each export.
fn prompt_series(
    all: &[BTreeMap<String, Metric>],
    temporality: AggregationTemporality,
) -> Vec<(i64, u64, u64)> {
    all.iter()
        .map(|metrics| {
            let points = sum_points(&metrics["codex.user_prompt"], temporality);
            assert_eq!(points.len(), 1);
            let point = points[0];
            let value = match point.value {
                Some(number_data_point::Value::AsInt(v)) => v,
                _ => panic!("integer sum"),
            };
            (value, point.start_time_unix_nano, point.time_unix_nano)
        })
        .collect()
}

/// Three intervals ended by `force_flush` (the second with no new data),
/// then a fourth ended by shutdown.
fn three_intervals_then_shutdown(temporality: Temporality) -> ScriptedExporter {
    let exporter = ScriptedExporter::new();
    let telemetry = start(manual(temporality), None, &exporter);
    let session = telemetry.session(session_metadata());
    session.user_prompt("one");
    telemetry.force_flush(WAIT).expect("flush");
    session.user_prompt("two");
    session.user_prompt("three");
    telemetry.force_flush(WAIT).expect("flush");
    telemetry.force_flush(WAIT).expect("flush with no new data");
    for _ in 0..3 {
        session.user_prompt("more");
    }
    telemetry.shutdown(WAIT).expect("shutdown delivers");
    exporter
}

#[test]
fn delta_intervals_carry_each_interval_once_and_chain_without_gaps() {
    let exporter = three_intervals_then_shutdown(Temporality::Delta);
    let all = exports(&exporter);
    assert_eq!(all.len(), 3, "the interval with no new data sends nothing");
    let series = prompt_series(&all, AggregationTemporality::Delta);
    let values: Vec<i64> = series.iter().map(|s| s.0).collect();
    assert_eq!(
        values,
        [1, 2, 3],
        "the final export at shutdown carries the last interval"
    );
    for (start, time) in series.iter().map(|s| (s.1, s.2)) {
        assert!(start <= time);
    }
    assert_eq!(
        series[1].1, series[0].2,
        "the second interval starts where the first ended"
    );
    assert!(series[2].1 >= series[1].2, "intervals never overlap");
    assert!(all[0].contains_key("codex.session.count"));
    assert!(
        !all[1].contains_key("codex.session.count"),
        "a session counts once"
    );
}

#[test]
fn cumulative_exports_carry_totals_from_one_start_every_interval() {
    let exporter = three_intervals_then_shutdown(Temporality::Cumulative);
    let all = exports(&exporter);
    assert_eq!(all.len(), 4, "cumulative totals are sent every interval");
    let series = prompt_series(&all, AggregationTemporality::Cumulative);
    let values: Vec<i64> = series.iter().map(|s| s.0).collect();
    assert_eq!(values, [1, 3, 3, 6]);
    assert!(series.iter().all(|s| s.1 == series[0].1), "one start time");
    assert!(series.windows(2).all(|w| w[0].2 <= w[1].2));
    for metrics in &all {
        assert!(metrics.contains_key("codex.session.count"));
    }
}

#[test]
fn lowmemory_is_delta_for_counters_and_histograms() {
    let exporter = three_intervals_then_shutdown(Temporality::LowMemory);
    let series = prompt_series(&exports(&exporter), AggregationTemporality::Delta);
    assert_eq!(series.iter().map(|s| s.0).collect::<Vec<_>>(), [1, 2, 3]);
}

#[test]
fn metrics_are_exported_every_interval_without_a_flush() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(
        MetricsOptions {
            interval: Duration::from_millis(50),
            ..MetricsOptions::default()
        },
        None,
        &exporter,
    );
    let session = telemetry.session(session_metadata());
    session.user_prompt("one");
    assert_eq!(
        exporter.wait_for_calls(1, WAIT),
        1,
        "the periodic export came"
    );
    let first = exports(&exporter);
    assert_eq!(
        sums(
            &first[0]["codex.user_prompt"],
            AggregationTemporality::Delta
        ),
        BTreeMap::from([(common(&[]), 1)])
    );
    session.user_prompt("two");
    assert_eq!(exporter.wait_for_calls(2, WAIT), 2, "and the next one");
    telemetry.shutdown(WAIT).expect("shutdown");
    let all = exports(&exporter);
    let total: i64 = all
        .iter()
        .map(|m| sums(&m["codex.user_prompt"], AggregationTemporality::Delta)[&common(&[])])
        .sum();
    assert_eq!(total, 2, "each prompt is counted in exactly one interval");
}

#[test]
fn attribute_sets_past_the_cardinality_limit_go_to_one_overflow_series() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(
        MetricsOptions {
            cardinality_limit: 3,
            ..manual(Temporality::Delta)
        },
        None,
        &exporter,
    );
    let session = telemetry.session(session_metadata());
    for tool in ["t1", "t2", "t3", "t4", "t5", "t1"] {
        session.tool_result(ToolResult {
            tool_name: tool,
            call_id: "c",
            arguments: "",
            duration: Duration::from_millis(10),
            success: true,
            output: "",
        });
    }
    telemetry.shutdown(WAIT).expect("shutdown");
    let all = exports(&exporter);
    let calls = sums(&all[0]["codex.tool.call"], AggregationTemporality::Delta);
    let overflow = BTreeMap::from([("otel.metric.overflow".to_owned(), "true".to_owned())]);
    assert_eq!(
        calls,
        BTreeMap::from([
            (common(&[("tool_name", "t1"), ("success", "true")]), 2),
            (common(&[("tool_name", "t2"), ("success", "true")]), 1),
            (common(&[("tool_name", "t3"), ("success", "true")]), 1),
            (overflow.clone(), 2),
        ])
    );
    let durations = histogram_points(
        &all[0]["codex.tool.call.duration_ms"],
        AggregationTemporality::Delta,
    );
    let spilled = durations
        .iter()
        .find(|p| attrs(&p.attributes) == overflow)
        .expect("histogram overflow series");
    assert_eq!((spilled.count, spilled.sum), (2, Some(20.0)));
    assert_eq!(
        telemetry.metric_stats().overflowed,
        4,
        "two measurements on each of the two tool instruments"
    );
}

#[test]
fn metrics_and_logs_have_their_own_exporters_and_counts() {
    let logs = ScriptedExporter::new();
    let metrics = ScriptedExporter::with_format(WireFormat::Json);
    let telemetry = start(manual(Temporality::Delta), Some(&logs), &metrics);
    let session = telemetry.session(session_metadata());
    session.user_prompt("hello");
    telemetry.shutdown(WAIT).expect("shutdown");
    assert_eq!(logs.delivered().len(), 1);
    assert_eq!(telemetry.stats().exported, 1);
    let calls = metrics.calls();
    assert_eq!(calls.len(), 1);
    let request: ExportMetricsServiceRequest =
        serde_json::from_slice(&calls[0].wire).expect("OTLP JSON decodes");
    let names: Vec<String> = request
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| m.name.clone())
        .collect();
    assert_eq!(names, ["codex.user_prompt", "codex.session.count"]);
    assert_eq!(telemetry.metric_stats().exported, 2);
}

#[test]
fn shutdown_reports_a_timeout_when_only_metrics_were_cut() {
    let logs = ScriptedExporter::new();
    let metrics = ScriptedExporter::new();
    metrics.then(agent_otel_core::testing::ScriptedAnswer::Hang, 1_000);
    let telemetry = start(manual(Temporality::Delta), Some(&logs), &metrics);
    telemetry.session(session_metadata()).user_prompt("one");
    let result = telemetry.shutdown(Duration::from_millis(300));
    assert_eq!(result, Err(agent_otel_core::FlushError::Timeout));
    assert!(telemetry.wait_stopped(WAIT));
    assert_eq!(telemetry.stats().exported, 1, "the log record went");
    let points = telemetry.metric_stats();
    assert_eq!(
        points.dropped(agent_otel_core::DropReason::ShutdownDeadline),
        points.emitted,
        "{points}"
    );
}
