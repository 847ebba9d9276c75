//! OTLP/gRPC exporter for agent-otel: `LogsService/Export` over tonic.
//!
//! ```no_run
//! use agent_otel_core::{PipelineOptions, Telemetry, TelemetryOptions, TransportOptions};
//! use agent_otel_exporter_grpc::{GrpcExporter, GrpcExporterConfig};
//!
//! let exporter = GrpcExporter::new(GrpcExporterConfig {
//!     endpoint: "http://localhost:4317".into(),
//!     transport: TransportOptions::default(),
//! })?;
//! let telemetry = Telemetry::new(
//!     TelemetryOptions::default(),
//!     Box::new(exporter),
//!     PipelineOptions::default(),
//! )?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # How it works
//!
//! * [`GrpcExporter::new`] only validates: it parses the endpoint, loads the
//!   TLS files, builds the rustls client configuration and checks every
//!   metadata key and value. It needs no tokio runtime, so it can run on the
//!   host thread while the configuration is resolved. It never loads the
//!   system root store: without a configured CA, the process-wide copy of
//!   [`agent_otel_core::system_roots`] is loaded (once for every exporter)
//!   when the first channel is made, on the export worker.
//! * The tonic `Channel` is created lazily, inside the runtime that calls
//!   [`Exporter::export`] (the pipeline's worker), and connects on first use.
//!   It is re-created if the exporter is later driven by another runtime.
//! * Each export is one unary `LogsService/Export` call made with
//!   `tonic::client::Grpc` and a small codec that writes the batch's cached
//!   protobuf bytes ([`Batch::protobuf`]): a batch is encoded once, and
//!   retries neither re-encode nor clone the message.
//! * The answer is classified per the OTLP specification; see
//!   [`GrpcExporter`] for the table. The exporter never retries or sleeps:
//!   the pipeline does.

mod classify;
mod codec;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use agent_otel_core::{
    Batch, Compression, ExportError, ExportOutcome, Exporter, FailureKind, Signal, TlsError,
    TransportOptions, mask_url_credentials, system_roots,
};
use async_trait::async_trait;
use http::uri::{PathAndQuery, Uri};
use tonic::codec::CompressionEncoding;
use tonic::metadata::{AsciiMetadataKey, AsciiMetadataValue, BinaryMetadataKey};
use tonic::metadata::{BinaryMetadataValue, MetadataMap};
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// Where an OTLP/gRPC collector listens by default.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4317";

/// The gRPC service of OTLP logs.
/// The gRPC service of a signal's `Export` RPC.
fn service(signal: Signal) -> &'static str {
    match signal {
        Signal::Logs => "opentelemetry.proto.collector.logs.v1.LogsService",
        Signal::Traces => "opentelemetry.proto.collector.trace.v1.TraceService",
        Signal::Metrics => "opentelemetry.proto.collector.metrics.v1.MetricsService",
    }
}
/// Upper bound of the TCP connect timeout; the request timeout is used when
/// it is shorter.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Metadata names gRPC itself sets; a header may not replace them.
const RESERVED_METADATA: [&str; 3] = ["content-type", "te", "user-agent"];

/// The longest `grpc-timeout` header tonic can encode (99,999,999 hours);
/// longer configured timeouts are sent as this.
const MAX_GRPC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(99_999_999 * 3600);

/// Settings of a [`GrpcExporter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrpcExporterConfig {
    /// `http://host:port` (plaintext) or `https://host:port` (TLS). Without a
    /// scheme (`host:port`) TLS is used unless `transport.tls.insecure` is
    /// set, as the OTLP exporter specification says. A path is ignored: the
    /// RPC path is fixed by gRPC.
    pub endpoint: String,
    /// Metadata, compression, timeout, TLS.
    pub transport: TransportOptions,
}

impl GrpcExporterConfig {
    /// A configuration for `endpoint` with default transport options.
    pub fn new(endpoint: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            transport: TransportOptions::default(),
        }
    }
}

impl Default for GrpcExporterConfig {
    /// [`DEFAULT_ENDPOINT`], default transport options.
    fn default() -> Self {
        Self::new(DEFAULT_ENDPOINT)
    }
}

