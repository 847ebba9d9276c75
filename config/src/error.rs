//! [`ConfigError`] and the [`Origin`] of a setting (file position or
//! environment variable) that every message points at.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use agent_otel_core::{PipelineError, TlsError};

/// Where a setting came from: a position in a TOML file, an environment
/// variable, or a built-in default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A position in a TOML document (1-based line and column, columns count
    /// characters).
    File {
        /// The file, when the document was loaded from one.
        path: Option<Arc<Path>>,
        /// 1-based line.
        line: u32,
        /// 1-based column, in characters.
        column: u32,
    },
    /// An environment variable.
    Env(String),
    /// A built-in default (no position).
    Default,
}

impl Origin {
    /// Short description for the resolved-settings summary
    /// (`line 3`, `OTEL_EXPORTER_OTLP_ENDPOINT`, `default`).
    pub fn describe(&self) -> String {
        match self {
            Origin::File {
                path: Some(path),
                line,
                ..
            } => format!("{}, line {line}", shown(path.display())),
            Origin::File {
                path: None, line, ..
            } => format!("[otel] table, line {line}"),
            Origin::Env(var) => var.clone(),
            Origin::Default => "default".to_owned(),
        }
    }
}

/// Renders as a message prefix: `path, line 3, column 14: `,
/// `environment variable OTEL_X: ` or nothing.
impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File {
                path: Some(path),
                line,
                column,
            } => write!(
                f,
                "{}, line {line}, column {column}: ",
                shown(path.display())
            ),
            Origin::File {
                path: None,
                line,
                column,
            } => write!(f, "line {line}, column {column}: "),
            Origin::Env(var) => write!(f, "environment variable {var}: "),
            Origin::Default => Ok(()),
        }
    }
}

/// A part of a message with control characters escaped (`\u{1b}`), so no
/// text read from a file, a path or the environment reaches a terminal raw.
pub(crate) struct Shown<T>(T);

/// Wraps `value` in [`Shown`].
pub(crate) fn shown<T: fmt::Display>(value: T) -> Shown<T> {
    Shown(value)
}

impl<T: fmt::Display> fmt::Display for Shown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        if !text.contains(char::is_control) {
            return f.write_str(&text);
        }
        for c in text.chars() {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A dotted key path such as `otel.exporter.otlp-http.protocol`; renders
/// as `path: ` (nothing when empty).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeyPath(Box<str>);

impl KeyPath {
    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            Ok(())
        } else {
            write!(f, "{}: ", self.0)
        }
    }
}

impl From<&str> for KeyPath {
    fn from(value: &str) -> Self {
        Self(value.into())
    }
}

impl From<String> for KeyPath {
    fn from(value: String) -> Self {
        Self(value.into_boxed_str())
    }
}

/// The valid choices for a key or value; renders as `"a", "b", "c"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choices(pub &'static [&'static str]);

impl fmt::Display for Choices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, choice) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "\"{choice}\"")?;
        }
        Ok(())
    }
}

/// An optional "did you mean" suggestion; renders as ` (did you mean "x"?)`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Suggestion(pub Option<&'static str>);

impl fmt::Display for Suggestion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, " (did you mean \"{s}\"?)"),
            None => Ok(()),
        }
    }
}

