//! One body, four backends: a real config file selects `none`,
//! `otlp-http` (binary), `otlp-http` (JSON) or `otlp-grpc`; everything else
//! (the collector, the script, the assertions) is the same.

use std::time::Duration;

use agent_otel_collector::Collector;
use agent_otel_config::{Environment, ExporterSettings, Origin};
use agent_otel_integration_tests::{
    Backend, ConfigDir, IT_TOKEN, OtelTable, WAIT, assert_accounted, assert_every_event,
    assert_requests, emit_every_event, full_metadata, it_env, start_from, start_in,
};

/// Config file -> `load_file` -> `start()` -> session -> every event ->
/// `shutdown` -> what the collector decoded.
fn every_event_reaches_the_collector(backend: Backend) {
    let ctx = backend.label();
    let collector = Collector::start(backend.collector_config()).expect("start the collector");
    let table = OtelTable::pointing_at(backend, backend.endpoint(&collector));
    let (_dir, resolved, telemetry) = start_from(&table);

    assert_eq!(resolved.exporter.name(), backend.exporter_name(), "{ctx}");
    assert_eq!(telemetry.is_enabled(), backend.exports(), "{ctx}");
    assert_eq!(telemetry.exporter_name(), backend.exporter_name(), "{ctx}");
    for shown in [format!("{resolved:?}"), resolved.to_string()] {
        assert!(
            !shown.contains(IT_TOKEN),
            "{ctx}: the header value leaked: {shown}"
        );
    }
    match &resolved.exporter {
        ExporterSettings::OtlpHttp(http) => {
            assert_eq!(http.endpoint, backend.endpoint(&collector), "{ctx}");
        }
        ExporterSettings::OtlpGrpc(grpc) => {
            assert_eq!(grpc.endpoint, backend.endpoint(&collector), "{ctx}");
        }
        ExporterSettings::None => assert!(!backend.exports(), "{ctx}"),
    }

    let session = telemetry.session(full_metadata());
    let expected = emit_every_event(&session);

    if backend.exports() {
        // Delivered by the 50 ms batch timer, before any shutdown.
        collector
            .wait_for_records(expected.len(), WAIT)
            .unwrap_or_else(|e| panic!("{ctx}: {e}"));
    }
    telemetry
        .shutdown(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{ctx}: shutdown: {e}"));

    let stats = telemetry.stats();
    assert_accounted(&stats, ctx);
    if !backend.exports() {
        assert_eq!(stats.emitted, 0, "{ctx}: a disabled handle counts nothing");
        assert_eq!(collector.request_count(), 0, "{ctx}: nothing may arrive");
        return;
    }
    assert_eq!(stats.emitted, expected.len() as u64, "{ctx}: {stats}");
    assert_eq!(stats.exported, stats.emitted, "{ctx}: {stats}");
    assert_eq!(stats.dropped_total(), 0, "{ctx}: {stats}");
    assert_eq!(stats.failures_total(), 0, "{ctx}: {stats}");
    assert_eq!(
        stats.requests,
        collector.request_count() as u64,
        "{ctx}: {stats}"
    );

    assert_every_event(&collector.records(), &expected, ctx);
    assert_requests(&collector.requests(), backend, ctx);
}

#[test]
fn same_body_on_every_backend() {
    for backend in Backend::ALL {
        every_event_reaches_the_collector(backend);
    }
}

/// `OTEL_SDK_DISABLED=true` wins over a table that selects otlp-http.
#[test]
fn otel_sdk_disabled_exports_nothing() {
    let backend = Backend::HttpBinary;
    let collector = Collector::start(backend.collector_config()).expect("start the collector");
    let dir = ConfigDir::new();
    dir.write_config(&OtelTable::pointing_at(
        backend,
        backend.endpoint(&collector),
    ));
    let text = std::fs::read_to_string(dir.config_path()).expect("read the config back");
    assert!(
        text.contains("otlp-http"),
        "the table selects otlp-http:\n{text}"
    );

    let env: Environment = it_env().with("OTEL_SDK_DISABLED", "true");
    let (_dir, resolved, telemetry) = start_in(dir, &env);
    assert_eq!(resolved.exporter.name(), "none");
    assert_eq!(
        resolved.exporter_origin,
        Origin::Env("OTEL_SDK_DISABLED".into())
    );
    assert!(!telemetry.is_enabled());

    let session = telemetry.session(full_metadata());
    emit_every_event(&session);
    telemetry
        .shutdown(Duration::from_secs(5))
        .expect("a disabled handle shuts down at once");
    assert_eq!(telemetry.stats().emitted, 0);
    assert_eq!(collector.request_count(), 0, "nothing may arrive");
}
