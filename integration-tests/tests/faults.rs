//! Collector faults over both transports (OTLP/HTTP binary and OTLP/gRPC):
//! the same body per scenario, looped over the transports.

use std::time::{Duration, Instant};

use agent_otel_collector::{Answer, Collector, Fault};
use agent_otel_core::{DropReason, FailureKind, FlushError};
use agent_otel_integration_tests::{
    Backend, HeldPort, OtelTable, WAIT, assert_accounted, assert_every_event, assert_requests,
    emit_every_event, full_metadata, settled_stats, start_from,
};

/// A collector for `backend` and a config pointing at it that delivers
/// everything emitted before `shutdown` in one request.
fn setup(backend: Backend) -> (Collector, OtelTable) {
    let collector = Collector::start(backend.collector_config()).expect("start the collector");
    let table = OtelTable::pointing_at(backend, backend.endpoint(&collector)).deliver_on_shutdown();
    (collector, table)
}

/// (a) 503 / UNAVAILABLE with a 1 s server delay, then success: delivered
/// exactly once, and the retry waited at least the server's delay.
fn unavailable_then_success(backend: Backend) {
    let ctx = backend.label();
    let delay = Duration::from_secs(1);
    let (collector, table) = setup(backend);
    collector.push_fault(
        Fault::Unavailable {
            retry_after: Some(delay),
        },
        1,
    );
    let (_dir, _resolved, telemetry) = start_from(&table);
    let expected = emit_every_event(&telemetry.session(full_metadata()));
    telemetry
        .shutdown(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{ctx}: shutdown: {e}"));

    let requests = collector.requests();
    assert_eq!(requests.len(), 2, "{ctx}: one refused request, one retry");
    assert!(
        matches!(
            requests[0].answered,
            Answer::Fault(Fault::Unavailable { .. })
        ),
        "{ctx}"
    );
    assert_eq!(requests[1].answered, Answer::Accepted, "{ctx}");
    let gap = requests[1]
        .received_at
        .duration_since(requests[0].received_at)
        .unwrap_or_default();
    assert!(
        gap >= delay,
        "{ctx}: retried after {gap:?}, before the server's {delay:?}"
    );
    assert_requests(&requests, backend, ctx);
    assert_every_event(&collector.records(), &expected, ctx);

    let stats = telemetry.stats();
    assert_accounted(&stats, ctx);
    assert_eq!(stats.exported, expected.len() as u64, "{ctx}: {stats}");
    assert_eq!(stats.retries, 1, "{ctx}: {stats}");
    assert_eq!(stats.requests, 2, "{ctx}: {stats}");
    let kind = match backend {
        Backend::Grpc => FailureKind::GrpcStatus,
        _ => FailureKind::HttpStatus,
    };
    assert_eq!(stats.failures(kind), 1, "{ctx}: {stats}");
}

/// (b) 400 / INVALID_ARGUMENT: permanent, one request, events dropped.
fn invalid_argument_is_permanent(backend: Backend) {
    let ctx = backend.label();
    let (collector, table) = setup(backend);
    collector.push_fault(Fault::InvalidArgument, 1);
    let (_dir, _resolved, telemetry) = start_from(&table);
    let expected = emit_every_event(&telemetry.session(full_metadata()));
    telemetry
        .shutdown(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{ctx}: shutdown: {e}"));

    assert_eq!(collector.request_count(), 1, "{ctx}: never retried");
    assert_eq!(collector.record_count(), 0, "{ctx}");
    let stats = telemetry.stats();
    assert_accounted(&stats, ctx);
    assert_eq!(stats.exported, 0, "{ctx}: {stats}");
    assert_eq!(
        stats.dropped(DropReason::PermanentFailure),
        expected.len() as u64,
        "{ctx}: {stats}"
    );
    assert_eq!((stats.requests, stats.retries), (1, 0), "{ctx}: {stats}");
}

/// (c) The collector starts 2 s after the host: nothing is lost, because
/// the outage is shorter than the retry budget (10 s in the config).
fn collector_starts_late(backend: Backend) {
    let ctx = backend.label();
    // Connections are refused until the late collector takes the port over.
    let held = HeldPort::new();
    let port = held.port();
    let table = OtelTable::pointing_at(backend, backend.endpoint_at("http", "127.0.0.1", port))
        .deliver_on_shutdown()
        .set("retry_budget_ms", "10000")
        .set("retry_initial_backoff_ms", "50")
        .set("retry_max_backoff_ms", "250");
    let (_dir, _resolved, telemetry) = start_from(&table);
    let expected = emit_every_event(&telemetry.session(full_metadata()));

    let late = std::thread::spawn(move || {
        // The one deliberate sleep: the outage being simulated.
        std::thread::sleep(Duration::from_secs(2));
        Collector::start(backend.collector_config_at(port)).expect("start the late collector")
    });
    let result = telemetry.shutdown(Duration::from_secs(15));
    let collector = late.join().expect("the collector thread");
    result.unwrap_or_else(|e| panic!("{ctx}: shutdown: {e} ({})", telemetry.stats()));

    assert_every_event(&collector.records(), &expected, ctx);
    assert_requests(&collector.requests(), backend, ctx);
    let stats = telemetry.stats();
    assert_accounted(&stats, ctx);
    assert_eq!(stats.exported, expected.len() as u64, "{ctx}: {stats}");
    assert!(
        stats.retries >= 1,
        "{ctx}: the first attempts must have failed: {stats}"
    );
    assert!(
        stats.failures(FailureKind::Connection) >= 1,
        "{ctx}: {stats}"
    );
}

/// (d) Partial success: counted as rejected, not retried.
fn partial_success_is_counted(backend: Backend) {
    let ctx = backend.label();
    let (collector, table) = setup(backend);
    collector.push_fault(
        Fault::PartialSuccess {
            rejected: 2,
            message: "2 records over quota".to_owned(),
        },
        1,
    );
    let (_dir, _resolved, telemetry) = start_from(&table);
    let expected = emit_every_event(&telemetry.session(full_metadata()));
    telemetry
        .shutdown(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{ctx}: shutdown: {e}"));

    assert_eq!(collector.request_count(), 1, "{ctx}: never retried");
    let stats = telemetry.stats();
    assert_accounted(&stats, ctx);
    assert_eq!(stats.rejected, 2, "{ctx}: {stats}");
    assert_eq!(stats.exported, expected.len() as u64 - 2, "{ctx}: {stats}");
    assert_eq!(stats.dropped_total(), 0, "{ctx}: {stats}");
    assert_eq!((stats.requests, stats.retries), (1, 0), "{ctx}: {stats}");
}

/// (e) A collector that never answers: `shutdown` returns by its deadline
/// with `Timeout`, and what it cut is counted as dropped.
fn never_answer_shutdown_returns(backend: Backend) {
    let ctx = backend.label();
    let (collector, table) = setup(backend);
    collector.push_fault(Fault::NeverAnswer, 1);
    let (_dir, _resolved, telemetry) = start_from(&table);
    let expected = emit_every_event(&telemetry.session(full_metadata()));

    let started = Instant::now();
    let result = telemetry.shutdown(Duration::from_millis(500));
    let took = started.elapsed();
    assert_eq!(result, Err(FlushError::Timeout), "{ctx}");
    assert!(
        took < Duration::from_secs(10),
        "{ctx}: shutdown took {took:?}"
    );

    // The request did arrive; it is held open, so nothing counts as received.
    collector
        .wait_for_requests(1, WAIT)
        .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    assert_eq!(collector.record_count(), 0, "{ctx}");
    let stats = settled_stats(&telemetry, WAIT);
    assert_accounted(&stats, ctx);
    assert_eq!(stats.exported, 0, "{ctx}: {stats}");
    assert_eq!(
        stats.dropped(DropReason::ShutdownDeadline),
        expected.len() as u64,
        "{ctx}: {stats}"
    );
}

#[test]
fn unavailable_with_server_delay_then_success() {
    for backend in Backend::TRANSPORTS {
        unavailable_then_success(backend);
    }
}

#[test]
fn invalid_argument_is_sent_once_and_dropped() {
    for backend in Backend::TRANSPORTS {
        invalid_argument_is_permanent(backend);
    }
}

#[test]
fn collector_starting_two_seconds_late_loses_nothing() {
    for backend in Backend::TRANSPORTS {
        collector_starts_late(backend);
    }
}

#[test]
fn partial_success_is_rejected_not_retried() {
    for backend in Backend::TRANSPORTS {
        partial_success_is_counted(backend);
    }
}

#[test]
fn never_answering_collector_cannot_block_shutdown() {
    for backend in Backend::TRANSPORTS {
        never_answer_shutdown_returns(backend);
    }
}