/// Why a [`GrpcExporter`] could not be built.
///
/// Messages name endpoints and header names, never header values.
#[derive(Debug, thiserror::Error)]
pub enum GrpcExporterError {
    /// The endpoint is not a usable `scheme://host:port` URL.
    #[error("invalid otlp-grpc endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The endpoint as configured (user info, if any, masked).
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The endpoint's scheme is neither `http` nor `https`.
    #[error(
        "unsupported scheme `{scheme}` in otlp-grpc endpoint `{endpoint}`; \
         use http:// (plaintext) or https:// (TLS)"
    )]
    UnsupportedScheme {
        /// The endpoint as configured.
        endpoint: String,
        /// The scheme found.
        scheme: String,
    },
    /// A TLS file could not be read or parsed.
    #[error("otlp-grpc TLS files: {0}")]
    TlsFiles(#[from] TlsError),
    /// The TLS files were read but do not make a usable client configuration
    /// (for example a private key that does not match the certificate, or
    /// no system root certificates to verify the server with).
    #[error("unusable otlp-grpc TLS configuration for `{endpoint}`: {reason}")]
    TlsConfig {
        /// The endpoint.
        endpoint: String,
        /// What rustls or tonic reported.
        reason: String,
    },
    /// A header name is not a valid gRPC metadata key.
    #[error("invalid otlp-grpc header name `{key}`: {reason}")]
    InvalidMetadataKey {
        /// The header name.
        key: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A header value cannot be sent as gRPC metadata. The value itself is
    /// never shown.
    #[error(
        "invalid value for otlp-grpc header `{key}`: only visible ASCII characters \
         are allowed (use a `-bin` header name for binary values); value not shown"
    )]
    InvalidMetadataValue {
        /// The header name.
        key: String,
    },
    /// The request timeout is zero.
    #[error("otlp-grpc timeout must be longer than zero")]
    ZeroTimeout,
}

/// Sends batches with the OTLP `LogsService/Export` RPC.
///
/// Answers are classified per the OTLP/gRPC specification:
///
/// | answer | outcome | [`FailureKind`] |
/// | --- | --- | --- |
/// | OK without `partial_success` | `Accepted` | |
/// | OK, `rejected_log_records > 0` or an error message | `PartiallyRejected` | |
/// | CANCELLED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS | `Retryable` | `GrpcStatus` |
/// | DEADLINE_EXCEEDED | `Retryable` | `Timeout` |
/// | RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` | `Retryable` | `GrpcStatus` |
/// | RESOURCE_EXHAUSTED without `RetryInfo`, any other code | `Permanent` | `GrpcStatus` |
/// | no answer within `transport.timeout`, connect or TLS handshake timeout | `Retryable` | `Timeout` |
/// | connection refused/reset/closed early, DNS failure | `Retryable` | `Connection` |
/// | TLS handshake or certificate failure | `Permanent` | `Tls` |
/// | undecodable answer | `Permanent` | `Protocol` |
/// | export after [`Exporter::shutdown`] | `Permanent` | `Exporter` |
///
/// A `RetryInfo` delay becomes `retry_after` for every retryable code. Status
/// failures carry the gRPC code number in [`ExportError::status`]. TLS
/// failures are permanent because an untrusted certificate or a missing
/// client identity does not fix itself between retries.
pub struct GrpcExporter {
    /// The endpoint as configured, for messages.
    endpoint_text: String,
    /// The tonic endpoint, TLS and timeouts applied.
    endpoint: Endpoint,
    /// Validated request metadata (values marked sensitive).
    metadata: MetadataMap,
    /// Header names, for `Debug`.
    metadata_keys: Vec<String>,
    compression: Compression,
    timeout: Duration,
    tls: bool,
    /// TLS to complete with the system roots before the first channel
    /// (`https` without a configured CA).
    system_roots: Option<ClientTlsConfig>,
    channel: Mutex<Option<CachedChannel>>,
    shut_down: AtomicBool,
}

/// A channel and the runtime its background task runs on.
struct CachedChannel {
    runtime: tokio::runtime::Id,
    channel: Channel,
}

