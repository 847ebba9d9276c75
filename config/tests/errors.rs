//! Each error a user can make gives a message that says where (line and
//! column, file), which key, the valid choices, and the fix.

use std::path::Path;

use agent_otel_config::{ConfigError, Environment, ExporterConfig, HostInfo, Origin, OtelConfig};

fn parse_err(toml: &str) -> (ConfigError, String) {
    let err = OtelConfig::parse(toml).expect_err("should not parse");
    let msg = err.to_string();
    println!("{msg}");
    (err, msg)
}

fn resolve_err(toml: &str, env: &Environment) -> (ConfigError, String) {
    let err = OtelConfig::parse(toml)
        .expect("parses")
        .resolve(env, &HostInfo::default())
        .expect_err("should not resolve");
    let msg = err.to_string();
    println!("{msg}");
    (err, msg)
}

fn assert_contains(msg: &str, parts: &[&str]) {
    for part in parts {
        assert!(msg.contains(part), "{msg:?} lacks {part:?}");
    }
}

#[test]
fn unknown_key_at_otel_level() {
    let (err, msg) = parse_err("[otel]\nenvironment = \"dev\"\nexporterr = \"none\"\n");
    assert!(matches!(err, ConfigError::UnknownKey { .. }));
    assert_contains(
        &msg,
        &[
            "line 3, column 1",
            "otel: unknown key \"exporterr\"",
            "\"environment\", \"exporter\"",
            "did you mean \"exporter\"",
            "fix:",
        ],
    );
    assert_eq!(err.key(), Some("otel"));
}

#[test]
fn unknown_key_inside_exporter() {
    let (_, msg) =
        parse_err("[otel]\nexporter = { otlp-http = { endpiont = \"https://h/v1/logs\" } }\n");
    assert_contains(
        &msg,
        &[
            "line 2, column 28",
            "otel.exporter.otlp-http: unknown key \"endpiont\"",
            "\"endpoint\", \"protocol\", \"headers\", \"compression\", \"timeout-ms\", \"tls\"",
            "did you mean \"endpoint\"",
        ],
    );
}

#[test]
fn protocol_is_unknown_for_grpc() {
    let (_, msg) = parse_err("[otel]\nexporter = { otlp-grpc = { protocol = \"json\" } }\n");
    assert_contains(
        &msg,
        &[
            "otel.exporter.otlp-grpc: unknown key \"protocol\"",
            "line 2",
        ],
    );
    assert!(!msg.contains("\"protocol\", "), "{msg}");
}

#[test]
fn unknown_tls_key() {
    let (_, msg) = parse_err("[otel.exporter.otlp-http]\ntls = { ca-cert = \"ca.pem\" }\n");
    assert_contains(
        &msg,
        &[
            "otel.exporter.otlp-http.tls: unknown key \"ca-cert\"",
            "\"ca-certificate\", \"client-certificate\", \"client-private-key\"",
            "line 2",
        ],
    );
}

#[test]
fn unknown_exporter_name() {
    let (err, msg) = parse_err("[otel]\nexporter = \"otlp-htp\"\n");
    assert!(matches!(err, ConfigError::UnknownValue { .. }));
    assert_contains(
        &msg,
        &[
            "line 2, column 12",
            "otel.exporter: unknown exporter \"otlp-htp\"; expected one of \"none\", \"otlp-http\", \"otlp-grpc\"",
            "did you mean \"otlp-http\"",
            "fix:",
        ],
    );
}

#[test]
fn unknown_exporter_table_key() {
    let (_, msg) = parse_err("[otel]\nexporter = { kafka = {} }\n");
    assert_contains(
        &msg,
        &[
            "otel.exporter: unknown key \"kafka\"",
            "\"otlp-http\", \"otlp-grpc\"",
        ],
    );
}

#[test]
fn two_exporters_at_once() {
    let (_, msg) = parse_err("[otel]\nexporter = { otlp-http = {}, otlp-grpc = {} }\n");
    assert_contains(&msg, &["otel.exporter", "more than one exporter", "line 2"]);
}

#[test]
fn bad_protocol() {
    let (_, msg) =
        parse_err("[otel]\nexporter = { otlp-http = { protocol = \"http/protobuf\" } }\n");
    assert_contains(
        &msg,
        &[
            "otel.exporter.otlp-http.protocol: unknown protocol \"http/protobuf\"",
            "expected one of \"binary\", \"json\"",
            "did you mean \"binary\"",
            "line 2, column 39",
        ],
    );
}

#[test]
fn bad_compression() {
    let (_, msg) = parse_err("[otel]\nexporter = { otlp-grpc = { compression = \"zstd\" } }\n");
    assert_contains(
        &msg,
        &[
            "otel.exporter.otlp-grpc.compression: unknown compression \"zstd\"",
            "expected one of \"none\", \"gzip\"",
            "line 2",
        ],
    );
}

