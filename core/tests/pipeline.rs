//! Pipeline behaviour against the scripted in-memory exporter: accounting,
//! retries, deadlines, and the three runtime contexts a host may call from.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use agent_otel_core::testing::{ScriptedAnswer, ScriptedExporter};
use agent_otel_core::{
    DropReason, ExportError, ExportOutcome, FailureKind, FlushError, PipelineOptions,
    PipelineStats, RetryPolicy, SessionMetadata, Telemetry, TelemetryOptions, ToolResult,
};

/// Generous bound for "returns by its deadline": far above the deadlines
/// used here, far below a hang.
const HANG: Duration = Duration::from_secs(20);

fn start(exporter: &ScriptedExporter, options: PipelineOptions) -> Telemetry {
    Telemetry::new(
        TelemetryOptions::default(),
        Box::new(exporter.clone()),
        options,
    )
    .expect("pipeline starts")
}

/// A batch timer that never fires within a test: batches are cut only by
/// count, size, `force_flush` or `shutdown`, so the few events a test emits
/// before shutting down land in one batch however slow the machine is (a
/// 1 s timer could cut them into two on a loaded machine).
const NO_TIMER: Duration = Duration::from_secs(3600);

/// Quick retries, and one batch per shutdown (see [`NO_TIMER`]).
fn fast_retry() -> PipelineOptions {
    PipelineOptions {
        retry: RetryPolicy {
            initial_backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            budget: Duration::from_secs(30),
        },
        batch_timeout: NO_TIMER,
        ..PipelineOptions::default()
    }
}

fn emit_prompts(telemetry: &Telemetry, n: usize) {
    let session = telemetry.session(SessionMetadata::default());
    for _ in 0..n {
        session.user_prompt("hello");
    }
}

fn assert_balanced(stats: &PipelineStats) {
    assert_eq!(
        stats.emitted,
        stats.exported + stats.rejected + stats.dropped_total() + stats.in_flight(),
        "{stats}"
    );
}

fn connection_error() -> ExportError {
    ExportError::new(FailureKind::Connection, "connection refused")
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    let exporter = ScriptedExporter::new();
    exporter.then(ScriptedAnswer::Hang, 1_000);
    let telemetry = start(
        &exporter,
        PipelineOptions {
            queue_capacity: 4,
            max_batch_size: 1,
            max_concurrent_exports: 1,
            ..PipelineOptions::default()
        },
    );
    emit_prompts(&telemetry, 1);
    // The only export slot now holds that event in a hung export.
    assert_eq!(exporter.wait_for_calls(1, HANG), 1);
    emit_prompts(&telemetry, 20);
    let stats = telemetry.stats();
    assert_eq!(stats.emitted, 21);
    // Held: the hung event, the 4 queued, and at most one the worker took
    // before it blocked on the export slot. Everything else was dropped.
    let dropped = stats.dropped(DropReason::QueueFull);
    assert!((15..=16).contains(&dropped), "{stats}");
    let held = 21 - dropped;
    assert_eq!(stats.in_flight(), held);

    let result = telemetry.shutdown(Duration::from_millis(200));
    assert_eq!(result, Err(FlushError::Timeout));
    assert!(telemetry.wait_stopped(HANG), "worker stops after shutdown");
    let stats = telemetry.stats();
    assert_eq!(stats.dropped(DropReason::ShutdownDeadline), held, "{stats}");
    assert_eq!(stats.in_flight(), 0);
    assert_balanced(&stats);
}

#[test]
fn retryable_failure_then_success_delivers_exactly_once() {
    let exporter = ScriptedExporter::new();
    exporter.then(
        ScriptedAnswer::Outcome(ExportOutcome::retryable(connection_error())),
        2,
    );
    let telemetry = start(&exporter, fast_retry());
    emit_prompts(&telemetry, 3);
    telemetry.shutdown(HANG).expect("delivered before deadline");

    assert_eq!(exporter.call_count(), 3);
    assert_eq!(exporter.delivered().len(), 3, "each record delivered once");
    let stats = telemetry.stats();
    assert_eq!(stats.exported, 3);
    assert_eq!(stats.retries, 2);
    assert_eq!(stats.requests, 3);
    assert_eq!(stats.failures(FailureKind::Connection), 2);
    assert_eq!(stats.dropped_total(), 0);
    assert_eq!(stats.last_error, Some(connection_error()));
    assert_balanced(&stats);
}

