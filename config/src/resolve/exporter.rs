//! Each signal's exporter: the table key (`exporter`, `trace_exporter`,
//! `metrics_exporter`) else `OTEL_{LOGS,TRACES,METRICS}_EXPORTER` with
//! `OTEL_EXPORTER_OTLP_[SIGNAL_]PROTOCOL`; the transport settings (headers,
//! compression, timeout, TLS) from the table else that signal's variables
//! (named by [`crate::signal_vars`]); building the exporters.

use std::fmt;
use std::time::Duration;

use agent_otel_core::{Compression, Exporter, HttpProtocol, Signal, TransportOptions};

use crate::env::Environment;
use crate::error::{Choices, ConfigError, KeyPath, Origin, Suggestion};
use crate::model::{ExporterConfig, OtelConfig, OtlpConfig, Setting};
use crate::parse::COMPRESSIONS;
use crate::signal_vars::{OtlpVar, exporter_var, signal_value, vars};
use crate::text::{mask_url, suggest};

use super::Result;
use super::headers::{check_reserved_headers, headers};
use super::limits::env_u64;
use super::{ENV_LOGS_EXPORTERS, ENV_PROTOCOLS, GRPC_COMPILED, HTTP_COMPILED, env_bool};

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

/// Builds the exporter `settings` describe (none for `none`).
pub(super) fn build(
    settings: &ExporterSettings,
    origin: &Origin,
) -> Result<Option<Box<dyn Exporter>>> {
    match settings {
        ExporterSettings::None => Ok(None),
        #[cfg(feature = "http")]
        ExporterSettings::OtlpHttp(http) => boxed(
            settings.name(),
            agent_otel_exporter_http::HttpExporter::new(http.exporter_config()),
        ),
        #[cfg(feature = "grpc")]
        ExporterSettings::OtlpGrpc(grpc) => boxed(
            settings.name(),
            agent_otel_exporter_grpc::GrpcExporter::new(grpc.exporter_config()),
        ),
        // A transport this build left out: resolving refuses it already, so
        // only settings built by hand reach this arm.
        #[allow(unreachable_patterns)]
        _ => Err(not_compiled(
            settings.name(),
            origin.clone(),
            KeyPath::default(),
        )),
    }
}

/// An exporter crate's constructor result as a boxed [`Exporter`], its
/// error named after the exporter.
#[cfg(any(feature = "http", feature = "grpc"))]
fn boxed<E, Error>(
    exporter: &'static str,
    built: std::result::Result<E, Error>,
) -> Result<Option<Box<dyn Exporter>>>
where
    E: Exporter + 'static,
    Error: std::error::Error + Send + Sync + 'static,
{
    let built = built.map_err(|e| ConfigError::Exporter {
        exporter,
        source: Box::new(e),
    })?;
    Ok(Some(Box::new(built)))
}

/// The error for a transport this build was compiled without.
pub(super) fn not_compiled(exporter: &'static str, at: Origin, key: KeyPath) -> ConfigError {
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
pub(super) enum Choice<'a> {
    None,
    Http(Option<&'a OtlpConfig>),
    Grpc(Option<&'a OtlpConfig>),
}

impl OtelConfig {
    /// The exporter of `signal`: its key in the table, else the
    /// environment's choice, with that signal's variables filling the rest.
    pub(super) fn exporter_settings(
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
    pub(super) fn exporter_key(&self, signal: Signal) -> Option<&Setting<ExporterConfig>> {
        match signal {
            Signal::Logs => self.exporter.as_ref(),
            Signal::Traces => self.trace_exporter.as_ref(),
            Signal::Metrics => self.metrics_exporter.as_ref(),
        }
    }

    /// Key path of `suffix` under `signal`'s exporter key, when the table has one.
    pub(super) fn key(&self, signal: Signal, suffix: &str) -> String {
        self.exporter_key(signal)
            .map(|s| format!("{}.{suffix}", s.key))
            .unwrap_or_default()
    }

    pub(super) fn choose_exporter(
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

    pub(super) fn transport(
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
            None => match signal_value(env, signal, OtlpVar::Compression) {
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
            None => match signal_value(env, signal, OtlpVar::Timeout) {
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
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum EnvProtocol {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

pub(super) fn env_protocol(
    env: &Environment,
    signal: Signal,
) -> Result<Option<(&'static str, EnvProtocol)>> {
    let Some((var, value)) = signal_value(env, signal, OtlpVar::Protocol) else {
        return Ok(None);
    };
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

pub(super) fn http_protocol(
    table: &OtlpConfig,
    env: &Environment,
    signal: Signal,
) -> Result<HttpProtocol> {
    if let Some(s) = &table.protocol {
        return Ok(s.value);
    }
    // `grpc` there does not apply to the otlp-http exporter the table chose.
    Ok(match env_protocol(env, signal)? {
        Some((_, EnvProtocol::HttpJson)) => HttpProtocol::Json,
        _ => HttpProtocol::Binary,
    })
}

pub(super) fn env_insecure(
    env: &Environment,
    signal: Signal,
) -> Result<Option<(&'static str, bool)>> {
    for var in vars(signal, OtlpVar::Insecure) {
        if let Some(b) = env_bool(env, var)? {
            return Ok(Some((var, b)));
        }
    }
    Ok(None)
}
