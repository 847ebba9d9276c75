//! Turns a parsed [`OtelConfig`] plus the environment and the host's
//! defaults into a [`ResolvedConfig`]: telemetry options, pipeline options
//! and exporter settings, ready to start.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_otel_core::attribute::DEFAULT_ATTRIBUTE_COUNT_LIMIT;
use agent_otel_core::{
    AttributeLimits, Compression, ContentPolicy, DEFAULT_SHUTDOWN_TIMEOUT, Exporter, Headers,
    HttpProtocol, PipelineOptions, Resource, Sampler, SecretString, Signal, SignalExporters,
    SpoolOptions, Telemetry, TelemetryOptions, TlsConfig, TlsError, TraceOptions, TraceParent,
    TransportOptions,
};

use crate::env::Environment;
use crate::error::{Choices, ConfigError, KeyPath, Origin, Suggestion, shown};
use crate::model::{ExporterConfig, OtelConfig, OtlpConfig, Setting, TlsPaths};
use crate::parse::{COMPRESSIONS, IntegerRange, check_header_name};
use crate::signal_vars::{OtlpVar, exporter_var, vars};
use crate::text::{
    ExpandError, Expansion, USERINFO_BREAKERS, check_url, expand_tracked, mask_url, percent_decode,
    suggest, userinfo_expansion_breaking_url,
};

type Result<T> = std::result::Result<T, ConfigError>;

/// Default OTLP/HTTP logs endpoint.
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318/v1/logs";

/// Default OTLP/HTTP endpoint of `signal` (`http://localhost:4318/v1/<signal>`).
pub fn default_http_endpoint(signal: Signal) -> String {
    format!("http://localhost:4318/v1/{signal}")
}
/// Default OTLP/gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Values of `OTEL_EXPORTER_OTLP_PROTOCOL` / `OTEL_EXPORTER_OTLP_LOGS_PROTOCOL`.
pub const ENV_PROTOCOLS: &[&str] = &["grpc", "http/protobuf", "http/json"];
/// Values of `OTEL_LOGS_EXPORTER` this crate supports.
pub const ENV_LOGS_EXPORTERS: &[&str] = &["otlp", "none"];

/// True when the `otlp-http` transport is compiled in (cargo feature `http`).
pub const HTTP_COMPILED: bool = cfg!(feature = "http");
/// True when the `otlp-grpc` transport is compiled in (cargo feature `grpc`).
pub const GRPC_COMPILED: bool = cfg!(feature = "grpc");

/// What the host application contributes: the defaults of the resource and
/// the event naming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostInfo {
    /// Default `service.name` (default `codex-cli`).
    pub service_name: String,
    /// `service.version`: the host's version (default empty).
    pub service_version: String,
    /// Event name prefix (default `codex`).
    pub event_prefix: String,
    /// Instrumentation scope name (default `codex_otel`).
    pub scope_name: String,
    /// Instrumentation scope version (default: agent-otel-core's version).
    pub scope_version: String,
}

impl Default for HostInfo {
    fn default() -> Self {
        let defaults = TelemetryOptions::default();
        Self {
            service_name: defaults.resource.service_name,
            service_version: defaults.resource.service_version,
            event_prefix: defaults.event_prefix,
            scope_name: defaults.scope_name,
            scope_version: defaults.scope_version,
        }
    }
}

impl HostInfo {
    /// Defaults with the given service name and version.
    pub fn new(service_name: impl Into<String>, service_version: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            service_version: service_version.into(),
            ..Self::default()
        }
    }
}

/// Resolved settings of the OTLP/HTTP exporter.
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpHttpSettings {
    /// Full URL requests are POSTed to.
    pub endpoint: String,
    /// Where the endpoint came from.
    pub endpoint_origin: Origin,
    /// Body encoding.
    pub protocol: HttpProtocol,
    /// Headers, compression, timeout, TLS.
    pub transport: TransportOptions,
}

/// Resolved settings of the OTLP/gRPC exporter.
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpGrpcSettings {
    /// `http://host:port` (plaintext) or `https://host:port` (TLS).
    pub endpoint: String,
    /// Where the endpoint came from.
    pub endpoint_origin: Origin,
    /// Metadata, compression, timeout, TLS.
    pub transport: TransportOptions,
}

impl fmt::Debug for OtlpHttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpHttpSettings")
            .field("endpoint", &mask_url(&self.endpoint))
            .field("endpoint_origin", &self.endpoint_origin)
            .field("protocol", &self.protocol)
            .field("transport", &self.transport)
            .finish()
    }
}

impl fmt::Debug for OtlpGrpcSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpGrpcSettings")
            .field("endpoint", &mask_url(&self.endpoint))
            .field("endpoint_origin", &self.endpoint_origin)
            .field("transport", &self.transport)
            .finish()
    }
}

#[cfg(feature = "http")]
impl OtlpHttpSettings {
    /// The exporter crate's configuration.
    pub fn exporter_config(&self) -> agent_otel_exporter_http::HttpExporterConfig {
        agent_otel_exporter_http::HttpExporterConfig {
            endpoint: self.endpoint.clone(),
            protocol: self.protocol,
            transport: self.transport.clone(),
        }
    }
}

#[cfg(feature = "grpc")]
impl OtlpGrpcSettings {
    /// The exporter crate's configuration.
    pub fn exporter_config(&self) -> agent_otel_exporter_grpc::GrpcExporterConfig {
        agent_otel_exporter_grpc::GrpcExporterConfig {
            endpoint: self.endpoint.clone(),
            transport: self.transport.clone(),
        }
    }
}

/// The exporter to build.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ExporterSettings {
    /// Export nothing.
    #[default]
    None,
    /// OTLP/HTTP.
    OtlpHttp(OtlpHttpSettings),
    /// OTLP/gRPC.
    OtlpGrpc(OtlpGrpcSettings),
}

impl ExporterSettings {
    /// `none`, `otlp-http` or `otlp-grpc`.
    pub fn name(&self) -> &'static str {
        match self {
            ExporterSettings::None => "none",
            ExporterSettings::OtlpHttp(_) => "otlp-http",
            ExporterSettings::OtlpGrpc(_) => "otlp-grpc",
        }
    }
}

