//! agent-otel-config: reads the `[otel]` table of a host's TOML config,
//! merges it with the standard `OTEL_*` environment variables and the
//! host's defaults, and builds the exporter and [`Telemetry`] handle.
//!
//! ```no_run
//! use agent_otel_config::{Environment, HostInfo};
//!
//! let host = HostInfo::new("codex-cli", env!("CARGO_PKG_VERSION"));
//! let resolved = agent_otel_config::load_file(
//!     "/home/me/.codex/config.toml".as_ref(),
//!     &Environment::from_process(),
//!     &host,
//! )?;
//! println!("{resolved}"); // summary, secrets masked
//! let telemetry = resolved.start()?; // Telemetry::disabled() for exporter "none"
//! # let _ = telemetry;
//! # Ok::<(), agent_otel_config::ConfigError>(())
//! ```
//!
//! Parsing and resolving are two steps: [`OtelConfig::parse`] checks the
//! table's shape (unknown keys, types, enum values, literal URLs, header
//! names); [`OtelConfig::resolve`] expands `${VAR}`, reads the environment,
//! loads TLS files and checks the transport is compiled in.
//!
//! # The `[otel]` table
//!
//! Keys at the `[otel]` level are snake_case; keys inside an exporter table
//! are kebab-case, as in the design document.
//!
//! | key | type | default | environment (used when the key is absent) |
//! | --- | --- | --- | --- |
//! | `environment` | string | `"dev"` | – (resource attribute `env`) |
//! | `exporter` | `"none"` \| `"otlp-http"` \| `"otlp-grpc"` \| table | `"none"` | `OTEL_LOGS_EXPORTER` (`otlp`/`none`) with `OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL`; `OTEL_SDK_DISABLED=true` forces `none` over everything |
//! | `trace_exporter` | same forms as `exporter` (spans of turns) | `"none"` | `OTEL_TRACES_EXPORTER`, `OTEL_EXPORTER_OTLP_TRACES_*` |
//! | `metrics_exporter` | same forms as `exporter` (metrics derived from the events) | `"none"` | `OTEL_METRICS_EXPORTER`, `OTEL_EXPORTER_OTLP_METRICS_*` (default HTTP path `/v1/metrics`) |
//! | `metrics_temporality` | `"delta"` \| `"cumulative"` \| `"lowmemory"` | `"delta"` | `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (any case) |
//! | `metrics_interval_ms` | integer 100 to 86400000 | 60000 | `OTEL_METRIC_EXPORT_INTERVAL`; metrics are also exported at every flush and at shutdown |
//! | `log_user_prompt` | bool | `false` | – |
//! | `log_tool_content` | bool | `true` (`false`: `tool_result.arguments`/`output` and custom `tool` attributes are `[REDACTED]`) | – |
//! | `attribute_value_length_limit` | integer 0 to 16777216, characters | none (only the `max_request_bytes / 4` ceiling) | `OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT`, then `OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT` |
//! | `attribute_count_limit` | integer 0 to 65536 | 128 | `OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT`, then `OTEL_ATTRIBUTE_COUNT_LIMIT` |
//! | `resource_attributes` | table of strings | empty | `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME` |
//! | `queue_capacity` | integer 1 to 1048576 | 2048 | `OTEL_BLRP_MAX_QUEUE_SIZE` |
//! | `max_batch_size` | integer 1 to 65536 | 512 | `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` |
//! | `batch_timeout_ms` | integer 1 to 3600000 | 1000 | `OTEL_BLRP_SCHEDULE_DELAY` |
//! | `max_request_bytes` | integer 1024 to 67108864 (64 MiB; gRPC servers accept 4 MiB by default) | 4194304 | – |
//! | `max_concurrent_exports` | integer 1 to 64 | 4 | – |
//! | `retry_budget_ms` | integer 0 to 3600000 (0 = no retries) | 30000 | – |
//! | `retry_initial_backoff_ms` | integer 1 to 3600000 | 100 | – |
//! | `retry_max_backoff_ms` | integer 1 to 3600000 | 5000 | – |
//! | `shutdown_timeout_ms` | integer 0 to 3600000 | 3000 | – |
//!
//! `[otel.spool]` (durable delivery; off unless `dir` is set): batches that
//! could not be delivered are kept on disk and replayed by the next process
//! (see `agent_otel_core::spool`).
//!
//! | `[otel.spool]` key | type | default |
//! | --- | --- | --- |
//! | `dir` | path; `~` and `~/...` expand from `HOME`, relative paths resolve against the config file's folder | – (spool off) |
//! | `max_bytes` | integer ≥ 65536 | 67108864 (64 MiB) |
//! | `max_age_hours` | integer ≥ 1 | 168 (one week) |
//!
//! Exporter table: `exporter = { otlp-http = { .. } }` or
//! `exporter = { otlp-grpc = { .. } }` (exactly one). The string forms
//! `"otlp-http"` / `"otlp-grpc"` mean the same with every key unset.
//!
//! | exporter key | type | default | environment (`LOGS_` variant wins over the generic one) |
//! | --- | --- | --- | --- |
//! | `endpoint` | URL (`http`/`https`), `${VAR}` expanded | `http://localhost:4318/v1/logs` (HTTP), `http://localhost:4317` (gRPC) | `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (used as given), `OTEL_EXPORTER_OTLP_ENDPOINT` (HTTP appends `v1/logs` to the URL's path, after a `/` when it lacks one, keeping any query: `http://h:4318?t=a` → `http://h:4318/v1/logs?t=a`, `http://h:4318/otlp` → `http://h:4318/otlp/v1/logs`; gRPC uses it as given) |
//! | `protocol` (otlp-http only) | `"binary"` \| `"json"` | `"binary"` | `OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL`: `http/json` → json, `http/protobuf` → binary, `grpc` ignored |
//! | `headers` | table of strings, `${VAR}` expanded, secret | empty | `OTEL_EXPORTER_OTLP_HEADERS` then `OTEL_EXPORTER_OTLP_LOGS_HEADERS` (`k=v,k2=v2`, %-decoded); merged per header name, the table wins |
//! | `compression` | `"none"` \| `"gzip"` | `"none"` | `OTEL_EXPORTER_OTLP_[LOGS_]COMPRESSION` |
//! | `timeout-ms` | integer 1 to 3600000 | 10000 | `OTEL_EXPORTER_OTLP_[LOGS_]TIMEOUT` (ms); also the pipeline's per-attempt timeout |
//! | `tls.ca-certificate` | path | system roots | `OTEL_EXPORTER_OTLP_[LOGS_]CERTIFICATE` |
//! | `tls.client-certificate` | path | – | `OTEL_EXPORTER_OTLP_[LOGS_]CLIENT_CERTIFICATE` |
//! | `tls.client-private-key` | path | – | `OTEL_EXPORTER_OTLP_[LOGS_]CLIENT_KEY` |
//! | – | – | `false` | `OTEL_EXPORTER_OTLP_[LOGS_]INSECURE` → [`TlsConfig::insecure`](agent_otel_core::TlsConfig) |
//!
//! # Rules
//!
//! - **Integer ranges** ([`INTEGER_RANGES`]) apply to the keys and to the
//!   `OTEL_*` variables that set them; an error names the range.
//! - **Endpoints** hold no control characters (CR, LF, TAB, any C0 or C1),
//!   whether written, expanded from `${VAR}` or read from `OTEL_*`, and no
//!   port 0. Wherever an endpoint is shown (summaries, errors, `Debug`), its
//!   password, query values (`?api_key=***`) and fragment (`#***`) are masked.
//! - **The config file** is read up to [`MAX_CONFIG_BYTES`] (4 MiB); a larger
//!   one (or `/dev/zero`) is [`ConfigError::FileTooLarge`].
//! - **The table wins** over the environment, key by key; the environment
//!   fills what the table leaves unset. The one exception is
//!   `OTEL_SDK_DISABLED=true`, which forces exporter `none`.
//! - **Choosing the exporter**: the `exporter` key decides. Without it, export
//!   stays off (the design's "off by default") unless `OTEL_LOGS_EXPORTER=otlp`
//!   is set, in which case `OTEL_EXPORTER_OTLP_[LOGS_]PROTOCOL` picks the
//!   transport (`grpc` → otlp-grpc, otherwise otlp-http, the spec's default
//!   `http/protobuf`). `OTEL_EXPORTER_OTLP_PROTOCOL` alone never turns export on.
//! - **Per signal**: `trace_exporter` and `metrics_exporter` follow the same
//!   rules with `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` and the
//!   `TRACES_` / `METRICS_` variants of every exporter variable above (the
//!   signal's own variable wins over the generic one; the generic HTTP
//!   endpoint gets `v1/traces` / `v1/metrics` appended). Each signal is on or
//!   off independently: metrics can be exported while logs are off.
//!   `OTEL_SDK_DISABLED=true` turns every signal off.
//! - **`service.name`**: `[otel.resource_attributes]` `"service.name"` >
//!   `OTEL_SERVICE_NAME` > `service.name` in `OTEL_RESOURCE_ATTRIBUTES` >
//!   [`HostInfo::service_name`]. Other attributes: the table's win over
//!   `OTEL_RESOURCE_ATTRIBUTES`.
//! - **`${NAME}`** in header values and endpoints expands from the
//!   environment (set-but-empty expands to nothing); `$$` is a literal `$`; a
//!   lone `$` or a malformed reference is an error; an unset variable is an
//!   error naming the variable and the key. TLS paths are not expanded.
//!   Values are inserted as they are, not percent-encoded: a value that
//!   lands in an endpoint's user-info (`https://user:${PASS}@host`) and
//!   holds `@`, `/`, `?`, `#` or `\` is refused (the error names the key and
//!   the variable, never the value), since the URL would otherwise be read
//!   with part of the password as its host or path. Percent-encode such
//!   characters in the variable (`@` as `%40`, `/` as `%2F`), or send
//!   credentials as a header. The user-info is located from the text
//!   written around the references (up to the last written `@` of the
//!   authority); an endpoint that is a single `${NAME}` is used as written.
//! - **Relative TLS paths** in the table resolve against the config file's
//!   folder (the working directory when parsed from a string without a
//!   path); paths from the environment are used as given.
//! - **gRPC plaintext**: an `http://` gRPC endpoint means plaintext (sets
//!   `insecure`); a scheme-less gRPC endpoint from the environment gets
//!   `https://`, or `http://` when `OTEL_EXPORTER_OTLP_[LOGS_]INSECURE=true`.
//!   gRPC endpoints take no path.
//! - **Environment values** are trimmed; empty counts as unset (OTel spec).
//!   Booleans accept `true`/`false` (any case); anything else is an error
//!   naming the variable, as are bad numbers, URLs and enum values.
//! - **Secrets**: header values are [`SecretString`](agent_otel_core::SecretString)
//!   from parsing on; `Debug`/`Display` of every type here, and every
//!   error message, show `***` or nothing in their place. URL passwords are
//!   masked in messages and summaries (the user-info ends at its last `@`,
//!   even in URLs that do not parse). An invalid header name in
//!   `OTEL_EXPORTER_OTLP_[LOGS_]HEADERS` is reported by entry number,
//!   showing at most the part before its first invalid character (a
//!   mistyped `Authorization: Basic ...` shows `Authorization` only).
//! - **Transports** are cargo features (`http`, `grpc`, both default).
//!   Choosing one that is not compiled in fails in [`OtelConfig::resolve`]
//!   with [`ConfigError::TransportNotCompiled`].