#[test]
fn permanent_failure_is_not_retried() {
    let exporter = ScriptedExporter::new();
    let error = ExportError::with_status(FailureKind::HttpStatus, 400, "bad request");
    exporter.then(ScriptedAnswer::Outcome(ExportOutcome::permanent(error)), 1);
    let telemetry = start(&exporter, fast_retry());
    emit_prompts(&telemetry, 4);
    telemetry.shutdown(HANG).expect("shutdown completes");

    assert_eq!(exporter.call_count(), 1);
    let stats = telemetry.stats();
    assert_eq!(stats.dropped(DropReason::PermanentFailure), 4);
    assert_eq!(stats.failures(FailureKind::HttpStatus), 1);
    assert_eq!(stats.retries, 0);
    assert_eq!(stats.exported, 0);
    assert_balanced(&stats);
}

#[test]
fn partial_success_counts_rejected_and_is_not_retried() {
    let exporter = ScriptedExporter::new();
    exporter.then(
        ScriptedAnswer::Outcome(ExportOutcome::PartiallyRejected {
            rejected: 2,
            message: "2 records too old".into(),
        }),
        1,
    );
    let telemetry = start(&exporter, fast_retry());
    emit_prompts(&telemetry, 5);
    telemetry.shutdown(HANG).expect("shutdown completes");
    assert_eq!(exporter.call_count(), 1);
    let stats = telemetry.stats();
    assert_eq!((stats.exported, stats.rejected), (3, 2));
    assert_balanced(&stats);
}

#[test]
fn server_given_delay_is_honoured() {
    let exporter = ScriptedExporter::new();
    let delay = Duration::from_millis(300);
    exporter.then(
        ScriptedAnswer::Outcome(ExportOutcome::Retryable {
            error: ExportError::with_status(FailureKind::HttpStatus, 503, "unavailable"),
            retry_after: Some(delay),
        }),
        1,
    );
    let telemetry = start(&exporter, fast_retry());
    emit_prompts(&telemetry, 1);
    telemetry.shutdown(HANG).expect("delivered");
    let calls = exporter.calls();
    assert_eq!(calls.len(), 2);
    assert!(
        calls[1].at.duration_since(calls[0].at) >= delay,
        "retried before the server's delay"
    );
    assert_eq!(telemetry.stats().exported, 1);
}

#[test]
fn server_delay_beyond_the_retry_budget_drops_at_once() {
    let exporter = ScriptedExporter::new();
    exporter.then(
        ScriptedAnswer::Outcome(ExportOutcome::Retryable {
            error: ExportError::with_status(FailureKind::HttpStatus, 429, "slow down"),
            retry_after: Some(Duration::from_secs(3600)),
        }),
        1,
    );
    let telemetry = start(&exporter, fast_retry());
    emit_prompts(&telemetry, 2);
    telemetry.shutdown(HANG).expect("nothing left to deliver");
    assert_eq!(exporter.call_count(), 1);
    assert_eq!(telemetry.stats().dropped(DropReason::RetriesExhausted), 2);
}

#[test]
fn retries_stop_when_the_budget_is_spent() {
    let exporter = ScriptedExporter::new();
    exporter.then(
        ScriptedAnswer::Outcome(ExportOutcome::retryable(connection_error())),
        10_000,
    );
    let mut options = fast_retry();
    options.retry.budget = Duration::from_millis(100);
    let telemetry = start(&exporter, options);
    emit_prompts(&telemetry, 3);
    telemetry
        .shutdown(HANG)
        .expect("budget ends before deadline");
    let stats = telemetry.stats();
    assert_eq!(stats.dropped(DropReason::RetriesExhausted), 3, "{stats}");
    assert!(stats.retries >= 1);
    assert_eq!(stats.requests, stats.retries + 1);
    assert_balanced(&stats);
}