/// Everything needed to start telemetry, after the table, the environment
/// and the host's defaults were merged and checked.
///
/// `Display` prints a human summary with secrets masked.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedConfig {
    /// Resource, event prefix, scope, prompt logging.
    pub telemetry: TelemetryOptions,
    /// Queue, batching, retry.
    pub pipeline: PipelineOptions,
    /// The exporter and its settings.
    pub exporter: ExporterSettings,
    /// Where the exporter choice came from (`exporter` key,
    /// `OTEL_SDK_DISABLED`, `OTEL_LOGS_EXPORTER`, or the default `none`).
    pub exporter_origin: Origin,
    /// The spans exporter (`trace_exporter`, `OTEL_TRACES_EXPORTER`).
    pub trace_exporter: ExporterSettings,
    /// Where the spans exporter choice came from.
    pub trace_exporter_origin: Origin,
    /// The metrics exporter (`metrics_exporter`, `OTEL_METRICS_EXPORTER`).
    pub metrics_exporter: ExporterSettings,
    /// Where the metrics exporter choice came from.
    pub metrics_exporter_origin: Origin,
    /// Settings the environment gave that were ignored, each saying why
    /// (a malformed `TRACEPARENT`); `check` prints them.
    pub warnings: Vec<String>,
    /// How long [`Telemetry::shutdown`] should wait (`shutdown_timeout_ms`).
    pub shutdown_timeout: Duration,
    /// The disk spool (`[otel.spool]`), when `dir` is set.
    pub spool: Option<SpoolOptions>,
}

impl Default for ResolvedConfig {
    fn default() -> Self {
        Self {
            telemetry: TelemetryOptions::default(),
            pipeline: PipelineOptions::default(),
            exporter: ExporterSettings::None,
            exporter_origin: Origin::Default,
            trace_exporter: ExporterSettings::None,
            trace_exporter_origin: Origin::Default,
            metrics_exporter: ExporterSettings::None,
            metrics_exporter_origin: Origin::Default,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            spool: None,
            warnings: Vec::new(),
        }
    }
}

impl ResolvedConfig {
    /// Builds the configured exporter; `None` for exporter `none`.
    ///
    /// Fails when the exporter refuses its settings (e.g. unusable TLS
    /// material) or its transport was not compiled in.
    pub fn build_exporter(&self) -> Result<Option<Box<dyn Exporter>>> {
        build(&self.exporter, &self.exporter_origin)
    }

    /// Builds the spans exporter; `None` for `trace_exporter = "none"`.
    pub fn build_trace_exporter(&self) -> Result<Option<Box<dyn Exporter>>> {
        build(&self.trace_exporter, &self.trace_exporter_origin)
    }

    /// Builds the metrics exporter; `None` for `metrics_exporter = "none"`.
    pub fn build_metrics_exporter(&self) -> Result<Option<Box<dyn Exporter>>> {
        build(&self.metrics_exporter, &self.metrics_exporter_origin)
    }

    /// Starts telemetry: with every exporter `none`,
    /// [`Telemetry::disabled`] (no thread); otherwise the pipeline starts on
    /// its own thread, exporting each signal that has an exporter.
    pub fn start(&self) -> Result<Telemetry> {
        let logs = self.build_exporter()?;
        let traces = self.build_trace_exporter()?;
        let metrics = self.build_metrics_exporter()?;
        if logs.is_none() && traces.is_none() && metrics.is_none() {
            return Ok(Telemetry::disabled());
        }
        Ok(Telemetry::with_spool(
            self.telemetry.clone(),
            SignalExporters {
                logs,
                traces,
                metrics,
            },
            self.pipeline,
            self.spool.clone(),
        )?)
    }
}

fn build(settings: &ExporterSettings, origin: &Origin) -> Result<Option<Box<dyn Exporter>>> {
    match settings {
        ExporterSettings::None => Ok(None),
        ExporterSettings::OtlpHttp(settings) => build_http(settings, origin).map(Some),
        ExporterSettings::OtlpGrpc(settings) => build_grpc(settings, origin).map(Some),
    }
}

#[cfg(feature = "http")]
fn build_http(settings: &OtlpHttpSettings, _origin: &Origin) -> Result<Box<dyn Exporter>> {
    let exporter = agent_otel_exporter_http::HttpExporter::new(settings.exporter_config())
        .map_err(|e| ConfigError::Exporter {
            exporter: "otlp-http",
            source: Box::new(e),
        })?;
    Ok(Box::new(exporter))
}

#[cfg(not(feature = "http"))]
fn build_http(_settings: &OtlpHttpSettings, origin: &Origin) -> Result<Box<dyn Exporter>> {
    Err(not_compiled(
        "otlp-http",
        origin.clone(),
        KeyPath::default(),
    ))
}

#[cfg(feature = "grpc")]
fn build_grpc(settings: &OtlpGrpcSettings, _origin: &Origin) -> Result<Box<dyn Exporter>> {
    let exporter = agent_otel_exporter_grpc::GrpcExporter::new(settings.exporter_config())
        .map_err(|e| ConfigError::Exporter {
            exporter: "otlp-grpc",
            source: Box::new(e),
        })?;
    Ok(Box::new(exporter))
}

#[cfg(not(feature = "grpc"))]
fn build_grpc(_settings: &OtlpGrpcSettings, origin: &Origin) -> Result<Box<dyn Exporter>> {
    Err(not_compiled(
        "otlp-grpc",
        origin.clone(),
        KeyPath::default(),
    ))
}

fn not_compiled(exporter: &'static str, at: Origin, key: KeyPath) -> ConfigError {
    ConfigError::TransportNotCompiled {
        at,
        key,
        exporter,
        feature: if exporter == "otlp-http" {
            "http"
        } else {
            "grpc"
        },
    }
}

