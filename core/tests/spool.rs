//! The pipeline with a disk spool, against the scripted exporter: what
//! cannot be delivered is spooled (never what was refused for good), the
//! next pipeline replays it, and every record is accounted for.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use agent_otel_core::opentelemetry_proto::tonic::common::v1::any_value::Value;
use agent_otel_core::opentelemetry_proto::tonic::logs::v1::LogRecord;
use agent_otel_core::spool::{Spool, SpoolOptions};
use agent_otel_core::testing::{ScriptedAnswer, ScriptedExporter};
use agent_otel_core::{
    DropReason, ExportError, ExportOutcome, FailureKind, FlushError, PipelineOptions,
    PipelineStats, ReplayReport, RetryPolicy, SessionMetadata, SignalExporters, Telemetry,
    TelemetryOptions, ToolResult, replay_spool,
};

/// Generous bound for waits that normally take milliseconds.
const HANG: Duration = Duration::from_secs(20);

/// Batches of exactly 50 (several files per run: a batch leaves only when
/// full, flushed or shut down) and a short retry budget.
fn options() -> PipelineOptions {
    PipelineOptions {
        max_batch_size: 50,
        batch_timeout: Duration::from_secs(600),
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            budget: Duration::from_millis(60),
        },
        ..PipelineOptions::default()
    }
}

fn start(exporter: &ScriptedExporter, spool: SpoolOptions) -> Telemetry {
    Telemetry::with_spool(
        TelemetryOptions::default(),
        SignalExporters {
            logs: Some(Box::new(exporter.clone())),
            traces: None,
            metrics: None,
        },
        options(),
        Some(spool),
    )
    .expect("pipeline starts")
}

fn emit_calls(telemetry: &Telemetry, ids: std::ops::Range<usize>) {
    let session = telemetry.session(SessionMetadata::default());
    for i in ids {
        session.tool_result(ToolResult {
            tool_name: "shell",
            call_id: &format!("c{i}"),
            arguments: "{}",
            duration: Duration::from_millis(3),
            success: true,
            output: "ok",
        });
    }
}

fn call_ids(records: &[LogRecord]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| {
            r.attributes
                .iter()
                .find(|kv| kv.key == "call_id")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
        })
        .collect()
}

fn expected_ids(ids: std::ops::Range<usize>) -> BTreeSet<String> {
    ids.map(|i| format!("c{i}")).collect()
}

/// Each id exactly once.
fn assert_once(records: &[LogRecord], expected: &BTreeSet<String>) {
    let ids = call_ids(records);
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), unique.len(), "a record arrived twice");
    assert_eq!(&unique, expected);
}

fn settled(telemetry: &Telemetry) -> PipelineStats {
    assert!(telemetry.wait_stopped(HANG), "the worker did not stop");
    telemetry.stats()
}

fn assert_balanced(stats: &PipelineStats) {
    assert_eq!(
        stats.emitted,
        stats.exported + stats.rejected + stats.dropped_total() + stats.spooled,
        "{stats}"
    );
    assert_eq!(stats.in_flight(), 0, "{stats}");
}

fn retryable() -> ScriptedAnswer {
    ScriptedAnswer::Outcome(ExportOutcome::retryable(ExportError::new(
        FailureKind::Connection,
        "connection refused",
    )))
}

fn logs_only(exporter: Box<dyn agent_otel_core::Exporter>) -> SignalExporters {
    SignalExporters {
        logs: Some(exporter),
        traces: None,
        metrics: None,
    }
}

fn ready_files(dir: &Path) -> usize {
    Spool::inspect(SpoolOptions::new(dir))
        .list()
        .expect("list")
        .len()
}

