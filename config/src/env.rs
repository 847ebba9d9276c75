//! [`Environment`]: the variables the resolver reads, injectable so tests
//! never touch the process environment.

use std::collections::BTreeMap;
use std::fmt;

/// A snapshot of environment variables.
///
/// Build it from the process ([`Environment::from_process`]) in a program and
/// from pairs ([`Environment::from_pairs`]) in tests. `Debug` lists variable
/// names only: values may be secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Environment {
    vars: BTreeMap<String, String>,
}

impl Environment {
    /// No variables at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// The current process environment (variables that are not valid UTF-8
    /// are left out).
    pub fn from_process() -> Self {
        Self {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
        }
    }

    /// Variables from `(name, value)` pairs; a later pair wins.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// Returns `self` with `name` set to `value`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.insert(name.into(), value.into());
        self
    }

    /// Sets `name` to `value`.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.vars.insert(name.into(), value.into());
    }

    /// Removes `name`.
    pub fn remove(&mut self, name: &str) {
        self.vars.remove(name);
    }

    /// The value of `name`, even when empty (as `${NAME}` expansion sees it).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The value of an `OTEL_*` variable: as the OpenTelemetry spec says,
    /// empty (or all-blank) counts as unset. Surrounding whitespace is trimmed.
    pub fn otel(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment")
            .field("names", &self.vars.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_otel_values_count_as_unset() {
        let env = Environment::from_pairs([("OTEL_A", "  "), ("B", "")]);
        assert_eq!(env.otel("OTEL_A"), None);
        assert_eq!(env.get("B"), Some(""));
        assert_eq!(env.get("C"), None);
    }

    #[test]
    fn debug_shows_names_only() {
        let env = Environment::empty().with("OTLP_TOKEN", "hunter2");
        let debug = format!("{env:?}");
        assert!(debug.contains("OTLP_TOKEN"));
        assert!(!debug.contains("hunter2"));
    }
}