/// Which transport was chosen, with the table settings (if any).
enum Choice<'a> {
    None,
    Http(Option<&'a OtlpConfig>),
    Grpc(Option<&'a OtlpConfig>),
}

impl OtelConfig {
    /// Merges this table with `env` and `host` into runnable settings,
    /// checking everything the table could not check alone (`${VAR}`
    /// expansion, environment values, TLS files, compiled-in transports).
    pub fn resolve(&self, env: &Environment, host: &HostInfo) -> Result<ResolvedConfig> {
        let (telemetry, warnings) = self.telemetry_options(env, host)?;
        let mut pipeline = self.pipeline_options(env)?;
        let (exporter, exporter_origin) = self.exporter_settings(env, Signal::Logs)?;
        let (trace_exporter, trace_exporter_origin) =
            self.exporter_settings(env, Signal::Traces)?;
        let (metrics_exporter, metrics_exporter_origin) =
            self.exporter_settings(env, Signal::Metrics)?;
        match &exporter {
            ExporterSettings::OtlpHttp(s) => pipeline.request_timeout = s.transport.timeout,
            ExporterSettings::OtlpGrpc(s) => pipeline.request_timeout = s.transport.timeout,
            ExporterSettings::None => {}
        }
        let shutdown_timeout = self
            .pipeline
            .shutdown_timeout_ms
            .as_ref()
            .map_or(DEFAULT_SHUTDOWN_TIMEOUT, |s| Duration::from_millis(s.value));
        let spool = self.spool_options(env)?;
        Ok(ResolvedConfig {
            telemetry,
            pipeline,
            exporter,
            exporter_origin,
            trace_exporter,
            trace_exporter_origin,
            metrics_exporter,
            metrics_exporter_origin,
            shutdown_timeout,
            spool,
            warnings,
        })
    }

    /// `[otel.spool]`: `None` unless `dir` is set; `~` and `~/...` expand
    /// from `HOME`, relative paths resolve against the config file's folder.
    fn spool_options(&self, env: &Environment) -> Result<Option<SpoolOptions>> {
        let Some(dir) = &self.spool.dir else {
            return Ok(None);
        };
        let invalid = |reason: &str, fix: &str| ConfigError::InvalidValue {
            at: dir.origin.clone(),
            key: KeyPath::from(dir.key.clone()),
            reason: reason.to_owned(),
            fix: fix.to_owned(),
        };
        let written = dir.value.as_str();
        let path = match written.strip_prefix('~') {
            Some(rest) if rest.is_empty() || rest.starts_with('/') => {
                let home = env.get("HOME").filter(|h| !h.is_empty()).ok_or_else(|| {
                    invalid(
                        "`~` needs the HOME environment variable, which is not set",
                        "set HOME or write the path without `~`",
                    )
                })?;
                PathBuf::from(home).join(rest.trim_start_matches('/'))
            }
            Some(_) => {
                return Err(invalid(
                    "only `~` and `~/...` are expanded, not `~user`",
                    "write the full path",
                ));
            }
            None => resolve_path(self.base_dir.as_deref(), Path::new(written)),
        };
        let mut options = SpoolOptions::new(path);
        if let Some(s) = &self.spool.max_bytes {
            options.max_bytes = s.value;
        }
        if let Some(s) = &self.spool.max_age_hours {
            options.max_age = Duration::from_secs(s.value.saturating_mul(3600));
        }
        Ok(Some(options))
    }

    /// The exporter of `signal`: its key in the table, else the
    /// environment's choice, with that signal's variables filling the rest.
    fn exporter_settings(
        &self,
        env: &Environment,
        signal: Signal,
    ) -> Result<(ExporterSettings, Origin)> {
        let (choice, origin, choice_key) = self.choose_exporter(env, signal)?;
        let settings = match choice {
            Choice::None => ExporterSettings::None,
            Choice::Http(table) => {
                if !HTTP_COMPILED {
                    return Err(not_compiled("otlp-http", origin, choice_key));
                }
                let table = table.cloned().unwrap_or_default();
                let (endpoint, endpoint_origin) = self.http_endpoint(&table, env, signal)?;
                let protocol = http_protocol(&table, env, signal)?;
                let transport = self.transport(&table, env, "otlp-http", &endpoint, signal)?;
                ExporterSettings::OtlpHttp(OtlpHttpSettings {
                    endpoint,
                    endpoint_origin,
                    protocol,
                    transport,
                })
            }
            Choice::Grpc(table) => {
                if !GRPC_COMPILED {
                    return Err(not_compiled("otlp-grpc", origin, choice_key));
                }
                let table = table.cloned().unwrap_or_default();
                let (endpoint, endpoint_origin) = self.grpc_endpoint(&table, env, signal)?;
                let transport = self.transport(&table, env, "otlp-grpc", &endpoint, signal)?;
                ExporterSettings::OtlpGrpc(OtlpGrpcSettings {
                    endpoint,
                    endpoint_origin,
                    transport,
                })
            }
        };
        Ok((settings, origin))
    }

    /// The table key choosing `signal`'s exporter.
    fn exporter_key(&self, signal: Signal) -> Option<&Setting<ExporterConfig>> {
        match signal {
            Signal::Logs => self.exporter.as_ref(),
            Signal::Traces => self.trace_exporter.as_ref(),
            Signal::Metrics => self.metrics_exporter.as_ref(),
        }
    }

    /// Key path of `suffix` under `signal`'s exporter key, when the table has one.
    fn key(&self, signal: Signal, suffix: &str) -> String {
        self.exporter_key(signal)
            .map(|s| format!("{}.{suffix}", s.key))
            .unwrap_or_default()
    }

    fn choose_exporter(
        &self,
        env: &Environment,
        signal: Signal,
    ) -> Result<(Choice<'_>, Origin, KeyPath)> {
        if env_bool(env, "OTEL_SDK_DISABLED")? == Some(true) {
            return Ok((
                Choice::None,
                Origin::Env("OTEL_SDK_DISABLED".into()),
                KeyPath::default(),
            ));
        }
        if let Some(setting) = self.exporter_key(signal) {
            let choice = match &setting.value {
                ExporterConfig::None => Choice::None,
                ExporterConfig::OtlpHttp(t) => Choice::Http(Some(t)),
                ExporterConfig::OtlpGrpc(t) => Choice::Grpc(Some(t)),
            };
            return Ok((
                choice,
                setting.origin.clone(),
                KeyPath::from(setting.key.clone()),
            ));
        }
        let var = exporter_var(signal);
        let Some(value) = env.otel(var) else {
            return Ok((Choice::None, Origin::Default, KeyPath::default()));
        };
        let origin = Origin::Env(var.into());
        match value {
            "none" => Ok((Choice::None, origin, KeyPath::default())),
            "otlp" => {
                let choice = match env_protocol(env, signal)? {
                    Some((_, EnvProtocol::Grpc)) => Choice::Grpc(None),
                    _ => Choice::Http(None),
                };
                Ok((choice, origin, KeyPath::default()))
            }
            other => Err(ConfigError::UnknownValue {
                at: origin,
                key: KeyPath::default(),
                what: "exporter",
                value: other.to_owned(),
                expected: Choices(ENV_LOGS_EXPORTERS),
                suggestion: Suggestion(suggest(other, ENV_LOGS_EXPORTERS)),
            }),
        }
    }

    fn telemetry_options(
        &self,
        env: &Environment,
        host: &HostInfo,
    ) -> Result<(TelemetryOptions, Vec<String>)> {
        let (trace, warnings) = trace_options(env)?;
        let mut service_name = host.service_name.clone();
        let mut attributes: Vec<(String, String)> = Vec::new();
        if let Some(raw) = env.otel("OTEL_RESOURCE_ATTRIBUTES") {
            for (_, k, v) in parse_env_pairs("OTEL_RESOURCE_ATTRIBUTES", raw, true)? {
                if k == "service.name" {
                    service_name = v;
                } else {
                    upsert(&mut attributes, k, v);
                }
            }
        }
        if let Some(name) = env.otel("OTEL_SERVICE_NAME") {
            service_name = name.to_owned();
        }
        for (k, v) in &self.resource_attributes {
            if k.value == "service.name" {
                service_name = v.value.clone();
            } else {
                upsert(&mut attributes, k.value.clone(), v.value.clone());
            }
        }
        let options = TelemetryOptions {
            resource: Resource {
                service_name,
                service_version: host.service_version.clone(),
                environment: self
                    .environment
                    .as_ref()
                    .map_or_else(|| "dev".to_owned(), |s| s.value.clone()),
                attributes,
            },
            event_prefix: host.event_prefix.clone(),
            scope_name: host.scope_name.clone(),
            scope_version: host.scope_version.clone(),
            content: ContentPolicy {
                log_user_prompt: self.log_user_prompt.as_ref().is_some_and(|s| s.value),
                log_tool_content: self.log_tool_content.as_ref().is_none_or(|s| s.value),
            },
            attribute_limits: self.attribute_limits(env)?,
            trace,
            metrics: crate::metrics::resolve_metrics_options(self, env)?,
        };
        Ok((options, warnings))
    }

    /// The attribute limits: the `[otel]` keys, else the log-record
    /// variables, else the generic ones (as the OTel SDKs resolve them).
    fn attribute_limits(&self, env: &Environment) -> Result<AttributeLimits> {
        let value_length = pick_limit(
            &self.attribute_value_length_limit,
            env,
            &[
                "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
                "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
            ],
            "attribute_value_length_limit",
        )?;
        let count = pick_limit(
            &self.attribute_count_limit,
            env,
            &[
                "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
                "OTEL_ATTRIBUTE_COUNT_LIMIT",
            ],
            "attribute_count_limit",
        )?;
        Ok(AttributeLimits {
            value_length,
            count: count.unwrap_or(DEFAULT_ATTRIBUTE_COUNT_LIMIT),
        })
    }

    fn pipeline_options(&self, env: &Environment) -> Result<PipelineOptions> {
        let p = &self.pipeline;
        let mut options = PipelineOptions::default();
        if let Some(n) = pick_count(
            &p.queue_capacity,
            env,
            "OTEL_BLRP_MAX_QUEUE_SIZE",
            "queue_capacity",
        )? {
            options.queue_capacity = n;
        }
        if let Some(n) = pick_count(
            &p.max_batch_size,
            env,
            "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            "max_batch_size",
        )? {
            options.max_batch_size = n;
        }
        if let Some(ms) = pick_ms(
            &p.batch_timeout_ms,
            env,
            "OTEL_BLRP_SCHEDULE_DELAY",
            "batch_timeout_ms",
        )? {
            options.batch_timeout = ms;
        }
        if let Some(s) = &p.max_request_bytes {
            options.max_request_bytes = to_usize(s)?;
        }
        if let Some(s) = &p.max_concurrent_exports {
            options.max_concurrent_exports = to_usize(s)?;
        }
        if let Some(s) = &p.retry_budget_ms {
            options.retry.budget = Duration::from_millis(s.value);
        }
        if let Some(s) = &p.retry_initial_backoff_ms {
            options.retry.initial_backoff = Duration::from_millis(s.value);
        }
        if let Some(s) = &p.retry_max_backoff_ms {
            options.retry.max_backoff = Duration::from_millis(s.value);
        }
        if options.retry.initial_backoff > options.retry.max_backoff {
            let key = p
                .retry_initial_backoff_ms
                .as_ref()
                .or(p.retry_max_backoff_ms.as_ref());
            return Err(ConfigError::InvalidValue {
                at: key.map_or(Origin::Default, |s| s.origin.clone()),
                key: KeyPath::from(key.map(|s| s.key.clone()).unwrap_or_default()),
                reason: format!(
                    "the initial retry backoff ({} ms) is longer than the maximum ({} ms)",
                    options.retry.initial_backoff.as_millis(),
                    options.retry.max_backoff.as_millis()
                ),
                fix: "make retry_initial_backoff_ms at most retry_max_backoff_ms".to_owned(),
            });
        }
        Ok(options)
    }

    fn http_endpoint(
        &self,
        table: &OtlpConfig,
        env: &Environment,
        signal: Signal,
    ) -> Result<(String, Origin)> {
        if let Some(setting) = &table.endpoint {
            return table_endpoint(setting, env, false);
        }
        let [own, base_var] = vars(signal, OtlpVar::Endpoint);
        if let Some(url) = env.otel(own) {
            check_env_url(own, url, false)?;
            return Ok((url.to_owned(), Origin::Env(own.into())));
        }
        if let Some(base) = env.otel(base_var) {
            check_env_url(base_var, base, false)?;
            return Ok((
                signal_url_from_base(base_var, base, signal)?,
                Origin::Env(base_var.into()),
            ));
        }
        Ok((default_http_endpoint(signal), Origin::Default))
    }

    fn grpc_endpoint(
        &self,
        table: &OtlpConfig,
        env: &Environment,
        signal: Signal,
    ) -> Result<(String, Origin)> {
        if let Some(setting) = &table.endpoint {
            return table_endpoint(setting, env, true);
        }
        let insecure = env_insecure(env, signal)?.is_some_and(|(_, b)| b);
        for var in vars(signal, OtlpVar::Endpoint) {
            if let Some(raw) = env.otel(var) {
                // The spec lets gRPC endpoints omit the scheme; INSECURE picks it.
                let url = if raw.contains("://") {
                    raw.to_owned()
                } else if insecure {
                    format!("http://{raw}")
                } else {
                    format!("https://{raw}")
                };
                check_env_url(var, &url, true)?;
                return Ok((url, Origin::Env(var.into())));
            }
        }
        Ok((DEFAULT_GRPC_ENDPOINT.to_owned(), Origin::Default))
    }

    fn transport(
        &self,
        table: &OtlpConfig,
        env: &Environment,
        exporter: &'static str,
        endpoint: &str,
        signal: Signal,
    ) -> Result<TransportOptions> {
        check_reserved_headers(table, exporter)?;
        let headers = headers(table, env, signal)?;
        let compression = match &table.compression {
            Some(s) => s.value,
            None => match env.first_otel(&vars(signal, OtlpVar::Compression)) {
                None => Compression::None,
                Some((_, "gzip")) => Compression::Gzip,
                Some((_, "none")) => Compression::None,
                Some((var, other)) => {
                    return Err(ConfigError::UnknownValue {
                        at: Origin::Env(var.into()),
                        key: KeyPath::default(),
                        what: "compression",
                        value: other.to_owned(),
                        expected: Choices(COMPRESSIONS),
                        suggestion: Suggestion(suggest(other, COMPRESSIONS)),
                    });
                }
            },
        };
        let timeout = match &table.timeout_ms {
            Some(s) => Duration::from_millis(s.value),
            None => match env.first_otel(&vars(signal, OtlpVar::Timeout)) {
                Some((var, raw)) => Duration::from_millis(env_u64(var, raw, "timeout-ms")?),
                None => TransportOptions::default().timeout,
            },
        };
        let mut tls = self.tls(&table.tls, env, exporter, endpoint, signal)?;
        if exporter == "otlp-grpc" && endpoint.starts_with("http://") {
            // An explicit http:// scheme asks for plaintext (OTLP spec).
            tls.insecure = true;
        }
        Ok(TransportOptions {
            headers,
            compression,
            timeout,
            tls,
        })
    }

    fn tls(
        &self,
        table: &TlsPaths,
        env: &Environment,
        exporter: &'static str,
        endpoint: &str,
        signal: Signal,
    ) -> Result<TlsConfig> {
        let tls_key = self.key(signal, &format!("{exporter}.tls"));
        let base = self.base_dir.as_deref();
        let pick = |setting: &Option<Setting<PathBuf>>,
                    vars: [&'static str; 2]|
         -> Option<(PathBuf, Origin, String)> {
            if let Some(s) = setting {
                return Some((
                    resolve_path(base, &s.value),
                    s.origin.clone(),
                    s.key.clone(),
                ));
            }
            env.first_otel(&vars).map(|(var, value)| {
                (
                    PathBuf::from(value),
                    Origin::Env(var.to_owned()),
                    String::new(),
                )
            })
        };
        let ca = pick(&table.ca_certificate, vars(signal, OtlpVar::Certificate));
        let cert = pick(
            &table.client_certificate,
            vars(signal, OtlpVar::ClientCertificate),
        );
        let key = pick(&table.client_private_key, vars(signal, OtlpVar::ClientKey));
        let tls = TlsConfig {
            ca_certificate: ca.as_ref().map(|(p, ..)| p.clone()),
            client_certificate: cert.as_ref().map(|(p, ..)| p.clone()),
            client_private_key: key.as_ref().map(|(p, ..)| p.clone()),
            insecure: env_insecure(env, signal)?.is_some_and(|(_, b)| b),
        };
        // TLS files named in the table with a plaintext endpoint are a mistake.
        if endpoint.starts_with("http://")
            && let Some((_, origin, key)) = [&ca, &cert, &key]
                .into_iter()
                .flatten()
                .find(|(_, origin, _)| matches!(origin, Origin::File { .. }))
        {
            return Err(ConfigError::InvalidValue {
                at: origin.clone(),
                key: KeyPath::from(key.clone()),
                reason: format!(
                    "TLS files are set but the endpoint \"{}\" is plaintext http://",
                    mask_url(endpoint)
                ),
                fix: "use an https:// endpoint, or remove the tls table".to_owned(),
            });
        }
        if let Err(error) = tls.load() {
            let (at, key, fix) = match &error {
                TlsError::Read { what, .. } | TlsError::Parse { what, .. } => {
                    let slot = match *what {
                        "ca-certificate" => &ca,
                        "client-certificate" => &cert,
                        _ => &key,
                    };
                    let (at, key) = slot
                        .as_ref()
                        .map_or((Origin::Default, String::new()), |(_, o, k)| {
                            (o.clone(), k.clone())
                        });
                    let fix = if matches!(error, TlsError::Read { .. }) {
                        "; fix: check that the file exists and is readable (relative paths resolve against the config file's folder)"
                    } else {
                        ""
                    };
                    (at, key, fix)
                }
                _ => {
                    let at = [&cert, &key]
                        .into_iter()
                        .flatten()
                        .next()
                        .map_or(Origin::Default, |(_, o, _)| o.clone());
                    let key = if matches!(at, Origin::File { .. }) {
                        tls_key.clone()
                    } else {
                        String::new()
                    };
                    (at, key, "")
                }
            };
            return Err(ConfigError::Tls {
                at,
                key: KeyPath::from(key),
                source: Box::new(error),
                fix,
            });
        }
        Ok(tls)
    }
}

fn resolve_path(base: Option<&Path>, path: &Path) -> PathBuf {
    match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path.to_path_buf(),
    }
}

fn upsert(attributes: &mut Vec<(String, String)>, key: String, value: String) {
    match attributes.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => attributes.push((key, value)),
    }
}