#[test]
fn retryable_failures_are_spooled_and_the_next_pipeline_replays_them() {
    let dir = tempfile::tempdir().expect("temp dir");
    let down = ScriptedExporter::new();
    down.then(retryable(), 100_000);
    let first = start(&down, SpoolOptions::new(dir.path()));
    emit_calls(&first, 0..300);
    // Retryable failures outlast the budget: spooled, not a shutdown matter.
    first.force_flush(HANG).expect("flush");
    first.shutdown(HANG).expect("nothing left at shutdown");
    let stats = settled(&first);
    assert_eq!(stats.spooled, 300, "{stats}");
    assert_eq!(stats.exported, 0);
    assert_eq!(stats.dropped_total(), 0, "{stats}");
    assert_balanced(&stats);
    assert!(down.delivered().is_empty());
    assert_eq!(ready_files(dir.path()), 6, "one file per batch of 50");

    let up = ScriptedExporter::new();
    let second = start(&up, SpoolOptions::new(dir.path()));
    emit_calls(&second, 300..310);
    second.shutdown(HANG).expect("delivered");
    let stats = settled(&second);
    assert_eq!(stats.replayed, 300, "{stats}");
    assert_eq!(stats.exported, 10);
    assert_eq!(stats.spooled, 0);
    assert_balanced(&stats);
    assert_once(&up.delivered(), &expected_ids(0..310));
    assert_eq!(ready_files(dir.path()), 0, "replayed files are deleted");
}

#[test]
fn permanent_refusals_are_never_spooled() {
    let dir = tempfile::tempdir().expect("temp dir");
    let refusing = ScriptedExporter::new();
    refusing.then(
        ScriptedAnswer::Outcome(ExportOutcome::permanent(ExportError::with_status(
            FailureKind::HttpStatus,
            400,
            "bad request",
        ))),
        1_000,
    );
    let telemetry = start(&refusing, SpoolOptions::new(dir.path()));
    emit_calls(&telemetry, 0..120);
    telemetry.shutdown(HANG).expect("shutdown");
    let stats = settled(&telemetry);
    assert_eq!(stats.dropped(DropReason::PermanentFailure), 120, "{stats}");
    assert_eq!(stats.spooled, 0);
    assert_balanced(&stats);
    assert_eq!(ready_files(dir.path()), 0);
}

#[test]
fn a_shutdown_deadline_spools_what_is_left() {
    let dir = tempfile::tempdir().expect("temp dir");
    let hung = ScriptedExporter::new();
    hung.then(ScriptedAnswer::Hang, 1_000);
    let telemetry = Telemetry::with_spool(
        TelemetryOptions::default(),
        SignalExporters {
            logs: Some(Box::new(hung.clone())),
            traces: None,
            metrics: None,
        },
        PipelineOptions {
            retry: RetryPolicy {
                budget: Duration::from_secs(600),
                ..RetryPolicy::default()
            },
            ..options()
        },
        Some(SpoolOptions::new(dir.path())),
    )
    .expect("pipeline starts");
    emit_calls(&telemetry, 0..1_000);
    assert_eq!(
        telemetry.shutdown(Duration::from_millis(400)),
        Err(FlushError::Timeout),
        "not delivered: shutdown says so"
    );
    let stats = settled(&telemetry);
    assert_eq!(stats.spooled, 1_000, "{stats}");
    assert_eq!(stats.dropped_total(), 0, "{stats}");
    assert_balanced(&stats);

    let up = ScriptedExporter::new();
    let report = replay_spool(
        SpoolOptions::new(dir.path()),
        logs_only(Box::new(up.clone())),
        options(),
        &mut |_| {},
    )
    .expect("replay");
    assert_eq!(report.records_delivered, 1_000, "{report:?}");
    assert!(!report.stopped_early);
    assert_once(&up.delivered(), &expected_ids(0..1_000));
}

#[test]
fn batches_given_up_during_shutdown_share_one_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let down = ScriptedExporter::new();
    down.then(retryable(), 100_000);
    let telemetry = start(&down, SpoolOptions::new(dir.path()));
    emit_calls(&telemetry, 0..500);
    telemetry
        .shutdown(HANG)
        .expect("given up by retry budget, not deadline");
    let stats = settled(&telemetry);
    assert_eq!(stats.spooled, 500, "{stats}");
    let entries = Spool::inspect(SpoolOptions::new(dir.path()))
        .list()
        .expect("list");
    assert_eq!(entries.len(), 1, "ten batches, one file");
    assert_eq!(entries[0].header.records, 500);

    let up = ScriptedExporter::new();
    let report = replay_spool(
        SpoolOptions::new(dir.path()),
        logs_only(Box::new(up.clone())),
        options(),
        &mut |_| {},
    )
    .expect("replay");
    assert_eq!(report.records_delivered, 500);
    assert_eq!(up.call_count(), 1, "the merged file is one valid request");
    assert_once(&up.delivered(), &expected_ids(0..500));
}

