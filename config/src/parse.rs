//! Walks the spanned TOML tree of the `[otel]` table into an [`OtelConfig`],
//! rejecting anything outside the schema with a positioned message.

use std::ops::Range;
use std::path::{Path, PathBuf};

use agent_otel_core::{Compression, HttpProtocol, SecretString, Temporality};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::error::{Choices, ConfigError, KeyPath, Origin, SourceMap, Suggestion};
use crate::model::{
    ExporterConfig, OtelConfig, OtlpConfig, PipelineConfig, Setting, SpoolConfig, TlsPaths,
};
use crate::text::{check_url, suggest};

/// Keys of the `[otel]` table.
pub const OTEL_KEYS: &[&str] = &[
    "environment",
    "exporter",
    "trace_exporter",
    "metrics_exporter",
    "metrics_temporality",
    "metrics_interval_ms",
    "log_user_prompt",
    "log_tool_content",
    "attribute_value_length_limit",
    "attribute_count_limit",
    "resource_attributes",
    "queue_capacity",
    "max_batch_size",
    "batch_timeout_ms",
    "max_request_bytes",
    "max_concurrent_exports",
    "retry_budget_ms",
    "retry_initial_backoff_ms",
    "retry_max_backoff_ms",
    "shutdown_timeout_ms",
    "spool",
];
/// Keys of the `[otel.spool]` table.
pub const SPOOL_KEYS: &[&str] = &["dir", "max_bytes", "max_age_hours"];
/// Smallest `[otel.spool] max_bytes`: room for a few batches.
pub const MIN_SPOOL_BYTES: u64 = 64 * 1024;
/// The accepted range of an integer key, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegerRange {
    /// The key's name (its last segment: `queue_capacity`, `timeout-ms`).
    pub key: &'static str,
    /// Smallest accepted value.
    pub min: u64,
    /// Largest accepted value.
    pub max: u64,
    /// Unit shown after the numbers (`" ms"`, `" bytes"` or empty).
    pub unit: &'static str,
}

/// One hour in milliseconds: the longest timeout, delay or budget accepted.
const HOUR_MS: u64 = 3_600_000;

/// The range of every integer key of the `[otel]` table and the exporter
/// tables (the same ranges apply to the `OTEL_*` variables that set them).
pub const INTEGER_RANGES: &[IntegerRange] = &[
    IntegerRange {
        key: "queue_capacity",
        min: 1,
        max: agent_otel_core::pipeline::MAX_QUEUE_CAPACITY as u64,
        unit: "",
    },
    IntegerRange {
        key: "max_batch_size",
        min: 1,
        max: agent_otel_core::pipeline::MAX_BATCH_SIZE as u64,
        unit: "",
    },
    IntegerRange {
        key: "batch_timeout_ms",
        min: 1,
        max: HOUR_MS,
        unit: " ms",
    },
    IntegerRange {
        key: "max_request_bytes",
        min: 1024,
        // 16 times the usual 4 MiB a gRPC server accepts by default.
        max: 64 * 1024 * 1024,
        unit: " bytes",
    },
    IntegerRange {
        key: "max_concurrent_exports",
        min: 1,
        max: agent_otel_core::pipeline::MAX_CONCURRENT_EXPORTS as u64,
        unit: "",
    },
    IntegerRange {
        key: "retry_budget_ms",
        min: 0,
        max: HOUR_MS,
        unit: " ms",
    },
    IntegerRange {
        key: "retry_initial_backoff_ms",
        min: 1,
        max: HOUR_MS,
        unit: " ms",
    },
    IntegerRange {
        key: "retry_max_backoff_ms",
        min: 1,
        max: HOUR_MS,
        unit: " ms",
    },
    IntegerRange {
        key: "shutdown_timeout_ms",
        min: 0,
        max: HOUR_MS,
        unit: " ms",
    },
    IntegerRange {
        key: "attribute_value_length_limit",
        min: 0,
        // A quarter of the largest max_request_bytes, the ceiling anyway.
        max: 16 * 1024 * 1024,
        unit: " characters",
    },
    IntegerRange {
        key: "attribute_count_limit",
        min: 0,
        max: 65_536,
        unit: "",
    },
    IntegerRange {
        key: "metrics_interval_ms",
        min: 100,
        max: 24 * HOUR_MS,
        unit: " ms",
    },
    IntegerRange {
        key: "timeout-ms",
        min: 1,
        max: HOUR_MS,
        unit: " ms",
    },
];

