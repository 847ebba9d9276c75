//! Shared helpers: a hand-built batch, exporter configs, [`TestPki`]
//! certificates as files.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use agent_otel_collector::test_pki::TestPki;
use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_core::opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use agent_otel_core::opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use agent_otel_core::opentelemetry_proto::tonic::resource::v1::Resource;
use agent_otel_core::{Batch, HttpProtocol, TransportOptions};
use agent_otel_exporter_http::{HttpExporter, HttpExporterConfig};

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

/// Path helper for TLS configs.
pub fn some(path: &Path) -> Option<PathBuf> {
    Some(path.to_path_buf())
}
