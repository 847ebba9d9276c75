//! Generated and mutated `[otel]` documents and `OTEL_*` environments
//! through parse and resolve: a host's config must never crash the host at
//! start-up, and every error must say where (a position, a key or a
//! variable) without printing control characters.
//!
//! 4 properties x 25,600 cases = 102,400 documents per run.

use agent_otel_config::{ConfigError, Environment, HostInfo, Origin, OtelConfig};
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property; four properties give over 100,000 in all.
const CASES: u32 = 25_600;

fn config() -> Config {
    Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Valid documents covering every key, the mutations' starting points.
const VALID: &[&str] = &[
    "[otel]\nenvironment = \"staging\"\nexporter = \"otlp-http\"\nlog_user_prompt = true\n",
    "[otel]\nexporter = { otlp-http = { endpoint = \"https://otel.example.com/v1/logs\", protocol = \"json\", headers = { \"x-otlp-api-key\" = \"${OTLP_TOKEN}\" }, compression = \"gzip\", timeout-ms = 10000 } }\n",
    "[otel]\nexporter = { otlp-grpc = { endpoint = \"https://otel.example.com:4317\", compression = \"gzip\", timeout-ms = 10000, tls = { ca-certificate = \"certs/ca.pem\", client-certificate = \"certs/client.pem\", client-private-key = \"certs/client.key\" } } }\n",
    "[model]\nname = \"x\"\n\n[otel]\nqueue_capacity = 2048\nmax_batch_size = 512\nbatch_timeout_ms = 1000\nmax_request_bytes = 4194304\nmax_concurrent_exports = 4\nretry_budget_ms = 30000\nretry_initial_backoff_ms = 100\nretry_max_backoff_ms = 5000\nshutdown_timeout_ms = 3000\n",
    "[otel]\nexporter = \"otlp-grpc\"\n\n[otel.resource_attributes]\n\"team\" = \"platform\"\n\"service.name\" = \"svc\"\n",
    "[otel]\nexporter = { otlp-http = { endpoint = \"https://user:${PASS}@h:4318/otlp/v1/logs?tenant=${TENANT}\" } }\n",
    "[otel]\nexporter = \"none\"\n",
    "[otel]\nlog_tool_content = false\nattribute_value_length_limit = 100\nattribute_count_limit = 10\n",
];

/// Keys a mutation may write instead of a valid one.
const KEYS: &[&str] = &[
    "environment",
    "exporter",
    "log_user_prompt",
    "log_tool_content",
    "attribute_value_length_limit",
    "attribute_count_limit",
    "resource_attributes",
    "queue_capacity",
    "max_batch_size",
    "batch_timeout_ms",
    "max_request_bytes",
    "max_concurrent_exports",
    "retry_budget_ms",
    "retry_initial_backoff_ms",
    "retry_max_backoff_ms",
    "shutdown_timeout_ms",
    "otlp-http",
    "otlp-grpc",
    "none",
    "endpoint",
    "protocol",
    "headers",
    "compression",
    "timeout-ms",
    "tls",
    "ca-certificate",
    "client-certificate",
    "client-private-key",
    "otel",
    "\"\"",
    "\"a.b\"",
    "\"\\u0000\"",
    "\"\\u001b[31m\"",
    "\"é\"",
    "timeout_ms",
    "Exporter",
];

/// Values a mutation may write: every TOML type, edge numbers, odd strings.
const VALUES: &[&str] = &[
    "0",
    "1",
    "-1",
    "1023",
    "1024",
    "65537",
    "67108865",
    "3600001",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "0x10",
    "0o7",
    "0b1",
    "1e400",
    "nan",
    "inf",
    "-0.0",
    "true",
    "false",
    "1979-05-27T07:32:00Z",
    "07:32:00",
    "[]",
    "[1, \"a\"]",
    "{}",
    "{ otlp-http = {} }",
    "{ otlp-http = {}, otlp-grpc = {} }",
    "{ none = {} }",
    "\"\"",
    "\" \"",
    "\"none\"",
    "\"otlp-http\"",
    "\"otlp-grpc\"",
    "\"json\"",
    "\"binary\"",
    "\"gzip\"",
    "\"http://h:0\"",
    "\"http://[::1\"",
    "\"https://h:99999\"",
    "\"https://u:p@ss@h/v1/logs\"",
    "\"https://h/v1/logs#frag\"",
    "\"https://h/v1/logs?k=v\"",
    "\"ftp://h\"",
    "\"h:4317\"",
    "\"https://h/\\n\"",
    "\"https://h\\r\\nx: y\"",
    "\"\\t\"",
    "\"\\u0000\"",
    "\"\\u001b]0;x\\u0007\"",
    "\"\\u0085\"",
    "\"\\u202e\"",
    "\"${OTLP_TOKEN}\"",
    "\"${UNSET}\"",
    "\"${\"",
    "\"$\"",
    "\"$$\"",
    "\"${A-B}\"",
    "\"${1X}\"",
    "\"/dev/null\"",
    "\"certs/ca.pem\"",
    "\"\u{1F600}\"",
    "'''x'''",
    "\"\"\"\nmulti\n\"\"\"",
];

/// Variables an environment may set, and values for them.
const VARS: &[&str] = &[
    "OTEL_SDK_DISABLED",
    "OTEL_LOGS_EXPORTER",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_HEADERS",
    "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY",
    "OTEL_EXPORTER_OTLP_INSECURE",
    "OTEL_BLRP_MAX_QUEUE_SIZE",
    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_BLRP_SCHEDULE_DELAY",
    "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_ATTRIBUTE_COUNT_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    "OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT",
    "OTLP_TOKEN",
    "PASS",
    "TENANT",
];
const VAR_VALUES: &[&str] = &[
    "",
    " ",
    "true",
    "TRUE",
    "yes",
    "otlp",
    "none",
    "zipkin",
    "grpc",
    "http/json",
    "http/protobuf",
    "0",
    "1",
    "-1",
    "99999999999999999999",
    "https://h:4318",
    "https://h:4318/v1/logs?k=v",
    "h:4317",
    "http://h:0",
    "https://h/\n",
    "a=b,c=d",
    "a",
    "=b",
    "a=%FF",
    "Authorization: Basic xyz",
    "k=v\r\nx",
    "gzip",
    "/nonexistent/ca.pem",
    "p@ss/w?rd#",
    "\u{1b}[2J",
    "é",
    "%",
    "${X}",
];

/// True when the error says where the problem is.
fn names_a_place(error: &ConfigError) -> bool {
    matches!(error.origin(), Some(Origin::File { .. } | Origin::Env(_))) || error.key().is_some()
}

/// Parses and resolves `doc` with `env`; any error must name a place and
/// hold no control character but the line breaks of a multi-line message.
fn check(doc: &str, env: &Environment) -> Result<(), TestCaseError> {
    let result = OtelConfig::parse(doc).and_then(|c| c.resolve(env, &HostInfo::default()));
    if let Err(error) = result {
        let message = error.to_string();
        prop_assert!(names_a_place(&error), "no place in {message:?} for {doc:?}");
        prop_assert!(
            !message.contains(|c: char| c.is_control()),
            "control character in {message:?} for {doc:?}"
        );
        // Debug goes to logs too.
        let debug = format!("{error:?}");
        prop_assert!(!debug.is_empty());
    }
    Ok(())
}

fn environment() -> impl Strategy<Value = Environment> {
    proptest::collection::vec(
        (
            proptest::sample::select(VARS),
            prop_oneof![
                proptest::sample::select(VAR_VALUES).prop_map(str::to_owned),
                any::<String>(),
            ],
        ),
        0..4,
    )
    .prop_map(Environment::from_pairs)
}

/// One change to a valid document.
#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the byte at the position (modulo the length).
    Byte(usize, u8),
    /// Insert a byte at the position.
    Insert(usize, u8),
    /// Delete the byte at the position.
    Delete(usize),
    /// Replace the n-th key (`name =`) with another.
    Key(usize, String),
    /// Replace the n-th value (after `= `) with another.
    Value(usize, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let text = prop_oneof![
        3 => proptest::sample::select(VALUES).prop_map(str::to_owned),
        1 => any::<String>().prop_map(|s| format!("{s:?}")),
        1 => any::<String>(),
    ];
    let key = prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-z_-]{1,12}",
        1 => any::<String>().prop_map(|s| format!("{s:?}")),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Byte(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), key).prop_map(|(i, k)| Mutation::Key(i, k)),
        (any::<usize>(), text).prop_map(|(i, v)| Mutation::Value(i, v)),
    ]
}