#[test]
fn attempt_that_times_out_is_retried() {
    let exporter = ScriptedExporter::new();
    exporter.then(ScriptedAnswer::Hang, 1);
    let mut options = fast_retry();
    options.request_timeout = Duration::from_millis(50);
    let telemetry = start(&exporter, options);
    emit_prompts(&telemetry, 2);
    telemetry.shutdown(HANG).expect("delivered on retry");
    let stats = telemetry.stats();
    assert_eq!(stats.exported, 2);
    assert_eq!(stats.failures(FailureKind::Timeout), 1);
    assert_eq!(exporter.delivered().len(), 2);
}

#[test]
fn each_exporter_attempt_is_cut_at_its_own_timeout() {
    // The pipeline's timeout is an hour: only the exporter's own 50 ms can
    // end the hanging attempt before the flush gives up.
    let exporter = ScriptedExporter::new().with_request_timeout(Duration::from_millis(50));
    exporter.then(ScriptedAnswer::Hang, 1);
    let mut options = fast_retry();
    options.request_timeout = Duration::from_secs(3600);
    let telemetry = start(&exporter, options);
    emit_prompts(&telemetry, 2);
    telemetry.force_flush(HANG).expect("delivered on retry");
    let stats = telemetry.stats();
    assert_eq!(stats.exported, 2);
    assert_eq!(stats.failures(FailureKind::Timeout), 1);
    let error = stats.last_error.expect("the timeout was recorded");
    assert!(error.to_string().contains("50ms"), "{error}");
    telemetry.shutdown(HANG).expect("shutdown");
}

#[test]
fn shutdown_returns_by_its_deadline_when_the_exporter_never_answers() {
    let exporter = ScriptedExporter::new();
    exporter.then(ScriptedAnswer::Hang, 1_000);
    let telemetry = start(&exporter, PipelineOptions::default());
    emit_prompts(&telemetry, 7);
    let started = Instant::now();
    let result = telemetry.shutdown(Duration::from_millis(300));
    assert!(started.elapsed() < HANG);
    assert_eq!(result, Err(FlushError::Timeout));
    assert!(telemetry.wait_stopped(HANG), "worker stops after shutdown");
    let stats = telemetry.stats();
    assert_eq!(stats.dropped(DropReason::ShutdownDeadline), 7, "{stats}");
    assert_balanced(&stats);

    emit_prompts(&telemetry, 1);
    assert_eq!(telemetry.stats().dropped(DropReason::AfterShutdown), 1);
    assert_eq!(telemetry.shutdown(HANG), Err(FlushError::ShutDown));
}

#[test]
fn shutdown_during_a_long_backoff_is_not_delayed_by_it() {
    let exporter = ScriptedExporter::new();
    exporter.then(
        ScriptedAnswer::Outcome(ExportOutcome::Retryable {
            error: connection_error(),
            retry_after: Some(Duration::from_secs(20)),
        }),
        1,
    );
    let telemetry = start(&exporter, PipelineOptions::default());
    emit_prompts(&telemetry, 1);
    // The export now waits out a 20 s server delay: the flush cannot finish.
    assert_eq!(
        telemetry.force_flush(Duration::from_millis(50)),
        Err(FlushError::Timeout)
    );
    assert_eq!(exporter.wait_for_calls(1, HANG), 1);
    let started = Instant::now();
    assert_eq!(
        telemetry.shutdown(Duration::from_millis(200)),
        Err(FlushError::Timeout)
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(telemetry.wait_stopped(HANG), "worker stops after shutdown");
    assert_eq!(telemetry.stats().dropped(DropReason::ShutdownDeadline), 1);
}

#[test]
fn force_flush_delivers_without_waiting_for_the_batch_timer() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(
        &exporter,
        PipelineOptions {
            batch_timeout: NO_TIMER,
            ..PipelineOptions::default()
        },
    );
    emit_prompts(&telemetry, 3);
    telemetry.force_flush(HANG).expect("flushed");
    assert_eq!(exporter.call_count(), 1);
    assert_eq!(telemetry.stats().exported, 3);
    emit_prompts(&telemetry, 2);
    telemetry.force_flush(HANG).expect("flushed again");
    assert_eq!(telemetry.stats().exported, 5);
    telemetry.shutdown(HANG).expect("shutdown");
}