impl IntegerRange {
    /// The range of `key` (its last segment), if it is an integer key.
    pub fn of(key: &str) -> Option<&'static IntegerRange> {
        let name = last_segment(key);
        INTEGER_RANGES.iter().find(|r| r.key == name)
    }

    /// `1 to 65536`, `0 to 3600000 ms`.
    pub fn describe(&self) -> String {
        format!("{} to {}{}", self.min, self.max, self.unit)
    }

    /// True when `value` is in range.
    pub fn contains(&self, value: u64) -> bool {
        (self.min..=self.max).contains(&value)
    }
}

/// Exporter names accepted by `exporter = "..."`.
pub const EXPORTER_NAMES: &[&str] = &["none", "otlp-http", "otlp-grpc"];
/// Keys of the table form `exporter = { .. }`.
pub const EXPORTER_TABLE_KEYS: &[&str] = &["otlp-http", "otlp-grpc"];
/// Keys of `exporter = { otlp-http = { .. } }`.
pub const OTLP_HTTP_KEYS: &[&str] = &[
    "endpoint",
    "protocol",
    "headers",
    "compression",
    "timeout-ms",
    "tls",
];
/// Keys of `exporter = { otlp-grpc = { .. } }`.
pub const OTLP_GRPC_KEYS: &[&str] = &["endpoint", "headers", "compression", "timeout-ms", "tls"];
/// Keys of the `tls` table.
pub const TLS_KEYS: &[&str] = &["ca-certificate", "client-certificate", "client-private-key"];
/// Values of `protocol`.
pub const PROTOCOLS: &[&str] = &["binary", "json"];
/// Values of `metrics_temporality` (and of
/// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE`, any case).
pub const TEMPORALITIES: &[&str] = &["delta", "cumulative", "lowmemory"];
/// Values of `compression`.
pub const COMPRESSIONS: &[&str] = &["none", "gzip"];

type Result<T> = std::result::Result<T, ConfigError>;
type Entry<'a, 'i> = (
    &'a Spanned<std::borrow::Cow<'i, str>>,
    &'a Spanned<DeValue<'i>>,
);

/// Which part of a document is the `[otel]` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// A host's whole config: the `otel` table inside it; other tables ignored.
    Embedded,
    /// A file whose top level is the `[otel]` table itself.
    Standalone,
}

pub(crate) fn parse_document(
    text: &str,
    path: Option<&Path>,
    layout: Layout,
) -> Result<OtelConfig> {
    let map = SourceMap::new(text, path.map(Path::to_path_buf));
    let root = DeTable::parse(text).map_err(|e| ConfigError::Syntax {
        at: map.origin(e.span().map_or(0, |s| s.start)),
        message: e.message().trim_end().to_owned(),
    })?;
    let walker = Walker { map: &map };
    let mut config = match layout {
        Layout::Standalone => walker.otel(root.get_ref(), "")?,
        Layout::Embedded => match root.get_ref().get("otel") {
            None => OtelConfig::default(),
            Some(value) => match value.get_ref() {
                DeValue::Table(table) => walker.otel(table, "otel")?,
                other => return Err(walker.wrong_type(value.span(), "otel", "a table", other)),
            },
        },
    };
    config.base_dir = path.and_then(Path::parent).map(|dir| {
        if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir.to_path_buf()
        }
    });
    Ok(config)
}

