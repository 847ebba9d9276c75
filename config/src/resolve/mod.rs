//! Turns a parsed [`OtelConfig`] plus the environment and the host's
//! defaults into a [`ResolvedConfig`]: telemetry options, pipeline options
//! and exporter settings, ready to start.

mod display;
mod endpoint;
mod exporter;
mod headers;
mod limits;
mod metrics;
mod tls;
mod trace;

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_otel_core::{
    ContentPolicy, DEFAULT_SHUTDOWN_TIMEOUT, Exporter, PipelineOptions, Resource, Signal,
    SignalExporters, SpoolOptions, Telemetry, TelemetryOptions,
};

use crate::env::Environment;
use crate::error::{ConfigError, KeyPath, Origin};
use crate::model::{OtelConfig, Setting};
use crate::text::{ExpandError, Expansion, expand_tracked};

use self::exporter::build;
pub use self::exporter::{ExporterSettings, OtlpGrpcSettings, OtlpHttpSettings};
use self::headers::parse_env_pairs;
use self::trace::trace_options;

/// Every resolution step fails with a [`ConfigError`].
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
    pub(super) fn spool_options(&self, env: &Environment) -> Result<Option<SpoolOptions>> {
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

    pub(super) fn telemetry_options(
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
            metrics: metrics::resolve_metrics_options(self, env)?,
        };
        Ok((options, warnings))
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
