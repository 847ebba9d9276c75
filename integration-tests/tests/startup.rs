//! Start-up never touches the system root store: three HTTPS exporters
//! (HTTP and gRPC) start without loading it, the first export loads it
//! once on the worker, and a server the system roots do not trust is a
//! counted TLS failure. Its own test binary (own process), so no other
//! test has loaded the store first.

use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_core::system_roots::system_roots_loaded;
use agent_otel_core::{
    DropReason, Exporter, FailureKind, HttpProtocol, MetricsOptions, PipelineOptions,
    SignalExporters, Telemetry, TelemetryOptions, TransportOptions,
};
use agent_otel_exporter_grpc::{GrpcExporter, GrpcExporterConfig};
use agent_otel_exporter_http::{HttpExporter, HttpExporterConfig};
use agent_otel_integration_tests::{TestPki, emit_every_event, full_metadata};

fn http(endpoint: String) -> Box<dyn Exporter> {
    Box::new(
        HttpExporter::new(HttpExporterConfig {
            endpoint,
            protocol: HttpProtocol::Binary,
            transport: TransportOptions::default(),
        })
        .expect("builds without loading roots"),
    )
}

#[test]
fn roots_load_once_on_the_first_export_and_failures_are_counted() {
    let pki = TestPki::generate("startup");
    let collector = Collector::start(CollectorConfig::default().with_tls(pki.collector_tls(false)))
        .expect("the collector starts");
    let grpc = GrpcExporter::new(GrpcExporterConfig::new(
        collector.grpc_endpoint().expect("grpc"),
    ))
    .expect("builds without loading roots");
    let exporters = SignalExporters {
        logs: Some(http(collector.http_logs_endpoint().expect("http"))),
        traces: Some(http(collector.http_traces_endpoint().expect("http"))),
        metrics: Some(Box::new(grpc)),
    };
    let options = TelemetryOptions {
        metrics: MetricsOptions {
            interval: Duration::from_secs(3600),
            ..MetricsOptions::default()
        },
        ..TelemetryOptions::default()
    };
    let telemetry =
        Telemetry::with_exporters(options, exporters, PipelineOptions::default()).expect("starts");
    assert!(
        !system_roots_loaded(),
        "building the exporters and starting must not load the system roots"
    );

    let session = telemetry.session(full_metadata());
    let emitted = emit_every_event(&session).len() as u64;
    // Every batch fails permanently (the test CA is not a system root), so
    // the flush ends once each was tried.
    telemetry
        .force_flush(Duration::from_secs(30))
        .expect("the flush ends");
    assert!(system_roots_loaded(), "the first export loaded the roots");

    let logs = telemetry.stats();
    assert_eq!(logs.emitted, emitted);
    assert_eq!(
        logs.dropped(DropReason::PermanentFailure),
        emitted,
        "{logs:?}"
    );
    assert!(logs.failures(FailureKind::Tls) >= 1, "{logs:?}");
    let metrics = telemetry.metric_stats();
    assert!(metrics.emitted > 0, "{metrics:?}");
    assert!(metrics.failures(FailureKind::Tls) >= 1, "{metrics:?}");
    assert_eq!(
        metrics.dropped(DropReason::PermanentFailure),
        metrics.emitted,
        "{metrics:?}"
    );
    assert_eq!(collector.record_count(), 0);
    assert_eq!(collector.data_point_count(), 0);
    let _ = telemetry.shutdown(Duration::from_secs(5));
}