fn join(prefix: &str, key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let key = if bare {
        key.to_owned()
    } else {
        format!("\"{}\"", key.escape_default())
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

/// The entries of `table` in file order.
fn entries<'a, 'i>(table: &'a DeTable<'i>) -> Vec<Entry<'a, 'i>> {
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    entries
}

struct Walker<'m> {
    map: &'m SourceMap,
}

impl Walker<'_> {
    fn at(&self, span: Range<usize>) -> Origin {
        self.map.origin(span.start)
    }

    fn wrong_type(
        &self,
        span: Range<usize>,
        key: &str,
        expected: &'static str,
        found: &DeValue<'_>,
    ) -> ConfigError {
        let fix = match expected {
            "a string" => format!("quote the value: {} = \"...\"", last_segment(key)),
            "a table" => format!("write {} as a table: [{key}] or {} = {{ ... }}", last_segment(key), last_segment(key)),
            "a boolean" => format!("write {} = true or {} = false", last_segment(key), last_segment(key)),
            "a non-negative integer" => format!("write a number without quotes, e.g. {} = 1000", last_segment(key)),
            "a string or a table" => "write exporter = \"otlp-http\" or exporter = { otlp-http = { endpoint = \"...\" } }".to_owned(),
            _ => format!("give {key} {expected}"),
        };
        ConfigError::WrongType {
            at: self.at(span),
            key: KeyPath::from(key.to_owned()),
            expected,
            found: type_name(found),
            fix,
        }
    }

    fn unknown_key(
        &self,
        span: Range<usize>,
        table_key: &str,
        name: &str,
        expected: &'static [&'static str],
    ) -> ConfigError {
        ConfigError::UnknownKey {
            at: self.at(span),
            key: KeyPath::from(table_key.to_owned()),
            name: name.to_owned(),
            expected: Choices(expected),
            suggestion: Suggestion(suggest(name, expected)),
        }
    }

    fn string(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<Setting<String>> {
        match value.get_ref() {
            DeValue::String(s) => Ok(Setting::new(s.to_string(), key, self.at(value.span()))),
            other => Err(self.wrong_type(value.span(), key, "a string", other)),
        }
    }

    fn non_empty_string(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<Setting<String>> {
        let s = self.string(value, key)?;
        if s.value.trim().is_empty() {
            return Err(ConfigError::InvalidValue {
                at: s.origin,
                key: KeyPath::from(key.to_owned()),
                reason: "the value is empty".to_owned(),
                fix: "give a value or remove the key".to_owned(),
            });
        }
        Ok(s)
    }

    fn boolean(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<Setting<bool>> {
        match value.get_ref() {
            DeValue::Boolean(b) => Ok(Setting::new(*b, key, self.at(value.span()))),
            other => Err(self.wrong_type(value.span(), key, "a boolean", other)),
        }
    }

    /// An integer key, checked against its [`IntegerRange`].
    fn integer(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<Setting<u64>> {
        let range = IntegerRange::of(key);
        let out_of_range = |reason: String| {
            let (reason, fix) = match range {
                Some(r) => (
                    format!("{reason} (the range of {} is {})", r.key, r.describe()),
                    format!(
                        "give a value from {} to {}, or remove the key for the default",
                        r.min, r.max
                    ),
                ),
                None => (reason, "give a non-negative integer".to_owned()),
            };
            ConfigError::InvalidValue {
                at: self.at(value.span()),
                key: KeyPath::from(key.to_owned()),
                reason,
                fix,
            }
        };
        match value.get_ref() {
            DeValue::Integer(i) => match u64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => match range {
                    Some(r) if n < r.min => Err(out_of_range(format!(
                        "the value {n} is below the minimum {}{}",
                        r.min, r.unit
                    ))),
                    Some(r) if n > r.max => Err(out_of_range(format!(
                        "the value {n} is above the maximum {}{}",
                        r.max, r.unit
                    ))),
                    _ => Ok(Setting::new(n, key, self.at(value.span()))),
                },
                Err(_) if i.as_str().starts_with('-') => {
                    Err(out_of_range("the value is negative".to_owned()))
                }
                Err(_) => Err(out_of_range("the value is too large".to_owned())),
            },
            other => Err(self.wrong_type(value.span(), key, "a non-negative integer", other)),
        }
    }

    fn table<'a, 'i>(&self, value: &'a Spanned<DeValue<'i>>, key: &str) -> Result<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(t) => Ok(t),
            other => Err(self.wrong_type(value.span(), key, "a table", other)),
        }
    }

    fn otel(&self, table: &DeTable<'_>, prefix: &str) -> Result<OtelConfig> {
        let mut config = OtelConfig::default();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let key = join(prefix, name);
            let p = &mut config.pipeline;
            match name {
                "environment" => config.environment = Some(self.non_empty_string(v, &key)?),
                "exporter" => config.exporter = Some(self.exporter(v, &key)?),
                "trace_exporter" => config.trace_exporter = Some(self.exporter(v, &key)?),
                "metrics_exporter" => config.metrics_exporter = Some(self.exporter(v, &key)?),
                "metrics_temporality" => {
                    config.metrics_temporality = Some(self.temporality(v, &key)?)
                }
                "metrics_interval_ms" => config.metrics_interval_ms = Some(self.integer(v, &key)?),
                "log_user_prompt" => config.log_user_prompt = Some(self.boolean(v, &key)?),
                "log_tool_content" => config.log_tool_content = Some(self.boolean(v, &key)?),
                "attribute_value_length_limit" => {
                    config.attribute_value_length_limit = Some(self.integer(v, &key)?)
                }
                "attribute_count_limit" => {
                    config.attribute_count_limit = Some(self.integer(v, &key)?)
                }
                "resource_attributes" => {
                    config.resource_attributes = self.resource_attributes(v, &key)?
                }
                "queue_capacity" => p.queue_capacity = Some(self.integer(v, &key)?),
                "max_batch_size" => p.max_batch_size = Some(self.integer(v, &key)?),
                "batch_timeout_ms" => p.batch_timeout_ms = Some(self.integer(v, &key)?),
                "max_request_bytes" => p.max_request_bytes = Some(self.integer(v, &key)?),
                "max_concurrent_exports" => p.max_concurrent_exports = Some(self.integer(v, &key)?),
                "retry_budget_ms" => p.retry_budget_ms = Some(self.integer(v, &key)?),
                "retry_initial_backoff_ms" => {
                    p.retry_initial_backoff_ms = Some(self.integer(v, &key)?)
                }
                "retry_max_backoff_ms" => p.retry_max_backoff_ms = Some(self.integer(v, &key)?),
                "shutdown_timeout_ms" => p.shutdown_timeout_ms = Some(self.integer(v, &key)?),
                "spool" => config.spool = self.spool(v, &key)?,
                _ => return Err(self.unknown_key(k.span(), prefix, name, OTEL_KEYS)),
            }
        }
        check_pipeline(&config.pipeline)?;
        Ok(config)
    }

    fn temporality(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<Setting<Temporality>> {
        let s = self.string(value, key)?;
        match Temporality::parse(&s.value) {
            Some(temporality) => Ok(Setting::new(temporality, key, s.origin)),
            None => Err(ConfigError::UnknownValue {
                at: s.origin,
                key: KeyPath::from(key.to_owned()),
                what: "metrics temporality",
                value: s.value.clone(),
                expected: Choices(TEMPORALITIES),
                suggestion: Suggestion(suggest(&s.value, TEMPORALITIES)),
            }),
        }
    }

    fn spool(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<SpoolConfig> {
        let table = self.table(value, key)?;
        let mut spool = SpoolConfig::default();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let sub_key = join(key, name);
            match name {
                "dir" => spool.dir = Some(self.non_empty_string(v, &sub_key)?),
                "max_bytes" => spool.max_bytes = Some(self.integer(v, &sub_key)?),
                "max_age_hours" => spool.max_age_hours = Some(self.integer(v, &sub_key)?),
                _ => return Err(self.unknown_key(k.span(), key, name, SPOOL_KEYS)),
            }
        }
        let at_least = |s: &Option<Setting<u64>>, min: u64| match s {
            Some(s) if s.value < min => Err(ConfigError::InvalidValue {
                at: s.origin.clone(),
                key: KeyPath::from(s.key.clone()),
                reason: format!("the value {} is below the minimum {min}", s.value),
                fix: format!("give at least {min}, or remove the key for the default"),
            }),
            _ => Ok(()),
        };
        at_least(&spool.max_bytes, MIN_SPOOL_BYTES)?;
        at_least(&spool.max_age_hours, 1)?;
        Ok(spool)
    }

    fn resource_attributes(
        &self,
        value: &Spanned<DeValue<'_>>,
        key: &str,
    ) -> Result<Vec<(Setting<String>, Setting<String>)>> {
        let table = self.table(value, key)?;
        let mut out = Vec::new();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let attr_key = join(key, name);
            if name.trim().is_empty() {
                return Err(ConfigError::InvalidValue {
                    at: self.at(k.span()),
                    key: KeyPath::from(key.to_owned()),
                    reason: "a resource attribute has an empty name".to_owned(),
                    fix: "give the attribute a name".to_owned(),
                });
            }
            let value = self.string(v, &attr_key)?;
            out.push((
                Setting::new(name.to_owned(), attr_key, self.at(k.span())),
                value,
            ));
        }
        Ok(out)
    }

    fn exporter(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<Setting<ExporterConfig>> {
        let at = self.at(value.span());
        match value.get_ref() {
            DeValue::String(s) => {
                let exporter = match s.as_ref() {
                    "none" => ExporterConfig::None,
                    "otlp-http" => ExporterConfig::OtlpHttp(OtlpConfig::default()),
                    "otlp-grpc" => ExporterConfig::OtlpGrpc(OtlpConfig::default()),
                    other => {
                        return Err(ConfigError::UnknownValue {
                            at,
                            key: KeyPath::from(key.to_owned()),
                            what: "exporter",
                            value: other.to_owned(),
                            expected: Choices(EXPORTER_NAMES),
                            suggestion: Suggestion(suggest(other, EXPORTER_NAMES)),
                        });
                    }
                };
                Ok(Setting::new(exporter, key, at))
            }
            DeValue::Table(table) => {
                let mut found = None;
                for (k, v) in entries(table) {
                    let name = k.get_ref().as_ref();
                    let sub_key = join(key, name);
                    let exporter = match name {
                        "otlp-http" => {
                            ExporterConfig::OtlpHttp(self.otlp(v, &sub_key, OTLP_HTTP_KEYS)?)
                        }
                        "otlp-grpc" => {
                            ExporterConfig::OtlpGrpc(self.otlp(v, &sub_key, OTLP_GRPC_KEYS)?)
                        }
                        "none" => {
                            return Err(ConfigError::InvalidValue {
                                at: self.at(k.span()),
                                key: KeyPath::from(key.to_owned()),
                                reason: "exporter \"none\" takes no settings".to_owned(),
                                fix: "write exporter = \"none\"".to_owned(),
                            });
                        }
                        _ => {
                            return Err(self.unknown_key(k.span(), key, name, EXPORTER_TABLE_KEYS));
                        }
                    };
                    if found.is_some() {
                        return Err(ConfigError::InvalidValue {
                            at: self.at(k.span()),
                            key: KeyPath::from(key.to_owned()),
                            reason: "more than one exporter is configured".to_owned(),
                            fix: "keep exactly one of \"otlp-http\" or \"otlp-grpc\"".to_owned(),
                        });
                    }
                    found = Some(exporter);
                }
                match found {
                    Some(exporter) => Ok(Setting::new(exporter, key, at)),
                    None => Err(ConfigError::InvalidValue {
                        at,
                        key: KeyPath::from(key.to_owned()),
                        reason: "the exporter table is empty".to_owned(),
                        fix: "write exporter = \"none\", or exporter = { otlp-http = { .. } } / { otlp-grpc = { .. } }".to_owned(),
                    }),
                }
            }
            other => Err(self.wrong_type(value.span(), key, "a string or a table", other)),
        }
    }

    fn otlp(
        &self,
        value: &Spanned<DeValue<'_>>,
        key: &str,
        keys: &'static [&'static str],
    ) -> Result<OtlpConfig> {
        let grpc = keys == OTLP_GRPC_KEYS;
        let table = self.table(value, key)?;
        let mut config = OtlpConfig::default();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let field = join(key, name);
            match name {
                "endpoint" => {
                    let endpoint = self.non_empty_string(v, &field)?;
                    // Checked now when nothing is left to expand; otherwise when resolving.
                    if !endpoint.value.contains('$') {
                        check_url(&endpoint.value, grpc).map_err(|(reason, fix)| {
                            ConfigError::InvalidUrl {
                                at: endpoint.origin.clone(),
                                key: KeyPath::from(field.clone()),
                                url: crate::text::mask_url(&endpoint.value),
                                reason,
                                fix,
                            }
                        })?;
                    }
                    config.endpoint = Some(endpoint);
                }
                "protocol" if !grpc => {
                    let s = self.string(v, &field)?;
                    let protocol = match s.value.as_str() {
                        "binary" => HttpProtocol::Binary,
                        "json" => HttpProtocol::Json,
                        other => {
                            return Err(ConfigError::UnknownValue {
                                at: s.origin,
                                key: KeyPath::from(field),
                                what: "protocol",
                                value: other.to_owned(),
                                expected: Choices(PROTOCOLS),
                                suggestion: Suggestion(
                                    suggest(other, PROTOCOLS).or_else(|| protocol_alias(other)),
                                ),
                            });
                        }
                    };
                    config.protocol = Some(Setting::new(protocol, field, s.origin));
                }
                "compression" => {
                    let s = self.string(v, &field)?;
                    let compression = match s.value.as_str() {
                        "none" => Compression::None,
                        "gzip" => Compression::Gzip,
                        other => {
                            return Err(ConfigError::UnknownValue {
                                at: s.origin,
                                key: KeyPath::from(field),
                                what: "compression",
                                value: other.to_owned(),
                                expected: Choices(COMPRESSIONS),
                                suggestion: Suggestion(suggest(other, COMPRESSIONS)),
                            });
                        }
                    };
                    config.compression = Some(Setting::new(compression, field, s.origin));
                }
                "timeout-ms" => config.timeout_ms = Some(self.integer(v, &field)?),
                "headers" => config.headers = self.headers(v, &field)?,
                "tls" => config.tls = self.tls(v, &field)?,
                _ => return Err(self.unknown_key(k.span(), key, name, keys)),
            }
        }
        Ok(config)
    }

    fn headers(
        &self,
        value: &Spanned<DeValue<'_>>,
        key: &str,
    ) -> Result<Vec<(Setting<String>, Setting<SecretString>)>> {
        let table = self.table(value, key)?;
        let mut out: Vec<(Setting<String>, Setting<SecretString>)> = Vec::new();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let at = self.at(k.span());
            check_header_name(name).map_err(|reason| ConfigError::InvalidHeaderName {
                at: at.clone(),
                key: KeyPath::from(key.to_owned()),
                name: name.to_owned(),
                reason,
            })?;
            if out.iter().any(|(n, _)| n.value.eq_ignore_ascii_case(name)) {
                return Err(ConfigError::InvalidValue {
                    at,
                    key: KeyPath::from(key.to_owned()),
                    reason: format!("header \"{name}\" is given twice (header names ignore case)"),
                    fix: "keep one of them".to_owned(),
                });
            }
            let field = join(key, name);
            // Never echo the value: a wrong type only names the types.
            let secret = match v.get_ref() {
                DeValue::String(s) => Setting::new(
                    SecretString::new(s.to_string()),
                    field.clone(),
                    self.at(v.span()),
                ),
                other => return Err(self.wrong_type(v.span(), &field, "a string", other)),
            };
            out.push((Setting::new(name.to_owned(), field, at), secret));
        }
        Ok(out)
    }

    fn tls(&self, value: &Spanned<DeValue<'_>>, key: &str) -> Result<TlsPaths> {
        let table = self.table(value, key)?;
        let mut tls = TlsPaths::default();
        for (k, v) in entries(table) {
            let name = k.get_ref().as_ref();
            let field = join(key, name);
            let slot = match name {
                "ca-certificate" => &mut tls.ca_certificate,
                "client-certificate" => &mut tls.client_certificate,
                "client-private-key" => &mut tls.client_private_key,
                _ => return Err(self.unknown_key(k.span(), key, name, TLS_KEYS)),
            };
            let path = self.non_empty_string(v, &field)?;
            *slot = Some(Setting::new(
                PathBuf::from(path.value),
                path.key,
                path.origin,
            ));
        }
        Ok(tls)
    }
}

