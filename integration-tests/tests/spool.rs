//! `[otel.spool]` end to end, for every transport: a collector down for a
//! whole first process and up for the second gets every record once; the
//! spool's size bound evicts the oldest; permanent refusals are not
//! spooled.

use std::collections::BTreeMap;
use std::time::Duration;

use agent_otel_collector::{Collector, Fault};
use agent_otel_core::{DropReason, PipelineStats, Telemetry, ToolResult};
use agent_otel_integration_tests::{
    Backend, ConfigDir, OtelTable, WAIT, assert_resource, full_metadata, it_env, settled_stats,
    start_in,
};

fn emit_calls(telemetry: &Telemetry, ids: std::ops::Range<usize>) {
    let session = telemetry.session(full_metadata());
    for i in ids {
        session.tool_result(ToolResult {
            tool_name: "apply_patch",
            call_id: &format!("call-{i}"),
            arguments: "{\"patch\":\"...\"}",
            duration: Duration::from_millis(7),
            success: i.is_multiple_of(2),
            output: "done",
        });
    }
}

fn assert_balanced(stats: &PipelineStats, context: &str) {
    assert_eq!(
        stats.emitted,
        stats.exported + stats.rejected + stats.dropped_total() + stats.spooled,
        "{context}: emitted == exported + rejected + dropped + spooled ({stats})"
    );
}

/// A config for `backend` at `collector` with a spool in `spool/` and a
/// short retry budget.
fn table(backend: Backend, collector: &Collector) -> OtelTable {
    OtelTable::pointing_at(backend, backend.endpoint(collector))
        .set("retry_budget_ms", "100")
        .set("max_batch_size", "64")
        .set("spool", "{ dir = \"spool\" }")
}

fn start(dir: ConfigDir, table: &OtelTable) -> (ConfigDir, Telemetry) {
    dir.write_config(table);
    let (dir, resolved, telemetry) = start_in(dir, &it_env());
    assert_eq!(
        resolved.spool.as_ref().map(|s| s.dir.clone()),
        Some(dir.path().join("spool")),
        "a relative spool dir resolves against the config folder"
    );
    (dir, telemetry)
}

#[test]
fn a_collector_down_for_the_first_process_gets_everything_from_the_second() {
    for backend in [Backend::HttpBinary, Backend::HttpJson, Backend::Grpc] {
        let context = backend.label();
        let collector = Collector::start(backend.collector_config()).expect("collector");
        collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
        let table = table(backend, &collector);

        let (dir, first) = start(ConfigDir::new(), &table);
        emit_calls(&first, 0..500);
        first.shutdown(WAIT).expect("spooled before the deadline");
        let stats = settled_stats(&first, WAIT);
        assert_eq!(stats.spooled, 500, "{context}: {stats}");
        assert_eq!(
            stats.exported + stats.dropped_total(),
            0,
            "{context}: {stats}"
        );
        assert_balanced(&stats, context);
        assert_eq!(
            collector.record_count(),
            0,
            "{context}: the collector was down"
        );
        assert!(collector.request_count() > 0, "{context}: it was tried");

        collector.set_default_fault(None);
        let (_dir, second) = start(dir, &table);
        emit_calls(&second, 500..520);
        second.shutdown(WAIT).expect("delivered");
        let stats = settled_stats(&second, WAIT);
        assert_eq!(stats.replayed, 500, "{context}: {stats}");
        assert_eq!(stats.exported, 20, "{context}: {stats}");
        assert_balanced(&stats, context);

        let records = collector.records();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for record in &records {
            assert!(record.event_name().ends_with("tool_result"), "{context}");
            assert_resource(record, context);
            let id = record.attr_str("call_id").expect("call_id").to_owned();
            let n: usize = id["call-".len()..].parse().expect("number");
            assert_eq!(record.attr_str("tool_name"), Some("apply_patch"));
            let success = if n.is_multiple_of(2) { "true" } else { "false" };
            assert_eq!(record.attr_str("success"), Some(success), "{context}: {id}");
            *seen.entry(id).or_default() += 1;
        }
        assert_eq!(seen.len(), 520, "{context}: every record arrived");
        assert!(seen.values().all(|n| *n == 1), "{context}: each once");
    }
}

#[test]
fn max_bytes_keeps_the_newest_and_counts_what_it_evicted() {
    let backend = Backend::HttpBinary;
    let collector = Collector::start(backend.collector_config()).expect("collector");
    collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
    // One batch at a time, given up at once: batches reach the spool in
    // the order they were emitted.
    let table = table(backend, &collector)
        .set("spool", "{ dir = \"spool\", max_bytes = 65536 }")
        .set("max_concurrent_exports", "1")
        .set("retry_budget_ms", "0");

    let (dir, first) = start(ConfigDir::new(), &table);
    emit_calls(&first, 0..2_000);
    first.shutdown(WAIT).expect("spooled");
    let stats = settled_stats(&first, WAIT);
    assert_eq!(stats.spooled, 2_000, "{stats}");
    assert!(
        stats.spool_dropped > 0,
        "64 KiB cannot hold 2000 events: {stats}"
    );
    assert_balanced(&stats, "first");
    let evicted = stats.spool_dropped;

    collector.set_default_fault(None);
    let (_dir, second) = start(dir, &table);
    second.shutdown(WAIT).expect("delivered");
    let stats = settled_stats(&second, WAIT);
    assert_eq!(stats.replayed + evicted, 2_000, "{stats}");
    let mut ids: Vec<usize> = collector
        .records()
        .iter()
        .map(|r| {
            r.attr_str("call_id").expect("call_id")["call-".len()..]
                .parse()
                .expect("number")
        })
        .collect();
    ids.sort_unstable();
    let first_kept = 2_000 - usize::try_from(stats.replayed).expect("fits");
    assert_eq!(
        ids,
        (first_kept..2_000).collect::<Vec<_>>(),
        "the oldest went first"
    );
}

#[test]
fn permanent_refusals_are_dropped_not_spooled() {
    for backend in [Backend::HttpBinary, Backend::Grpc] {
        let context = backend.label();
        let collector = Collector::start(backend.collector_config()).expect("collector");
        collector.set_default_fault(Some(Fault::InvalidArgument));
        let (dir, telemetry) = start(ConfigDir::new(), &table(backend, &collector));
        emit_calls(&telemetry, 0..100);
        telemetry.shutdown(WAIT).expect("shutdown");
        let stats = settled_stats(&telemetry, WAIT);
        assert_eq!(
            stats.dropped(DropReason::PermanentFailure),
            100,
            "{context}: {stats}"
        );
        assert_eq!(stats.spooled, 0, "{context}");
        assert_balanced(&stats, context);
        let spool = agent_otel_core::Spool::inspect(agent_otel_core::SpoolOptions::new(
            dir.path().join("spool"),
        ));
        assert_eq!(spool.list().expect("list").len(), 0, "{context}");
    }
}
