//! Resolving a `[otel]` table against an injected environment (never the
//! process's), as every test file here does.
#![allow(dead_code)] // each test file uses what it needs

use agent_otel_config::{ConfigError, Environment, HostInfo, OtelConfig, ResolvedConfig};

fn try_resolve(toml: &str, pairs: &[(&str, &str)]) -> Result<ResolvedConfig, ConfigError> {
    OtelConfig::parse(toml).expect("parses").resolve(
        &Environment::from_pairs(pairs.iter().copied()),
        &HostInfo::default(),
    )
}

/// `toml` resolved with the variables `pairs`; panics when it fails.
pub fn resolve(toml: &str, pairs: &[(&str, &str)]) -> ResolvedConfig {
    try_resolve(toml, pairs).expect("resolves")
}

/// The error `toml` with the variables `pairs` resolves to.
pub fn resolve_err(toml: &str, pairs: &[(&str, &str)]) -> String {
    try_resolve(toml, pairs).expect_err("must fail").to_string()
}