#[test]
fn an_unusable_spool_is_counted_and_nothing_panics() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_a_dir = dir.path().join("spool");
    std::fs::write(&not_a_dir, b"a file where the spool should be").expect("write");
    let down = ScriptedExporter::new();
    down.then(retryable(), 100_000);
    let telemetry = start(&down, SpoolOptions::new(&not_a_dir));
    emit_calls(&telemetry, 0..60);
    telemetry.shutdown(HANG).expect("shutdown");
    let stats = settled(&telemetry);
    assert_eq!(stats.spool_errors, 1, "{stats}");
    assert!(
        stats
            .last_spool_error
            .as_deref()
            .is_some_and(|e| e.contains("spool")),
        "{stats:?}"
    );
    assert_eq!(stats.spooled, 0);
    assert_eq!(stats.dropped(DropReason::RetriesExhausted), 60, "{stats}");
    assert_balanced(&stats);
}

#[test]
fn a_spool_that_breaks_while_running_counts_each_failed_write() {
    let dir = tempfile::tempdir().expect("temp dir");
    let spool_dir = dir.path().join("spool");
    let down = ScriptedExporter::new();
    down.then(retryable(), 100_000);
    let telemetry = start(&down, SpoolOptions::new(&spool_dir));
    emit_calls(&telemetry, 0..50);
    telemetry.force_flush(HANG).expect("flush");
    assert_eq!(telemetry.stats().spooled, 50);
    // The disk goes away under the running pipeline.
    std::fs::remove_dir_all(&spool_dir).expect("remove");
    std::fs::write(&spool_dir, b"now a file").expect("write");
    emit_calls(&telemetry, 50..150);
    telemetry.shutdown(HANG).expect("shutdown");
    let stats = settled(&telemetry);
    assert_eq!(stats.spooled, 50, "{stats}");
    assert_eq!(
        stats.spool_errors, 1,
        "the batches given up during shutdown are written (and fail) together"
    );
    assert_eq!(stats.dropped(DropReason::RetriesExhausted), 100, "{stats}");
    assert_balanced(&stats);
}

#[test]
fn files_past_max_age_are_evicted_and_counted_on_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let down = ScriptedExporter::new();
    down.then(retryable(), 100_000);
    let first = start(&down, SpoolOptions::new(dir.path()));
    emit_calls(&first, 0..100);
    first.shutdown(HANG).expect("shutdown");
    assert_eq!(settled(&first).spooled, 100);

    let up = ScriptedExporter::new();
    let second = start(
        &up,
        SpoolOptions {
            max_age: Duration::ZERO,
            ..SpoolOptions::new(dir.path())
        },
    );
    second.shutdown(HANG).expect("shutdown");
    let stats = settled(&second);
    assert_eq!(stats.spool_dropped, 100, "{stats}");
    assert_eq!(stats.replayed, 0);
    assert!(up.delivered().is_empty());
}

#[test]
fn replay_reports_progress_and_stops_while_the_collector_is_down() {
    let dir = tempfile::tempdir().expect("temp dir");
    let down = ScriptedExporter::new();
    down.then(retryable(), 100_000);
    let first = start(&down, SpoolOptions::new(dir.path()));
    emit_calls(&first, 0..200);
    // Given up while running: one file per batch.
    first.force_flush(HANG).expect("flush");
    first.shutdown(HANG).expect("shutdown");
    assert_eq!(settled(&first).spooled, 200);

    // Still down: the pass stops at the first file and keeps everything.
    let still_down = ScriptedExporter::new();
    still_down.then(retryable(), 100_000);
    let report = replay_spool(
        SpoolOptions::new(dir.path()),
        logs_only(Box::new(still_down)),
        options(),
        &mut |_| {},
    )
    .expect("replay");
    assert!(report.stopped_early, "{report:?}");
    assert_eq!(report.records_delivered, 0);
    assert!(report.last_error.is_some());
    assert_eq!(ready_files(dir.path()), 4, "released, not lost");

    let up = ScriptedExporter::new();
    let mut seen: Vec<ReplayReport> = Vec::new();
    let report = replay_spool(
        SpoolOptions::new(dir.path()),
        logs_only(Box::new(up.clone())),
        options(),
        &mut |progress| seen.push(progress.clone()),
    )
    .expect("replay");
    assert_eq!(report.files_waiting, 4);
    assert_eq!(report.records_delivered, 200);
    let delivered: Vec<u64> = seen.iter().map(|p| p.records_delivered).collect();
    assert_eq!(delivered, [50, 100, 150, 200], "progress after each file");
    assert_once(&up.delivered(), &expected_ids(0..200));
}

