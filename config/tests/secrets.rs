//! Header values (and URL passwords) never appear in Debug or Display of
//! the parsed config, the resolved config, or any error.

use agent_otel_config::{ConfigError, Environment, HostInfo, OtelConfig};

const SECRET: &str = "sup3r-s3cret-t0ken";

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} leaks the secret: {text}");
    assert!(
        !text.contains("s3cr3t-pw"),
        "{what} leaks the URL password: {text}"
    );
}

/// What resolving a config, then building its exporter, must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Resolves, and the exporter builds. An `https` endpoint may fail to
    /// build only because this machine has no system root certificates.
    Builds,
    /// Resolves, but building the exporter fails.
    BuildError,
    /// Resolving fails.
    ResolveError,
    /// Resolving fails because the selected transport was not compiled in.
    NotCompiled,
}

/// `expect` for an otlp-http config; without the `http` feature resolving
/// fails instead.
fn http(expect: Expect) -> Expect {
    if cfg!(feature = "http") {
        expect
    } else {
        Expect::NotCompiled
    }
}

/// `expect` for an otlp-grpc config; without the `grpc` feature resolving
/// fails instead.
fn grpc(expect: Expect) -> Expect {
    if cfg!(feature = "grpc") {
        expect
    } else {
        Expect::NotCompiled
    }
}

/// Parses `toml`, resolves it against `env`, builds the exporter, asserts
/// that this takes the `expect`ed path and that no value, error or debug
/// text on the way shows a secret.
#[track_caller]
fn check(toml: &str, env: &Environment, expect: Expect) {
    let parsed = OtelConfig::parse(toml).expect("parses");
    assert_hidden("parsed Debug", &format!("{parsed:?}"));
    assert_hidden("parsed pretty Debug", &format!("{parsed:#?}"));
    assert_hidden("environment Debug", &format!("{env:?}"));
    let resolved = match parsed.resolve(env, &HostInfo::default()) {
        Ok(resolved) => resolved,
        Err(err) => {
            assert_hidden("resolve error Display", &err.to_string());
            assert_hidden("resolve error Debug", &format!("{err:?}"));
            match expect {
                Expect::ResolveError => {}
                Expect::NotCompiled => assert!(
                    matches!(err, ConfigError::TransportNotCompiled { .. }),
                    "expected a transport-not-compiled error, got {err:?}"
                ),
                Expect::Builds | Expect::BuildError => {
                    panic!("expected the config to resolve ({expect:?}), got {err}")
                }
            }
            return;
        }
    };
    assert!(
        matches!(expect, Expect::Builds | Expect::BuildError),
        "expected {expect:?}, but the config resolved: {resolved}"
    );
    assert_hidden("resolved Debug", &format!("{resolved:?}"));
    assert_hidden("resolved Display", &format!("{resolved}"));
    assert_hidden("exporter Debug", &format!("{:?}", resolved.exporter));
    match resolved.build_exporter() {
        Ok(exporter) => {
            assert_eq!(expect, Expect::Builds, "the exporter built");
            let exporter = exporter.expect("an exporter, not `none`");
            assert_hidden("built exporter Debug", &format!("{exporter:?}"));
        }
        Err(err) => {
            assert_hidden("build error Display", &err.to_string());
            assert_hidden("build error Debug", &format!("{err:?}"));
            assert!(
                expect == Expect::BuildError,
                "expected {expect:?}, got build error {err}"
            );
        }
    }
}

#[test]
fn literal_header_value_is_masked() {
    let toml = format!(
        "[otel]\nexporter = {{ otlp-http = {{ headers = {{ \"x-otlp-api-key\" = \"{SECRET}\" }} }} }}\n"
    );
    check(&toml, &Environment::empty(), http(Expect::Builds));
    let toml = toml.replace("otlp-http", "otlp-grpc");
    check(&toml, &Environment::empty(), grpc(Expect::Builds));
}

