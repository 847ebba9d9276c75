//! `agent-otel emit` with the open event model's line forms: custom
//! `event` lines with typed and sensitive attributes, and `session` lines
//! with extra attributes and VCS attribution, against a real collector.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_core::opentelemetry_proto::tonic::common::v1::any_value::Value;
use assert_cmd::cargo::cargo_bin;
use predicates::prelude::*;
use predicates::str::contains;

fn agent_otel() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(cargo_bin("agent-otel"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("OTEL_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("NO_COLOR", "1");
    cmd.timeout(Duration::from_secs(120));
    cmd
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write file");
    path
}

fn config(dir: &Path, endpoint: &str, extra: &str) -> PathBuf {
    write(
        dir,
        "config.toml",
        &format!(
            "[otel]\nexporter = {{ otlp-http = {{ endpoint = \"{endpoint}\" }} }}\nretry_budget_ms = 0\n{extra}"
        ),
    )
}

/// A repository written by hand: branch `main` at a commit, and an origin
/// URL with a token in it.
fn repository(root: &Path) {
    let git = root.join(".git");
    std::fs::create_dir_all(git.join("refs/heads")).expect("mkdir");
    std::fs::write(git.join("HEAD"), "ref: refs/heads/main\n").expect("HEAD");
    std::fs::write(
        git.join("refs/heads/main"),
        "0123456789abcdef0123456789abcdef01234567\n",
    )
    .expect("ref");
    std::fs::write(
        git.join("config"),
        "[remote \"origin\"]\n\turl = https://user:tok3n@example.com/org/repo.git\n",
    )
    .expect("config");
}

#[test]
fn event_and_session_lines_arrive_typed_and_attributed() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path().join("repo");
    repository(&repo);
    let config = config(
        dir.path(),
        &collector.http_logs_endpoint().expect("http"),
        "log_tool_content = false\n",
    );
    let input = format!(
        "{}\n{}\n",
        format_args!(
            r#"{{"type":"session","conversation_id":"c1","model":"gpt-5-codex","attributes":{{"team":"platform"}},"vcs_dir":"{}"}}"#,
            repo.display()
        ),
        r#"{"type":"event","name":"codex.sandbox_outcome","attributes":{"outcome":"allowed","initial_duration_ms":12,"ratio":0.5,"escalated":false,"paths":["a","b"],"command":"rm -rf /"},"sensitive":{"command":"tool","absent":"prompt"},"timestamp":"2026-11-24T10:00:00.000Z"}"#
    );
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(input)
        .assert()
        .success()
        .stderr(contains("sent 1 events"));
    let records = collector
        .wait_for_records(1, Duration::from_secs(20))
        .expect("records");
    let record = &records[0];
    assert_eq!(record.event_name(), "codex.sandbox_outcome");
    assert_eq!(record.attr_str("outcome"), Some("allowed"));
    assert_eq!(record.attr_int("initial_duration_ms"), Some(12));
    assert_eq!(record.attr_double("ratio"), Some(0.5));
    assert_eq!(record.attr_bool("escalated"), Some(false));
    let paths = record.attr("paths").and_then(|v| v.value.as_ref());
    let Some(Value::ArrayValue(paths)) = paths else {
        panic!("paths is an array: {paths:?}");
    };
    assert_eq!(paths.values.len(), 2);
    assert_eq!(record.attr_str("command"), Some("[REDACTED]"));
    assert_eq!(record.attr("absent"), None);
    assert_eq!(record.attr_str("team"), Some("platform"));
    assert_eq!(record.attr_str("conversation.id"), Some("c1"));
    assert_eq!(
        record.attr_str("vcs.repository.url.full"),
        Some("https://example.com/org/repo.git")
    );
    assert_eq!(record.attr_str("vcs.ref.head.name"), Some("main"));
    assert_eq!(
        record.attr_str("vcs.ref.head.revision"),
        Some("0123456789abcdef0123456789abcdef01234567")
    );
    assert_eq!(
        record.attr_str("event.timestamp"),
        Some("2026-11-24T10:00:00.000Z")
    );
}

#[test]
fn bad_event_lines_are_reported_by_number_and_the_rest_is_sent() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config(
        dir.path(),
        &collector.http_logs_endpoint().expect("http"),
        "",
    );
    let deep = format!("{}1{}", "[".repeat(10), "]".repeat(10));
    let lines = [
        r#"{"type":"event","name":"codex.ok","attributes":{"k":"v"}}"#.to_owned(),
        r#"{"type":"event","name":"codex.null","attributes":{"k":null}}"#.to_owned(),
        format!(r#"{{"type":"event","name":"codex.deep","attributes":{{"k":{deep}}}}}"#),
        r#"{"type":"event","name":"codex.class","attributes":{"k":"v"},"sensitive":{"k":"secret"}}"#.to_owned(),
        r#"{"type":"event","name":"codex.big","attributes":{"k":18446744073709551615}}"#.to_owned(),
        r#"{"type":"event","attributes":{"k":"v"}}"#.to_owned(),
        r#"{"type":"event","name":"codex.keys","attributes":["not","an","object"]}"#.to_owned(),
        r#"{"type":"session","vcs_dir":"/definitely/not/here"}"#.to_owned(),
        r#"{"type":"session","attributes":{"k":{"x":null}}}"#.to_owned(),
        r#"{"type":"event","name":"codex.last"}"#.to_owned(),
    ];
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(lines.join("\n"))
        .assert()
        .code(1)
        .stderr(contains(
            "line 2: attribute `k`: null has no attribute value",
        ))
        .stderr(contains(
            "line 3: attribute `k[0][0][0][0][0][0][0][0][0]`: nested deeper than 8 levels",
        ))
        .stderr(contains(
            "line 4: `sensitive` is \"k: \\\"secret\\\"\"; expected one of \"prompt\", \"tool\"",
        ))
        .stderr(contains("line 5: attribute `k`: integer larger than"))
        .stderr(contains("line 6: missing field `name`"))
        .stderr(contains("line 7: invalid type: sequence, expected a map"))
        .stderr(contains(
            "line 8: `vcs_dir` \"/definitely/not/here\" is not a directory",
        ))
        .stderr(contains("line 9: attribute `k.x`: null"))
        .stderr(contains("8 bad line(s)"))
        .stderr(contains("line 1:").not())
        .stderr(contains("line 10:").not());
    let records = collector
        .wait_for_records(2, Duration::from_secs(20))
        .expect("records");
    let names: Vec<&str> = records.iter().map(|r| r.event_name()).collect();
    assert_eq!(names, ["codex.ok", "codex.last"]);
}