/// Spans of one turn with two tool calls.
fn emit_turn(telemetry: &Telemetry) {
    let session = telemetry.session(SessionMetadata::default());
    let turn = session.turn();
    for call in ["t1", "t2"] {
        turn.emit(agent_otel_core::EventData::ToolResult(ToolResult {
            tool_name: "shell",
            call_id: call,
            arguments: "{}",
            duration: Duration::from_millis(4),
            success: true,
            output: "ok",
        }));
    }
    turn.end();
}

fn span_count(exporter: &ScriptedExporter) -> usize {
    use agent_otel_core::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use prost::Message;
    exporter
        .calls()
        .iter()
        .filter(|call| matches!(call.outcome, Some(ExportOutcome::Accepted)))
        .map(|call| {
            ExportTraceServiceRequest::decode(call.wire.clone())
                .expect("decodes")
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum::<usize>()
        })
        .sum()
}

#[test]
fn spans_are_spooled_and_replayed_through_the_traces_exporter() {
    let dir = tempfile::tempdir().expect("temp dir");
    let start_with = |logs: &ScriptedExporter, traces: &ScriptedExporter| {
        Telemetry::with_spool(
            TelemetryOptions::default(),
            SignalExporters {
                logs: Some(Box::new(logs.clone())),
                traces: Some(Box::new(traces.clone())),
                metrics: None,
            },
            options(),
            Some(SpoolOptions::new(dir.path())),
        )
        .expect("pipeline starts")
    };
    let logs = ScriptedExporter::new();
    let traces_down = ScriptedExporter::new();
    traces_down.then(retryable(), 100_000);
    let first = start_with(&logs, &traces_down);
    emit_turn(&first);
    first.shutdown(HANG).expect("shutdown");
    assert!(first.wait_stopped(HANG));
    let spans = first.trace_stats();
    assert!(spans.emitted >= 3, "a turn and two tools: {spans}");
    assert_eq!(spans.spooled, spans.emitted, "{spans}");
    assert_eq!(first.stats().exported, 2, "the logs went through");

    let traces_up = ScriptedExporter::new();
    let second = start_with(&ScriptedExporter::new(), &traces_up);
    second.shutdown(HANG).expect("shutdown");
    assert!(second.wait_stopped(HANG));
    assert_eq!(second.trace_stats().replayed, spans.emitted);
    assert_eq!(span_count(&traces_up) as u64, spans.emitted);
    assert_eq!(ready_files(dir.path()), 0);
}

#[test]
fn metrics_are_spooled_in_protobuf_and_replayed_through_a_json_exporter() {
    use agent_otel_core::WireFormat;
    use agent_otel_core::opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;

    let dir = tempfile::tempdir().expect("temp dir");
    let start_with = |metrics: &ScriptedExporter| {
        Telemetry::with_spool(
            TelemetryOptions::default(),
            SignalExporters {
                logs: None,
                traces: None,
                metrics: Some(Box::new(metrics.clone())),
            },
            options(),
            Some(SpoolOptions::new(dir.path())),
        )
        .expect("pipeline starts")
    };
    let down = ScriptedExporter::new();
    down.then(retryable(), 100_000);
    let first = start_with(&down);
    emit_calls(&first, 0..5);
    first.shutdown(HANG).expect("shutdown");
    assert!(first.wait_stopped(HANG));
    let points = first.metric_stats();
    assert!(
        points.emitted >= 3,
        "session, tool calls, durations: {points}"
    );
    assert_eq!(points.spooled, points.emitted, "{points}");

    let up = ScriptedExporter::with_format(WireFormat::Json);
    let second = start_with(&up);
    second.shutdown(HANG).expect("shutdown");
    assert!(second.wait_stopped(HANG));
    assert_eq!(second.metric_stats().replayed, points.emitted);
    let replayed: Vec<ExportMetricsServiceRequest> = up
        .calls()
        .iter()
        .map(|call| serde_json::from_slice(&call.wire).expect("sent as OTLP JSON"))
        .collect();
    let names: BTreeSet<String> = replayed
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| m.name.clone())
        .collect();
    assert!(names.contains("codex.tool.call"), "{names:?}");
    assert_eq!(ready_files(dir.path()), 0);
}
