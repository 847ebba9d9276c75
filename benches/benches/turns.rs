//! Turns: the host-thread cost of `session.turn()` + `end()` next to the
//! OpenTelemetry SDK starting and ending the same span (`invoke_agent`,
//! with the four attributes agent-otel puts on it, through a
//! `BatchSpanProcessor` with a discarding exporter), and of an emit inside
//! a turn with traces on vs off.
//!
//! As in `hot_path`, work is timed in chunks of 4096 with an untimed flush
//! after each, so the queues never fill; both sides' workers run
//! concurrently with the caller.

use std::hint::black_box;
use std::time::Duration;

use agent_otel_benches::{
    Signals, chunked, discarding, flush, machine, metadata, pipeline_options,
};
use agent_otel_core::{EventData, Session, ToolResult};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter,
};

const QUEUE: usize = 65_536;
const FLUSH: Duration = Duration::from_secs(30);

/// An SDK span exporter that drops what it is given.
#[derive(Debug, Default)]
struct DiscardSpanExporter;

impl SpanExporter for DiscardSpanExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

fn tool_result(session_turn: &agent_otel_core::Turn) {
    session_turn.emit(EventData::ToolResult(ToolResult {
        tool_name: "shell",
        call_id: "call_1",
        arguments: "{\"cmd\":\"ls\"}",
        duration: Duration::from_millis(40),
        success: true,
        output: "Cargo.toml",
    }));
}

fn benches(c: &mut Criterion) {
    println!("machine: {}", machine());
    let options = pipeline_options(QUEUE, Duration::from_secs(1));
    let traced = discarding(
        Signals {
            traces: true,
            ..Signals::default()
        },
        options,
    );
    let untraced = discarding(Signals::default(), options);
    let traced_session: Session = traced.session(metadata());
    let untraced_session: Session = untraced.session(metadata());
    let sdk = SdkTracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::builder(DiscardSpanExporter)
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(QUEUE)
                        .build(),
                )
                .build(),
        )
        .build();
    let tracer = sdk.tracer("codex_otel");
    let m = metadata();

    let mut g = c.benchmark_group("turn/start_end");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    g.bench_function("agent_otel", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |n| {
                    for _ in 0..n {
                        black_box(traced_session.turn()).end();
                    }
                },
                || flush(&traced),
            )
        });
    });
    g.bench_function("sdk_span", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |n| {
                    for _ in 0..n {
                        let mut span = tracer
                            .span_builder("invoke_agent codex-cli")
                            .with_attributes([
                                KeyValue::new("gen_ai.operation.name", "invoke_agent"),
                                KeyValue::new("gen_ai.agent.name", "codex-cli"),
                                KeyValue::new("gen_ai.conversation.id", m.conversation_id.clone()),
                                KeyValue::new("gen_ai.request.model", m.model.clone()),
                            ])
                            .start(&tracer);
                        span.end();
                    }
                },
                || {
                    if let Err(e) = sdk.force_flush() {
                        eprintln!("sdk flush failed: {e}");
                    }
                },
            )
        });
    });
    g.finish();

    let mut g = c.benchmark_group("turn/emit_tool_result_in_turn");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    let traced_turn = traced_session.turn();
    let untraced_turn = untraced_session.turn();
    g.bench_function("traces_on", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |n| (0..n).for_each(|_| tool_result(black_box(&traced_turn))),
                || flush(&traced),
            )
        });
    });
    g.bench_function("traces_off", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |n| (0..n).for_each(|_| tool_result(black_box(&untraced_turn))),
                || flush(&untraced),
            )
        });
    });
    g.finish();
    drop((traced_turn, untraced_turn));
    for (name, t) in [("traced", &traced), ("untraced", &untraced)] {
        let _ = t.shutdown(FLUSH);
        println!(
            "{name}: logs {} | spans {} (dropped must be 0)",
            t.stats(),
            t.trace_stats()
        );
    }
    let _ = sdk.shutdown();
}

criterion_group!(turns, benches);
criterion_main!(turns);
