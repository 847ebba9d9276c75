//! TLS and mutual TLS over both transports, with certificates generated
//! here and referenced from the config file by paths relative to its folder.

use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_config::ExporterSettings;
use agent_otel_core::{DropReason, FailureKind, PipelineStats};
use agent_otel_integration_tests::{
    Backend, ConfigDir, ExpectedEvent, OtelTable, TestPki, WAIT, assert_accounted,
    assert_every_event, assert_requests, emit_every_event, full_metadata, it_env, start_in,
    write_client_files,
};

/// How the client side of a scenario is configured.
#[derive(Debug, Clone, Copy)]
enum Client {
    /// Trusts the collector's CA; no client certificate.
    TrustCa,
    /// Trusts the collector's CA and presents the client certificate.
    Mutual,
    /// Trusts an unrelated CA.
    WrongCa,
}

/// What one scenario left behind.
struct Run {
    collector: Collector,
    stats: PipelineStats,
    expected: Vec<ExpectedEvent>,
    _dir: ConfigDir,
}

/// Starts a TLS collector (mTLS when `mutual_server`), writes the
/// certificates and a config that names them relatively, emits every event
/// and shuts down.
fn run(backend: Backend, mutual_server: bool, client: Client) -> Run {
    let ctx = format!(
        "{} {client:?} (server mTLS: {mutual_server})",
        backend.label()
    );
    let pki = TestPki::generate("collector");
    let config = CollectorConfig {
        tls: Some(pki.collector_tls(mutual_server)),
        ..backend.collector_config()
    };
    let collector = Collector::start(config).expect("start the TLS collector");
    assert!(collector.is_tls());

    let dir = ConfigDir::new();
    write_client_files(&pki, &dir);
    dir.write("certs/other-ca.pem", TestPki::generate("unrelated").ca_pem);
    let table = OtelTable::pointing_at(backend, backend.endpoint(&collector))
        .deliver_on_shutdown()
        // Whatever the classification, never hold the test for long.
        .set("retry_budget_ms", "1000");
    let table = match client {
        Client::TrustCa => table.tls(Some("certs/ca.pem"), None, None),
        Client::Mutual => table.tls(
            Some("certs/ca.pem"),
            Some("certs/client.pem"),
            Some("certs/client.key"),
        ),
        Client::WrongCa => table.tls(Some("certs/other-ca.pem"), None, None),
    };
    dir.write_config(&table);

    let (dir, resolved, telemetry) = start_in(dir, &it_env());
    let tls = match &resolved.exporter {
        ExporterSettings::OtlpHttp(s) => &s.transport.tls,
        ExporterSettings::OtlpGrpc(s) => &s.transport.tls,
        ExporterSettings::None => panic!("{ctx}: TLS needs an OTLP exporter"),
    };
    let ca = tls
        .ca_certificate
        .as_deref()
        .expect("ca-certificate is set");
    assert!(ca.is_absolute(), "{ctx}: {} must be resolved", ca.display());
    assert!(
        ca.starts_with(dir.path()),
        "{ctx}: {} must resolve against the config folder",
        ca.display()
    );

    let expected = emit_every_event(&telemetry.session(full_metadata()));
    // A refused handshake is a permanent failure: nothing is left for the
    // deadline to cut, so shutdown completes and the stats are final.
    telemetry
        .shutdown(Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{ctx}: shutdown: {e} ({})", telemetry.stats()));
    let stats = telemetry.stats();
    assert_accounted(&stats, &ctx);
    assert_eq!(stats.emitted, expected.len() as u64, "{ctx}: {stats}");
    Run {
        collector,
        stats,
        expected,
        _dir: dir,
    }
}

fn tls_delivers(backend: Backend, mutual: bool) {
    let client = if mutual {
        Client::Mutual
    } else {
        Client::TrustCa
    };
    let ctx = format!("{} {client:?}", backend.label());
    let run = run(backend, mutual, client);
    assert_eq!(
        run.stats.exported,
        run.expected.len() as u64,
        "{ctx}: {}",
        run.stats
    );
    assert_eq!(run.stats.failures_total(), 0, "{ctx}: {}", run.stats);
    assert_every_event(&run.collector.records(), &run.expected, &ctx);
    let requests = run.collector.requests();
    assert_requests(&requests, backend, &ctx);
    for request in &requests {
        assert_eq!(
            request.client_certificate, mutual,
            "{ctx}: client certificate presented"
        );
    }
}

fn refused(backend: Backend, mutual_server: bool, client: Client) -> Run {
    let ctx = format!("{} {client:?}", backend.label());
    let run = run(backend, mutual_server, client);
    assert_eq!(run.stats.exported, 0, "{ctx}: {}", run.stats);
    assert_eq!(
        run.stats.dropped_total(),
        run.expected.len() as u64,
        "{ctx}: {}",
        run.stats
    );
    assert_eq!(
        run.collector.record_count(),
        0,
        "{ctx}: nothing may be received"
    );
    assert_eq!(
        run.collector.request_count(),
        0,
        "{ctx}: no request gets through"
    );
    run.collector
        .wait_for_tls_handshake_failures(1, WAIT)
        .unwrap_or_else(|e| panic!("{ctx}: the collector must see the refused handshake: {e}"));
    run
}

#[test]
fn tls_with_a_private_ca_delivers() {
    for backend in Backend::TRANSPORTS {
        tls_delivers(backend, false);
    }
}

#[test]
fn mutual_tls_with_client_certificate_delivers() {
    for backend in Backend::TRANSPORTS {
        tls_delivers(backend, true);
    }
}

#[test]
fn wrong_ca_is_refused_and_counted_as_tls() {
    for backend in Backend::TRANSPORTS {
        let run = refused(backend, false, Client::WrongCa);
        let ctx = backend.label();
        assert!(
            run.stats.failures(FailureKind::Tls) >= 1,
            "{ctx}: {}",
            run.stats
        );
        assert_eq!(
            run.stats.dropped(DropReason::PermanentFailure),
            run.expected.len() as u64,
            "{ctx}: a certificate error is permanent: {}",
            run.stats
        );
        assert_eq!(run.stats.requests, 1, "{ctx}: never retried: {}", run.stats);
    }
}

/// A refused client certificate is a permanent `Tls` failure on both
/// transports, not a retried connection error: the collector lets the
/// client read its `certificate_required` alert before closing (no reset),
/// and the HTTP exporter recognises the alert that HTTP/2 passes on as text.
#[test]
fn mutual_tls_without_client_certificate_is_a_permanent_tls_failure() {
    for backend in Backend::TRANSPORTS {
        let run = refused(backend, true, Client::TrustCa);
        let ctx = backend.label();
        let stats = &run.stats;
        assert_eq!(
            stats.failures(FailureKind::Connection),
            0,
            "{ctx}: {stats} (last error {:?})",
            stats.last_error
        );
        assert_eq!(stats.failures(FailureKind::Tls), 1, "{ctx}: {stats}");
        assert_eq!(
            stats.dropped(DropReason::PermanentFailure),
            run.expected.len() as u64,
            "{ctx}: {stats}"
        );
    }
}