#[test]
fn batches_are_cut_by_count() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(
        &exporter,
        PipelineOptions {
            max_batch_size: 10,
            batch_timeout: NO_TIMER,
            ..PipelineOptions::default()
        },
    );
    emit_prompts(&telemetry, 25);
    telemetry.shutdown(HANG).expect("shutdown");
    let sizes: Vec<usize> = exporter
        .calls()
        .iter()
        .map(|c| c.records().count())
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), 25);
    assert!(sizes.iter().all(|&n| n <= 10), "{sizes:?}");
}

#[test]
fn full_batches_go_out_without_waiting_for_the_timer() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(
        &exporter,
        PipelineOptions {
            max_batch_size: 10,
            batch_timeout: NO_TIMER,
            ..PipelineOptions::default()
        },
    );
    emit_prompts(&telemetry, 25);
    // Two full batches must leave long before the one-hour timer.
    assert!(exporter.wait_for_calls(2, HANG) >= 2);
    let sizes: Vec<usize> = exporter
        .calls()
        .iter()
        .map(|c| c.records().count())
        .collect();
    assert_eq!(&sizes[..2], &[10, 10]);
    telemetry.shutdown(HANG).expect("shutdown");
    assert_eq!(telemetry.stats().exported, 25);
}

#[test]
fn exports_run_concurrently_up_to_the_limit() {
    let exporter = ScriptedExporter::new();
    // The first two exports hang: with two slots the third batch can only
    // go out once the shutdown deadline frees them.
    exporter.then(ScriptedAnswer::Hang, 2);
    let telemetry = start(
        &exporter,
        PipelineOptions {
            max_batch_size: 1,
            max_concurrent_exports: 2,
            ..PipelineOptions::default()
        },
    );
    emit_prompts(&telemetry, 3);
    assert_eq!(exporter.wait_for_calls(2, HANG), 2, "two exports in flight");
    assert_eq!(exporter.call_count(), 2, "the third waits for a slot");
    assert_eq!(
        telemetry.shutdown(Duration::from_millis(200)),
        Err(FlushError::Timeout)
    );
    assert!(telemetry.wait_stopped(HANG));
    assert_eq!(exporter.call_count(), 2, "the third never got a slot");
    let stats = telemetry.stats();
    assert_eq!(stats.dropped(DropReason::ShutdownDeadline), 3, "{stats}");
    assert_balanced(&stats);
}

#[test]
fn oversized_batches_are_split_and_huge_values_truncated() {
    let exporter = ScriptedExporter::new();
    let max_request_bytes = 64 * 1024;
    let telemetry = start(
        &exporter,
        PipelineOptions {
            max_request_bytes,
            // Only the size limit may split the batch.
            batch_timeout: NO_TIMER,
            ..PipelineOptions::default()
        },
    );
    let session = telemetry.session(SessionMetadata::default());
    let medium = "m".repeat(10_000);
    let huge = "h".repeat(20 * 1024 * 1024);
    for (i, output) in [&medium, &medium, &huge, &medium, &medium, &medium, &medium]
        .into_iter()
        .enumerate()
    {
        session.tool_result(ToolResult {
            tool_name: "shell",
            call_id: &format!("call_{i}"),
            arguments: "{}",
            duration: Duration::from_millis(1),
            success: true,
            output,
        });
    }
    telemetry.shutdown(HANG).expect("delivered");
    let calls = exporter.calls();
    assert!(calls.len() > 1, "batch was split");
    let mut outputs = std::collections::BTreeMap::new();
    for call in &calls {
        let size = prost::Message::encoded_len(&call.request);
        assert!(size <= max_request_bytes, "request of {size} bytes");
        for record in call.records() {
            let text = |key: &str| {
                record.attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
                    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                        Some(agent_otel_core::opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) => Some(s.clone()),
                        _ => None,
                    }
                })
            };
            let call_id = text("call_id").expect("call_id");
            let output = text("output").expect("output");
            assert!(outputs.insert(call_id, output).is_none(), "delivered twice");
        }
    }
    let huge = &outputs["call_2"];
    assert!(huge.starts_with("hhhh"), "the kept prefix");
    assert!(huge.contains("…[truncated "), "marker present");
    assert!(huge.ends_with(" bytes]"), "marker present");
    assert!(huge.len() < max_request_bytes, "{} bytes kept", huge.len());
    assert_eq!(outputs["call_0"], medium, "a medium output arrives whole");
    let mut call_ids: Vec<String> = outputs.keys().cloned().collect();
    call_ids.sort();
    let expected: Vec<String> = (0..7).map(|i| format!("call_{i}")).collect();
    assert_eq!(call_ids, expected, "every event delivered exactly once");
    assert_eq!(telemetry.stats().exported, 7);
}