#[cfg(feature = "http")]
#[test]
fn expanded_header_value_is_masked() {
    let toml = "[otel]\nexporter = { otlp-http = { headers = { authorization = \"Bearer ${TOKEN}\" } } }\n";
    let env = Environment::from_pairs([("TOKEN", SECRET)]);
    check(toml, &env, Expect::Builds);
    let resolved = OtelConfig::parse(toml)
        .expect("parses")
        .resolve(&env, &HostInfo::default())
        .expect("resolves");
    let summary = resolved.to_string();
    assert!(summary.contains("authorization=***"), "{summary}");
}

#[test]
fn env_header_values_are_masked() {
    let env = Environment::from_pairs([
        ("OTEL_EXPORTER_OTLP_HEADERS", format!("api-key={SECRET}")),
        ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", format!("other={SECRET}")),
    ]);
    check(
        "[otel]\nexporter = \"otlp-http\"\n",
        &env,
        http(Expect::Builds),
    );
    check(
        "[otel]\nexporter = \"otlp-grpc\"\n",
        &env,
        grpc(Expect::Builds),
    );
}

#[test]
fn url_passwords_are_masked() {
    let toml = "[otel]\nexporter = { otlp-http = { endpoint = \"https://user:s3cr3t-pw@otel.example.com/v1/logs\" } }\n";
    check(toml, &Environment::empty(), http(Expect::Builds));
    let env = Environment::from_pairs([(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "https://user:s3cr3t-pw@otel.example.com",
    )]);
    check(
        "[otel]\nexporter = \"otlp-http\"\n",
        &env,
        http(Expect::Builds),
    );
}

#[test]
fn errors_about_a_header_never_carry_its_value() {
    let env = Environment::from_pairs([("TOKEN", format!("{SECRET}\n"))]);
    // Invalid value after expansion.
    check(
        "[otel]\nexporter = { otlp-http = { headers = { authorization = \"${TOKEN}\" } } }\n",
        &env,
        http(Expect::ResolveError),
    );
    // A '$' inside a literal secret.
    check(
        &format!("[otel]\nexporter = {{ otlp-http = {{ headers = {{ a = \"{SECRET}$x\" }} }} }}\n"),
        &Environment::empty(),
        http(Expect::ResolveError),
    );
    // Wrong type next to a secret.
    let toml = format!(
        "[otel]\nexporter = {{ otlp-http = {{ headers = {{ a = \"{SECRET}\", b = 1 }} }} }}\n"
    );
    let err = OtelConfig::parse(&toml).expect_err("b is not a string");
    assert_hidden("wrong type", &err.to_string());
    assert_hidden("wrong type Debug", &format!("{err:?}"));
}

#[cfg(feature = "http")]
#[test]
fn env_header_written_with_a_colon_does_not_leak_the_credential() {
    const CREDENTIAL: &str = "dXNlcjpwYXNzd29yZA";
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    ] {
        for (raw, entry) in [
            ("Authorization: Basic dXNlcjpwYXNzd29yZA==", 1),
            ("x-ok=1,Authorization: Basic dXNlcjpwYXNzd29yZA==", 2),
            (",Authorization:Basic%20dXNlcjpwYXNzd29yZA==", 2),
        ] {
            let env = Environment::from_pairs([(var, raw)]);
            let err = OtelConfig::parse("[otel]\nexporter = \"otlp-http\"\n")
                .expect("parses")
                .resolve(&env, &HostInfo::default())
                .expect_err("the header name is invalid");
            let msg = err.to_string();
            let debug = format!("{err:?}");
            for text in [&msg, &debug] {
                assert!(!text.contains(CREDENTIAL), "leaks the credential: {text}");
                assert!(!text.contains("dXNl"), "leaks the credential: {text}");
            }
            assert!(
                msg.contains(&format!(
                    "entry {entry} of {var} has an invalid header name"
                )),
                "{msg}"
            );
            assert!(msg.contains("\"Authorization\""), "{msg}");
            assert!(msg.contains("k=v,k2=v2"), "{msg}");
        }
    }
}

