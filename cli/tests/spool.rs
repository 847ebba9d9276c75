//! The disk spool across real processes: `emit` with the collector down
//! spools, the next `emit` (or `spool replay`) delivers everything once,
//! a `kill -9` mid-write leaves no damaged file, and two replays at once
//! never send a file twice.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use agent_otel_collector::{Collector, CollectorConfig, Fault};
use agent_otel_core::WireFormat;
use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_core::spool::{Spool, SpoolOptions};
use assert_cmd::cargo::cargo_bin;
use predicates::str::contains;
use prost::Message;

const WAIT: Duration = Duration::from_secs(60);

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

/// A config sending to `endpoint` with no retries (a refused batch is given
/// up at once), batches of `max_batch_size` that leave only when full (or
/// at the end), and a spool in `spool/` next to it.
fn spool_config(dir: &Path, endpoint: &str, max_batch_size: usize) -> PathBuf {
    let path = dir.join("config.toml");
    // `emit` flushes every `queue_capacity / 2` events: each batch is given
    // up (and spooled as its own file) while the input is read.
    let queue = 2 * max_batch_size;
    std::fs::write(
        &path,
        format!(
            "[otel]\nexporter = {{ otlp-http = {{ endpoint = \"{endpoint}\", timeout-ms = 5000 }} }}\n\
             retry_budget_ms = 0\nmax_batch_size = {max_batch_size}\nqueue_capacity = {queue}\nbatch_timeout_ms = 60000\n\n[otel.spool]\ndir = \"spool\"\n"
        ),
    )
    .expect("write config");
    path
}

fn lines(ids: std::ops::Range<usize>) -> String {
    ids.map(|i| {
        format!(
            "{{\"type\":\"tool_result\",\"tool_name\":\"shell\",\"call_id\":\"c{i}\",\"arguments\":{{}},\"duration_ms\":1,\"success\":true,\"output\":\"ok\"}}\n"
        )
    })
    .collect()
}

/// How often each `call_id` arrived.
fn arrivals(collector: &Collector) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for record in collector.records() {
        let id = record.attr_str("call_id").expect("call_id").to_owned();
        *seen.entry(id).or_default() += 1;
    }
    seen
}

fn assert_each_once(collector: &Collector, ids: std::ops::Range<usize>) {
    let seen = arrivals(collector);
    let expected: BTreeMap<String, usize> = ids.map(|i| (format!("c{i}"), 1)).collect();
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "arrived more than once: {twice:?}");
    assert_eq!(seen, expected);
}

fn ready_files(spool: &Path) -> usize {
    Spool::inspect(SpoolOptions::new(spool))
        .list()
        .expect("list")
        .len()
}

#[test]
fn emit_with_the_collector_down_spools_and_the_next_emit_delivers_everything() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = spool_config(
        dir.path(),
        &collector.http_logs_endpoint().expect("http"),
        100,
    );
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(lines(0..250))
        .assert()
        .success()
        .stderr(contains("250 events spooled for later delivery"));
    assert_eq!(collector.record_count(), 0, "the collector was down");
    agent_otel()
        .args(["spool", "status", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("3 files, 250 records"))
        .stdout(contains("logs: 3 files, 250 records"));

    collector.set_default_fault(None);
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(lines(250..260))
        .assert()
        .success()
        .stderr(contains("sent 10 events\n"))
        .stderr(contains("replayed 250"));
    assert_each_once(&collector, 0..260);
    let record = collector
        .records()
        .into_iter()
        .find(|r| r.attr_str("call_id") == Some("c7"))
        .expect("c7 arrived");
    assert!(record.event_name().ends_with("tool_result"));
    assert_eq!(record.attr_str("tool_name"), Some("shell"));
    assert_eq!(ready_files(&dir.path().join("spool")), 0);
}