#[test]
fn accounting_holds_for_100k_events_from_4_threads() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(
        &exporter,
        PipelineOptions {
            queue_capacity: 1024,
            ..PipelineOptions::default()
        },
    );
    let done = Arc::new(AtomicBool::new(false));
    let observer = {
        let telemetry = telemetry.clone();
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut snapshots = 0u32;
            while !done.load(Ordering::Acquire) {
                let stats = telemetry.stats();
                assert!(
                    stats.emitted >= stats.exported + stats.rejected + stats.dropped_total(),
                    "{stats}"
                );
                snapshots += 1;
                std::thread::yield_now();
            }
            snapshots
        })
    };
    let emitters: Vec<_> = (0..4)
        .map(|_| {
            let telemetry = telemetry.clone();
            std::thread::spawn(move || emit_prompts(&telemetry, 25_000))
        })
        .collect();
    for emitter in emitters {
        emitter.join().expect("emitter thread");
    }
    telemetry.shutdown(HANG).expect("shutdown");
    done.store(true, Ordering::Release);
    assert!(observer.join().expect("observer thread") > 0);

    let stats = telemetry.stats();
    assert_eq!(stats.emitted, 100_000);
    assert_eq!(stats.in_flight(), 0, "{stats}");
    assert_eq!(
        stats.exported + stats.dropped(DropReason::QueueFull),
        100_000,
        "{stats}"
    );
    assert_eq!(exporter.delivered().len() as u64, stats.exported);
}

fn round_trip_in_current_context() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(&exporter, PipelineOptions::default());
    emit_prompts(&telemetry, 3);
    telemetry.force_flush(HANG).expect("flush");
    assert_eq!(telemetry.stats().exported, 3);
    emit_prompts(&telemetry, 2);
    telemetry.shutdown(HANG).expect("shutdown");
    assert_eq!(exporter.delivered().len(), 5);
}

#[test]
fn works_without_a_runtime() {
    round_trip_in_current_context();
}

#[tokio::test(flavor = "current_thread")]
async fn works_inside_a_current_thread_runtime() {
    round_trip_in_current_context();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn works_inside_a_multi_thread_runtime() {
    round_trip_in_current_context();
}

#[tokio::test(flavor = "current_thread")]
async fn dropping_the_last_handle_inside_a_runtime_flushes() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(&exporter, PipelineOptions::default());
    emit_prompts(&telemetry, 4);
    drop(telemetry);
    assert_eq!(exporter.delivered().len(), 4);
}

#[test]
fn retry_backoff_doubles_with_jitter_and_caps() {
    let policy = RetryPolicy::default();
    for retry in 0..12 {
        let full = (Duration::from_millis(100) * 2u32.pow(retry.min(10))).min(policy.max_backoff);
        let delay = policy.backoff(retry);
        assert!(
            delay >= full / 2 && delay <= full,
            "retry {retry}: {delay:?}"
        );
    }
}

