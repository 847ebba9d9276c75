//! Hot path, allocations: heap allocations (and bytes) per emit on the
//! caller thread, per event kind, for
//!
//! * `disabled`: `Telemetry::disabled()` (target: zero);
//! * `agent_otel`: a running pipeline;
//! * baseline `sdk_batch`: an SDK `LogRecord` through `BatchLogProcessor`;
//! * baseline `sdk_tracing_bridge`: a `tracing` event through
//!   `opentelemetry-appender-tracing`.
//!
//! A counting global allocator (`stats_alloc`) counts every thread, so each
//! side's export worker is first parked inside its exporter (a closed gate)
//! and only then are 10,000 events emitted and counted: what is counted is
//! the caller thread's work only. For agent-otel the figure includes the
//! queue's share of a new channel block (tokio's mpsc allocates one block
//! per 32 queued events while the worker is not draining).
//!
//! Not a timing benchmark (the counting allocator would perturb timings):
//! it prints a table and exits.

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use agent_otel_benches::{
    DiscardLogExporter, Gate, GatedExporter, KINDS, SdkSession, emit, emit_custom, emit_tracing,
    metadata, sdk_provider, telemetry, tracing_bridge,
};
use agent_otel_core::{EventKind, PipelineOptions, Session, Telemetry};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const N: u64 = 10_000;
const QUEUE: usize = 65_536;

/// (allocations, bytes) per call of `f`, over `N` calls.
fn per_emit(mut f: impl FnMut()) -> (f64, f64) {
    let region = Region::new(GLOBAL);
    for _ in 0..N {
        f();
    }
    let change = region.change();
    (
        change.allocations as f64 / N as f64,
        change.bytes_allocated as f64 / N as f64,
    )
}

fn ours(emit_one: impl Fn(&Session)) -> (f64, f64) {
    let gate = Gate::new();
    gate.close();
    let options = PipelineOptions {
        queue_capacity: QUEUE,
        max_batch_size: 1,
        batch_timeout: Duration::from_secs(60),
        ..PipelineOptions::default()
    };
    let t = telemetry(Box::new(GatedExporter(gate.clone())), options);
    let session = t.session(metadata());
    emit_one(&session);
    gate.wait_arrivals(1); // the worker is now parked in the exporter
    let result = per_emit(|| emit_one(black_box(&session)));
    gate.open();
    let _ = t.shutdown(Duration::from_secs(10));
    result
}

/// How the SDK side emits in [`sdk`].
#[derive(Clone, Copy)]
enum SdkEmit {
    Record(EventKind),
    Bridge(EventKind),
    Custom,
}

fn sdk(how: SdkEmit) -> (f64, f64) {
    let gate = Gate::new();
    gate.close();
    let exporter = DiscardLogExporter::gated(gate.clone());
    let provider = sdk_provider(exporter, QUEUE, Duration::from_secs(60));
    let session = SdkSession::new(&provider);
    let meta = metadata();
    let dispatch = tracing::Dispatch::new(tracing_bridge(&provider));
    let result = tracing::dispatcher::with_default(&dispatch, || {
        // 512 records fill a batch: the worker exports it and parks.
        for _ in 0..512 {
            session.emit_custom();
        }
        gate.wait_arrivals(1);
        match how {
            SdkEmit::Record(kind) => per_emit(|| black_box(&session).emit(kind)),
            SdkEmit::Bridge(kind) => per_emit(|| emit_tracing(black_box(&meta), kind)),
            SdkEmit::Custom => per_emit(|| black_box(&session).emit_custom()),
        }
    });
    gate.open();
    let _ = provider.shutdown();
    result
}

fn main() {
    // `cargo bench -- <filter>` passes arguments; this bench has no options.
    println!("hot_path_alloc: heap allocations per emit on the caller thread (N = {N})");
    println!(
        "| event | disabled | agent_otel | sdk_batch (baseline) | sdk_tracing_bridge (baseline) |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let disabled = Telemetry::disabled().session(metadata());
    for (kind, name) in KINDS {
        let (da, db) = per_emit(|| emit(black_box(&disabled), kind));
        let (oa, ob) = ours(|session| emit(session, kind));
        let (sa, sb) = sdk(SdkEmit::Record(kind));
        let (ta, tb) = sdk(SdkEmit::Bridge(kind));
        println!(
            "| {name} | {da:.2} allocs / {db:.0} B | {oa:.2} allocs / {ob:.0} B | {sa:.2} allocs / {sb:.0} B | {ta:.2} allocs / {tb:.0} B |"
        );
    }
    let (da, db) = per_emit(|| emit_custom(black_box(&disabled)));
    let (oa, ob) = ours(emit_custom);
    let (sa, sb) = sdk(SdkEmit::Custom);
    println!(
        "| custom event (6 attributes) | {da:.2} allocs / {db:.0} B | {oa:.2} allocs / {ob:.0} B | {sa:.2} allocs / {sb:.0} B | – |"
    );
}
