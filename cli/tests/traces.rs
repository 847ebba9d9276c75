//! Turns through the `agent-otel` binary: `check` reports the trace
//! settings and a malformed `TRACEPARENT`; `emit` turn lines put their
//! events in one trace.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig};
use assert_cmd::cargo::cargo_bin;
use predicates::str::contains;

fn agent_otel() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(cargo_bin("agent-otel"));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("OTEL_") || name == "TRACEPARENT" {
            cmd.env_remove(name.as_ref());
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

#[test]
fn check_shows_the_trace_exporter_and_warns_about_a_bad_traceparent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "config.toml",
        "[otel]\ntrace_exporter = { otlp-http = { endpoint = \"http://127.0.0.1:4318/v1/traces\" } }\n",
    );
    agent_otel()
        .env("TRACEPARENT", "00-not-a-trace-01")
        .args(["check", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("trace_exporter: otlp-http"))
        .stdout(contains("http://127.0.0.1:4318/v1/traces"))
        .stderr(contains("warning: TRACEPARENT is ignored"));
}

#[test]
fn events_between_turn_lines_share_one_trace_in_their_log_records() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "config.toml",
        &format!(
            "[otel]\nexporter = {{ otlp-http = {{ endpoint = \"{}\" }} }}\nretry_budget_ms = 0\n",
            collector.http_logs_endpoint().expect("http")
        ),
    );
    let input = [
        r#"{"type":"session","conversation_id":"c1"}"#,
        r#"{"type":"turn_start"}"#,
        r#"{"type":"user_prompt","prompt":"a"}"#,
        r#"{"type":"tool_result","tool_name":"shell","call_id":"c1","duration_ms":5,"success":true}"#,
        r#"{"type":"turn_end"}"#,
        r#"{"type":"turn_end"}"#,
        r#"{"type":"turn_start"}"#,
        r#"{"type":"user_prompt","prompt":"b"}"#,
        r#"{"type":"user_prompt","prompt":"outside"}"#,
    ]
    .join("\n");
    agent_otel()
        .env(
            "TRACEPARENT",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(input)
        .assert()
        .code(1)
        .stderr(contains("line 6: turn_end without an open turn_start"));
    let records = collector
        .wait_for_records(4, Duration::from_secs(20))
        .expect("records");
    let traces: Vec<String> = records
        .iter()
        .map(|r| {
            r.record
                .trace_id
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect();
    // Every turn joins the caller's trace (TRACEPARENT).
    assert_eq!(traces[0], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(traces[0], traces[1]);
    assert_eq!(traces[2], traces[0]);
    let spans: Vec<&Vec<u8>> = records.iter().map(|r| &r.record.span_id).collect();
    assert_ne!(spans[0], spans[2], "two turns, two turn spans");
    assert!(!spans[0].is_empty());
}
