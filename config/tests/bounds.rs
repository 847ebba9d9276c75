//! What a config cannot smuggle in: control characters or port 0 in an
//! endpoint, secrets in its query or fragment, integers outside their
//! range, a config file without end.

use agent_otel_config::{
    ConfigError, Environment, HostInfo, INTEGER_RANGES, MAX_CONFIG_BYTES, Origin, OtelConfig,
};

fn resolve(
    toml: &str,
    env: &Environment,
) -> Result<agent_otel_config::ResolvedConfig, ConfigError> {
    OtelConfig::parse(toml)?.resolve(env, &HostInfo::default())
}

fn line_of(error: &ConfigError) -> Option<u32> {
    match error.origin() {
        Some(Origin::File { line, .. }) => Some(*line),
        _ => None,
    }
}

#[cfg(feature = "http")]
#[test]
fn control_characters_in_an_endpoint_are_refused_at_the_key_s_line() {
    // Written in the file (TOML escapes), at line 3.
    for escape in [
        "\\n", "\\r", "\\t", "\\u0000", "\\u001b", "\\u007f", "\\u0085",
    ] {
        let toml = format!(
            "[otel]\nenvironment = \"ci\"\nexporter = {{ otlp-http = {{ endpoint = \"https://h:4318/v1/{escape}logs\" }} }}\n"
        );
        let error = resolve(&toml, &Environment::empty()).expect_err(escape);
        let message = error.to_string();
        assert_eq!(line_of(&error), Some(3), "{message}");
        assert!(message.contains("control character"), "{message}");
        assert!(
            message.contains("otel.exporter.otlp-http.endpoint"),
            "{message}"
        );
        assert!(
            !message.contains(['\n', '\r', '\t', '\0', '\u{1b}', '\u{7f}', '\u{85}']),
            "{message:?}"
        );
    }
    // Expanded from ${VAR}: still at the key's line, naming the key.
    let toml = "[otel]\nexporter = { otlp-http = { endpoint = \"https://${HOST}/v1/logs\" } }\n";
    for value in ["h\n", "h\r\nx-injected: 1", "h\t", "h\u{1b}[2J"] {
        let env = Environment::from_pairs([("HOST", value)]);
        let error = resolve(toml, &env).expect_err(value);
        let message = error.to_string();
        assert_eq!(line_of(&error), Some(2), "{message}");
        assert!(message.contains("control character"), "{message}");
        assert!(
            !message.contains(['\n', '\r', '\t', '\u{1b}']),
            "{message:?}"
        );
    }
    // From OTEL_* (surrounding blanks are trimmed, as the spec says; inside
    // they are refused).
    for var in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    ] {
        let env = Environment::from_pairs([(var, "https://h:4318/v1/\nlogs")]);
        let error = resolve("[otel]\nexporter = \"otlp-http\"\n", &env).expect_err(var);
        assert_eq!(error.origin(), Some(&Origin::Env(var.to_owned())));
        assert!(error.to_string().contains("control character"), "{error}");
    }
}

#[cfg(feature = "grpc")]
#[test]
fn control_characters_in_a_grpc_endpoint_are_refused() {
    let env = Environment::from_pairs([("OTEL_EXPORTER_OTLP_ENDPOINT", "h:4317\tx")]);
    let error = resolve("[otel]\nexporter = \"otlp-grpc\"\n", &env).expect_err("tab");
    assert!(error.to_string().contains("control character"), "{error}");
}

#[test]
fn port_0_is_refused() {
    for (exporter, url) in [
        ("otlp-http", "http://127.0.0.1:0/v1/logs"),
        ("otlp-grpc", "http://127.0.0.1:0"),
    ] {
        let toml = format!("[otel]\nexporter = {{ {exporter} = {{ endpoint = \"{url}\" }} }}\n");
        let error = OtelConfig::parse(&toml).expect_err(url);
        assert_eq!(line_of(&error), Some(2));
        assert!(error.to_string().contains("port 0"), "{error}");
    }
}

#[cfg(feature = "http")]
#[test]
fn port_0_from_the_environment_is_refused() {
    let env = Environment::from_pairs([("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://h:0/v1/logs")]);
    let error = resolve("[otel]\nexporter = \"otlp-http\"\n", &env).expect_err("port 0");
    assert!(error.to_string().contains("port 0"), "{error}");
}