mod env;
mod error;
mod model;
mod parse;
mod resolve;
mod signal_vars;
mod text;

use std::io::Read as _;
use std::path::Path;

pub use agent_otel_core::Telemetry;
pub use env::Environment;
pub use error::{Choices, ConfigError, KeyPath, Origin, Suggestion};
pub use model::{
    ExporterConfig, OtelConfig, OtlpConfig, PipelineConfig, Setting, SpoolConfig, TlsPaths,
};
pub use parse::{
    COMPRESSIONS, EXPORTER_NAMES, EXPORTER_TABLE_KEYS, INTEGER_RANGES, IntegerRange,
    MIN_SPOOL_BYTES, OTEL_KEYS, OTLP_GRPC_KEYS, OTLP_HTTP_KEYS, PROTOCOLS, SPOOL_KEYS, TLS_KEYS,
};
pub use resolve::{
    DEFAULT_GRPC_ENDPOINT, DEFAULT_HTTP_ENDPOINT, ENV_LOGS_EXPORTERS, ENV_PROTOCOLS,
    ExporterSettings, GRPC_COMPILED, HTTP_COMPILED, HostInfo, OtlpGrpcSettings, OtlpHttpSettings,
    ResolvedConfig,
};

use parse::Layout;

/// Largest config file read: 4 MiB.
pub const MAX_CONFIG_BYTES: u64 = 4 * 1024 * 1024;