impl fmt::Debug for GrpcExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcExporter")
            .field("endpoint", &self.endpoint_text)
            .field("tls", &self.tls)
            .field("metadata_keys", &self.metadata_keys)
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("shut_down", &self.shut_down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl GrpcExporter {
    /// Checks the endpoint and loads TLS files; connects lazily on first export.
    ///
    /// Needs no tokio runtime.
    pub fn new(config: GrpcExporterConfig) -> Result<Self, GrpcExporterError> {
        let GrpcExporterConfig {
            endpoint: raw,
            transport,
        } = config;
        if transport.timeout.is_zero() {
            return Err(GrpcExporterError::ZeroTimeout);
        }
        // Read the files first: a bad file is an error even for http://.
        let material = transport.tls.load()?;
        let (uri, tls) = parse_endpoint(&raw, transport.tls.insecure)?;
        // Shown in messages and Debug: password, query values, fragment masked.
        let endpoint_text = mask_url_credentials(raw.trim());
        let invalid = |reason: String| GrpcExporterError::InvalidEndpoint {
            endpoint: endpoint_text.clone(),
            reason,
        };
        // tonic cannot encode a longer grpc-timeout; longer means "none".
        let timeout = transport.timeout.min(MAX_GRPC_TIMEOUT);
        let mut endpoint = Endpoint::from(uri)
            .user_agent(concat!(
                "agent-otel-exporter-grpc/",
                env!("CARGO_PKG_VERSION")
            ))
            .map_err(|e| invalid(classify::chain_message(&e)))?
            .timeout(timeout)
            .connect_timeout(timeout.min(MAX_CONNECT_TIMEOUT))
            .tcp_nodelay(true);
        // With a configured CA the TLS configuration is complete now. With
        // the system roots it is checked now (client identity) without any
        // root, and completed with the process's shared system roots when
        // the first channel is made, on the export worker.
        let mut system_roots = None;
        if tls {
            let mut client = ClientTlsConfig::new().timeout(timeout);
            if let Some(identity) = material.identity {
                client = client.identity(Identity::from_pem(
                    identity.certificate_pem,
                    identity.private_key_pem,
                ));
            }
            let tls_error = |e: tonic::transport::Error| GrpcExporterError::TlsConfig {
                endpoint: endpoint_text.clone(),
                reason: classify::chain_message(&e),
            };
            match material.ca_pem {
                Some(pem) => {
                    endpoint = endpoint
                        .tls_config(client.ca_certificate(Certificate::from_pem(pem)))
                        .map_err(tls_error)?;
                }
                None => {
                    endpoint
                        .clone()
                        .tls_config(client.clone())
                        .map_err(tls_error)?;
                    system_roots = Some(client);
                }
            }
        }
        let (metadata, metadata_keys) = build_metadata(&transport)?;
        Ok(Self {
            endpoint_text,
            endpoint,
            metadata,
            metadata_keys,
            compression: transport.compression,
            timeout,
            tls,
            system_roots,
            channel: Mutex::new(None),
            shut_down: AtomicBool::new(false),
        })
    }

    fn slot(&self) -> MutexGuard<'_, Option<CachedChannel>> {
        self.channel
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The channel of the current runtime, created (unconnected) on first use.
    fn channel(&self) -> Result<Channel, ExportError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| {
                ExportError::new(
                    FailureKind::Exporter,
                    "otlp-grpc export must run inside a tokio runtime",
                )
            })?
            .id();
        let mut slot = self.slot();
        if let Some(cached) = slot.as_ref()
            && cached.runtime == runtime
        {
            return Ok(cached.channel.clone());
        }
        // Spawns the channel's background task on the current runtime.
        let channel = match &self.system_roots {
            None => self.endpoint.connect_lazy(),
            Some(client) => {
                let roots = system_roots().map_err(|e| {
                    ExportError::new(
                        FailureKind::Tls,
                        format!("otlp-grpc `{}`: {e}", self.endpoint_text),
                    )
                })?;
                let client = client.clone().trust_anchors(roots.roots.iter().cloned());
                self.endpoint
                    .clone()
                    .tls_config(client)
                    .map_err(|e| {
                        ExportError::new(
                            FailureKind::Tls,
                            format!(
                                "otlp-grpc `{}`: {}",
                                self.endpoint_text,
                                classify::chain_message(&e)
                            ),
                        )
                    })?
                    .connect_lazy()
            }
        };
        *slot = Some(CachedChannel {
            runtime,
            channel: channel.clone(),
        });
        Ok(channel)
    }
}

