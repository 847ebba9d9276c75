//! The `agent-otel` binary, run as a user would, against real collectors on
//! loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use agent_otel_collector::test_pki::TestPki;
use agent_otel_collector::{Collector, CollectorConfig, Fault};
use assert_cmd::cargo::cargo_bin;
use predicates::prelude::*;
use predicates::str::contains;

mod common;

use common::{agent_otel, write};

const WAIT: Duration = Duration::from_secs(20);

fn http_config(dir: &Path, endpoint: &str) -> PathBuf {
    write(
        dir,
        "config.toml",
        &format!(
            "[model]\nname = \"ignored by agent-otel\"\n\n[otel]\nenvironment = \"ci\"\nexporter = {{ otlp-http = {{ endpoint = \"{endpoint}\", headers = {{ \"x-api-key\" = \"${{CLI_TEST_TOKEN}}\" }}, timeout-ms = 2000 }} }}\nretry_budget_ms = 0\n"
        ),
    )
}

const GOOD_AND_BAD: &str = r#"{"type":"session","conversation_id":"conv-cli","model":"gpt-5-codex","slug":"openai","app_version":"1.2.3","terminal_type":"tmux","auth_mode":"ApiKey"}
{"type":"user_prompt","prompt":"hello there","timestamp":"2026-11-24T10:00:00.000Z"}
{"type":"api_request","attempt":1,"duration_ms":321,"http.response.status_code":200}
this is not json
{"type":"sse_event","event.kind":"response.completed","duration_ms":12,"input_token_count":100,"output_token_count":20,"tool_token_count":3}
{"type":"tool_decision","tool_name":"shell","call_id":"c1","decision":"sometimes","source":"user"}
{"type":"tool_decision","tool_name":"shell","call_id":"c1","decision":"approved","source":"user"}
{"type":"tool_result","tool_name":"shell","call_id":"c1","arguments":{"cmd":"ls"},"duration_ms":40,"success":true,"output":"Cargo.toml"}
"#;

