//! Headers: the table's `headers` else `OTEL_EXPORTER_OTLP_[SIGNAL_]HEADERS`
//! (W3C-baggage style), names and values checked, values kept secret; also
//! the `k=v` list parser `OTEL_RESOURCE_ATTRIBUTES` shares.

use agent_otel_core::{Headers, SecretString, Signal};

use crate::env::Environment;
use crate::error::{ConfigError, KeyPath, Origin};
use crate::model::OtlpConfig;
use crate::parse::check_header_name;
use crate::signal_vars::{OtlpVar, vars};
use crate::text::percent_decode;

use super::Result;
use super::expand_setting;

/// Parses `k=v,k2=v2` (W3C-baggage style, values percent-decoded) into
/// `(entry number, key, value)`, entries numbered from 1 as written.
/// Messages never show the values, nor the keys (a mistyped entry may hold
/// a secret in its key), when `show_values` is false.
pub(super) fn parse_env_pairs(
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
pub(super) fn check_reserved_headers(table: &OtlpConfig, exporter: &str) -> Result<()> {
    for (name, _) in &table.headers {
        // Unread when neither transport is compiled in.
        #[cfg_attr(not(any(feature = "http", feature = "grpc")), allow(unused_variables))]
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

pub(super) fn headers(table: &OtlpConfig, env: &Environment, signal: Signal) -> Result<Headers> {
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
pub(super) fn env_header_name_error(var: &str, entry: usize, name: &str) -> ConfigError {
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
pub(super) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

pub(super) fn check_header_value(value: &str, name: &str, at: Origin, key: KeyPath) -> Result<()> {
    match http::HeaderValue::from_str(value) {
        Ok(_) => Ok(()),
        Err(_) => Err(ConfigError::InvalidHeaderValue {
            at,
            key,
            name: name.to_owned(),
        }),
    }
}