/// Everything that can go wrong reading, resolving or starting an `[otel]`
/// configuration.
///
/// Each message says where (file, line and column, or the environment
/// variable), which key, what is wrong (with the valid choices where there
/// is a fixed set) and how to fix it. Secret values (header values) never
/// appear in a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {}: {}; fix: check the path and its permissions", shown(path.display()), shown(.source))]
    Read {
        /// The file.
        path: PathBuf,
        /// The io error.
        source: std::io::Error,
    },
    /// The config file is larger than [`MAX_CONFIG_BYTES`](crate::MAX_CONFIG_BYTES);
    /// reading stopped there.
    #[error(
        "config file {} is larger than {limit} bytes; reading stopped there; fix: check the path (a config file is a few kilobytes)",
        shown(path.display())
    )]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The document is not valid TOML.
    #[error("{at}invalid TOML: {}; fix: correct the TOML syntax at that position", shown(.message))]
    Syntax {
        /// Where the parser stopped.
        at: Origin,
        /// The parser's message.
        message: String,
    },
    /// A key that is not part of the schema.
    #[error(
        "{at}{key}unknown key \"{}\"; expected one of {expected}{suggestion}; fix: remove the key or correct its spelling",
        shown(.name)
    )]
    UnknownKey {
        /// Where the key is.
        at: Origin,
        /// The table holding the key.
        key: KeyPath,
        /// The unknown key.
        name: String,
        /// The keys that table takes.
        expected: Choices,
        /// The closest valid key, if any is close.
        suggestion: Suggestion,
    },
    /// A value outside a fixed set (exporter name, protocol, compression).
    #[error(
        "{at}{key}unknown {what} \"{}\"; expected one of {expected}{suggestion}; fix: use one of the listed values",
        shown(.value)
    )]
    UnknownValue {
        /// Where the value is.
        at: Origin,
        /// The key holding the value.
        key: KeyPath,
        /// What the value names (`exporter`, `protocol`, `compression`).
        what: &'static str,
        /// The value found.
        value: String,
        /// The valid values.
        expected: Choices,
        /// The closest valid value, if any is close.
        suggestion: Suggestion,
    },
    /// A value of the wrong TOML type.
    #[error("{at}{key}expected {expected}, found {found}; fix: {}", shown(.fix))]
    WrongType {
        /// Where the value is.
        at: Origin,
        /// The key holding the value.
        key: KeyPath,
        /// The type the key takes.
        expected: &'static str,
        /// The type found.
        found: &'static str,
        /// How to write it.
        fix: String,
    },
    /// A value of the right type that is out of range or malformed.
    #[error("{at}{key}{}; fix: {}", shown(.reason), shown(.fix))]
    InvalidValue {
        /// Where the value is.
        at: Origin,
        /// The key holding the value.
        key: KeyPath,
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: String,
    },
    /// An endpoint that is not a usable `http`/`https` URL.
    #[error("{at}{key}invalid endpoint URL \"{}\": {}; fix: {fix}", shown(.url), shown(.reason))]
    InvalidUrl {
        /// Where the endpoint is set.
        at: Origin,
        /// The endpoint's key.
        key: KeyPath,
        /// The URL after `${VAR}` expansion, password masked.
        url: String,
        /// What is wrong.
        reason: String,
        /// How to fix it.
        fix: &'static str,
    },
    /// A header name that HTTP/gRPC does not accept.
    #[error(
        "{at}{key}invalid header name \"{}\": {}; fix: use letters, digits and '-' only (e.g. \"x-api-key\")",
        shown(.name),
        shown(.reason)
    )]
    InvalidHeaderName {
        /// Where the header is set.
        at: Origin,
        /// The headers key.
        key: KeyPath,
        /// The header name as written.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A header value that HTTP/gRPC does not accept. The value is never shown.
    #[error(
        "{at}{key}the value of header \"{}\" is not a valid header value (the value is not shown); fix: use visible ASCII characters, spaces and tabs only, with no line breaks",
        shown(.name)
    )]
    InvalidHeaderValue {
        /// Where the header is set.
        at: Origin,
        /// The header's key.
        key: KeyPath,
        /// The header name.
        name: String,
    },
    /// `${NAME}` names a variable that is not set.
    #[error(
        "{at}{key}environment variable {variable} is not set (referenced as ${{{variable}}}); fix: export {variable}, or write $$ for a literal '$'"
    )]
    UnsetVariable {
        /// Where the reference is.
        at: Origin,
        /// The key whose value references the variable.
        key: KeyPath,
        /// The variable.
        variable: String,
    },
    /// The selected transport was not compiled into this build.
    #[error(
        "{at}{key}exporter \"{exporter}\" is not available: agent-otel-config was built without its \"{feature}\" cargo feature; fix: enable the \"{feature}\" feature of agent-otel-config, or choose another exporter"
    )]
    TransportNotCompiled {
        /// Where the exporter was selected.
        at: Origin,
        /// The key that selected it.
        key: KeyPath,
        /// The exporter name.
        exporter: &'static str,
        /// The cargo feature that provides it.
        feature: &'static str,
    },
    /// A TLS file is missing, unreadable or not PEM of the right kind.
    #[error("{at}{key}{}{fix}", shown(.source))]
    Tls {
        /// Where the file is named.
        at: Origin,
        /// The TLS key.
        key: KeyPath,
        /// What went wrong.
        source: Box<TlsError>,
        /// How to fix it, as `; fix: ...` (empty when the TLS error already says).
        fix: &'static str,
    },
    /// The exporter refused its settings.
    #[error("cannot build the {exporter} exporter: {}", shown(.source))]
    Exporter {
        /// The exporter name.
        exporter: &'static str,
        /// The exporter's error.
        source: Box<dyn std::error::Error + Send + Sync + 'static>,
    },
    /// The export pipeline could not start.
    #[error("cannot start telemetry: {}", shown(.0))]
    Pipeline(#[from] PipelineError),
}