/// The valid lines of [`GOOD_AND_BAD`].
fn good_lines() -> String {
    GOOD_AND_BAD
        .lines()
        .filter(|l| !l.contains("not json") && !l.contains("sometimes"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["demo", "collect", "emit", "check"] {
        agent_otel()
            .args([sub, "--help"])
            .assert()
            .success()
            .stdout(contains("Usage: agent-otel"));
    }
}

#[test]
fn demo_shows_every_event_and_a_summary_for_each_transport() {
    for transport in ["otlp-http", "otlp-http-json", "otlp-grpc"] {
        let output = agent_otel()
            .args(["demo", "--exporter", transport])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let text = String::from_utf8(output).expect("utf-8");
        for needle in [
            "codex.user_prompt",
            "codex.api_request",
            "codex.sse_event",
            "codex.tool_decision",
            "codex.tool_result",
            "input 6850  output 1087  cached 5120  reasoning 384",
            "success rate 33% (1 of 3)",
            "p50 ",
            // Derived on the worker and arrived as OTLP metrics.
            "Metrics received",
            "tokens by type: cached 5120  input 6850  output 1087  reasoning 384  tool 52",
            "API latency histogram (4 requests):",
            "events reached the collector",
        ] {
            assert!(
                text.contains(needle),
                "{transport}: missing {needle:?} in\n{text}"
            );
        }
    }
}

#[test]
fn emit_sends_good_lines_and_reports_bad_ones_by_number() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = http_config(dir.path(), &collector.http_logs_endpoint().expect("http"));
    let input = write(dir.path(), "events.jsonl", GOOD_AND_BAD);
    agent_otel()
        .env("CLI_TEST_TOKEN", "s3cret-token")
        .args(["emit", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(&input)
        .assert()
        .code(1)
        .stderr(contains("line 4:"))
        .stderr(contains("line 6: `decision` is \"sometimes\""))
        .stderr(contains("2 bad line(s)"))
        .stderr(contains("s3cret-token").not());

    let records = collector.records();
    let names: Vec<&str> = records.iter().map(|r| r.event_name()).collect();
    assert_eq!(
        names,
        [
            "codex.user_prompt",
            "codex.api_request",
            "codex.sse_event",
            "codex.tool_decision",
            "codex.tool_result"
        ]
    );
    let prompt = &records[0];
    assert_eq!(prompt.attr_str("prompt"), Some("[REDACTED]"));
    assert_eq!(prompt.attr_int("prompt_length"), Some(11));
    assert_eq!(
        prompt.attr_str("event.timestamp"),
        Some("2026-11-24T10:00:00.000Z")
    );
    assert_eq!(prompt.attr_str("conversation.id"), Some("conv-cli"));
    assert_eq!(prompt.attr_str("terminal.type"), Some("tmux"));
    assert_eq!(prompt.resource_str("service.name"), Some("codex-cli"));
    assert_eq!(prompt.resource_str("env"), Some("ci"));
    assert_eq!(records[2].attr_int("input_token_count"), Some(100));
    assert_eq!(records[4].attr_str("arguments"), Some(r#"{"cmd":"ls"}"#));
    assert_eq!(records[4].attr_str("success"), Some("true"));
    let request = &collector.requests()[0];
    assert_eq!(request.header("x-api-key"), Some("s3cret-token"));
}

#[test]
fn emit_exits_zero_when_everything_arrives_and_honours_service_name() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = http_config(dir.path(), &collector.http_logs_endpoint().expect("http"));
    let good = good_lines();
    agent_otel()
        .env("CLI_TEST_TOKEN", "t")
        .args(["emit", "--service-name", "my-agent", "--config"])
        .arg(&config)
        .write_stdin(good)
        .assert()
        .success()
        .stderr(contains("sent 5 events"));
    let records = collector.wait_for_records(5, WAIT).expect("records");
    assert!(
        records
            .iter()
            .all(|r| r.resource_str("service.name") == Some("my-agent"))
    );
}

#[test]
fn emit_fails_when_the_collector_refuses() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    collector.push_fault(Fault::InvalidArgument, 10);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = http_config(dir.path(), &collector.http_logs_endpoint().expect("http"));
    agent_otel()
        .env("CLI_TEST_TOKEN", "t")
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin("{\"type\":\"user_prompt\",\"prompt\":\"x\"}\n")
        .assert()
        .code(1)
        .stderr(contains("0 of 1 events were exported"))
        .stderr(contains("permanent_failure=1"));
}

#[test]
fn emit_with_exporter_none_is_a_dry_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "config.toml", "[otel]\nexporter = \"none\"\n");
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin("{\"type\":\"user_prompt\",\"prompt\":\"x\"}\n{\"type\":\"user_prompt\",\"prompt\":\"y\"}\n")
        .assert()
        .success()
        .stdout(contains("dry run"))
        .stdout(contains("2 events validated, nothing sent"));
}

#[test]
fn bad_config_is_a_usage_error_naming_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "config.toml",
        "[otel]\nexporter = \"otlp-htp\"\n",
    );
    agent_otel()
        .args(["check", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(contains("otlp-htp"))
        .stderr(contains("otlp-http"));
}

/// `agent-otel check --probe --config CONFIG`, with the header token the
/// test configs reference.
fn probe(config: &Path, token: &str) -> assert_cmd::assert::Assert {
    agent_otel()
        .env("CLI_TEST_TOKEN", token)
        .args(["check", "--probe", "--config"])
        .arg(config)
        .assert()
}

/// A spawned `agent-otel` whose stdout and stderr are read as they come
/// (a child writing more than a pipe holds would block otherwise); killed
/// on drop so a failed assertion never leaks a process.
struct Running {
    child: std::process::Child,
    stderr_lines: mpsc::Receiver<String>,
    stdout: mpsc::Receiver<String>,
}

impl Running {
    /// Spawns `command` with stdout and stderr piped and drained.
    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn agent-otel");
        let stderr = child.stderr.take().expect("stderr");
        let (line_tx, stderr_lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut out = child.stdout.take().expect("stdout");
        let (out_tx, stdout) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            let _ = out_tx.send(text);
        });
        Self {
            child,
            stderr_lines,
            stdout,
        }
    }

    /// The next line the child writes to stderr.
    fn stderr_line(&self) -> String {
        self.stderr_lines
            .recv_timeout(WAIT)
            .expect("a line on stderr")
    }

    /// Sends `signal` (`INT`, `TERM`) with the `kill` command.
    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }

    /// Waits for the child to exit: its exit status, all of its stdout
    /// and the rest of its stderr.
    fn finish(mut self) -> (std::process::ExitStatus, String, String) {
        let stdout = self.stdout.recv_timeout(WAIT).expect("stdout closes");
        let mut stderr = String::new();
        while let Ok(line) = self.stderr_lines.recv_timeout(WAIT) {
            stderr.push_str(&line);
            stderr.push('\n');
        }
        let status = self.child.wait().expect("child exits");
        (status, stdout, stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn collect_out_round_trips_what_emit_sent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("received.jsonl");
    let collect = Running::spawn(
        Command::new(cargo_bin("agent-otel"))
            .args([
                "collect",
                "--http",
                "127.0.0.1:0",
                "--grpc",
                "127.0.0.1:0",
                "--out",
            ])
            .arg(&out),
    );
    let banner = collect.stderr_line();
    let endpoint = banner
        .split_whitespace()
        .find(|w| w.ends_with("/v1/logs"))
        .unwrap_or_else(|| panic!("no endpoint in {banner:?}"))
        .to_owned();

    let config = http_config(dir.path(), &endpoint);
    let good = good_lines();
    agent_otel()
        .env("CLI_TEST_TOKEN", "t")
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(good)
        .assert()
        .success();

    collect.signal("INT");
    let (exit, stdout, _) = collect.finish();
    assert!(exit.success(), "collect exit {exit:?}");
    assert!(stdout.contains("codex.tool_result"), "{stdout}");
    assert!(stdout.contains("total"), "{stdout}");

    let text = std::fs::read_to_string(&out).expect("out file");
    let mut names = Vec::new();
    for line in text.lines() {
        let request: agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest =
            serde_json::from_str(line).expect("OTLP JSON line");
        for rl in &request.resource_logs {
            for sl in &rl.scope_logs {
                for r in &sl.log_records {
                    names.push(r.event_name.clone());
                }
            }
        }
    }
    assert_eq!(
        names,
        [
            "codex.user_prompt",
            "codex.api_request",
            "codex.sse_event",
            "codex.tool_decision",
            "codex.tool_result"
        ]
    );
}

#[test]
fn check_prints_resolved_settings_with_secrets_masked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = http_config(dir.path(), "http://127.0.0.1:9/v1/logs");
    agent_otel()
        .env("CLI_TEST_TOKEN", "s3cret-token")
        .args(["check", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("http://127.0.0.1:9/v1/logs"))
        .stdout(contains("x-api-key"))
        .stdout(contains("trace_exporter: none (default)"))
        .stdout(contains("metrics_exporter: none (default)"))
        .stdout(contains("metrics: temporality=delta, interval=60000 ms"))
        .stdout(contains("s3cret-token").not());
}

#[test]
fn check_shows_each_signals_exporter_with_its_origin_and_the_metrics_settings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(
        dir.path(),
        "config.toml",
        "[otel]\nmetrics_temporality = \"cumulative\"\nmetrics_exporter = { otlp-grpc = { endpoint = \"http://127.0.0.1:9\" } }\n",
    );
    agent_otel()
        .env("OTEL_TRACES_EXPORTER", "otlp")
        .env("OTEL_METRIC_EXPORT_INTERVAL", "5000")
        .env(
            "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
            "x-metrics-key=m3trics-s3cret",
        )
        .args(["check", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("\nexporter: none (default)\n"))
        .stdout(contains(
            "trace_exporter: otlp-http (from OTEL_TRACES_EXPORTER)\n  endpoint: http://localhost:4318/v1/traces (default)",
        ))
        .stdout(contains("metrics_exporter: otlp-grpc (from "))
        .stdout(contains("config.toml, line 3)\n  endpoint: http://127.0.0.1:9 (from "))
        .stdout(contains("x-metrics-key"))
        .stdout(contains("metrics: temporality=cumulative, interval=5000 ms"))
        .stdout(contains("m3trics-s3cret").not());
}

/// A loopback TCP socket that is bound but does not listen: connecting to
/// its port is refused, and nothing else can take the port while it lives.
fn refusing_socket() -> socket2::Socket {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    socket.bind(&any_port.into()).expect("bind");
    socket
}

fn port_of(socket: &socket2::Socket) -> u16 {
    socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("an IP socket")
        .port()
}

#[test]
fn check_probe_reports_connection_refused() {
    let refusing = refusing_socket();
    let port = port_of(&refusing);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = http_config(dir.path(), &format!("http://127.0.0.1:{port}/v1/logs"));
    probe(&config, "t")
        .code(1)
        .stdout(contains("connection refused"));
}

#[test]
fn check_probe_reports_unauthorized_and_success() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    collector.push_fault(Fault::Unauthenticated, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = http_config(dir.path(), &collector.http_logs_endpoint().expect("http"));
    probe(&config, "wrong")
        .code(1)
        .stdout(contains("authentication failed (HTTP 401)"));
    probe(&config, "right")
        .success()
        .stdout(contains("probe ok"));
    let records = collector.records();
    assert_eq!(records.len(), 1);
    assert_eq!(
        records[0].attr_str("event.kind"),
        Some("agent_otel.check.probe")
    );
}

#[test]
fn check_probe_hints_at_the_path_on_404() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let wrong = format!(
        "{}/v1/profiles",
        collector.http_base_endpoint().expect("http")
    );
    let config = http_config(dir.path(), &wrong);
    probe(&config, "t").code(1).stdout(contains("/v1/logs"));
}