fn expand_setting<T>(raw: &str, setting: &Setting<T>, env: &Environment) -> Result<String> {
    expand_setting_tracked(raw, setting, env).map(|(out, _)| out)
}

/// [`expand_setting`], also telling where each expanded value landed.
fn expand_setting_tracked<T>(
    raw: &str,
    setting: &Setting<T>,
    env: &Environment,
) -> Result<(String, Vec<Expansion>)> {
    expand_tracked(raw, env).map_err(|e| {
        let at = setting.origin.clone();
        let key = KeyPath::from(setting.key.clone());
        match e {
            ExpandError::Unset(variable) => ConfigError::UnsetVariable { at, key, variable },
            ExpandError::BadReference(i) => ConfigError::InvalidValue {
                at,
                key,
                reason: format!("malformed ${{...}} reference at character {}", i + 1),
                fix: "write ${NAME} with NAME made of letters, digits and '_', or $$ for a literal '$'".to_owned(),
            },
            ExpandError::LoneDollar(i) => ConfigError::InvalidValue {
                at,
                key,
                reason: format!("the '$' at character {} starts no ${{NAME}} reference", i + 1),
                fix: "write $$ for a literal '$', or ${NAME} to insert an environment variable".to_owned(),
            },
        }
    })
}

fn table_endpoint(
    setting: &Setting<String>,
    env: &Environment,
    grpc: bool,
) -> Result<(String, Origin)> {
    let (url, expansions) = expand_setting_tracked(&setting.value, setting, env)?;
    // Checked before the URL itself: a value breaking the user-info would be
    // re-parsed with part of it as the host, and shown as such.
    if let Some(expansion) = userinfo_expansion_breaking_url(&url, &expansions) {
        let breakers: Vec<String> = USERINFO_BREAKERS.iter().map(|c| format!("'{c}'")).collect();
        return Err(ConfigError::InvalidValue {
            at: setting.origin.clone(),
            key: KeyPath::from(setting.key.clone()),
            reason: format!(
                "${{{}}} expands into the endpoint's user-info and its value holds one of {} (the value is not shown), so the URL would be read with part of it as the host or path",
                expansion.name,
                breakers.join(" ")
            ),
            fix: format!(
                "percent-encode those characters in {} ('@' as %40, '/' as %2F, '?' as %3F, '#' as %23, '\\' as %5C), or send the credentials as a header",
                expansion.name
            ),
        });
    }
    check_url(&url, grpc).map_err(|(reason, fix)| ConfigError::InvalidUrl {
        at: setting.origin.clone(),
        key: KeyPath::from(setting.key.clone()),
        url: mask_url(&url),
        reason,
        fix,
    })?;
    Ok((url, setting.origin.clone()))
}