#[test]
fn wrong_types() {
    let (err, msg) = parse_err("[otel]\nlog_user_prompt = \"yes\"\n");
    assert!(matches!(err, ConfigError::WrongType { .. }));
    assert_contains(
        &msg,
        &[
            "line 2",
            "otel.log_user_prompt: expected a boolean, found a string",
            "fix:",
        ],
    );

    let (_, msg) = parse_err("[otel]\nexporter = { otlp-http = { timeout-ms = \"10s\" } }\n");
    assert_contains(
        &msg,
        &["otel.exporter.otlp-http.timeout-ms: expected a non-negative integer, found a string"],
    );

    let (_, msg) = parse_err("[otel]\nexporter = 3\n");
    assert_contains(
        &msg,
        &["otel.exporter: expected a string or a table, found an integer"],
    );

    let (_, msg) = parse_err("otel = \"on\"\n");
    assert_contains(&msg, &["line 1", "otel: expected a table, found a string"]);

    let (_, msg) = parse_err("[otel.resource_attributes]\nteam = 42\n");
    assert_contains(
        &msg,
        &["otel.resource_attributes.team: expected a string, found an integer"],
    );

    let (_, msg) = parse_err("[otel]\nqueue_capacity = -5\n");
    assert_contains(&msg, &["otel.queue_capacity", "negative"]);

    let (_, msg) = parse_err("[otel]\nmax_batch_size = 0\n");
    assert_contains(&msg, &["otel.max_batch_size", "minimum 1"]);
}

#[test]
fn bad_url() {
    let (err, msg) = parse_err(
        "[otel]\nexporter = { otlp-http = { endpoint = \"ftp://otel.example.com/v1/logs\" } }\n",
    );
    assert!(matches!(err, ConfigError::InvalidUrl { .. }));
    assert_contains(
        &msg,
        &[
            "line 2, column 39",
            "otel.exporter.otlp-http.endpoint",
            "\"ftp://otel.example.com/v1/logs\"",
            "scheme \"ftp\"",
            "http:// or https://",
        ],
    );

    let (_, msg) =
        parse_err("[otel]\nexporter = { otlp-grpc = { endpoint = \"otel.example.com:4317\" } }\n");
    assert_contains(
        &msg,
        &[
            "otel.exporter.otlp-grpc.endpoint",
            "\"otel.example.com:4317\"",
        ],
    );

    let (_, msg) =
        parse_err("[otel]\nexporter = { otlp-grpc = { endpoint = \"https://h:4317/v1/logs\" } }\n");
    assert_contains(&msg, &["gRPC endpoints take no path"]);

    let (_, msg) = parse_err(
        "[otel]\nexporter = { otlp-grpc = { endpoint = \"https://u:pw-secret@h:4317\" } }\n",
    );
    assert_contains(&msg, &["no user info", "headers", "u:***@h"]);
    assert!(!msg.contains("pw-secret"), "{msg}");
}

#[cfg(feature = "http")]
#[test]
fn bad_url_after_expansion_masks_password() {
    let env = Environment::from_pairs([("EP", "ftp://user:s3cret@h/v1/logs")]);
    let (_, msg) = resolve_err(
        "[otel]\nexporter = { otlp-http = { endpoint = \"${EP}\" } }\n",
        &env,
    );
    assert_contains(
        &msg,
        &["line 2", "otel.exporter.otlp-http.endpoint", "user:***@h"],
    );
    assert!(!msg.contains("s3cret"), "{msg}");
}

#[test]
fn bad_header_name() {
    let (err, msg) = parse_err(
        "[otel]\nexporter = { otlp-http = { headers = { \"x api key\" = \"sekrit-value\" } } }\n",
    );
    assert!(matches!(err, ConfigError::InvalidHeaderName { .. }));
    assert_contains(
        &msg,
        &["line 2", "otel.exporter.otlp-http.headers", "\"x api key\""],
    );
    assert!(!msg.contains("sekrit-value"), "{msg}");
}