#[test]
fn missing_required_flag_is_a_usage_error() {
    agent_otel()
        .arg("emit")
        .assert()
        .code(2)
        .stderr(contains("--config"));
}

/// A TLS collector (HTTP only) and a config dir holding `certs/` files.
fn tls_setup(mtls: bool) -> (Collector, TestPki, tempfile::TempDir) {
    let pki = TestPki::generate("cli");
    let collector = Collector::start(CollectorConfig {
        tls: Some(pki.collector_tls(mtls)),
        ..CollectorConfig::http_only()
    })
    .expect("TLS collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).expect("certs dir");
    pki.write_client_files(&certs).expect("PEM files");
    write(
        dir.path(),
        "certs/other-ca.pem",
        &TestPki::generate("other").ca_pem,
    );
    (collector, pki, dir)
}

fn tls_config(dir: &Path, endpoint: &str, tls: &str) -> PathBuf {
    write(
        dir,
        "config.toml",
        &format!(
            "[otel]\nexporter = {{ otlp-http = {{ endpoint = \"{endpoint}\", timeout-ms = 5000, tls = {{ {tls} }} }} }}\n"
        ),
    )
}

#[test]
fn check_probe_names_the_tls_side_that_failed() {
    let (collector, _pki, dir) = tls_setup(true);
    let endpoint = collector.http_logs_endpoint().expect("https");
    assert!(endpoint.starts_with("https://"), "{endpoint}");

    let wrong_ca = tls_config(
        dir.path(),
        &endpoint,
        r#"ca-certificate = "certs/other-ca.pem""#,
    );
    probe(&wrong_ca, "t")
        .code(1)
        .stdout(contains("TLS failure (server side)"));

    let no_identity = tls_config(dir.path(), &endpoint, r#"ca-certificate = "certs/ca.pem""#);
    probe(&no_identity, "t")
        .code(1)
        .stdout(contains("TLS failure (client side)"));

    let mtls = tls_config(
        dir.path(),
        &endpoint,
        r#"ca-certificate = "certs/ca.pem", client-certificate = "certs/client.pem", client-private-key = "certs/client.key""#,
    );
    probe(&mtls, "t").success().stdout(contains("probe ok"));
    let requests = collector.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].client_certificate);
}

