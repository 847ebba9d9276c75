//! TLS configuration errors at construction, and a plaintext client against
//! a TLS server. Trusted CA, wrong CA, system roots and mTLS are cases of
//! the conformance suite (integration-tests/src/conformance.rs).
#![allow(clippy::unwrap_used)]

mod common;

use agent_otel_core::{ExportOutcome, Exporter, TlsConfig, TransportOptions};
use agent_otel_exporter_grpc::{GrpcExporter, GrpcExporterConfig, GrpcExporterError};
use common::{Behaviour, Pki, ServerOptions, batch, start};

fn tls_server(pki: &Pki) -> ServerOptions {
    ServerOptions {
        tls: Some(pki.server_tls()),
        ..ServerOptions::default()
    }
}

#[tokio::test]
async fn plaintext_client_against_a_tls_server_does_not_succeed() {
    let pki = Pki::generate();
    let server = start(Behaviour::Accept, tls_server(&pki)).await;
    let exporter = GrpcExporter::new(GrpcExporterConfig::new(server.http_endpoint())).unwrap();
    let outcome = exporter.export(&batch()).await;
    assert!(
        matches!(
            outcome,
            ExportOutcome::Retryable { .. } | ExportOutcome::Permanent { .. }
        ),
        "{outcome:?}"
    );
    assert!(server.received().is_empty());
}

#[test]
fn half_an_identity_is_refused_at_construction() {
    let pki = Pki::generate();
    let err = GrpcExporter::new(GrpcExporterConfig {
        endpoint: "https://localhost:4317".to_owned(),
        transport: TransportOptions {
            tls: TlsConfig {
                client_certificate: Some(pki.path("client.pem")),
                ..TlsConfig::default()
            },
            ..TransportOptions::default()
        },
    })
    .unwrap_err();
    assert!(matches!(err, GrpcExporterError::TlsFiles(_)), "{err}");
}

#[test]
fn a_key_that_is_not_pem_is_refused_at_construction() {
    let pki = Pki::generate();
    let garbage = pki.path("garbage.pem");
    std::fs::write(&garbage, "not a pem file").unwrap();
    let err = GrpcExporter::new(GrpcExporterConfig {
        endpoint: "https://localhost:4317".to_owned(),
        transport: TransportOptions {
            tls: TlsConfig {
                ca_certificate: Some(garbage.clone()),
                ..TlsConfig::default()
            },
            ..TransportOptions::default()
        },
    })
    .unwrap_err();
    assert!(matches!(err, GrpcExporterError::TlsFiles(_)), "{err}");
    assert!(err.to_string().contains("garbage.pem"), "{err}");
}

#[test]
fn a_key_that_does_not_match_the_certificate_is_a_tls_config_error() {
    let pki = Pki::generate();
    let other = Pki::generate();
    let err = GrpcExporter::new(GrpcExporterConfig {
        endpoint: "https://localhost:4317".to_owned(),
        transport: TransportOptions {
            tls: TlsConfig {
                ca_certificate: Some(pki.ca_path()),
                client_certificate: Some(pki.path("client.pem")),
                client_private_key: Some(other.path("client.key")),
                insecure: false,
            },
            ..TransportOptions::default()
        },
    })
    .unwrap_err();
    assert!(matches!(err, GrpcExporterError::TlsConfig { .. }), "{err}");
    // The key material never shows up in the message.
    assert!(!err.to_string().contains("PRIVATE KEY"), "{err}");
}