/// Spec names people write for `protocol`.
fn protocol_alias(value: &str) -> Option<&'static str> {
    match value {
        "http/protobuf" | "protobuf" | "proto" => Some("binary"),
        "http/json" => Some("json"),
        _ => None,
    }
}

fn last_segment(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// Checks a header / gRPC metadata name; `Err` says why.
pub(crate) fn check_header_name(name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty".to_owned());
    }
    http::HeaderName::from_bytes(name.as_bytes())
        .map(|_| ())
        .map_err(|_| {
            "header names are ASCII letters, digits and !#$%&'*+-.^_`|~, with no spaces or ':'"
                .to_owned()
        })
}

/// Cross-field checks of the pipeline keys (each key's own range is
/// checked as it is read).
fn check_pipeline(p: &PipelineConfig) -> Result<()> {
    if let (Some(initial), Some(max)) = (&p.retry_initial_backoff_ms, &p.retry_max_backoff_ms)
        && initial.value > max.value
    {
        return Err(ConfigError::InvalidValue {
            at: initial.origin.clone(),
            key: KeyPath::from(initial.key.clone()),
            reason: format!(
                "the initial backoff ({} ms) is longer than {} ({} ms)",
                initial.value, max.key, max.value
            ),
            fix: "make retry_initial_backoff_ms at most retry_max_backoff_ms".to_owned(),
        });
    }
    Ok(())
}