#[test]
fn check_probe_reports_a_timeout() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    collector.push_fault(Fault::NeverAnswer, 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = collector.http_logs_endpoint().expect("http");
    let config = write(
        dir.path(),
        "config.toml",
        &format!(
            "[otel]\nexporter = {{ otlp-http = {{ endpoint = \"{endpoint}\", timeout-ms = 300 }} }}\n"
        ),
    );
    probe(&config, "t").code(1).stdout(contains("timeout"));
}

#[test]
fn demo_with_a_config_sends_the_session_to_that_collector() {
    let collector = Collector::start(CollectorConfig::grpc_only()).expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let endpoint = collector.grpc_endpoint().expect("grpc");
    let config = write(
        dir.path(),
        "config.toml",
        &format!(
            "[otel]\nenvironment = \"demo-remote\"\nexporter = {{ otlp-grpc = {{ endpoint = \"{endpoint}\" }} }}\n"
        ),
    );
    agent_otel()
        .args(["demo", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("all 31 events accepted"));
    let records = collector.records();
    assert_eq!(records.len(), 31);
    assert!(
        records
            .iter()
            .all(|r| r.resource_str("env") == Some("demo-remote"))
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| r.event_name() == "codex.tool_decision")
            .count(),
        3
    );
}

/// `n` prompt lines.
fn prompts(n: usize) -> String {
    (0..n)
        .map(|i| format!("{{\"type\":\"user_prompt\",\"prompt\":\"p{i}\"}}\n"))
        .collect()
}