#[test]
fn an_absurd_server_delay_drops_the_batch_instead_of_panicking() {
    let exporter = ScriptedExporter::new();
    exporter.then(
        ScriptedAnswer::Outcome(ExportOutcome::Retryable {
            error: ExportError::with_status(FailureKind::HttpStatus, 503, "later"),
            retry_after: Some(Duration::MAX),
        }),
        1,
    );
    let telemetry = start(&exporter, fast_retry());
    emit_prompts(&telemetry, 2);
    telemetry.shutdown(HANG).expect("nothing left to deliver");
    assert_eq!(telemetry.stats().dropped(DropReason::RetriesExhausted), 2);
    assert_balanced(&telemetry.stats());
}

#[test]
fn shutdown_with_an_unbounded_timeout_returns_once_delivered() {
    let exporter = ScriptedExporter::new();
    let telemetry = start(&exporter, PipelineOptions::default());
    emit_prompts(&telemetry, 3);
    assert_eq!(telemetry.shutdown(Duration::MAX), Ok(()));
    assert_eq!(telemetry.stats().exported, 3);
}

/// An exporter that panics on every call.
#[derive(Debug)]
struct PanickingExporter;

#[async_trait::async_trait]
impl agent_otel_core::Exporter for PanickingExporter {
    async fn export(&self, _batch: &agent_otel_core::Batch) -> ExportOutcome {
        panic!("exporter bug");
    }

    fn name(&self) -> &'static str {
        "panicking"
    }
}

#[test]
fn a_panicking_exporter_fails_its_batch_and_the_pipeline_goes_on() {
    let telemetry = Telemetry::new(
        TelemetryOptions::default(),
        Box::new(PanickingExporter),
        PipelineOptions::default(),
    )
    .expect("pipeline starts");
    emit_prompts(&telemetry, 2);
    telemetry
        .force_flush(HANG)
        .expect("the worker survives the panic");
    emit_prompts(&telemetry, 1);
    telemetry.shutdown(HANG).expect("shutdown completes");
    let stats = telemetry.stats();
    assert_eq!(stats.dropped(DropReason::PermanentFailure), 3, "{stats}");
    assert_eq!(stats.failures(FailureKind::Exporter), 2, "{stats}");
    assert_balanced(&stats);
}

#[test]
fn out_of_range_options_are_refused() {
    for options in [
        PipelineOptions {
            queue_capacity: 0,
            ..PipelineOptions::default()
        },
        PipelineOptions {
            queue_capacity: agent_otel_core::pipeline::MAX_QUEUE_CAPACITY + 1,
            ..PipelineOptions::default()
        },
        PipelineOptions {
            max_batch_size: agent_otel_core::pipeline::MAX_BATCH_SIZE + 1,
            ..PipelineOptions::default()
        },
    ] {
        let error = Telemetry::new(
            TelemetryOptions::default(),
            Box::new(ScriptedExporter::new()),
            options,
        )
        .expect_err("refused");
        assert!(error.to_string().contains("must be between"), "{error}");
    }
}

#[test]
fn a_record_of_many_long_strings_still_fits_the_request_limit() {
    let exporter = ScriptedExporter::new();
    let max_request_bytes = 8 * 1024;
    let telemetry = start(
        &exporter,
        PipelineOptions {
            max_request_bytes,
            ..PipelineOptions::default()
        },
    );
    let long = "l".repeat(50_000);
    let session = telemetry.session(SessionMetadata {
        conversation_id: long.clone(),
        model: long.clone(),
        ..SessionMetadata::default()
    });
    session.tool_result(ToolResult {
        tool_name: &long,
        call_id: &long,
        arguments: &long,
        duration: Duration::from_millis(1),
        success: true,
        output: &long,
    });
    telemetry.shutdown(HANG).expect("delivered");
    let calls = exporter.calls();
    assert_eq!(calls.len(), 1);
    let size = prost::Message::encoded_len(&calls[0].request);
    assert!(size <= max_request_bytes, "request of {size} bytes");
    assert_eq!(telemetry.stats().exported, 1);
}