#[cfg(feature = "http")]
#[test]
fn env_header_name_without_a_valid_prefix_is_not_shown() {
    // Only the part before the first invalid character may be shown; here
    // that is nothing.
    let env = Environment::from_pairs([("OTEL_EXPORTER_OTLP_HEADERS", format!(": {SECRET}=1"))]);
    let err = OtelConfig::parse("[otel]\nexporter = \"otlp-http\"\n")
        .expect("parses")
        .resolve(&env, &HostInfo::default())
        .expect_err("the header name is invalid");
    let msg = err.to_string();
    assert!(
        msg.contains(
            "entry 1 of OTEL_EXPORTER_OTLP_HEADERS has an invalid header name (the name is not shown)"
        ),
        "{msg}"
    );
    assert_hidden("header name error", &msg);
    assert_hidden("header name error Debug", &format!("{err:?}"));
}

#[cfg(feature = "http")]
#[test]
fn env_header_value_undecodable_does_not_echo_the_key() {
    let env = Environment::from_pairs([(
        "OTEL_EXPORTER_OTLP_HEADERS",
        format!("Authorization: Bearer {SECRET}=%FF"),
    )]);
    check(
        "[otel]\nexporter = \"otlp-http\"\n",
        &env,
        Expect::ResolveError,
    );
}

#[test]
fn unparsable_url_with_at_in_the_password_is_masked_in_full() {
    // Port out of range: the URL does not parse, the fallback masks it.
    let endpoint = "https://user:x@s3cr3t-pw@host:99999/v1/logs";
    let toml = format!("[otel]\nexporter = {{ otlp-http = {{ endpoint = \"{endpoint}\" }} }}\n");
    let err = OtelConfig::parse(&toml).expect_err("the port is out of range");
    let msg = err.to_string();
    assert_hidden("invalid URL error", &msg);
    assert_hidden("invalid URL error Debug", &format!("{err:?}"));
    assert!(msg.contains("https://user:***@host:99999/v1/logs"), "{msg}");

    let env = Environment::from_pairs([(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "https://user:x@s3cr3t-pw@host:99999",
    )]);
    check(
        "[otel]\nexporter = \"otlp-http\"\n",
        &env,
        http(Expect::ResolveError),
    );
}

#[cfg(feature = "http")]
#[test]
fn expanded_password_breaking_the_url_is_refused_without_showing_it() {
    let toml = "[otel]\nexporter = { otlp-http = { endpoint = \"https://user:${PASS}@otel.example.com/v1/logs\" } }\n";
    for password in [
        "s3cr3t-pw@leaky/part",
        "s3cr3t-pw/leaky",
        "s3cr3t-pw?leaky",
        "s3cr3t-pw#leaky",
    ] {
        let env = Environment::from_pairs([("PASS", password)]);
        check(toml, &env, Expect::ResolveError);
        let err = OtelConfig::parse(toml)
            .expect("parses")
            .resolve(&env, &HostInfo::default())
            .expect_err("the password breaks the URL");
        let msg = err.to_string();
        assert!(!msg.contains("leaky"), "{msg}");
        assert!(!format!("{err:?}").contains("leaky"));
        assert!(msg.contains("otel.exporter.otlp-http.endpoint"), "{msg}");
        assert!(msg.contains("${PASS}"), "{msg}");
        assert!(msg.contains("user-info"), "{msg}");
    }

    // Percent-encoded, the same password works and stays masked.
    let env = Environment::from_pairs([("PASS", "s3cr3t-pw%40leaky%2Fpart")]);
    check(toml, &env, Expect::Builds);
    let resolved = OtelConfig::parse(toml)
        .expect("parses")
        .resolve(&env, &HostInfo::default())
        .expect("resolves");
    let summary = resolved.to_string();
    assert!(
        summary.contains("endpoint: https://user:***@otel.example.com/v1/logs"),
        "{summary}"
    );
    assert!(!summary.contains("leaky"), "{summary}");
}