/// The number after `label ` in the pipeline stats line of `stderr`.
fn stat(stderr: &str, label: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("emitted "))
        .unwrap_or_else(|| panic!("no stats line in {stderr}"));
    let mut words = line.split_whitespace();
    words
        .find(|w| *w == label)
        .and_then(|_| words.next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {label} in {line:?}"))
}

#[test]
fn emit_against_a_collector_that_never_answers_ends_and_reports_what_was_lost() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    collector.push_fault(Fault::NeverAnswer, 1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = http_config(dir.path(), &collector.http_logs_endpoint().expect("http"));
    let output = agent_otel()
        .env("CLI_TEST_TOKEN", "t")
        .args(["emit", "--shutdown-timeout", "2", "--config"])
        .arg(&config)
        .write_stdin(prompts(20_000))
        .assert()
        .code(1)
        .stderr(contains("the collector took no events within 2.0 s"))
        .stderr(contains("0 of 20000 events were exported"))
        .stderr(contains("lost: 20000 events: queue_full="))
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Every event is accounted for, and the warning came once (the
    // collector was not waited for again at every batch).
    assert_eq!(stat(&stderr, "emitted"), 20_000, "{stderr}");
    assert_eq!(stat(&stderr, "dropped"), 20_000, "{stderr}");
    assert_eq!(stderr.matches("took no events").count(), 1, "{stderr}");
}

#[test]
fn emit_skips_a_line_over_the_limit_and_accepts_a_bom() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = http_config(dir.path(), &collector.http_logs_endpoint().expect("http"));
    let long = format!(
        "{{\"type\":\"user_prompt\",\"prompt\":\"{}\"}}\n",
        "x".repeat(5000)
    );
    let input = format!(
        "\u{feff}{{\"type\":\"user_prompt\",\"prompt\":\"first\"}}\n{long}{{\"type\":\"user_prompt\",\"prompt\":\"third\"}}\n"
    );
    agent_otel()
        .env("CLI_TEST_TOKEN", "t")
        .args(["emit", "--max-line-bytes", "1000", "--config"])
        .arg(&config)
        .write_stdin(input)
        .assert()
        .code(1)
        .stderr(contains(
            "line 2: 5034 bytes is longer than the limit of 1000 bytes (--max-line-bytes); skipped",
        ))
        .stderr(contains("line 1").not())
        .stderr(contains("1 bad line(s)"));
    let records = collector.records();
    let prompts: Vec<i64> = records
        .iter()
        .filter_map(|r| r.attr_int("prompt_length"))
        .collect();
    assert_eq!(prompts, [5, 5], "first and third arrived");
}

