//! A 20 MB tool output through OTLP/HTTP and OTLP/gRPC: truncated with a
//! visible marker, the other events of the batch intact, and no request
//! over the configured `max_request_bytes`.

use std::time::Duration;

use agent_otel_collector::Collector;
use agent_otel_core::{EventData, ToolResult};
use agent_otel_integration_tests::{
    Backend, OtelTable, assert_accounted, assert_every_event, assert_requests, emit_every_event,
    full_metadata, script_time, start_from,
};

const MAX_REQUEST_BYTES: usize = 128 * 1024;
const HUGE: usize = 20 * 1024 * 1024;
const MEDIUM: usize = 100 * 1024;
const MEDIUM_COUNT: u64 = 4;

/// Checks `output` is a prefix of `original` plus `…[truncated N bytes]`
/// accounting for the rest, and fits a quarter of the request limit.
fn assert_truncated(output: &str, original: &str, ctx: &str) {
    let (kept, marker) = output
        .rsplit_once("…[truncated ")
        .unwrap_or_else(|| panic!("{ctx}: no truncation marker in {} bytes", output.len()));
    let cut: usize = marker
        .strip_suffix(" bytes]")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{ctx}: malformed marker `…[truncated {marker}`"));
    assert!(
        original.starts_with(kept),
        "{ctx}: the kept part is a prefix"
    );
    assert_eq!(
        kept.len() + cut,
        original.len(),
        "{ctx}: the marker counts the cut bytes"
    );
    assert!(
        kept.len() <= MAX_REQUEST_BYTES / 4,
        "{ctx}: kept {} bytes",
        kept.len()
    );
    assert!(!kept.is_empty(), "{ctx}: something is kept");
}

fn large_payload(backend: Backend) {
    let ctx = backend.label();
    let collector = Collector::start(backend.collector_config()).expect("start the collector");
    let table = OtelTable::pointing_at(backend, backend.endpoint(&collector))
        .deliver_on_shutdown()
        .set("max_request_bytes", MAX_REQUEST_BYTES.to_string());
    let (_dir, resolved, telemetry) = start_from(&table);
    assert_eq!(
        resolved.pipeline.max_request_bytes, MAX_REQUEST_BYTES,
        "{ctx}"
    );

    let session = telemetry.session(full_metadata());
    let expected = emit_every_event(&session);
    // Filler that shows where a cut lands (ASCII, so any byte is a boundary).
    let huge: String = "0123456789abcdef".repeat(HUGE / 16);
    let medium: String = "fedcba9876543210".repeat(MEDIUM / 16);
    let big_time = script_time(10_000);
    session.emit_at(
        big_time,
        EventData::ToolResult(ToolResult {
            tool_name: "shell",
            call_id: "call_huge",
            arguments: r#"{"command":["cat","huge.log"]}"#,
            duration: Duration::from_millis(900),
            success: true,
            output: &huge,
        }),
    );
    for i in 0..MEDIUM_COUNT {
        session.emit_at(
            script_time(20_000 + i),
            EventData::ToolResult(ToolResult {
                tool_name: "shell",
                call_id: "call_medium",
                arguments: "{}",
                duration: Duration::from_millis(1),
                success: true,
                output: &medium,
            }),
        );
    }
    telemetry
        .shutdown(Duration::from_secs(15))
        .unwrap_or_else(|e| panic!("{ctx}: shutdown: {e}"));

    let total = expected.len() as u64 + 1 + MEDIUM_COUNT;
    let stats = telemetry.stats();
    assert_accounted(&stats, ctx);
    assert_eq!(
        (stats.emitted, stats.exported),
        (total, total),
        "{ctx}: {stats}"
    );

    let requests = collector.requests();
    assert_requests(&requests, backend, ctx);
    assert!(
        requests.len() >= 2,
        "{ctx}: ~{} KiB of truncated values must be split into several requests",
        (1 + MEDIUM_COUNT as usize) * MAX_REQUEST_BYTES / 4 / 1024
    );
    for request in &requests {
        assert!(
            request.body_len <= MAX_REQUEST_BYTES,
            "{ctx}: a request of {} bytes exceeds max_request_bytes {MAX_REQUEST_BYTES}",
            request.body_len
        );
    }

    let records = collector.records();
    assert_eq!(records.len() as u64, total, "{ctx}");
    let big_nanos = big_time
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .expect("after the epoch")
        .as_nanos() as u64;
    let (small, large): (Vec<_>, Vec<_>) = records.into_iter().partition(|r| {
        expected
            .iter()
            .any(|e| e.time_unix_nano() == r.record.time_unix_nano)
    });
    assert_every_event(&small, &expected, ctx);

    let huge_record = large
        .iter()
        .find(|r| r.record.time_unix_nano == big_nanos)
        .unwrap_or_else(|| panic!("{ctx}: the 20 MB tool_result arrived"));
    assert_eq!(huge_record.attr_str("call_id"), Some("call_huge"), "{ctx}");
    assert_eq!(huge_record.attr_str("success"), Some("true"), "{ctx}");
    assert_eq!(huge_record.attr_int("duration_ms"), Some(900), "{ctx}");
    assert_eq!(
        huge_record.attr_str("arguments"),
        Some(r#"{"command":["cat","huge.log"]}"#),
        "{ctx}"
    );
    let output = huge_record.attr_str("output").expect("output attribute");
    assert_truncated(output, &huge, ctx);

    let mediums: Vec<_> = large
        .iter()
        .filter(|r| r.attr_str("call_id") == Some("call_medium"))
        .collect();
    assert_eq!(mediums.len() as u64, MEDIUM_COUNT, "{ctx}");
    for record in mediums {
        let output = record.attr_str("output").expect("output attribute");
        assert_truncated(output, &medium, ctx);
    }
}

#[test]
fn twenty_megabyte_output_is_truncated_and_requests_stay_under_the_limit() {
    for backend in Backend::TRANSPORTS {
        large_payload(backend);
    }
}
