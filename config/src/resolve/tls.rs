//! TLS: the table's `tls` paths else `OTEL_EXPORTER_OTLP_[SIGNAL_]CERTIFICATE`,
//! `_CLIENT_CERTIFICATE`, `_CLIENT_KEY`, `_INSECURE`, checked against the
//! endpoint's scheme and loaded once.

use std::path::PathBuf;

use agent_otel_core::{Signal, TlsConfig, TlsError};

use crate::env::Environment;
use crate::error::{ConfigError, KeyPath, Origin};
use crate::model::{OtelConfig, Setting, TlsPaths};
use crate::signal_vars::{OtlpVar, signal_value};
use crate::text::mask_url;

use super::Result;
use super::exporter::env_insecure;
use super::resolve_path;

impl OtelConfig {
    pub(super) fn tls(
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
                    var: OtlpVar|
         -> Option<(PathBuf, Origin, String)> {
            if let Some(s) = setting {
                return Some((
                    resolve_path(base, &s.value),
                    s.origin.clone(),
                    s.key.clone(),
                ));
            }
            signal_value(env, signal, var).map(|(var, value)| {
                (
                    PathBuf::from(value),
                    Origin::Env(var.to_owned()),
                    String::new(),
                )
            })
        };
        let ca = pick(&table.ca_certificate, OtlpVar::Certificate);
        let cert = pick(&table.client_certificate, OtlpVar::ClientCertificate);
        let key = pick(&table.client_private_key, OtlpVar::ClientKey);
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
