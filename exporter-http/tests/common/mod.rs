//! Shared helpers: a hand-built batch, exporter configs, and a small
//! blocking HTTPS test server (rustls on ring) with [`TestPki`] certificates.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_otel_collector::test_pki::TestPki;
use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_core::opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use agent_otel_core::opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use agent_otel_core::opentelemetry_proto::tonic::resource::v1::Resource;
use agent_otel_core::{Batch, HttpProtocol, TransportOptions};
use agent_otel_exporter_http::{HttpExporter, HttpExporterConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// A request with two log records, as the encoder would build it.
pub fn request() -> ExportLogsServiceRequest {
    let record = |name: &str, call: &str| LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        observed_time_unix_nano: 1_700_000_000_000_000_123,
        severity_number: 9,
        severity_text: "INFO".to_owned(),
        event_name: name.to_owned(),
        attributes: vec![
            kv("event.name", any_value::Value::StringValue(name.to_owned())),
            kv("call_id", any_value::Value::StringValue(call.to_owned())),
            kv("duration_ms", any_value::Value::IntValue(42)),
        ],
        ..Default::default()
    };
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("codex-cli".to_owned()),
                )],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    record("codex.tool_decision", "c1"),
                    record("codex.tool_result", "c1"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// [`request`] as a batch.
pub fn batch() -> Batch {
    Batch::from_request(request())
}

/// A config for `endpoint` with default transport options.
pub fn config(endpoint: impl Into<String>, protocol: HttpProtocol) -> HttpExporterConfig {
    HttpExporterConfig {
        endpoint: endpoint.into(),
        protocol,
        transport: TransportOptions::default(),
    }
}

/// An exporter for `config`, panicking on configuration errors.
pub fn exporter(config: HttpExporterConfig) -> HttpExporter {
    HttpExporter::new(config).unwrap()
}

/// [`TestPki`] certificates, with the CA and the client identity also
/// written as PEM files (`ca.pem`, `client.pem`, `client.key`).
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub certs: TestPki,
}

impl Pki {
    pub fn new(name: &str) -> Self {
        let pki = Self {
            dir: tempfile::tempdir().unwrap(),
            certs: TestPki::generate(name),
        };
        pki.certs
            .write_client_files(pki.dir.path())
            .expect("write the PEM files");
        pki
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }
}

/// A blocking HTTPS/1.1 server on 127.0.0.1 that answers every request
/// `200` with an empty protobuf body and records request bodies.
pub struct TlsServer {
    pub port: u16,
    pub bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl TlsServer {
    /// Serves `pki`'s server certificate; with `require_client_cert`, only
    /// clients presenting a certificate signed by `pki`'s CA get through.
    pub fn start(pki: &Pki, require_client_cert: bool) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if require_client_cert {
            let mut roots = rustls::RootCertStore::empty();
            roots
                .add(CertificateDer::from_pem_slice(pki.certs.ca_pem.as_bytes()).unwrap())
                .unwrap();
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let chain = CertificateDer::pem_slice_iter(pki.certs.server_cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(pki.certs.server_key_pem.as_bytes()).unwrap();
        let config = Arc::new(builder.with_single_cert(chain, key).unwrap());

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            for tcp in listener.incoming() {
                let Ok(tcp) = tcp else { continue };
                let config = config.clone();
                let seen = seen.clone();
                std::thread::spawn(move || serve(config, tcp, &seen));
            }
        });
        Self { port, bodies }
    }

    pub fn endpoint(&self) -> String {
        format!("https://127.0.0.1:{}/v1/logs", self.port)
    }
}

fn serve(config: Arc<rustls::ServerConfig>, tcp: TcpStream, seen: &Mutex<Vec<Vec<u8>>>) {
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
    let raw = tcp.try_clone().unwrap();
    let conn = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    match read_request(&mut tls) {
        Some(body) => {
            seen.lock().unwrap().push(body);
            let _ = tls.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\n\
                  content-length: 0\r\nconnection: close\r\n\r\n",
            );
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
        None => {
            // Handshake failed (rustls already sent its alert): close our
            // side and drain, so the client reads the alert instead of a reset.
            let _ = raw.shutdown(Shutdown::Write);
            let mut sink = [0u8; 4096];
            let mut raw = raw;
            while matches!(raw.read(&mut sink), Ok(n) if n > 0) {}
        }
    }
}

/// Reads one request; returns its body.
fn read_request(stream: &mut impl Read) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(pos) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break pos + 4;
        }
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).ok().filter(|n| *n > 0)?;
        data.extend_from_slice(&buf[..n]);
    }
    Some(data[head_end..head_end + length].to_vec())
}

/// Path helper for TLS configs.
pub fn some(path: &Path) -> Option<PathBuf> {
    Some(path.to_path_buf())
}
