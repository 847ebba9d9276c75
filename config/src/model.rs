//! The parsed (not yet resolved) `[otel]` table: every value as written,
//! with the key path and position it came from.

use std::path::PathBuf;

use agent_otel_core::{Compression, HttpProtocol, SecretString};

use crate::error::Origin;

/// A value with the key path and position it was read from.
///
/// `Debug` prints the value's own `Debug`, so secrets
/// ([`SecretString`]) stay masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value as written (before `${VAR}` expansion).
    pub value: T,
    /// Dotted key path, e.g. `otel.exporter.otlp-http.endpoint`.
    pub key: String,
    /// Where it was written.
    pub origin: Origin,
}

impl<T> Setting<T> {
    /// A value with its key path and origin.
    pub fn new(value: T, key: impl Into<String>, origin: Origin) -> Self {
        Self {
            value,
            key: key.into(),
            origin,
        }
    }
}

/// The exporter selected by `exporter = ...`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExporterConfig {
    /// `exporter = "none"`: nothing is exported.
    #[default]
    None,
    /// `exporter = "otlp-http"` or `exporter = { otlp-http = { .. } }`.
    OtlpHttp(OtlpConfig),
    /// `exporter = "otlp-grpc"` or `exporter = { otlp-grpc = { .. } }`.
    OtlpGrpc(OtlpConfig),
}

impl ExporterConfig {
    /// The exporter's name as written in the config (`none`, `otlp-http`, `otlp-grpc`).
    pub fn name(&self) -> &'static str {
        match self {
            ExporterConfig::None => "none",
            ExporterConfig::OtlpHttp(_) => "otlp-http",
            ExporterConfig::OtlpGrpc(_) => "otlp-grpc",
        }
    }
}

/// Settings of an OTLP exporter table; unset keys are `None` / empty and
/// are filled from the environment or defaults when resolving.
///
/// `Debug` masks header values and any password in the endpoint URL.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct OtlpConfig {
    /// `endpoint`, unexpanded.
    pub endpoint: Option<Setting<String>>,
    /// `protocol` (`otlp-http` only).
    pub protocol: Option<Setting<HttpProtocol>>,
    /// `headers`: names (validated) and unexpanded secret values, in file order.
    pub headers: Vec<(Setting<String>, Setting<SecretString>)>,
    /// `compression`.
    pub compression: Option<Setting<Compression>>,
    /// `timeout-ms`.
    pub timeout_ms: Option<Setting<u64>>,
    /// `tls`: file paths as written (relative ones resolve against the
    /// config file's folder).
    pub tls: TlsPaths,
}

impl std::fmt::Debug for OtlpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoint = self.endpoint.as_ref().map(|s| Setting {
            value: crate::text::mask_url(&s.value),
            key: s.key.clone(),
            origin: s.origin.clone(),
        });
        f.debug_struct("OtlpConfig")
            .field("endpoint", &endpoint)
            .field("protocol", &self.protocol)
            .field("headers", &self.headers)
            .field("compression", &self.compression)
            .field("timeout_ms", &self.timeout_ms)
            .field("tls", &self.tls)
            .finish()
    }
}

/// The `tls` table of an OTLP exporter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsPaths {
    /// `ca-certificate`.
    pub ca_certificate: Option<Setting<PathBuf>>,
    /// `client-certificate`.
    pub client_certificate: Option<Setting<PathBuf>>,
    /// `client-private-key`.
    pub client_private_key: Option<Setting<PathBuf>>,
}

/// Pipeline settings at the `[otel]` level (see the crate docs for the
/// key table). Unset keys take [`agent_otel_core::PipelineOptions`] defaults.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipelineConfig {
    /// `queue_capacity`: events buffered before new ones are dropped.
    pub queue_capacity: Option<Setting<u64>>,
    /// `max_batch_size`: events per export request at most.
    pub max_batch_size: Option<Setting<u64>>,
    /// `batch_timeout_ms`: how long a batch waits to fill.
    pub batch_timeout_ms: Option<Setting<u64>>,
    /// `max_request_bytes`: largest encoded request.
    pub max_request_bytes: Option<Setting<u64>>,
    /// `max_concurrent_exports`: export requests in flight at once.
    pub max_concurrent_exports: Option<Setting<u64>>,
    /// `retry_budget_ms`: total retry time per batch (0 disables retries).
    pub retry_budget_ms: Option<Setting<u64>>,
    /// `retry_initial_backoff_ms`: delay before the first retry.
    pub retry_initial_backoff_ms: Option<Setting<u64>>,
    /// `retry_max_backoff_ms`: largest delay between retries.
    pub retry_max_backoff_ms: Option<Setting<u64>>,
    /// `shutdown_timeout_ms`: how long shutdown waits for delivery.
    pub shutdown_timeout_ms: Option<Setting<u64>>,
}

/// The `[otel.spool]` table (durable delivery); off unless `dir` is set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SpoolConfig {
    /// `dir`, as written (`~` and relative paths are resolved later).
    pub dir: Option<Setting<String>>,
    /// `max_bytes`: total size of the spooled files at most.
    pub max_bytes: Option<Setting<u64>>,
    /// `max_age_hours`: spooled files older than this are evicted.
    pub max_age_hours: Option<Setting<u64>>,
}

/// The parsed `[otel]` table.
///
/// Build it with [`OtelConfig::parse`], [`OtelConfig::parse_file`] or
/// [`OtelConfig::parse_standalone`]; turn it into runnable settings with
/// [`OtelConfig::resolve`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OtelConfig {
    /// `environment` (resource attribute `env`).
    pub environment: Option<Setting<String>>,
    /// `exporter`; `None` when the key is absent (the environment may then
    /// choose, see the crate docs).
    pub exporter: Option<Setting<ExporterConfig>>,
    /// `trace_exporter`: where spans go (same forms as `exporter`).
    pub trace_exporter: Option<Setting<ExporterConfig>>,
    /// `metrics_exporter`: where metrics go (same forms as `exporter`).
    pub metrics_exporter: Option<Setting<ExporterConfig>>,
    /// `metrics_temporality`: delta, cumulative or lowmemory.
    pub metrics_temporality: Option<Setting<agent_otel_core::Temporality>>,
    /// `metrics_interval_ms`: time between periodic metrics exports.
    pub metrics_interval_ms: Option<Setting<u64>>,
    /// `log_user_prompt`.
    pub log_user_prompt: Option<Setting<bool>>,
    /// `log_tool_content`.
    pub log_tool_content: Option<Setting<bool>>,
    /// `attribute_value_length_limit`: longest string value, in characters.
    pub attribute_value_length_limit: Option<Setting<u64>>,
    /// `attribute_count_limit`: most attributes on one record.
    pub attribute_count_limit: Option<Setting<u64>>,
    /// `[otel.resource_attributes]`, in file order.
    pub resource_attributes: Vec<(Setting<String>, Setting<String>)>,
    /// Pipeline settings.
    pub pipeline: PipelineConfig,
    /// `[otel.spool]`.
    pub spool: SpoolConfig,
    /// Folder relative TLS paths resolve against (the config file's folder);
    /// `None` leaves them relative to the process's working directory.
    pub base_dir: Option<PathBuf>,
}
