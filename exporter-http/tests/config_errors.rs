//! `HttpExporter::new` rejects bad configuration with typed errors that
//! never show header values.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use agent_otel_core::{HttpProtocol, SecretString, TlsConfig, TlsError};
use agent_otel_exporter_http::{HttpExporter, HttpExporterError};
use common::{Pki, config, some};

fn build_error(config: agent_otel_exporter_http::HttpExporterConfig) -> HttpExporterError {
    match HttpExporter::new(config) {
        Ok(exporter) => panic!("expected an error, built {exporter:?}"),
        Err(e) => e,
    }
}

#[test]
fn bad_urls_are_rejected_and_shown() {
    for endpoint in [
        "",
        "not a url",
        "localhost4318/v1/logs",
        "http://:4318/v1/logs",
    ] {
        let error = build_error(config(endpoint, HttpProtocol::Binary));
        assert!(
            matches!(error, HttpExporterError::InvalidEndpoint { .. }),
            "{endpoint}: {error:?}"
        );
        assert!(error.to_string().contains(endpoint), "{error}");
    }
}

#[test]
fn unsupported_schemes_are_rejected() {
    for (endpoint, scheme) in [
        ("grpc://collector:4317", "grpc"),
        ("ftp://collector/v1/logs", "ftp"),
        ("localhost:4318/v1/logs", "localhost"),
    ] {
        let error = build_error(config(endpoint, HttpProtocol::Binary));
        match &error {
            HttpExporterError::UnsupportedScheme { scheme: found, .. } => {
                assert_eq!(found, scheme);
            }
            other => panic!("{endpoint}: {other:?}"),
        }
        assert!(error.to_string().contains(endpoint), "{error}");
    }
}

#[test]
fn http_and_https_endpoints_build_without_a_runtime() {
    let exporter =
        HttpExporter::new(config("http://127.0.0.1:4318/v1/logs", HttpProtocol::Json)).unwrap();
    assert_eq!(exporter.endpoint(), "http://127.0.0.1:4318/v1/logs");
    let with_password = HttpExporter::new(config(
        "https://user:hunter2@127.0.0.1:4318/v1/logs",
        HttpProtocol::Binary,
    ))
    .expect("builds");
    assert_eq!(
        with_password.endpoint(),
        "https://user:***@127.0.0.1:4318/v1/logs"
    );
    assert!(!format!("{with_password:?}").contains("hunter2"));
    let bad = HttpExporter::new(config(
        "https://user:hunter2@host:99999999/v1/logs",
        HttpProtocol::Binary,
    ))
    .expect_err("bad port");
    assert!(!bad.to_string().contains("hunter2"), "{bad}");
    let unsupported = HttpExporter::new(config(
        "ftp://user:hunter2@host/v1/logs",
        HttpProtocol::Binary,
    ))
    .expect_err("bad scheme");
    assert!(
        !unsupported.to_string().contains("hunter2"),
        "{unsupported}"
    );
    let pki = Pki::new("build");
    let mut https = config(
        "https://collector.example:4318/v1/logs",
        HttpProtocol::Binary,
    );
    https.transport.tls = TlsConfig {
        ca_certificate: some(&pki.path("ca.pem")),
        client_certificate: some(&pki.path("client.pem")),
        client_private_key: some(&pki.path("client.key")),
        insecure: false,
    };
    https.transport.timeout = Duration::ZERO;
    HttpExporter::new(https).unwrap();
}

#[test]
fn bad_header_names_are_named() {
    for name in ["bad header", "x-ünicode", "content-type", "Content-Length"] {
        let mut config = config("http://127.0.0.1:4318/v1/logs", HttpProtocol::Binary);
        config
            .transport
            .headers
            .insert(name, SecretString::new("value-123"));
        let error = build_error(config);
        assert!(
            matches!(error, HttpExporterError::InvalidHeaderName { .. }),
            "{name}: {error:?}"
        );
        assert!(
            error.to_string().contains(&name.to_ascii_lowercase()),
            "{error}"
        );
        assert!(!error.to_string().contains("value-123"));
    }
}

#[test]
fn bad_header_values_name_the_header_but_hide_the_value() {
    for value in ["line\r\nbreak-secret", "nul\0-secret"] {
        let mut config = config("http://127.0.0.1:4318/v1/logs", HttpProtocol::Binary);
        config
            .transport
            .headers
            .insert("x-api-key", SecretString::new(value));
        let error = build_error(config);
        assert!(matches!(
            error,
            HttpExporterError::InvalidHeaderValue { .. }
        ));
        let shown = format!("{error} {error:?}");
        assert!(shown.contains("x-api-key"), "{shown}");
        assert!(!shown.contains("secret"), "{shown}");
    }
}

#[test]
fn tls_file_problems_fail_at_build_time() {
    let pki = Pki::new("files");
    let endpoint = "https://127.0.0.1:4318/v1/logs";

    let mut missing = config(endpoint, HttpProtocol::Binary);
    missing.transport.tls.ca_certificate = some(&pki.path("nope.pem"));
    let error = build_error(missing);
    assert!(
        matches!(error, HttpExporterError::Tls(TlsError::Read { .. })),
        "{error:?}"
    );
    assert!(error.to_string().contains("nope.pem"), "{error}");

    std::fs::write(pki.path("garbage.pem"), "not pem").unwrap();
    let mut garbage = config(endpoint, HttpProtocol::Binary);
    garbage.transport.tls.ca_certificate = some(&pki.path("garbage.pem"));
    assert!(matches!(
        build_error(garbage),
        HttpExporterError::Tls(TlsError::Parse { .. })
    ));

    let mut half = config(endpoint, HttpProtocol::Binary);
    half.transport.tls.client_certificate = some(&pki.path("client.pem"));
    assert!(matches!(
        build_error(half),
        HttpExporterError::Tls(TlsError::IncompleteIdentity)
    ));

    // A key that does not belong to the certificate.
    let other = Pki::new("other");
    let mut mismatched = config(endpoint, HttpProtocol::Binary);
    mismatched.transport.tls.client_certificate = some(&pki.path("client.pem"));
    mismatched.transport.tls.client_private_key = some(&other.path("client.key"));
    let error = build_error(mismatched);
    assert!(
        matches!(error, HttpExporterError::TlsMaterial { .. }),
        "{error:?}"
    );
    assert!(!error.to_string().contains("PRIVATE KEY"), "{error}");
}