#[test]
fn spool_replay_delivers_with_progress_and_clear_discards() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = spool_config(
        dir.path(),
        &collector.http_logs_endpoint().expect("http"),
        50,
    );
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(lines(0..100))
        .assert()
        .success();
    // Still down: the replay keeps everything and says so.
    agent_otel()
        .args(["spool", "replay", "--config"])
        .arg(&config)
        .assert()
        .code(1)
        .stderr(contains("100 records stay in"));
    collector.set_default_fault(None);
    agent_otel()
        .args(["spool", "replay", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stderr(contains("replayed 1/2 files (50/100 records)"))
        .stderr(contains("replayed 100 records from 2 files"));
    assert_each_once(&collector, 0..100);

    collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(lines(100..130))
        .assert()
        .success();
    agent_otel()
        .args(["spool", "clear", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("1 files, 30 records discarded"));
    agent_otel()
        .args(["spool", "status", "--config"])
        .arg(&config)
        .assert()
        .success()
        .stdout(contains("0 files, 0 records"));
}

#[test]
fn an_unusable_spool_is_reported_and_the_events_counted_as_lost() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = spool_config(
        dir.path(),
        &collector.http_logs_endpoint().expect("http"),
        10,
    );
    // Where the spool folder should be, a plain file (a read-only folder
    // would not stop root).
    std::fs::write(dir.path().join("spool"), b"not a folder").expect("write");
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(lines(0..10))
        .assert()
        .code(1)
        .stderr(contains("spool_errors 1"))
        .stderr(contains("last spool error: spool"))
        .stderr(contains("0 of 10 events were exported"))
        .stderr(contains("lost: 10 events: retries_exhausted=10"));
}

#[test]
fn spool_subcommands_have_help() {
    for sub in ["status", "replay", "clear"] {
        agent_otel()
            .args(["spool", sub, "--help"])
            .assert()
            .success()
            .stdout(contains("--config"));
    }
}

#[test]
fn spool_without_a_spool_table_is_a_usage_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[otel]\nexporter = \"otlp-http\"\n").expect("write");
    agent_otel()
        .args(["spool", "status", "--config"])
        .arg(&config)
        .assert()
        .code(2)
        .stderr(contains("no [otel.spool] dir"));
}

/// Every ready file in `spool` passes its checksum and decodes to as many
/// records as its header says; returns the number of files.
fn verify_every_file(spool: &Path) -> usize {
    let spool = Spool::inspect(SpoolOptions::new(spool));
    let entries = spool.list().expect("list");
    for entry in &entries {
        let claim = spool.claim(entry).expect("claim").expect("nobody else");
        let payload = claim
            .read()
            .unwrap_or_else(|e| panic!("{}: {e}", entry.path.display()));
        assert_eq!(claim.header().format, WireFormat::Protobuf);
        let request = ExportLogsServiceRequest::decode(payload).expect("decodes");
        let records: usize = request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        assert_eq!(records as u64, claim.header().records);
        claim.release().expect("release");
    }
    entries.len()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WAIT, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn kill_9_mid_spool_write_leaves_no_damaged_or_half_read_file() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
    let dir = tempfile::tempdir().expect("tempdir");
    // Batches of 5: the child spools file after file while it reads.
    let config = spool_config(
        dir.path(),
        &collector.http_logs_endpoint().expect("http"),
        5,
    );
    let input = dir.path().join("input.jsonl");
    std::fs::write(&input, lines(0..200_000)).expect("input");
    let spool_dir = dir.path().join("spool");
    let mut child = Command::new(cargo_bin("agent-otel"))
        .args(["emit", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(&input)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn emit");
    wait_until("the child to spool 40 files", || {
        spool_dir.exists() && ready_files(&spool_dir) >= 40
    });
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed mid-run: {status:?}");

    let files = verify_every_file(&spool_dir);
    assert!(files >= 40);
    // A temp file the kill interrupted is never listed; the next open
    // that finds it stale removes it.
    let (spool, _report) = Spool::open(SpoolOptions {
        stale_after: Duration::ZERO,
        ..SpoolOptions::new(&spool_dir)
    })
    .expect("open");
    assert_eq!(spool.status().expect("status").temp, 0);
    assert_eq!(
        verify_every_file(&spool_dir),
        files,
        "nothing complete was lost"
    );

    // And all of it is deliverable.
    collector.set_default_fault(None);
    agent_otel()
        .args(["spool", "replay", "--config"])
        .arg(&config)
        .assert()
        .success();
    assert_eq!(collector.record_count(), files * 5);
    let seen = arrivals(&collector);
    assert!(seen.values().all(|n| *n == 1), "each record once");
}

#[test]
fn two_replays_at_once_deliver_each_record_once() {
    let collector = Collector::start(CollectorConfig::http_only()).expect("collector");
    collector.set_default_fault(Some(Fault::Unavailable { retry_after: None }));
    let dir = tempfile::tempdir().expect("tempdir");
    let config = spool_config(
        dir.path(),
        &collector.http_logs_endpoint().expect("http"),
        20,
    );
    agent_otel()
        .args(["emit", "--config"])
        .arg(&config)
        .write_stdin(lines(0..2_000))
        .assert()
        .success()
        .stderr(contains("2000 events spooled"));
    assert_eq!(ready_files(&dir.path().join("spool")), 100, "batches of 20");
    collector.set_default_fault(None);
    let replay = || {
        Command::new(cargo_bin("agent-otel"))
            .args(["spool", "replay", "--config"])
            .arg(&config)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn replay")
    };
    let mut first = replay();
    let mut second = replay();
    assert!(first.wait().expect("wait").success());
    assert!(second.wait().expect("wait").success());
    assert_each_once(&collector, 0..2_000);
    assert_eq!(ready_files(&dir.path().join("spool")), 0);
}
