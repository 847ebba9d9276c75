//! Hot path: the caller-thread cost of emitting one event, per event kind.
//!
//! * `disabled`: `Telemetry::disabled()` (exporter `none`).
//! * `agent_otel`: a running pipeline whose exporter is
//!   `agent_otel_exporter_noop::DiscardExporter`.
//! * baseline `sdk_batch`: the same attributes as an OpenTelemetry SDK
//!   `LogRecord` emitted through `SdkLoggerProvider` + `BatchLogProcessor`
//!   with a discarding `LogExporter`.
//! * baseline `sdk_tracing_bridge`: the same as a `tracing::event!` (the way
//!   Codex emits) through `opentelemetry-appender-tracing` over an identical
//!   SDK provider.
//!
//! Events are emitted in timed chunks of 4096; between chunks, outside the
//! timed region, the pipeline / provider is flushed, so the queues (65536)
//! never fill: the numbers are emits, not drops. Both sides' workers run
//! concurrently with the caller, as in production. At the end the bench
//! prints the pipeline stats and the SDK exporter's count to show nothing
//! was dropped.
//!
//! `hot_path_contention/<threads>` does the same with 2 and 8 threads
//! emitting at once (a round-robin mix of the five kinds); the time is per
//! emit per thread (the slowest thread's chunk time / chunk size).
//!
//! Allocation counts are in the separate `hot_path_alloc` bench, whose
//! counting global allocator would perturb these timings.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use agent_otel_benches::{
    DiscardLogExporter, KINDS, SdkSession, emit, emit_custom, emit_tracing, machine, metadata,
    mixed_kind, pipeline_options, sdk_provider as make_provider, telemetry, tracing_bridge,
};
use agent_otel_core::{Session, Telemetry};
use agent_otel_exporter_noop::DiscardExporter;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_sdk::logs::SdkLoggerProvider;

const CHUNK: u64 = 4096;
const QUEUE: usize = 65_536;
const FLUSH: Duration = Duration::from_secs(30);

/// Runs `iters` emits as timed chunks with an untimed `flush` after each.
fn chunked(iters: u64, mut emit_chunk: impl FnMut(u64), mut flush: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = Instant::now();
        emit_chunk(n);
        total += start.elapsed();
        flush();
        left -= n;
    }
    total
}

