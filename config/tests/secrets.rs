//! Header values (and URL passwords) never appear in Debug or Display of
//! the parsed config, the resolved config, or any error.

use agent_otel_config::{Environment, HostInfo, OtelConfig};

const SECRET: &str = "sup3r-s3cret-t0ken";

fn assert_hidden(what: &str, text: &str) {
    assert!(!text.contains(SECRET), "{what} leaks the secret: {text}");
    assert!(
        !text.contains("s3cr3t-pw"),
        "{what} leaks the URL password: {text}"
    );
}

fn check(toml: &str, env: &Environment) {
    let parsed = OtelConfig::parse(toml).expect("parses");
    assert_hidden("parsed Debug", &format!("{parsed:?}"));
    assert_hidden("parsed pretty Debug", &format!("{parsed:#?}"));
    assert_hidden("environment Debug", &format!("{env:?}"));
    match parsed.resolve(env, &HostInfo::default()) {
        Ok(resolved) => {
            assert_hidden("resolved Debug", &format!("{resolved:?}"));
            assert_hidden("resolved Display", &format!("{resolved}"));
            assert_hidden("exporter Debug", &format!("{:?}", resolved.exporter));
            if let Err(err) = resolved.build_exporter() {
                assert_hidden("build error Display", &err.to_string());
                assert_hidden("build error Debug", &format!("{err:?}"));
            }
        }
        Err(err) => {
            assert_hidden("resolve error Display", &err.to_string());
            assert_hidden("resolve error Debug", &format!("{err:?}"));
        }
    }
}

#[test]
fn literal_header_value_is_masked() {
    let toml = format!(
        "[otel]\nexporter = {{ otlp-http = {{ headers = {{ \"x-otlp-api-key\" = \"{SECRET}\" }} }} }}\n"
    );
    check(&toml, &Environment::empty());
    let toml = toml.replace("otlp-http", "otlp-grpc");
    check(&toml, &Environment::empty());
}

#[test]
fn expanded_header_value_is_masked() {
    let toml = "[otel]\nexporter = { otlp-http = { headers = { authorization = \"Bearer ${TOKEN}\" } } }\n";
    let env = Environment::from_pairs([("TOKEN", SECRET)]);
    check(toml, &env);
    if agent_otel_config::HTTP_COMPILED {
        let resolved = OtelConfig::parse(toml)
            .expect("parses")
            .resolve(&env, &HostInfo::default())
            .expect("resolves");
        let summary = resolved.to_string();
        assert!(summary.contains("authorization=***"), "{summary}");
    }
}

#[test]
fn env_header_values_are_masked() {
    let env = Environment::from_pairs([
        ("OTEL_EXPORTER_OTLP_HEADERS", format!("api-key={SECRET}")),
        ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", format!("other={SECRET}")),
    ]);
    check("[otel]\nexporter = \"otlp-http\"\n", &env);
    check("[otel]\nexporter = \"otlp-grpc\"\n", &env);
}

#[test]
fn url_passwords_are_masked() {
    let toml = "[otel]\nexporter = { otlp-http = { endpoint = \"https://user:s3cr3t-pw@otel.example.com/v1/logs\" } }\n";
    check(toml, &Environment::empty());
    let env = Environment::from_pairs([(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "https://user:s3cr3t-pw@otel.example.com",
    )]);
    check("[otel]\nexporter = \"otlp-http\"\n", &env);
}

#[test]
fn errors_about_a_header_never_carry_its_value() {
    let env = Environment::from_pairs([("TOKEN", format!("{SECRET}\n"))]);
    // Invalid value after expansion.
    check(
        "[otel]\nexporter = { otlp-http = { headers = { authorization = \"${TOKEN}\" } } }\n",
        &env,
    );
    // A '$' inside a literal secret.
    check(
        &format!("[otel]\nexporter = {{ otlp-http = {{ headers = {{ a = \"{SECRET}$x\" }} }} }}\n"),
        &Environment::empty(),
    );
    // Wrong type next to a secret.
    let toml = format!(
        "[otel]\nexporter = {{ otlp-http = {{ headers = {{ a = \"{SECRET}\", b = 1 }} }} }}\n"
    );
    let err = OtelConfig::parse(&toml).expect_err("b is not a string");
    assert_hidden("wrong type", &err.to_string());
    assert_hidden("wrong type Debug", &format!("{err:?}"));
}