/// The OTLP/HTTP URL of `signal` for the base endpoint `base` (from `var`):
/// the signal path (`v1/logs`, `v1/traces`, `v1/metrics`) appended to the
/// base's path (OTel spec: `http://h:4318` and `http://h:4318/` give
/// `http://h:4318/v1/logs`, `http://h:4318/otlp` gives
/// `http://h:4318/otlp/v1/logs`), the query kept.
fn signal_url_from_base(var: &str, base: &str, signal: Signal) -> Result<String> {
    let mut url = url::Url::parse(base).map_err(|e| ConfigError::InvalidUrl {
        at: Origin::Env(var.to_owned()),
        key: KeyPath::default(),
        url: mask_url(base),
        reason: e.to_string(),
        fix: "write an absolute URL such as \"https://collector.example.com:4318\"",
    })?;
    let path = url.path();
    let path = if path.ends_with('/') {
        format!("{path}v1/{signal}")
    } else {
        format!("{path}/v1/{signal}")
    };
    url.set_path(&path);
    Ok(url.to_string())
}

fn check_env_url(var: &str, url: &str, grpc: bool) -> Result<()> {
    check_url(url, grpc).map_err(|(reason, fix)| ConfigError::InvalidUrl {
        at: Origin::Env(var.to_owned()),
        key: KeyPath::default(),
        url: mask_url(url),
        reason,
        fix,
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EnvProtocol {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

fn env_protocol(env: &Environment, signal: Signal) -> Result<Option<(&'static str, EnvProtocol)>> {
    let names = vars(signal, OtlpVar::Protocol);
    let Some((var, value)) = env.first_otel(&names) else {
        return Ok(None);
    };
    let var: &'static str = if var == names[0] { names[0] } else { names[1] };
    let protocol = match value {
        "grpc" => EnvProtocol::Grpc,
        "http/protobuf" => EnvProtocol::HttpProtobuf,
        "http/json" => EnvProtocol::HttpJson,
        other => {
            return Err(ConfigError::UnknownValue {
                at: Origin::Env(var.into()),
                key: KeyPath::default(),
                what: "protocol",
                value: other.to_owned(),
                expected: Choices(ENV_PROTOCOLS),
                suggestion: Suggestion(suggest(other, ENV_PROTOCOLS)),
            });
        }
    };
    Ok(Some((var, protocol)))
}

fn http_protocol(table: &OtlpConfig, env: &Environment, signal: Signal) -> Result<HttpProtocol> {
    if let Some(s) = &table.protocol {
        return Ok(s.value);
    }
    // `grpc` there does not apply to the otlp-http exporter the table chose.
    Ok(match env_protocol(env, signal)? {
        Some((_, EnvProtocol::HttpJson)) => HttpProtocol::Json,
        _ => HttpProtocol::Binary,
    })
}

fn env_bool(env: &Environment, var: &str) -> Result<Option<bool>> {
    match env.otel(var) {
        None => Ok(None),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(v) => Err(ConfigError::InvalidValue {
            at: Origin::Env(var.to_owned()),
            key: KeyPath::default(),
            reason: format!("\"{v}\" is not a boolean"),
            fix: format!("set {var} to true or false"),
        }),
    }
}

fn env_insecure(env: &Environment, signal: Signal) -> Result<Option<(&'static str, bool)>> {
    for var in vars(signal, OtlpVar::Insecure) {
        if let Some(b) = env_bool(env, var)? {
            return Ok(Some((var, b)));
        }
    }
    Ok(None)
}

/// An integer variable, checked against the range of the key it stands for.
fn env_u64(var: &str, raw: &str, key: &str) -> Result<u64> {
    let range = IntegerRange::of(key);
    match raw.parse::<u64>() {
        Ok(n) if range.is_none_or(|r| r.contains(n)) => Ok(n),
        _ => Err(ConfigError::InvalidValue {
            at: Origin::Env(var.to_owned()),
            key: KeyPath::default(),
            reason: match range {
                Some(r) => format!(
                    "\"{raw}\" is not an integer from {} (the range of {key}, which {var} sets)",
                    r.describe()
                ),
                None => format!("\"{raw}\" is not a non-negative integer"),
            },
            fix: format!("set {var} to a whole number (milliseconds for timeouts and delays)"),
        }),
    }
}

fn to_usize(setting: &Setting<u64>) -> Result<usize> {
    usize::try_from(setting.value).map_err(|_| ConfigError::InvalidValue {
        at: setting.origin.clone(),
        key: KeyPath::from(setting.key.clone()),
        reason: "the value is too large for this platform".to_owned(),
        fix: "give a smaller number".to_owned(),
    })
}

/// Sampling (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`) and the
/// caller's trace context (`TRACEPARENT`). A malformed `TRACEPARENT` is
/// ignored (turns start their own traces) with a warning; an unknown
/// sampler or a bad ratio is an error.
fn trace_options(env: &Environment) -> Result<(TraceOptions, Vec<String>)> {
    let mut warnings = Vec::new();
    let sampler = match env.otel("OTEL_TRACES_SAMPLER") {
        None => Sampler::default(),
        Some(name) => {
            let arg = env.otel("OTEL_TRACES_SAMPLER_ARG");
            Sampler::from_name(name, arg).ok_or_else(|| ConfigError::InvalidValue {
                at: Origin::Env("OTEL_TRACES_SAMPLER".to_owned()),
                key: KeyPath::default(),
                reason: format!(
                    "{} (with OTEL_TRACES_SAMPLER_ARG {}) is not a supported sampler",
                    shown(name),
                    arg.map_or_else(|| "unset".to_owned(), |a| shown(a).to_string())
                ),
                fix: "use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio, with a ratio between 0 and 1".to_owned(),
            })?
        }
    };
    let parent = match env
        .get("TRACEPARENT")
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        None => None,
        Some(raw) => match TraceParent::parse(raw) {
            Ok(parent) => Some(parent),
            Err(e) => {
                warnings.push(format!("TRACEPARENT is ignored: {e}"));
                None
            }
        },
    };
    Ok((TraceOptions { sampler, parent }, warnings))
}

/// A limit from its `[otel]` key, else the first of `vars` that is set.
fn pick_limit(
    setting: &Option<Setting<u64>>,
    env: &Environment,
    vars: &[&str],
    key: &str,
) -> Result<Option<usize>> {
    if let Some(s) = setting {
        return to_usize(s).map(Some);
    }
    for var in vars {
        if let Some(raw) = env.otel(var) {
            let n = env_u64(var, raw, key)?;
            return Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)));
        }
    }
    Ok(None)
}