/// Byte offsets of every `key = value` pair: (key start, `=` offset, value end).
fn assignments(doc: &str) -> Vec<(usize, usize, usize)> {
    let bytes = doc.as_bytes();
    let mut out = Vec::new();
    for (eq, _) in doc.match_indices(" = ") {
        let key_start = doc[..eq].rfind(['{', ',', '\n']).map_or(0, |i| i + 1);
        let value_start = eq + 3;
        let mut depth = 0i32;
        let mut end = value_start;
        let mut in_string = false;
        while end < bytes.len() {
            match bytes[end] {
                b'"' => in_string = !in_string,
                b'{' | b'[' if !in_string => depth += 1,
                b'}' | b']' if !in_string => {
                    if depth == 0 {
                        break;
                    }
                    depth -= 1;
                }
                b',' | b'\n' if !in_string && depth == 0 => break,
                _ => {}
            }
            end += 1;
        }
        out.push((key_start, eq, end));
    }
    out
}

fn apply(doc: &str, mutation: &Mutation) -> String {
    let mut bytes = doc.as_bytes().to_vec();
    let len = bytes.len();
    match mutation {
        Mutation::Byte(i, b) => bytes[i % len] = *b,
        Mutation::Insert(i, b) => bytes.insert(i % (len + 1), *b),
        Mutation::Delete(i) => {
            bytes.remove(i % len);
        }
        Mutation::Key(n, key) | Mutation::Value(n, key) => {
            let pairs = assignments(doc);
            let (key_start, eq, end) = pairs[n % pairs.len()];
            let (start, stop) = if matches!(mutation, Mutation::Key(..)) {
                (key_start, eq)
            } else {
                (eq + 3, end)
            };
            return format!(
                "{} {key}{}",
                doc[..start].trim_end_matches(' '),
                &doc[stop..]
            )
            .replacen("[otel] ", "[otel]", 1);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A TOML value of any type, nested up to `depth`.
fn toml_value(depth: u32) -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        proptest::sample::select(VALUES).prop_map(str::to_owned),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<String>().prop_map(|s| toml_string(&s)),
        any::<bool>().prop_map(|b| b.to_string()),
    ];
    if depth == 0 {
        return leaf.boxed();
    }
    prop_oneof![
        3 => leaf,
        1 => proptest::collection::vec(toml_value(depth - 1), 0..3)
            .prop_map(|items| format!("[{}]", items.join(", "))),
        1 => proptest::collection::vec((toml_key(), toml_value(depth - 1)), 0..4)
            .prop_map(|pairs| inline_table(&pairs)),
    ]
    .boxed()
}

fn toml_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => any::<String>().prop_map(|s| toml_string(&s)),
    ]
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Unique keys (TOML refuses duplicates, which would hide the rest).
fn inline_table(pairs: &[(String, String)]) -> String {
    let mut seen = std::collections::HashSet::new();
    let body: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .map(|(k, v)| format!("{k} = {v}"))
        .collect();
    format!("{{ {} }}", body.join(", "))
}