#[async_trait]
impl Exporter for GrpcExporter {
    async fn export(&self, batch: &Batch) -> ExportOutcome {
        if self.shut_down.load(Ordering::Acquire) {
            return ExportOutcome::permanent(ExportError::new(
                FailureKind::Exporter,
                "the otlp-grpc exporter is shut down",
            ));
        }
        let channel = match self.channel() {
            Ok(channel) => channel,
            Err(error) => return ExportOutcome::permanent(error),
        };
        let mut grpc =
            tonic::client::Grpc::new(channel).accept_compressed(CompressionEncoding::Gzip);
        if self.compression == Compression::Gzip {
            grpc = grpc.send_compressed(CompressionEncoding::Gzip);
        }
        // `Bytes::clone` shares the cached encoding; nothing is re-encoded.
        let mut request = tonic::Request::new(batch.protobuf().clone());
        if !self.metadata.is_empty() {
            *request.metadata_mut() = self.metadata.clone();
        }
        request.set_timeout(self.timeout);
        let signal = batch.signal();
        request
            .extensions_mut()
            .insert(tonic::GrpcMethod::new(service(signal), "Export"));
        if let Err(error) = grpc.ready().await {
            return classify::transport(&error, &self.endpoint_text, self.timeout);
        }
        let path = PathAndQuery::from_static(signal.grpc_path());
        match grpc.unary(request, path, codec::LogsCodec).await {
            Ok(response) => classify::response(response.get_ref()),
            Err(status) => classify::status(&status, &self.endpoint_text, self.timeout),
        }
    }

    fn name(&self) -> &'static str {
        "otlp-grpc"
    }

    fn request_timeout(&self) -> Option<std::time::Duration> {
        Some(self.timeout)
    }

    async fn shutdown(&self) {
        self.shut_down.store(true, Ordering::Release);
        // Dropping the last handle stops the channel's background task and
        // closes the connection.
        let cached = self.slot().take();
        drop(cached);
    }
}

/// Parses `raw` into a URI with scheme and authority; the flag says TLS.
fn parse_endpoint(raw: &str, insecure: bool) -> Result<(Uri, bool), GrpcExporterError> {
    let trimmed = raw.trim();
    let invalid = |shown: &str, reason: &str| GrpcExporterError::InvalidEndpoint {
        endpoint: mask_url_credentials(shown),
        reason: reason.to_owned(),
    };
    if trimmed.is_empty() {
        return Err(invalid(trimmed, "the endpoint is empty"));
    }
    let with_scheme = if trimmed.contains("://") {
        trimmed.to_owned()
    } else if insecure {
        format!("http://{trimmed}")
    } else {
        format!("https://{trimmed}")
    };
    let uri: Uri = with_scheme
        .parse()
        .map_err(|e: http::uri::InvalidUri| invalid(trimmed, &e.to_string()))?;
    let tls = match uri.scheme_str() {
        Some(scheme) if scheme.eq_ignore_ascii_case("https") => true,
        Some(scheme) if scheme.eq_ignore_ascii_case("http") => false,
        Some(scheme) => {
            return Err(GrpcExporterError::UnsupportedScheme {
                endpoint: mask_url_credentials(trimmed),
                scheme: scheme.to_owned(),
            });
        }
        None => return Err(invalid(trimmed, "the endpoint has no scheme")),
    };
    let Some(authority) = uri.authority() else {
        return Err(invalid(trimmed, "the endpoint has no host"));
    };
    if authority.as_str().contains('@') {
        // Never echo credentials back.
        let masked = match trimmed.split_once("://") {
            Some((scheme, rest)) => match rest.rsplit_once('@') {
                Some((_, host)) => format!("{scheme}://***@{host}"),
                None => format!("{scheme}://***"),
            },
            None => "***".to_owned(),
        };
        return Err(invalid(
            &masked,
            "user info is not supported in a gRPC endpoint; send credentials as headers",
        ));
    }
    if authority.host().is_empty() {
        return Err(invalid(trimmed, "the endpoint has no host"));
    }
    Ok((uri, tls))
}

