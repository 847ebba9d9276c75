//! TLS and mTLS against loopback tonic servers with `TestPki` certificates.
#![allow(clippy::unwrap_used)]

mod common;

use agent_otel_core::testing::expect_permanent;
use agent_otel_core::{ExportOutcome, Exporter, FailureKind, TlsConfig, TransportOptions};
use agent_otel_exporter_grpc::{GrpcExporter, GrpcExporterConfig, GrpcExporterError};
use common::{Behaviour, Pki, ServerOptions, batch, received_records, records, start};

fn tls_exporter(endpoint: String, tls: TlsConfig) -> GrpcExporter {
    GrpcExporter::new(GrpcExporterConfig {
        endpoint,
        transport: TransportOptions {
            tls,
            ..TransportOptions::default()
        },
    })
    .unwrap()
}

fn with_ca(pki: &Pki) -> TlsConfig {
    TlsConfig {
        ca_certificate: Some(pki.ca_path()),
        ..TlsConfig::default()
    }
}

fn tls_server(pki: &Pki) -> ServerOptions {
    ServerOptions {
        tls: Some(pki.server_tls()),
        ..ServerOptions::default()
    }
}

#[tokio::test]
async fn custom_ca_is_trusted() {
    let pki = Pki::generate();
    let server = start(Behaviour::Accept, tls_server(&pki)).await;
    let exporter = tls_exporter(server.https_endpoint(), with_ca(&pki));
    assert_eq!(exporter.export(&batch()).await, ExportOutcome::Accepted);
    assert_eq!(received_records(&server), records());
}

#[tokio::test]
async fn ip_address_endpoints_are_verified_too() {
    let pki = Pki::generate();
    let server = start(Behaviour::Accept, tls_server(&pki)).await;
    let endpoint = format!("https://{}", server.addr);
    let exporter = tls_exporter(endpoint, with_ca(&pki));
    assert_eq!(exporter.export(&batch()).await, ExportOutcome::Accepted);
}

#[tokio::test]
async fn a_wrong_ca_is_a_permanent_tls_failure() {
    let pki = Pki::generate();
    let other = Pki::generate();
    let server = start(Behaviour::Accept, tls_server(&pki)).await;
    let exporter = tls_exporter(server.https_endpoint(), with_ca(&other));
    let error = expect_permanent(exporter.export(&batch()).await);
    assert_eq!(error.kind, FailureKind::Tls, "{error}");
    assert_eq!(error.status, None);
    assert!(server.received().is_empty());
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

#[tokio::test]
async fn mtls_works_with_a_client_identity() {
    let pki = Pki::generate();
    let options = ServerOptions {
        tls: Some(pki.mtls_server()),
        ..ServerOptions::default()
    };
    let server = start(Behaviour::Accept, options).await;
    let tls = TlsConfig {
        ca_certificate: Some(pki.ca_path()),
        client_certificate: Some(pki.path("client.pem")),
        client_private_key: Some(pki.path("client.key")),
        insecure: false,
    };
    let exporter = tls_exporter(server.https_endpoint(), tls);
    assert_eq!(exporter.export(&batch()).await, ExportOutcome::Accepted);
    assert_eq!(received_records(&server), records());
}

#[tokio::test]
async fn mtls_fails_without_a_client_identity() {
    let pki = Pki::generate();
    let options = ServerOptions {
        tls: Some(pki.mtls_server()),
        ..ServerOptions::default()
    };
    let server = start(Behaviour::Accept, options).await;
    let exporter = tls_exporter(server.https_endpoint(), with_ca(&pki));
    let error = expect_permanent(exporter.export(&batch()).await);
    assert_eq!(error.kind, FailureKind::Tls, "{error}");
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
