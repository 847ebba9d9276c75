//! A loopback OTLP/gRPC logs server for the exporter tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use agent_otel_collector::test_pki::TestPki;
use agent_otel_core::Batch;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataMap;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Server, ServerTlsConfig};
use tonic::{Request, Response, Status};

/// What the server answers.
#[derive(Clone)]
pub enum Behaviour {
    /// OK, no partial success.
    Accept,
    /// OK with `partial_success`.
    Partial(i64, &'static str),
    /// A status built fresh for every call (`Status` is not `Clone`).
    Fail(Arc<dyn Fn() -> Status + Send + Sync>),
    /// Never answer.
    Hang,
}

impl Behaviour {
    pub fn fail(make: impl Fn() -> Status + Send + Sync + 'static) -> Self {
        Behaviour::Fail(Arc::new(make))
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub request: ExportLogsServiceRequest,
    pub metadata: MetadataMap,
}

/// The requests a server received.
#[derive(Default)]
struct ReceivedLog {
    requests: Mutex<Vec<Received>>,
}

impl ReceivedLog {
    fn push(&self, received: Received) {
        self.requests.lock().unwrap().push(received);
    }

    fn snapshot(&self) -> Vec<Received> {
        self.requests.lock().unwrap().clone()
    }
}

#[derive(Clone)]
struct Service {
    behaviour: Behaviour,
    received: Arc<ReceivedLog>,
}

#[tonic::async_trait]
impl LogsService for Service {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let metadata = request.metadata().clone();
        self.received.push(Received {
            request: request.into_inner(),
            metadata,
        });
        match &self.behaviour {
            Behaviour::Accept => Ok(Response::new(ExportLogsServiceResponse::default())),
            Behaviour::Partial(rejected, message) => Ok(Response::new(ExportLogsServiceResponse {
                partial_success: Some(ExportLogsPartialSuccess {
                    rejected_log_records: *rejected,
                    error_message: (*message).to_owned(),
                }),
            })),
            Behaviour::Fail(make) => Err(make()),
            Behaviour::Hang => std::future::pending().await,
        }
    }
}

/// A running server; stopped when dropped.
pub struct TestServer {
    pub addr: SocketAddr,
    received: Arc<ReceivedLog>,
    task: JoinHandle<()>,
}

impl TestServer {
    pub fn http_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.snapshot()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Server options.
#[derive(Clone, Default)]
pub struct ServerOptions {
    pub tls: Option<ServerTlsConfig>,
    pub accept_gzip: bool,
}

/// Starts a server on an ephemeral loopback port, on the current runtime.
pub async fn start(behaviour: Behaviour, options: ServerOptions) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(ReceivedLog::default());
    let mut service = LogsServiceServer::new(Service {
        behaviour,
        received: Arc::clone(&received),
    });
    if options.accept_gzip {
        service = service.accept_compressed(CompressionEncoding::Gzip);
    }
    let mut builder = Server::builder();
    if let Some(tls) = options.tls {
        builder = builder.tls_config(tls).unwrap();
    }
    let router = builder.add_service(service);
    let task = tokio::spawn(async move {
        router
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    TestServer {
        addr,
        received,
        task,
    }
}

/// A port nothing listens on (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

fn string_attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_owned())),
        }),
        ..Default::default()
    }
}

/// Two hand-built log records.
pub fn records() -> Vec<LogRecord> {
    ["codex.tool_decision", "codex.tool_result"]
        .iter()
        .enumerate()
        .map(|(i, name)| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            event_name: (*name).to_owned(),
            attributes: vec![
                string_attr("event.name", name),
                string_attr("tool_name", "shell"),
            ],
            ..Default::default()
        })
        .collect()
}

/// A request with [`records`] under one resource and scope.
pub fn request() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: None,
            scope_logs: vec![ScopeLogs {
                scope: None,
                log_records: records(),
                schema_url: String::new(),
            }],
            schema_url: String::new(),
        }],
    }
}

/// [`request`] as a batch.
pub fn batch() -> Batch {
    Batch::from_request(request())
}

/// Every record of the received requests.
pub fn received_records(server: &TestServer) -> Vec<LogRecord> {
    server
        .received()
        .into_iter()
        .flat_map(|r| r.request.resource_logs)
        .flat_map(|r| r.scope_logs)
        .flat_map(|s| s.log_records)
        .collect()
}

/// [`TestPki`] certificates (a CA, a server certificate for
/// `localhost`/`127.0.0.1`, a client certificate), with the CA and the
/// client identity also written to a temporary folder.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub certs: TestPki,
}

impl Pki {
    pub fn generate() -> Self {
        let pki = Pki {
            dir: tempfile::tempdir().unwrap(),
            certs: TestPki::generate("grpc"),
        };
        pki.certs
            .write_client_files(pki.dir.path())
            .expect("write the PEM files");
        pki
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn ca_path(&self) -> PathBuf {
        self.path("ca.pem")
    }

    /// Server TLS with this PKI's server certificate.
    pub fn server_tls(&self) -> ServerTlsConfig {
        ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(
            &self.certs.server_cert_pem,
            &self.certs.server_key_pem,
        ))
    }
}
