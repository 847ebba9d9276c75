//! Endpoints: the table's `endpoint` (with `${VAR}` expansion), else
//! `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` used as is, else
//! `OTEL_EXPORTER_OTLP_ENDPOINT` with the signal path appended (HTTP), else
//! the default.

use agent_otel_core::Signal;

use crate::env::Environment;
use crate::error::{ConfigError, KeyPath, Origin};
use crate::model::{OtelConfig, OtlpConfig, Setting};
use crate::signal_vars::{OtlpVar, vars};
use crate::text::{USERINFO_BREAKERS, check_url, mask_url, userinfo_expansion_breaking_url};

use super::Result;
use super::exporter::env_insecure;
use super::{DEFAULT_GRPC_ENDPOINT, default_http_endpoint, expand_setting_tracked};

impl OtelConfig {
    pub(super) fn http_endpoint(
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

    pub(super) fn grpc_endpoint(
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
}

pub(super) fn table_endpoint(
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
pub(super) fn signal_url_from_base(var: &str, base: &str, signal: Signal) -> Result<String> {
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

pub(super) fn check_env_url(var: &str, url: &str, grpc: bool) -> Result<()> {
    check_url(url, grpc).map_err(|(reason, fix)| ConfigError::InvalidUrl {
        at: Origin::Env(var.to_owned()),
        key: KeyPath::default(),
        url: mask_url(url),
        reason,
        fix,
    })
}