proptest! {
    #![proptest_config(config())]

    /// A valid document with one byte replaced, inserted or removed, or one
    /// key or value swapped for another (of any type).
    #[test]
    fn mutated_valid_documents(
        doc in proptest::sample::select(VALID),
        change in mutation(),
        env in environment(),
    ) {
        let env = env.with("OTLP_TOKEN", "t").with("PASS", "p").with("TENANT", "a");
        check(&apply(doc, &change), &env)?;
    }

    /// Random `[otel]` tables of known and unknown keys and any values.
    #[test]
    fn random_otel_tables(
        pairs in proptest::collection::vec((toml_key(), toml_value(2)), 0..6),
        env in environment(),
    ) {
        let body: Vec<String> = {
            let mut seen = std::collections::HashSet::new();
            pairs
                .iter()
                .filter(|(k, _)| seen.insert(k.clone()))
                .map(|(k, v)| format!("{k} = {v}"))
                .collect()
        };
        check(&format!("[otel]\n{}\n", body.join("\n")), &env)?;
    }

    /// Any text at all, and any text inside the `[otel]` table.
    #[test]
    fn arbitrary_text(text in any::<String>(), env in environment()) {
        check(&text, &env)?;
        check(&format!("[otel]\n{text}"), &env)?;
    }

    /// Valid documents under any `OTEL_*` environment, variables holding
    /// any Unicode.
    #[test]
    fn valid_documents_under_any_environment(
        doc in proptest::sample::select(VALID),
        env in environment(),
        extra in proptest::collection::vec(
            (proptest::sample::select(VARS), any::<String>()),
            0..4,
        ),
    ) {
        let mut env = env;
        for (name, value) in extra {
            env.set(name, value);
        }
        check(doc, &env)?;
    }
}
