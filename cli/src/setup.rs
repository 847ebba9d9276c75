//! Config resolution shared by the subcommands: host defaults, errors
//! reported on stderr with the usage exit code.

use std::path::Path;

use agent_otel_config::{ConfigError, Environment, HostInfo, ResolvedConfig};
use agent_otel_core::Telemetry;

use crate::EXIT_USAGE;
use crate::style::Style;

/// Host defaults for everything the CLI sends: the library's resource.
pub fn host(service_name: Option<String>) -> HostInfo {
    let defaults = HostInfo::default();
    HostInfo {
        service_name: service_name.unwrap_or(defaults.service_name),
        service_version: env!("CARGO_PKG_VERSION").to_owned(),
        ..defaults
    }
}

pub fn report(error: &ConfigError) -> u8 {
    eprintln!("{} {error}", Style::stderr().bad("error:"));
    EXIT_USAGE
}

/// Loads and resolves a config file, reporting errors on stderr.
pub fn resolve_file(path: &Path, service_name: Option<String>) -> Result<ResolvedConfig, u8> {
    let override_name = service_name.clone();
    let mut resolved =
        agent_otel_config::load_file(path, &Environment::from_process(), &host(service_name))
            .map_err(|e| report(&e))?;
    if let Some(name) = override_name {
        resolved.telemetry.resource.service_name = name;
    }
    Ok(resolved)
}

/// Resolves config text (the demo's own), reporting errors on stderr.
pub fn resolve_text(
    text: &str,
    env: Environment,
    service_name: Option<String>,
) -> Result<ResolvedConfig, u8> {
    agent_otel_config::from_str(text, &env, &host(service_name)).map_err(|e| report(&e))
}

/// Starts the pipeline a resolved config describes, reporting errors.
pub fn start(resolved: &ResolvedConfig) -> Result<Telemetry, u8> {
    resolved.start().map_err(|e| report(&e))
}