#[cfg(feature = "http")]
#[test]
fn query_values_and_fragments_of_an_endpoint_are_never_shown() {
    let endpoint = "https://u:pw-s3cret@h:4318/v1/logs?api_key=qs-s3cret&tenant=t-s3cret";
    let toml = format!("[otel]\nexporter = {{ otlp-http = {{ endpoint = \"{endpoint}\" }} }}\n");
    let parsed = OtelConfig::parse(&toml).expect("parses");
    let resolved = parsed
        .resolve(&Environment::empty(), &HostInfo::default())
        .expect("resolves");
    let shown = [
        format!("{parsed:?}"),
        format!("{resolved:?}"),
        resolved.to_string(),
    ];
    for text in &shown {
        assert!(!text.contains("s3cret"), "{text}");
    }
    assert!(
        resolved
            .to_string()
            .contains("https://u:***@h:4318/v1/logs?api_key=***&tenant=***"),
        "{resolved}"
    );
    // In errors: a fragment is refused, and not shown.
    let toml = "[otel]\nexporter = { otlp-http = { endpoint = \"https://h/v1/logs?k=q-s3cret#f-s3cret\" } }\n";
    let error = OtelConfig::parse(toml).expect_err("fragment").to_string();
    assert!(error.contains("#fragment"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
    // From the environment, in an error about something else.
    let env = Environment::from_pairs([(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "ftp://h:4318/?token=e-s3cret",
    )]);
    let error = resolve("[otel]\nexporter = \"otlp-http\"\n", &env)
        .expect_err("ftp")
        .to_string();
    assert!(error.contains("?token=***"), "{error}");
    assert!(!error.contains("s3cret"), "{error}");
}

#[test]
fn every_integer_key_has_a_range_and_errors_name_it() {
    for range in INTEGER_RANGES {
        let table = if range.key == "timeout-ms" {
            |key: &str, value: &str| {
                format!("[otel]\nexporter = {{ otlp-http = {{ {key} = {value} }} }}\n")
            }
        } else {
            |key: &str, value: &str| format!("[otel]\n{key} = {value}\n")
        };
        let mut bad = vec![
            (range.max + 1).to_string(),
            "-1".to_owned(),
            "99999999999999999999".to_owned(),
        ];
        if range.min > 0 {
            bad.push((range.min - 1).to_string());
        }
        for value in bad {
            let error = OtelConfig::parse(&table(range.key, &value)).expect_err(&value);
            let message = error.to_string();
            assert!(message.contains(range.key), "{message}");
            assert!(message.contains(&range.describe()), "{message}");
            assert!(line_of(&error).is_some(), "{message}");
        }
        for value in [range.min, range.max] {
            OtelConfig::parse(&table(range.key, &value.to_string()))
                .unwrap_or_else(|e| panic!("{} = {value}: {e}", range.key));
        }
    }
}

#[test]
fn max_request_bytes_is_at_most_64_mib() {
    let error = OtelConfig::parse("[otel]\nmax_request_bytes = 67108865\n").expect_err("too big");
    assert!(
        error.to_string().contains("1024 to 67108864 bytes"),
        "{error}"
    );
    OtelConfig::parse("[otel]\nmax_request_bytes = 67108864\n").expect("64 MiB");
}

#[test]
fn integer_variables_are_held_to_the_range_of_their_key() {
    for (var, value, range) in [
        ("OTEL_BLRP_MAX_QUEUE_SIZE", "2000000", "1 to 1048576"),
        ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "0", "1 to 65536"),
        ("OTEL_BLRP_SCHEDULE_DELAY", "3600001", "1 to 3600000 ms"),
    ] {
        let env = Environment::from_pairs([(var, value)]);
        let error = resolve("[otel]\n", &env).expect_err(var);
        assert_eq!(error.origin(), Some(&Origin::Env(var.to_owned())));
        assert!(error.to_string().contains(range), "{error}");
    }
}

#[cfg(feature = "http")]
#[test]
fn the_timeout_variable_is_held_to_the_range_of_timeout_ms() {
    let env = Environment::from_pairs([("OTEL_EXPORTER_OTLP_TIMEOUT", "99999999999")]);
    let error = resolve("[otel]\nexporter = \"otlp-http\"\n", &env).expect_err("timeout");
    assert!(error.to_string().contains("1 to 3600000 ms"), "{error}");
}

#[test]
fn a_config_file_without_end_stops_at_the_limit() {
    let error = OtelConfig::parse_file("/dev/zero".as_ref()).expect_err("/dev/zero");
    assert!(
        matches!(error, ConfigError::FileTooLarge { limit, .. } if limit == MAX_CONFIG_BYTES),
        "{error}"
    );
    assert!(
        error.to_string().contains("larger than 4194304 bytes"),
        "{error}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let big = dir.path().join("big.toml");
    let mut text = "[otel]\nexporter = \"none\"\n".to_owned();
    text.push_str(&"# padding\n".repeat(MAX_CONFIG_BYTES as usize / 10 + 1));
    std::fs::write(&big, &text).expect("write");
    let error = OtelConfig::parse_file(&big).expect_err("over the limit");
    assert!(matches!(error, ConfigError::FileTooLarge { .. }), "{error}");

    let at_limit = dir.path().join("at-limit.toml");
    text.truncate(MAX_CONFIG_BYTES as usize);
    std::fs::write(&at_limit, &text).expect("write");
    OtelConfig::parse_file(&at_limit).expect("a file of exactly the limit is read");
}

#[cfg(feature = "http")]
#[test]
fn a_tls_file_without_end_stops_at_the_limit() {
    let toml = "[otel]\nexporter = { otlp-http = { endpoint = \"https://h:4318/v1/logs\", tls = { ca-certificate = \"/dev/zero\" } } }\n";
    let error = resolve(toml, &Environment::empty()).expect_err("/dev/zero");
    let message = error.to_string();
    assert!(message.contains("larger than 4194304 bytes"), "{message}");
    assert_eq!(line_of(&error), Some(2), "{message}");
}

#[test]
fn the_summary_shows_no_control_character_of_a_value() {
    let toml = "[otel]\nenvironment = \"ci\\u001b[2J\"\n\n[otel.resource_attributes]\n\"team\\r\" = \"a\\nb\\u0007\"\n";
    let env = Environment::from_pairs([("OTEL_SERVICE_NAME", "svc\u{1b}]0;title\u{7}")]);
    let summary = resolve(toml, &env).expect("resolves").to_string();
    let values: String = summary
        .lines()
        .filter(|l| l.starts_with("resource:"))
        .collect();
    assert!(!values.contains(char::is_control), "{values:?}");
    assert!(values.contains("env=ci\\u{1b}[2J"), "{values}");
    assert!(values.contains("team\\r=a\\nb\\u{7}"), "{values}");
}