fn pick_count(
    setting: &Option<Setting<u64>>,
    env: &Environment,
    var: &str,
    key: &str,
) -> Result<Option<usize>> {
    if let Some(s) = setting {
        return to_usize(s).map(Some);
    }
    match env.otel(var) {
        Some(raw) => {
            let n = env_u64(var, raw, key)?;
            Ok(Some(usize::try_from(n).unwrap_or(usize::MAX)))
        }
        None => Ok(None),
    }
}

pub(crate) fn pick_ms(
    setting: &Option<Setting<u64>>,
    env: &Environment,
    var: &str,
    key: &str,
) -> Result<Option<Duration>> {
    if let Some(s) = setting {
        return Ok(Some(Duration::from_millis(s.value)));
    }
    env.otel(var)
        .map(|raw| env_u64(var, raw, key).map(Duration::from_millis))
        .transpose()
}

/// Parses `k=v,k2=v2` (W3C-baggage style, values percent-decoded) into
/// `(entry number, key, value)`, entries numbered from 1 as written.
/// Messages never show the values, nor the keys (a mistyped entry may hold
/// a secret in its key), when `show_values` is false.
fn parse_env_pairs(
    var: &str,
    raw: &str,
    show_values: bool,
) -> Result<Vec<(usize, String, String)>> {
    let mut out = Vec::new();
    for (index, entry) in raw.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let invalid = |reason: String| ConfigError::InvalidValue {
            at: Origin::Env(var.to_owned()),
            key: KeyPath::default(),
            reason,
            fix: format!(
                "write {var} as key=value pairs separated by commas, with %-escapes for ',' '=' and non-ASCII"
            ),
        };
        let Some((k, v)) = entry.split_once('=') else {
            return Err(invalid(if show_values {
                format!("entry \"{entry}\" has no '='")
            } else {
                format!("entry {} has no '='", index + 1)
            }));
        };
        let k = k.trim();
        let key = percent_decode(k).filter(|k| !k.is_empty()).ok_or_else(|| {
            invalid(format!(
                "entry {} has an empty or undecodable key",
                index + 1
            ))
        })?;
        let value = percent_decode(v.trim()).ok_or_else(|| {
            invalid(if show_values {
                format!("the value of \"{key}\" is not valid UTF-8 once %-decoded")
            } else {
                format!(
                    "the value of entry {} is not valid UTF-8 once %-decoded",
                    index + 1
                )
            })
        })?;
        out.push((index + 1, key, value));
    }
    Ok(out)
}