impl OtelConfig {
    /// Parses the `[otel]` table out of a host's whole TOML config; other
    /// tables are ignored, and a document without `[otel]` gives the
    /// defaults (exporter `none`). Positions in errors have no file name;
    /// relative TLS paths stay relative to the working directory.
    pub fn parse(toml: &str) -> Result<Self, ConfigError> {
        parse::parse_document(toml, None, Layout::Embedded)
    }

    /// Like [`OtelConfig::parse`] for a document read from `path`: errors
    /// name the file and relative TLS paths resolve against its folder.
    /// The file is not read; see [`OtelConfig::parse_file`].
    pub fn parse_with_path(toml: &str, path: &Path) -> Result<Self, ConfigError> {
        parse::parse_document(toml, Some(path), Layout::Embedded)
    }

    /// Parses a standalone file whose top level is the `[otel]` table
    /// itself (`exporter = "otlp-http"` with no `[otel]` header). Key paths
    /// in errors then have no `otel.` prefix.
    pub fn parse_standalone(toml: &str, path: Option<&Path>) -> Result<Self, ConfigError> {
        parse::parse_document(toml, path, Layout::Standalone)
    }

    /// Reads `path` and parses the `[otel]` table out of it. Reading stops
    /// after [`MAX_CONFIG_BYTES`] (a huge file, `/dev/zero`).
    pub fn parse_file(path: &Path) -> Result<Self, ConfigError> {
        let read_error = |source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_error)?;
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::FileTooLarge {
                path: path.to_path_buf(),
                limit: MAX_CONFIG_BYTES,
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            read_error(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "the file is not UTF-8 (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            ))
        })?;
        Self::parse_with_path(&text, path)
    }
}

/// Reads the host config at `path`, and parses and resolves its `[otel]` table.
pub fn load_file(
    path: &Path,
    env: &Environment,
    host: &HostInfo,
) -> Result<ResolvedConfig, ConfigError> {
    OtelConfig::parse_file(path)?.resolve(env, host)
}

/// Parses and resolves the `[otel]` table of a host config held in a string.
pub fn from_str(
    toml: &str,
    env: &Environment,
    host: &HostInfo,
) -> Result<ResolvedConfig, ConfigError> {
    OtelConfig::parse(toml)?.resolve(env, host)
}

/// The exporter names compiled into this build (`none` always).
pub fn compiled_exporters() -> Vec<&'static str> {
    let mut names = vec!["none"];
    if HTTP_COMPILED {
        names.push("otlp-http");
    }
    if GRPC_COMPILED {
        names.push("otlp-grpc");
    }
    names
}