/// `threads` threads each emit `n` events after a common start; returns
/// the slowest thread's time.
fn contended(threads: usize, n: u64, emit_one: &(dyn Fn(usize) + Sync)) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                s.spawn(move || {
                    barrier.wait();
                    let start = Instant::now();
                    for i in 0..n as usize {
                        emit_one(i + t);
                    }
                    start.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}

struct Subjects {
    disabled: Session,
    telemetry: Telemetry,
    session: Session,
    sdk_exporter: DiscardLogExporter,
    sdk_provider: SdkLoggerProvider,
    sdk: SdkSession,
    bridge_exporter: DiscardLogExporter,
    bridge_provider: SdkLoggerProvider,
    /// SDK emits done by the benches (`sdk_batch`, `sdk_tracing_bridge`).
    sdk_emits: [AtomicU64; 2],
}

impl Subjects {
    fn new() -> Self {
        let telemetry = telemetry(
            Box::new(DiscardExporter::new()),
            pipeline_options(QUEUE, Duration::from_secs(1)),
        );
        let session = telemetry.session(metadata());
        let sdk_exporter = DiscardLogExporter::new();
        let sdk_provider = make_provider(sdk_exporter.clone(), QUEUE, Duration::from_secs(1));
        let sdk = SdkSession::new(&sdk_provider);
        let bridge_exporter = DiscardLogExporter::new();
        let bridge_provider = make_provider(bridge_exporter.clone(), QUEUE, Duration::from_secs(1));
        // Codex installs its subscriber globally; so do we. Nothing else in
        // this process emits `tracing` events.
        let _ = tracing::dispatcher::set_global_default(tracing::Dispatch::new(tracing_bridge(
            &bridge_provider,
        )));
        Self {
            disabled: Telemetry::disabled().session(metadata()),
            telemetry,
            session,
            sdk_exporter,
            sdk_provider,
            sdk,
            bridge_exporter,
            bridge_provider,
            sdk_emits: [AtomicU64::new(0), AtomicU64::new(0)],
        }
    }

    fn flush_ours(&self) {
        if let Err(e) = self.telemetry.force_flush(FLUSH) {
            eprintln!("agent-otel flush failed: {e}");
        }
    }

    fn flush_sdk(&self) {
        if let Err(e) = self.sdk_provider.force_flush() {
            eprintln!("sdk flush failed: {e}");
        }
    }

    fn flush_bridge(&self) {
        if let Err(e) = self.bridge_provider.force_flush() {
            eprintln!("sdk (tracing bridge) flush failed: {e}");
        }
    }
}

fn hot_path(c: &mut Criterion, s: &Subjects) {
    let meta = metadata();
    for (kind, name) in KINDS {
        let mut g = c.benchmark_group(format!("hot_path/{name}"));
        g.sample_size(20)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
            .throughput(Throughput::Elements(1));
        g.bench_function("disabled", |b| {
            b.iter(|| emit(black_box(&s.disabled), black_box(kind)));
        });
        g.bench_function("agent_otel", |b| {
            b.iter_custom(|iters| {
                chunked(
                    iters,
                    |n| {
                        for _ in 0..n {
                            emit(black_box(&s.session), black_box(kind));
                        }
                    },
                    || s.flush_ours(),
                )
            });
        });
        g.bench_function("sdk_batch", |b| {
            b.iter_custom(|iters| {
                s.sdk_emits[0].fetch_add(iters, Ordering::Relaxed);
                chunked(
                    iters,
                    |n| {
                        for _ in 0..n {
                            black_box(&s.sdk).emit(black_box(kind));
                        }
                    },
                    || s.flush_sdk(),
                )
            });
        });
        g.bench_function("sdk_tracing_bridge", |b| {
            b.iter_custom(|iters| {
                s.sdk_emits[1].fetch_add(iters, Ordering::Relaxed);
                chunked(
                    iters,
                    |n| {
                        for _ in 0..n {
                            emit_tracing(black_box(&meta), black_box(kind));
                        }
                    },
                    || s.flush_bridge(),
                )
            });
        });
        g.finish();
    }
}

/// A custom event with six typed attributes, next to the SDK emitting the
/// same record.
fn custom_event(c: &mut Criterion, s: &Subjects) {
    let mut g = c.benchmark_group("hot_path/custom_event_6_attributes");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .throughput(Throughput::Elements(1));
    g.bench_function("disabled", |b| {
        b.iter(|| emit_custom(black_box(&s.disabled)));
    });
    g.bench_function("agent_otel", |b| {
        b.iter_custom(|iters| {
            chunked(
                iters,
                |n| {
                    for _ in 0..n {
                        emit_custom(black_box(&s.session));
                    }
                },
                || s.flush_ours(),
            )
        });
    });
    g.bench_function("sdk_batch", |b| {
        b.iter_custom(|iters| {
            s.sdk_emits[0].fetch_add(iters, Ordering::Relaxed);
            chunked(
                iters,
                |n| {
                    for _ in 0..n {
                        black_box(&s.sdk).emit_custom();
                    }
                },
                || s.flush_sdk(),
            )
        });
    });
    g.finish();
}

fn contention(c: &mut Criterion, s: &Subjects) {
    for threads in [2usize, 8] {
        let mut g = c.benchmark_group(format!("hot_path_contention/{threads}_threads"));
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .throughput(Throughput::Elements(threads as u64));
        g.bench_function(BenchmarkId::new("agent_otel", "mixed"), |b| {
            b.iter_custom(|iters| {
                chunked(
                    iters,
                    |n| {
                        contended(threads, n, &|i| emit(&s.session, mixed_kind(i)));
                    },
                    || s.flush_ours(),
                )
            });
        });
        g.bench_function(BenchmarkId::new("sdk_batch", "mixed"), |b| {
            b.iter_custom(|iters| {
                s.sdk_emits[0].fetch_add(iters * threads as u64, Ordering::Relaxed);
                chunked(
                    iters,
                    |n| {
                        contended(threads, n, &|i| s.sdk.emit(mixed_kind(i)));
                    },
                    || s.flush_sdk(),
                )
            });
        });
        g.finish();
    }
}

fn benches(c: &mut Criterion) {
    println!("machine: {}", machine());
    let s = Arc::new(Subjects::new());
    hot_path(c, &s);
    custom_event(c, &s);
    contention(c, &s);
    s.flush_ours();
    s.flush_sdk();
    s.flush_bridge();
    let stats = s.telemetry.stats();
    println!(
        "agent-otel pipeline: {stats}\n  dropped_total = {} (must be 0: every timed emit was enqueued)",
        stats.dropped_total()
    );
    println!(
        "sdk_batch: emitted {} exported {}; sdk_tracing_bridge: emitted {} exported {} (equal: no drops)",
        s.sdk_emits[0].load(Ordering::Relaxed),
        s.sdk_exporter.records(),
        s.sdk_emits[1].load(Ordering::Relaxed),
        s.bridge_exporter.records()
    );
    if let Err(e) = s.telemetry.shutdown(FLUSH) {
        eprintln!("agent-otel shutdown: {e}");
    }
    let _ = s.sdk_provider.shutdown();
    let _ = s.bridge_provider.shutdown();
}

criterion_group!(hot, benches);
criterion_main!(hot);