/// Table headers the chosen transport sets itself are refused here, with
/// the line of the header, using the exporter's own rule.
fn check_reserved_headers(table: &OtlpConfig, exporter: &str) -> Result<()> {
    for (name, _) in &table.headers {
        let lower = name.value.to_ascii_lowercase();
        let reserved: Option<&'static str> = match exporter {
            #[cfg(feature = "http")]
            "otlp-http" => agent_otel_exporter_http::reserved_header(&lower),
            #[cfg(feature = "grpc")]
            "otlp-grpc" => agent_otel_exporter_grpc::reserved_metadata(&lower),
            _ => None,
        };
        if let Some(reason) = reserved {
            return Err(ConfigError::InvalidValue {
                at: name.origin.clone(),
                key: KeyPath::from(name.key.clone()),
                reason: format!("header \"{}\" cannot be configured: {reason}", name.value),
                fix: "remove it from headers".to_owned(),
            });
        }
    }
    Ok(())
}

fn headers(table: &OtlpConfig, env: &Environment, signal: Signal) -> Result<Headers> {
    let mut headers = Headers::new();
    // The generic variable first: the signal's own wins per header name.
    let [own, generic] = vars(signal, OtlpVar::Headers);
    for var in [generic, own] {
        let Some(raw) = env.otel(var) else { continue };
        for (entry, name, value) in parse_env_pairs(var, raw, false)? {
            let at = Origin::Env(var.to_owned());
            if check_header_name(&name).is_err() {
                return Err(env_header_name_error(var, entry, &name));
            }
            check_header_value(&value, &name, at, KeyPath::default())?;
            headers.insert(name, SecretString::new(value));
        }
    }
    for (name, value) in &table.headers {
        let expanded = expand_setting(value.value.expose(), value, env)?;
        check_header_value(
            &expanded,
            &name.value,
            value.origin.clone(),
            KeyPath::from(value.key.clone()),
        )?;
        headers.insert(name.value.clone(), SecretString::new(expanded));
    }
    Ok(headers)
}

