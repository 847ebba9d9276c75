//! `[otel.spool]`: off unless `dir` is set, `~` and relative paths
//! resolved, bounds checked with positioned errors.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_otel_config::{ConfigError, Environment, HostInfo, OtelConfig};
use agent_otel_core::SpoolOptions;

fn spool_of(toml: &str, path: Option<&Path>, env: &Environment) -> Option<SpoolOptions> {
    let parsed = match path {
        Some(path) => OtelConfig::parse_with_path(toml, path),
        None => OtelConfig::parse(toml),
    }
    .expect("parses");
    parsed
        .resolve(env, &HostInfo::default())
        .expect("resolves")
        .spool
}

#[test]
fn the_spool_is_off_unless_dir_is_set() {
    assert_eq!(spool_of("[otel]\n", None, &Environment::empty()), None);
    let err = OtelConfig::parse("[otel.spool]\nmax_bytes = 1048576\n")
        .expect("parses")
        .resolve(&Environment::empty(), &HostInfo::default())
        .expect("resolves");
    assert_eq!(err.spool, None, "bounds alone do not turn the spool on");
}

#[test]
fn every_key_is_read_and_tilde_expands_from_home() {
    let env = Environment::from_pairs([("HOME", "/home/me")]);
    let spool = spool_of(
        "[otel.spool]\ndir = \"~/.cache/agent-otel/spool\"\nmax_bytes = 1048576\nmax_age_hours = 2\n",
        None,
        &env,
    )
    .expect("spool on");
    assert_eq!(spool.dir, PathBuf::from("/home/me/.cache/agent-otel/spool"));
    assert_eq!(spool.max_bytes, 1_048_576);
    assert_eq!(spool.max_age, Duration::from_secs(2 * 3600));
    let bare = spool_of("[otel.spool]\ndir = \"~\"\n", None, &env).expect("spool on");
    assert_eq!(bare.dir, PathBuf::from("/home/me"));
    assert_eq!(bare.max_bytes, agent_otel_core::spool::DEFAULT_MAX_BYTES);
    assert_eq!(bare.max_age, agent_otel_core::spool::DEFAULT_MAX_AGE);
}

#[test]
fn a_relative_dir_resolves_against_the_config_folder() {
    let spool = spool_of(
        "[otel]\nspool = { dir = \"spool\" }\n",
        Some(Path::new("/etc/agent/config.toml")),
        &Environment::empty(),
    )
    .expect("spool on");
    assert_eq!(spool.dir, PathBuf::from("/etc/agent/spool"));
}

#[test]
fn bad_spool_settings_name_key_line_and_column() {
    let err = OtelConfig::parse("[otel.spool]\ndir = \"/tmp/s\"\nmax_byte = 1\n")
        .expect_err("unknown key");
    assert!(matches!(err, ConfigError::UnknownKey { .. }));
    let msg = err.to_string();
    for part in ["line 3, column 1", "otel.spool", "max_byte", "max_bytes"] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    let msg = OtelConfig::parse("[otel.spool]\ndir = \"/tmp/s\"\nmax_bytes = 10\n")
        .expect_err("too small")
        .to_string();
    for part in ["line 3, column 13", "otel.spool.max_bytes", "65536"] {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
    let msg = OtelConfig::parse("[otel.spool]\nmax_age_hours = 0\n")
        .expect_err("zero")
        .to_string();
    assert!(msg.contains("otel.spool.max_age_hours"), "{msg}");
    let msg = OtelConfig::parse("[otel.spool]\ndir = 3\n")
        .expect_err("wrong type")
        .to_string();
    assert!(msg.contains("expected a string"), "{msg}");
    let msg = OtelConfig::parse("[otel]\nspool = \"/tmp\"\n")
        .expect_err("not a table")
        .to_string();
    assert!(msg.contains("expected a table"), "{msg}");
}

#[test]
fn tilde_needs_home_and_takes_no_user_name() {
    let resolve = |toml: &str, env: &Environment| {
        OtelConfig::parse(toml)
            .expect("parses")
            .resolve(env, &HostInfo::default())
            .expect_err("cannot expand")
            .to_string()
    };
    let msg = resolve("[otel.spool]\ndir = \"~/s\"\n", &Environment::empty());
    assert!(msg.contains("HOME") && msg.contains("line 2"), "{msg}");
    let msg = resolve(
        "[otel.spool]\ndir = \"~bob/s\"\n",
        &Environment::from_pairs([("HOME", "/home/me")]),
    );
    assert!(msg.contains("~user"), "{msg}");
}