#[cfg(feature = "http")]
#[test]
fn bad_header_value_never_shows_the_value() {
    let toml =
        "[otel]\nexporter = { otlp-http = { headers = { \"x-key\" = \"sekrit\\nvalue\" } } }\n";
    let (err, msg) = resolve_err(toml, &Environment::empty());
    assert!(matches!(err, ConfigError::InvalidHeaderValue { .. }));
    assert_contains(
        &msg,
        &[
            "line 2",
            "otel.exporter.otlp-http.headers.x-key",
            "\"x-key\"",
            "not shown",
        ],
    );
    assert!(!msg.contains("sekrit"), "{msg}");
    assert!(!format!("{err:?}").contains("sekrit"));

    // Same when the bad value came from a variable.
    let env = Environment::from_pairs([("TOKEN", "line1\r\nline2-sekrit")]);
    let toml = "[otel]\nexporter = { otlp-http = { headers = { \"x-key\" = \"${TOKEN}\" } } }\n";
    let (err, msg) = resolve_err(toml, &env);
    assert!(!msg.contains("sekrit"), "{msg}");
    assert!(!format!("{err:?}").contains("sekrit"));
}

#[test]
fn duplicate_header_names() {
    let (_, msg) = parse_err(
        "[otel]\nexporter = { otlp-http = { headers = { \"X-Key\" = \"a\", \"x-key\" = \"b\" } } }\n",
    );
    assert_contains(&msg, &["given twice"]);
}

#[cfg(feature = "http")]
#[test]
fn unset_variable_names_variable_and_key() {
    let toml = "[otel]\nexporter = { otlp-http = { headers = { \"x-otlp-api-key\" = \"${OTLP_TOKEN}\" } } }\n";
    let (err, msg) = resolve_err(toml, &Environment::empty());
    assert!(matches!(err, ConfigError::UnsetVariable { .. }));
    assert_contains(
        &msg,
        &[
            "line 2",
            "otel.exporter.otlp-http.headers.x-otlp-api-key",
            "OTLP_TOKEN is not set",
            "fix: export OTLP_TOKEN",
        ],
    );

    let toml =
        "[otel]\nexporter = { otlp-http = { endpoint = \"https://${OTEL_HOST}/v1/logs\" } }\n";
    let (_, msg) = resolve_err(toml, &Environment::empty());
    assert_contains(&msg, &["otel.exporter.otlp-http.endpoint", "OTEL_HOST"]);
}

#[cfg(feature = "http")]
#[test]
fn lone_dollar_and_malformed_references() {
    let toml = "[otel]\nexporter = { otlp-http = { headers = { \"x-key\" = \"pa$word\" } } }\n";
    let (_, msg) = resolve_err(toml, &Environment::empty());
    assert_contains(&msg, &["otel.exporter.otlp-http.headers.x-key", "$$"]);
    assert!(!msg.contains("pa$word"), "{msg}");

    let toml = "[otel]\nexporter = { otlp-http = { headers = { \"x-key\" = \"${UNCLOSED\" } } }\n";
    let (_, msg) = resolve_err(toml, &Environment::empty());
    assert_contains(&msg, &["malformed"]);
}

#[test]
fn syntax_error_has_a_position_and_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "model = \"o3\"\n\n[otel]\nexporter = \"otlp-http\n").expect("write");
    let err = OtelConfig::parse_file(&path).expect_err("bad toml");
    let msg = err.to_string();
    println!("{msg}");
    assert!(matches!(err, ConfigError::Syntax { .. }));
    assert_contains(
        &msg,
        &[&path.display().to_string(), "line 4", "invalid TOML"],
    );
}

#[test]
fn errors_from_a_file_name_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "[otel]\nexporter = \"otlp-htp\"\n").expect("write");
    let err = OtelConfig::parse_file(&path).expect_err("bad exporter");
    let msg = err.to_string();
    assert_contains(&msg, &[&format!("{}, line 2, column 12", path.display())]);
    match err.origin() {
        Some(Origin::File {
            path: Some(p),
            line: 2,
            column: 12,
        }) => assert_eq!(**p, *path),
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_file() {
    let err = OtelConfig::parse_file(Path::new("/nonexistent/agent-otel/config.toml"))
        .expect_err("missing");
    assert_contains(
        &err.to_string(),
        &["/nonexistent/agent-otel/config.toml", "cannot read"],
    );
}

#[test]
fn other_tables_are_ignored_but_otel_is_strict() {
    let toml = "model = \"o3\"\n[profiles.fast]\nanything = 1\n[otel]\nexporter = \"none\"\n";
    let parsed = OtelConfig::parse(toml).expect("other tables are ignored");
    assert_eq!(
        parsed.exporter.map(|setting| setting.value),
        Some(ExporterConfig::None)
    );
    let (_, msg) = parse_err("[otel]\n[otel.extra]\nx = 1\n");
    assert_contains(&msg, &["unknown key \"extra\""]);
}

#[test]
fn standalone_key_paths_have_no_prefix() {
    let err = OtelConfig::parse_standalone("exporter = \"grpc\"\n", None).expect_err("bad");
    let msg = err.to_string();
    assert_contains(
        &msg,
        &[
            "line 1",
            "exporter: unknown exporter \"grpc\"",
            "did you mean \"otlp-grpc\"",
        ],
    );
    let ok =
        OtelConfig::parse_standalone("exporter = \"otlp-http\"\nenvironment = \"prod\"\n", None)
            .expect("ok");
    assert_eq!(ok.environment.map(|s| s.value), Some("prod".to_owned()));
}

/// A bad environment value: variable, value, parts of the message.
type EnvCase = (&'static str, &'static str, &'static [&'static str]);