/// Why `name` (lowercase) cannot be configured metadata: gRPC reserves it.
/// `None` when it may be configured. The config resolver asks this too, so
/// the error can point at the config line.
pub fn reserved_metadata(name: &str) -> Option<&'static str> {
    (name.starts_with("grpc-") || RESERVED_METADATA.contains(&name))
        .then_some("the name is reserved by gRPC")
}

/// Turns the configured headers into request metadata, checking names and
/// values once, here, instead of on every export.
fn build_metadata(
    transport: &TransportOptions,
) -> Result<(MetadataMap, Vec<String>), GrpcExporterError> {
    let mut metadata = MetadataMap::with_capacity(transport.headers.len());
    let mut keys = Vec::with_capacity(transport.headers.len());
    for (name, value) in transport.headers.iter() {
        let invalid_key = |reason| GrpcExporterError::InvalidMetadataKey {
            key: name.to_owned(),
            reason,
        };
        if let Some(reason) = reserved_metadata(name) {
            return Err(invalid_key(reason));
        }
        if name.ends_with("-bin") {
            // Binary metadata: the value's bytes are sent base64-encoded.
            let key = BinaryMetadataKey::from_bytes(name.as_bytes()).map_err(|_| {
                invalid_key("not a valid header name (lowercase letters, digits, `-`, `_`, `.`)")
            })?;
            let mut value = BinaryMetadataValue::from_bytes(value.expose().as_bytes());
            value.set_sensitive(true);
            metadata.insert_bin(key, value);
        } else {
            let key = AsciiMetadataKey::from_bytes(name.as_bytes()).map_err(|_| {
                invalid_key("not a valid header name (lowercase letters, digits, `-`, `_`, `.`)")
            })?;
            let mut value = AsciiMetadataValue::try_from(value.expose()).map_err(|_| {
                GrpcExporterError::InvalidMetadataValue {
                    key: name.to_owned(),
                }
            })?;
            value.set_sensitive(true);
            metadata.insert(key, value);
        }
        keys.push(name.to_owned());
    }
    Ok((metadata, keys))
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_otel_core::SecretString;

    fn config(endpoint: &str) -> GrpcExporterConfig {
        GrpcExporterConfig::new(endpoint)
    }

    #[test]
    fn query_values_and_fragments_are_never_shown() {
        let exporter = GrpcExporter::new(config("http://127.0.0.1:4317/?token=q-s3cret"))
            .expect("a query is accepted here (the config refuses it)");
        let debug = format!("{exporter:?}");
        assert!(debug.contains("?token=***"), "{debug}");
        assert!(!debug.contains("s3cret"), "{debug}");
        let err = GrpcExporter::new(config("ftp://h:4317/?token=q-s3cret#f-s3cret"))
            .expect_err("ftp")
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[test]
    fn endpoints_are_validated_without_a_runtime() {
        let plain = GrpcExporter::new(config("http://127.0.0.1:4317")).expect("http");
        assert!(!plain.tls);
        let err = GrpcExporter::new(config("ftp://collector:4317")).expect_err("ftp");
        assert!(
            matches!(&err, GrpcExporterError::UnsupportedScheme { scheme, .. } if scheme == "ftp"),
            "{err}"
        );
        let err = GrpcExporter::new(config("http://")).expect_err("no host");
        assert!(
            matches!(err, GrpcExporterError::InvalidEndpoint { .. }),
            "{err}"
        );
        let err = GrpcExporter::new(config("  ")).expect_err("empty");
        assert!(
            matches!(err, GrpcExporterError::InvalidEndpoint { .. }),
            "{err}"
        );
        let err = GrpcExporter::new(config("http://bad host:4317")).expect_err("space");
        assert!(err.to_string().contains("http://bad host:4317"), "{err}");
    }

    #[test]
    fn scheme_less_endpoints_follow_the_insecure_flag() {
        let (uri, tls) = parse_endpoint("collector:4317", false).expect("tls");
        assert!(tls);
        assert_eq!(uri.scheme_str(), Some("https"));
        let (uri, tls) = parse_endpoint("collector:4317", true).expect("plain");
        assert!(!tls);
        assert_eq!(uri.scheme_str(), Some("http"));
        // An explicit scheme wins over the flag.
        let (_, tls) = parse_endpoint("https://collector:4317", true).expect("https");
        assert!(tls);
    }

    #[test]
    fn user_info_is_refused_and_masked() {
        let err =
            parse_endpoint("http://user:hunter2@collector:4317", false).expect_err("userinfo");
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("***@collector:4317"), "{text}");
    }

    #[test]
    fn metadata_errors_name_the_key_never_the_value() {
        let mut bad_value = config("http://127.0.0.1:4317");
        bad_value
            .transport
            .headers
            .insert("x-api-key", SecretString::new("s3cret\nvalue"));
        let err = GrpcExporter::new(bad_value).expect_err("newline");
        let text = err.to_string();
        assert!(
            matches!(&err, GrpcExporterError::InvalidMetadataValue { key } if key == "x-api-key")
        );
        assert!(!text.contains("s3cret"), "{text}");

        let mut bad_key = config("http://127.0.0.1:4317");
        bad_key
            .transport
            .headers
            .insert("bad key", SecretString::new("v"));
        let err = GrpcExporter::new(bad_key).expect_err("space in key");
        assert!(
            matches!(&err, GrpcExporterError::InvalidMetadataKey { key, .. } if key == "bad key")
        );

        let mut reserved = config("http://127.0.0.1:4317");
        reserved
            .transport
            .headers
            .insert("grpc-timeout", SecretString::new("1S"));
        assert!(matches!(
            GrpcExporter::new(reserved),
            Err(GrpcExporterError::InvalidMetadataKey { .. })
        ));
    }

    #[test]
    fn debug_shows_header_names_only() {
        let mut cfg = config("http://127.0.0.1:4317");
        cfg.transport
            .headers
            .insert("x-api-key", SecretString::new("topsecret"));
        cfg.transport
            .headers
            .insert("x-token-bin", SecretString::new("binsecret"));
        let exporter = GrpcExporter::new(cfg).expect("valid");
        let debug = format!("{exporter:?}");
        assert!(debug.contains("x-api-key"), "{debug}");
        assert!(!debug.contains("topsecret"), "{debug}");
        assert!(!debug.contains("binsecret"), "{debug}");
        assert_eq!(exporter.name(), "otlp-grpc");
    }

    #[test]
    fn an_enormous_timeout_is_clamped_to_what_grpc_can_send() {
        let mut cfg = GrpcExporterConfig::new("http://127.0.0.1:4317");
        cfg.transport.timeout = Duration::MAX;
        let exporter = GrpcExporter::new(cfg).expect("builds");
        assert_eq!(exporter.timeout, MAX_GRPC_TIMEOUT);
    }

    #[test]
    fn zero_timeout_is_refused() {
        let mut cfg = config("http://127.0.0.1:4317");
        cfg.transport.timeout = Duration::ZERO;
        assert!(matches!(
            GrpcExporter::new(cfg),
            Err(GrpcExporterError::ZeroTimeout)
        ));
    }

    #[test]
    fn missing_tls_files_fail_at_construction() {
        let mut cfg = config("https://127.0.0.1:4317");
        cfg.transport.tls.ca_certificate = Some("/nonexistent/ca.pem".into());
        assert!(matches!(
            GrpcExporter::new(cfg),
            Err(GrpcExporterError::TlsFiles(TlsError::Read { .. }))
        ));
    }

    #[test]
    fn export_outside_a_runtime_context_is_an_exporter_error() {
        let exporter = GrpcExporter::new(config("http://127.0.0.1:4317")).expect("valid");
        let err = exporter.channel().expect_err("no runtime");
        assert_eq!(err.kind, FailureKind::Exporter);
    }
}
