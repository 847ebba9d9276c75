//! HTTPS against a loopback rustls server with `TestPki` certificates: custom
//! CA, wrong CA, mTLS with and without a client identity.
#![allow(clippy::unwrap_used)]

mod common;

use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_core::testing::expect_permanent;
use agent_otel_core::{ExportOutcome, Exporter, FailureKind, HttpProtocol, TlsConfig};
use agent_otel_exporter_http::HttpExporter;
use common::{Pki, TlsServer, batch, config, exporter, request, some};
use prost::Message;

fn tls_config(pki: &Pki, with_identity: bool) -> TlsConfig {
    TlsConfig {
        ca_certificate: some(&pki.path("ca.pem")),
        client_certificate: with_identity.then(|| pki.path("client.pem")),
        client_private_key: with_identity.then(|| pki.path("client.key")),
        insecure: false,
    }
}

#[track_caller]
fn expect_tls_failure(outcome: ExportOutcome) {
    let error = expect_permanent(outcome);
    assert_eq!(error.kind, FailureKind::Tls, "{error}");
    assert!(error.message.contains("check tls"), "{error}");
}

#[tokio::test]
async fn custom_ca_is_trusted() {
    let pki = Pki::new("a");
    let server = TlsServer::start(&pki, false);
    let mut config = config(server.endpoint(), HttpProtocol::Binary);
    config.transport.tls = tls_config(&pki, false);
    assert_eq!(
        exporter(config).export(&batch()).await,
        ExportOutcome::Accepted
    );
    let bodies = server.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert_eq!(
        ExportLogsServiceRequest::decode(bodies[0].as_slice()).unwrap(),
        request()
    );
}

#[tokio::test]
async fn wrong_ca_is_a_permanent_tls_failure() {
    let server_pki = Pki::new("server");
    let other_pki = Pki::new("other");
    let server = TlsServer::start(&server_pki, false);
    let mut config = config(server.endpoint(), HttpProtocol::Binary);
    config.transport.tls = tls_config(&other_pki, false);
    expect_tls_failure(exporter(config).export(&batch()).await);
    assert!(server.bodies.lock().unwrap().is_empty());
}

#[tokio::test]
async fn system_roots_do_not_trust_a_private_ca() {
    let pki = Pki::new("private");
    let server = TlsServer::start(&pki, false);
    // No ca-certificate: the system roots, loaded on this first export (a
    // machine without any fails the export as a TLS failure too).
    let exporter = HttpExporter::new(config(server.endpoint(), HttpProtocol::Binary))
        .expect("building loads no roots");
    expect_tls_failure(exporter.export(&batch()).await);
    assert!(server.bodies.lock().unwrap().is_empty());
}

#[tokio::test]
async fn mtls_works_with_a_client_identity() {
    let pki = Pki::new("mtls");
    let server = TlsServer::start(&pki, true);
    let mut config = config(server.endpoint(), HttpProtocol::Json);
    config.transport.tls = tls_config(&pki, true);
    assert_eq!(
        exporter(config).export(&batch()).await,
        ExportOutcome::Accepted
    );
    assert_eq!(server.bodies.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn mtls_without_a_client_identity_fails() {
    let pki = Pki::new("mtls-missing");
    let server = TlsServer::start(&pki, true);
    let mut config = config(server.endpoint(), HttpProtocol::Binary);
    config.transport.tls = tls_config(&pki, false);
    expect_tls_failure(exporter(config).export(&batch()).await);
    assert!(server.bodies.lock().unwrap().is_empty());
}