/// Read before the transport is looked at: checked with or without one.
const ANY_TRANSPORT_ENV_CASES: &[EnvCase] = &[("OTEL_SDK_DISABLED", "yes", &["true or false"])];

/// Read while resolving the otlp-http exporter.
#[cfg(feature = "http")]
const HTTP_ENV_CASES: &[EnvCase] = &[
    ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s", &["\"10s\""]),
    (
        "OTEL_EXPORTER_OTLP_COMPRESSION",
        "br",
        &["expected one of \"none\", \"gzip\""],
    ),
    (
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "http",
        &["expected one of \"grpc\", \"http/protobuf\", \"http/json\""],
    ),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "localhost:4318",
        &["\"localhost:4318\""],
    ),
    (
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "ftp://h",
        &["scheme \"ftp\""],
    ),
    ("OTEL_EXPORTER_OTLP_INSECURE", "1", &["true or false"]),
    ("OTEL_RESOURCE_ATTRIBUTES", "team", &["\"team\" has no '='"]),
    ("OTEL_BLRP_MAX_QUEUE_SIZE", "0", &["from 1 to 1048576"]),
];

/// Without the otlp-http transport its variables are never read.
#[cfg(not(feature = "http"))]
const HTTP_ENV_CASES: &[EnvCase] = &[];

#[test]
fn bad_environment_values_name_the_variable() {
    let toml = "[otel]\nexporter = \"otlp-http\"\n";
    for &(var, value, parts) in ANY_TRANSPORT_ENV_CASES.iter().chain(HTTP_ENV_CASES) {
        let env = Environment::from_pairs([(var, value)]);
        let (err, msg) = resolve_err(toml, &env);
        assert_contains(&msg, &[&format!("environment variable {var}")]);
        assert_contains(&msg, parts);
        assert_eq!(err.origin(), Some(&Origin::Env(var.to_owned())));
    }
}

#[cfg(feature = "http")]
#[test]
fn bad_env_headers_never_show_values() {
    let toml = "[otel]\nexporter = \"otlp-http\"\n";
    for raw in [
        "api-key=ok,sekrit-no-equals",
        "bad name=sekrit",
        "x-key=sekrit%0Avalue",
    ] {
        let env = Environment::from_pairs([("OTEL_EXPORTER_OTLP_HEADERS", raw)]);
        let (err, msg) = resolve_err(toml, &env);
        assert_contains(&msg, &["OTEL_EXPORTER_OTLP_HEADERS"]);
        assert!(!msg.contains("sekrit"), "{msg}");
        assert!(!format!("{err:?}").contains("sekrit"));
    }
}

#[test]
fn pipeline_sizes_above_their_maximum_name_the_key_and_line() {
    for (key, value) in [
        ("queue_capacity", "2000000"),
        ("max_batch_size", "100000"),
        ("max_concurrent_exports", "100"),
    ] {
        let toml = format!("[otel]\n{key} = {value}\n");
        let error = agent_otel_config::OtelConfig::parse(&toml)
            .expect_err("above the maximum")
            .to_string();
        assert!(error.contains(key), "{error}");
        assert!(error.contains("line 2"), "{error}");
        assert!(error.contains("above the maximum"), "{error}");
    }
}

#[cfg(all(feature = "http", feature = "grpc"))]
#[test]
fn headers_the_transport_sets_itself_are_refused_at_their_line() {
    for (exporter, header) in [("otlp-http", "Content-Type"), ("otlp-grpc", "grpc-timeout")] {
        let toml = format!(
            "[otel]\nexporter = {{ {exporter} = {{ endpoint = \"http://127.0.0.1:4318\",\n  headers = {{ \"{header}\" = \"x\" }} }} }}\n"
        );
        let config = agent_otel_config::OtelConfig::parse(&toml).expect("parses");
        let error = config
            .resolve(
                &agent_otel_config::Environment::empty(),
                &agent_otel_config::HostInfo::default(),
            )
            .expect_err("reserved")
            .to_string();
        assert!(error.contains(header), "{error}");
        assert!(error.contains("line 3"), "{error}");
        assert!(error.contains("cannot be configured"), "{error}");
        assert!(error.contains("fix: remove it from headers"), "{error}");
    }
}