/// The error for an invalid header name in entry `entry` of `var`. The name
/// is not echoed in full: `OTEL_EXPORTER_OTLP_HEADERS="Authorization: Basic
/// dXNl..."` makes the whole `Authorization: Basic dXNl...` the name, so
/// only the part before its first invalid character is shown.
fn env_header_name_error(var: &str, entry: usize, name: &str) -> ConfigError {
    let valid_len = name.find(|c: char| !is_token_char(c)).unwrap_or(name.len());
    let shown = &name[..valid_len];
    let reason = if shown.is_empty() || valid_len == name.len() {
        format!("entry {entry} of {var} has an invalid header name (the name is not shown)")
    } else {
        format!(
            "entry {entry} of {var} has an invalid header name: \"{shown}\" is followed by a character header names cannot hold (the rest is not shown)"
        )
    };
    ConfigError::InvalidValue {
        at: Origin::Env(var.to_owned()),
        key: KeyPath::default(),
        reason,
        fix: format!(
            "write {var} as k=v,k2=v2 with a token name (letters, digits and !#$%&'*+-.^_`|~) and '=' (not ':') before the value, %-encoding spaces and ',' in values, e.g. Authorization=Basic%20..."
        ),
    }
}

/// An RFC 9110 token character, the characters of a header name.
fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn check_header_value(value: &str, name: &str, at: Origin, key: KeyPath) -> Result<()> {
    match http::HeaderValue::from_str(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(ConfigError::InvalidHeaderValue {
            at,
            key,
            name: name.to_owned(),
        }),
    }
}

/// One exporter's lines of the [`ResolvedConfig`] summary, secrets masked.
fn write_exporter(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    exporter: &ExporterSettings,
    origin: &Origin,
) -> fmt::Result {
    let from = |origin: &Origin| match origin {
        Origin::Default => "default".to_owned(),
        other => format!("from {}", other.describe()),
    };
    writeln!(f, "{label}: {} ({})", exporter.name(), from(origin))?;
    let transport = match exporter {
        ExporterSettings::None => None,
        ExporterSettings::OtlpHttp(s) => {
            writeln!(
                f,
                "  endpoint: {} ({})",
                mask_url(&s.endpoint),
                from(&s.endpoint_origin)
            )?;
            let protocol = match s.protocol {
                HttpProtocol::Binary => "binary (application/x-protobuf)",
                HttpProtocol::Json => "json (application/json)",
            };
            writeln!(f, "  protocol: {protocol}")?;
            Some((&s.transport, s.endpoint.starts_with("http://")))
        }
        ExporterSettings::OtlpGrpc(s) => {
            writeln!(
                f,
                "  endpoint: {} ({})",
                mask_url(&s.endpoint),
                from(&s.endpoint_origin)
            )?;
            Some((&s.transport, s.endpoint.starts_with("http://")))
        }
    };
    if let Some((t, plaintext)) = transport {
        let compression = match t.compression {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        };
        writeln!(f, "  compression: {compression}")?;
        writeln!(f, "  timeout: {} ms", t.timeout.as_millis())?;
        if t.headers.is_empty() {
            writeln!(f, "  headers: (none)")?;
        } else {
            let names: Vec<String> = t.headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
            writeln!(f, "  headers: {}", names.join(", "))?;
        }
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or_else(|| "-".to_owned(), |p| shown(p.display()).to_string())
        };
        if plaintext {
            writeln!(f, "  tls: none (plaintext http://)")?;
        } else if t.tls.is_empty() {
            writeln!(f, "  tls: system roots")?;
        } else {
            writeln!(
                f,
                "  tls: ca-certificate={}, client-certificate={}, client-private-key={}",
                path(&t.tls.ca_certificate),
                path(&t.tls.client_certificate),
                path(&t.tls.client_private_key),
            )?;
        }
    }
    Ok(())
}

impl fmt::Display for ResolvedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_exporter(f, "exporter", &self.exporter, &self.exporter_origin)?;
        write_exporter(
            f,
            "trace_exporter",
            &self.trace_exporter,
            &self.trace_exporter_origin,
        )?;
        write_exporter(
            f,
            "metrics_exporter",
            &self.metrics_exporter,
            &self.metrics_exporter_origin,
        )?;
        let m = &self.telemetry.metrics;
        writeln!(
            f,
            "metrics: temporality={}, interval={} ms, cardinality_limit={}",
            m.temporality.as_str(),
            m.interval.as_millis(),
            m.cardinality_limit
        )?;
        let r = &self.telemetry.resource;
        write!(
            f,
            "resource: service.name={}, service.version={}, env={}",
            shown(&r.service_name),
            shown(&r.service_version),
            shown(&r.environment)
        )?;
        for (k, v) in &r.attributes {
            write!(f, ", {}={}", shown(k), shown(v))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "events: prefix={}, scope={} {}, log_user_prompt={}, log_tool_content={}, attribute_value_length_limit={}, attribute_count_limit={}",
            self.telemetry.event_prefix,
            self.telemetry.scope_name,
            self.telemetry.scope_version,
            self.telemetry.content.log_user_prompt,
            self.telemetry.content.log_tool_content,
            self.telemetry
                .attribute_limits
                .value_length
                .map_or_else(|| "none".to_owned(), |n| n.to_string()),
            self.telemetry.attribute_limits.count,
        )?;
        let p = &self.pipeline;
        writeln!(
            f,
            "pipeline: queue_capacity={}, max_batch_size={}, batch_timeout={} ms, request_timeout={} ms, max_request_bytes={}, max_concurrent_exports={}",
            p.queue_capacity,
            p.max_batch_size,
            p.batch_timeout.as_millis(),
            p.request_timeout.as_millis(),
            p.max_request_bytes,
            p.max_concurrent_exports
        )?;
        writeln!(
            f,
            "retry: budget={} ms, initial_backoff={} ms, max_backoff={} ms",
            p.retry.budget.as_millis(),
            p.retry.initial_backoff.as_millis(),
            p.retry.max_backoff.as_millis()
        )?;
        write!(
            f,
            "shutdown_timeout: {} ms",
            self.shutdown_timeout.as_millis()
        )?;
        match &self.spool {
            None => write!(f, "\nspool: off"),
            Some(spool) => write!(
                f,
                "\nspool: dir={}, max_bytes={}, max_age_hours={}",
                spool.dir.display(),
                spool.max_bytes,
                spool.max_age.as_secs() / 3600
            ),
        }
    }
}