impl ConfigError {
    /// Where the offending setting is, when the error has a position.
    pub fn origin(&self) -> Option<&Origin> {
        match self {
            ConfigError::Syntax { at, .. }
            | ConfigError::UnknownKey { at, .. }
            | ConfigError::UnknownValue { at, .. }
            | ConfigError::WrongType { at, .. }
            | ConfigError::InvalidValue { at, .. }
            | ConfigError::InvalidUrl { at, .. }
            | ConfigError::InvalidHeaderName { at, .. }
            | ConfigError::InvalidHeaderValue { at, .. }
            | ConfigError::UnsetVariable { at, .. }
            | ConfigError::TransportNotCompiled { at, .. }
            | ConfigError::Tls { at, .. } => Some(at),
            ConfigError::Read { .. }
            | ConfigError::FileTooLarge { .. }
            | ConfigError::Exporter { .. }
            | ConfigError::Pipeline(_) => None,
        }
    }

    /// The key path the error is about (`otel.exporter.otlp-http.protocol`),
    /// when there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownKey { key, .. }
            | ConfigError::UnknownValue { key, .. }
            | ConfigError::WrongType { key, .. }
            | ConfigError::InvalidValue { key, .. }
            | ConfigError::InvalidUrl { key, .. }
            | ConfigError::InvalidHeaderName { key, .. }
            | ConfigError::InvalidHeaderValue { key, .. }
            | ConfigError::UnsetVariable { key, .. }
            | ConfigError::TransportNotCompiled { key, .. }
            | ConfigError::Tls { key, .. } => Some(key.as_str()).filter(|k| !k.is_empty()),
            _ => None,
        }
    }
}

/// Maps byte offsets of a document to line and column.
#[derive(Debug, Clone)]
pub(crate) struct SourceMap {
    path: Option<Arc<Path>>,
    line_starts: Vec<usize>,
    text: String,
}

impl SourceMap {
    pub(crate) fn new(text: &str, path: Option<PathBuf>) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self {
            path: path.map(Arc::from),
            line_starts,
            text: text.to_owned(),
        }
    }

    /// The position of byte `offset` (clamped to the document).
    pub(crate) fn origin(&self, offset: usize) -> Origin {
        let offset = offset.min(self.text.len());
        let line_index = self
            .line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1);
        let start = self.line_starts.get(line_index).copied().unwrap_or(0);
        let prefix = self.text.get(start..offset).unwrap_or("");
        Origin::File {
            path: self.path.clone(),
            line: u32::try_from(line_index + 1).unwrap_or(u32::MAX),
            column: u32::try_from(prefix.chars().count() + 1).unwrap_or(u32::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_count_characters() {
        let map = SourceMap::new("a = 1\nbé = 2\n", None);
        assert_eq!(
            map.origin(0),
            Origin::File {
                path: None,
                line: 1,
                column: 1
            }
        );
        // "bé = " is 6 bytes, 5 characters: the `2` is column 6.
        let offset = "a = 1\nbé = ".len();
        assert_eq!(
            map.origin(offset),
            Origin::File {
                path: None,
                line: 2,
                column: 6
            }
        );
        assert_eq!(map.origin(6).to_string(), "line 2, column 1: ");
    }

    #[test]
    fn choices_render_quoted() {
        assert_eq!(
            Choices(&["none", "otlp-http"]).to_string(),
            "\"none\", \"otlp-http\""
        );
    }
}

#[cfg(test)]
mod size {
    /// Results carrying a `ConfigError` stay cheap to return (and clippy's
    /// `result_large_err` stays quiet for every caller).
    #[test]
    fn config_error_is_small() {
        assert!(std::mem::size_of::<super::ConfigError>() < 128);
    }
}