#[test]
fn emit_of_dev_zero_stops_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "config.toml", "[otel]\nexporter = \"none\"\n");
    agent_otel()
        .args(["emit", "--input", "/dev/zero", "--max-line-bytes", "65536", "--config"])
        .arg(&config)
        .assert()
        .code(1)
        .stderr(contains(
            "line 1: longer than 65536 bytes and holds a NUL byte: the input is not JSON-lines text; stopped reading",
        ));
}

#[test]
fn emit_input_that_is_a_directory_or_missing_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "config.toml", "[otel]\nexporter = \"none\"\n");
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(dir.path())
        .assert()
        .code(2)
        .stderr(contains("cannot read --input"))
        .stderr(contains("it is a directory"));
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(dir.path().join("missing.jsonl"))
        .assert()
        .code(2)
        .stderr(contains("cannot read --input"));
}

#[test]
fn emit_never_prints_control_characters_from_the_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write(dir.path(), "config.toml", "[otel]\nexporter = \"none\"\n");
    let output = agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(
            "{\"type\":\"\\u001b]0;owned\\u0007\\u001b[2J\"}\n{\"type\":\"tool_decision\",\"tool_name\":\"t\",\"call_id\":\"c\",\"decision\":\"\\r\\u001b[31mok\",\"source\":\"user\"}\n",
        )
        .assert()
        .code(1)
        .stderr(contains("line 1: unknown variant"))
        .stderr(contains("line 2: `decision`"))
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains(['\u{1b}', '\u{7}', '\r']),
        "raw control characters in {stderr:?}"
    );
}

#[test]
fn emit_on_sigterm_stops_reading_delivers_what_it_read_and_exits_1() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = http_config(dir.path(), &collector.http_logs_endpoint().expect("http"));
    let mut command = Command::new(cargo_bin("agent-otel"));
    command
        .env("CLI_TEST_TOKEN", "t")
        .args(["emit", "--shutdown-timeout", "10", "--config"])
        .arg(&config)
        .stdin(Stdio::piped());
    let mut emit = Running::spawn(&mut command);
    // The input stays open: only the signal can end the run.
    let mut stdin = emit.child.stdin.take().expect("stdin");
    stdin
        .write_all(prompts(1000).as_bytes())
        .expect("write input");
    stdin.flush().expect("flush input");
    // A first full batch arriving shows the child is reading.
    collector
        .wait_for_records(512, WAIT)
        .expect("first batch arrives");
    emit.signal("TERM");
    let (status, _, stderr) = emit.finish();
    drop(stdin);
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interrupted: stopped reading after line"),
        "{stderr}"
    );
    let emitted = stat(&stderr, "emitted");
    assert!(emitted >= 512, "{stderr}");
    assert_eq!(stat(&stderr, "exported"), emitted, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "interrupted: the {emitted} events read before the signal were exported"
        )),
        "{stderr}"
    );
    assert_eq!(collector.records().len() as u64, emitted);
}
