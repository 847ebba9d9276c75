//! `agent-otel collect` under faults, run as a child process: a closed or
//! slow stdout, kill -9 mid-stream, a store that cannot write, a full disk,
//! hostile values, overflowing sums.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use agent_otel_collector::OtlpRequest as _;
use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use agent_otel_collector::opentelemetry_proto::tonic::logs::v1::{
    LogRecord, ResourceLogs, ScopeLogs,
};
use assert_cmd::cargo::cargo_bin;
use prost::Message as _;

/// A generous bound for anything that should be quick.
const BOUND: Duration = Duration::from_secs(30);

/// A running `collect` child, killed when dropped.
struct Collect {
    child: Child,
    addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Drop for Collect {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Collect {
    fn start(db: Option<&Path>, extra: &[&str]) -> Collect {
        Collect::spawn(Command::new(cargo_bin("agent-otel")), db, extra)
    }

    /// As [`Collect::start`] on a disk that fills up: every file `collect`
    /// writes is limited to `kib` KiB (`ulimit -f`), with SIGXFSZ ignored,
    /// so that a write past it fails (EFBIG) as it would on a full disk.
    fn start_on_a_small_disk(db: &Path, extra: &[&str], kib: u32) -> Collect {
        let mut cmd = Command::new("bash");
        cmd.arg("-c")
            .arg(format!(
                "ulimit -f {kib} && trap '' XFSZ && exec \"$0\" \"$@\""
            ))
            .arg(cargo_bin("agent-otel"));
        Collect::spawn(cmd, Some(db), extra)
    }

    /// Runs `collect` through `cmd` (the binary, or a shell that execs
    /// it) and waits for its banner.
    fn spawn(mut cmd: Command, db: Option<&Path>, extra: &[&str]) -> Collect {
        cmd.args(["collect", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"]);
        if let Some(db) = db {
            cmd.arg("--db").arg(db);
        }
        let mut child = cmd
            .args(extra)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut banner = String::new();
        stderr.read_line(&mut banner).unwrap();
        let addr = banner
            .split_whitespace()
            .find_map(|w| w.strip_prefix("http://")?.strip_suffix("/v1/logs"))
            .unwrap_or_else(|| panic!("no endpoint in {banner:?}"))
            .to_owned();
        let text = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&text);
        std::thread::spawn(move || {
            let mut line = String::new();
            while stderr.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        Collect {
            child,
            addr,
            stderr: text,
        }
    }

    fn stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().unwrap()
    }

    /// Ctrl-C, then the exit status.
    fn interrupt(&mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap()
    }
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

fn s(v: &str) -> any_value::Value {
    any_value::Value::StringValue(v.into())
}

/// `n` `codex.tool_result` events of session `c1`, tool `tool`.
fn tool_results(n: usize, tool: &str) -> Vec<u8> {
    records(
        (0..n)
            .map(|i| LogRecord {
                time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
                event_name: "codex.tool_result".into(),
                attributes: vec![
                    kv("conversation.id", s("c1")),
                    kv("tool_name", s(tool)),
                    kv("success", s("true")),
                ],
                ..Default::default()
            })
            .collect(),
    )
}

fn records(log_records: Vec<LogRecord>) -> Vec<u8> {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// POSTs a protobuf body over a fresh connection; the answer's status.
fn post(addr: &str, body: &[u8]) -> std::io::Result<u16> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(BOUND))?;
    write!(
        conn,
        "POST /v1/logs HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/x-protobuf\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )?;
    conn.write_all(body)?;
    let mut answer = String::new();
    BufReader::new(conn).read_line(&mut answer)?;
    answer
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {answer:?}")))
}

fn stored(db: &Path) -> i64 {
    rusqlite::Connection::open(db)
        .unwrap()
        .query_row("SELECT count(*) FROM otel_logs", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_printing_not_collecting() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("otel.db");
    let mut collect = Collect::start(Some(&db), &[]);
    assert_eq!(post(&collect.addr, &tool_results(5, "shell")).unwrap(), 200);
    // `collect | head -3`: read three lines, then close the pipe.
    let mut lines = BufReader::new(collect.stdout()).lines();
    for _ in 0..3 {
        assert!(lines.next().unwrap().unwrap().contains("codex.tool_result"));
    }
    drop(lines);
    for _ in 0..200 {
        assert_eq!(
            post(&collect.addr, &tool_results(100, "shell")).unwrap(),
            200
        );
    }
    let status = collect.interrupt();
    assert!(status.success(), "{status:?}");
    assert_eq!(stored(&db), 20_005);
}

#[test]
fn kill_9_mid_stream_loses_nothing_that_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("otel.db");
    let mut collect = Collect::start(Some(&db), &["--quiet"]);
    let addr = collect.addr.clone();
    let (acked_tx, acked_rx) = mpsc::channel::<usize>();
    let sender = std::thread::spawn(move || {
        let body = tool_results(100, "shell");
        let mut acked = 0;
        loop {
            match post(&addr, &body) {
                Ok(200) => {
                    acked += 100;
                    let _ = acked_tx.send(acked);
                }
                _ => return acked,
            }
        }
    });
    // Kill once 50 requests were acknowledged, while more are in flight.
    while acked_rx.recv_timeout(BOUND).unwrap() < 5_000 {}
    collect.child.kill().unwrap();
    collect.child.wait().unwrap();
    let acked = sender.join().unwrap() as i64;
    let stored = stored(&db);
    // Every acknowledged record is stored; at most the one request in
    // flight at the kill was stored without its answer arriving; no
    // request is half stored.
    assert!(acked >= 5_000);
    assert!(stored >= acked, "stored {stored} < acknowledged {acked}");
    assert!(
        stored <= acked + 100,
        "stored {stored}, acknowledged {acked}"
    );
    assert_eq!(stored % 100, 0);
}

#[test]
fn a_store_that_cannot_write_answers_503_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("otel.db");
    let mut collect = Collect::start(Some(&db), &["--quiet"]);
    let blocker = rusqlite::Connection::open(&db).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    assert_eq!(post(&collect.addr, &tool_results(3, "shell")).unwrap(), 503);
    blocker.execute_batch("ROLLBACK").unwrap();
    assert_eq!(post(&collect.addr, &tool_results(3, "shell")).unwrap(), 200);
    assert!(collect.interrupt().success());
    assert_eq!(stored(&db), 3);
    let stderr = collect.stderr.lock().unwrap().clone();
    assert!(stderr.contains("cannot store the request"), "{stderr}");
    assert!(stderr.contains("answered 503"), "{stderr}");
}

/// Records in the OTLP-JSON lines of `text` (every line must be whole).
fn records_in_lines(text: &str) -> usize {
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a partial last line"
    );
    text.lines()
        .map(|line| {
            serde_json::from_str::<ExportLogsServiceRequest>(line)
                .unwrap_or_else(|e| panic!("not a whole OTLP-JSON line ({e}): {line:.80}"))
                .item_count()
        })
        .sum()
}

#[test]
fn a_full_disk_refuses_requests_and_keeps_exactly_what_was_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("otel.db");
    let out = dir.path().join("out.jsonl");
    let out_arg = out.to_str().unwrap();
    let mut collect = Collect::start_on_a_small_disk(&db, &["--quiet", "--out", out_arg], 4096);
    let body = tool_results(100, "shell");
    let (mut acknowledged, mut refused) = (0, 0);
    // 4 MiB per file (the empty store takes ~1 MiB) holds a few thousand
    // of these records: keep sending
    // until the disk has refused a few requests in a row.
    for _ in 0..2_000 {
        match post(&collect.addr, &body).unwrap() {
            200 => {
                acknowledged += 100;
                refused = 0;
            }
            503 => refused += 1,
            other => panic!("answered {other}"),
        }
        if refused == 5 {
            break;
        }
    }
    assert_eq!(
        refused, 5,
        "the disk never filled ({acknowledged} acknowledged)"
    );
    assert!(acknowledged > 0);
    let status = collect.interrupt();
    assert!(status.success(), "{status:?}");
    // Every acknowledged record is readable, in the store and in --out,
    // and no refused one is (its retry would write it twice).
    assert_eq!(stored(&db), acknowledged as i64);
    assert_eq!(
        records_in_lines(&std::fs::read_to_string(&out).unwrap()),
        acknowledged
    );
    let stderr = collect.stderr.lock().unwrap().clone();
    assert!(stderr.contains("answered 503"), "{stderr}");
}

#[test]
fn an_out_file_that_cannot_be_written_stores_nothing_of_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("otel.db");
    // Linux's /dev/full: every write fails with ENOSPC.
    let mut collect = Collect::start(Some(&db), &["--quiet", "--out", "/dev/full"]);
    assert_eq!(post(&collect.addr, &tool_results(3, "shell")).unwrap(), 503);
    assert!(collect.interrupt().success());
    assert_eq!(stored(&db), 0);
    let stderr = collect.stderr.lock().unwrap().clone();
    assert!(stderr.contains("cannot write --out"), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
}

#[test]
fn received_control_characters_are_escaped_on_the_terminal() {
    let mut collect = Collect::start(None, &[]);
    let hostile = "\x1b[2J\r\ncodex.tool_result FORGED\u{202e}";
    assert_eq!(post(&collect.addr, &tool_results(1, hostile)).unwrap(), 200);
    let mut stdout = collect.stdout();
    assert!(collect.interrupt().success());
    let mut text = String::new();
    stdout.read_to_string(&mut text).unwrap();
    assert!(!text.contains('\x1b'), "{text:?}");
    assert!(!text.contains('\r'), "{text:?}");
    assert!(!text.contains('\u{202e}'), "{text:?}");
    assert!(
        text.contains("tool_name=\\u{1b}[2J\\u{d}\\u{a}codex.tool_result FORGED\\u{202e}"),
        "{text}"
    );
    assert!(
        !text.lines().any(|l| l.starts_with("codex.tool_result")),
        "{text}"
    );
}

#[test]
fn token_sums_saturate_instead_of_overflowing() {
    let mut collect = Collect::start(None, &["--quiet"]);
    let completion = LogRecord {
        event_name: "codex.sse_event".into(),
        attributes: vec![kv(
            "input_token_count",
            any_value::Value::IntValue(i64::MAX),
        )],
        ..Default::default()
    };
    let body = records(vec![completion.clone(), completion]);
    assert_eq!(post(&collect.addr, &body).unwrap(), 200);
    let mut stdout = collect.stdout();
    assert!(collect.interrupt().success());
    let mut text = String::new();
    stdout.read_to_string(&mut text).unwrap();
    assert!(text.contains(&format!("input {}", i64::MAX)), "{text}");
}

#[test]
fn a_stdout_nobody_reads_neither_blocks_nor_grows() {
    let mut collect = Collect::start(None, &[]);
    // stdout is a pipe that is never read: printing stalls once it is full.
    let _unread = collect.stdout();
    for _ in 0..300 {
        assert_eq!(
            post(&collect.addr, &tool_results(200, "shell")).unwrap(),
            200
        );
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", collect.child.id())).unwrap();
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    // 60,000 events acknowledged; the memory store holds them, the printer
    // queue holds at most 4,096 lines.
    assert!(peak_kb < 400_000, "peak RSS {peak_kb} kB");
    assert!(collect.interrupt().success());
}

#[test]
fn each_turn_is_printed_as_a_tree_with_durations() {
    let mut collect = Collect::start(None, &[]);
    let mut stdout = collect.stdout();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[otel]\nexporter = {{ otlp-http = {{ endpoint = \"http://{0}/v1/logs\" }} }}\ntrace_exporter = {{ otlp-http = {{ endpoint = \"http://{0}/v1/traces\" }} }}\n",
            collect.addr
        ),
    )
    .unwrap();
    let input = [
        r#"{"type":"turn_start"}"#,
        r#"{"type":"api_request","attempt":1,"duration_ms":300,"http.response.status_code":200}"#,
        r#"{"type":"tool_result","tool_name":"shell","call_id":"c1","duration_ms":40,"success":false}"#,
        r#"{"type":"turn_end"}"#,
    ]
    .join("\n");
    let status = Command::new(cargo_bin("agent-otel"))
        .args(["emit", "--config"])
        .arg(&config)
        .env("NO_COLOR", "1")
        .env_remove("TRACEPARENT")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(input.as_bytes())?;
            child.wait()
        })
        .unwrap();
    assert!(status.success());
    assert!(collect.interrupt().success());
    let mut text = String::new();
    stdout.read_to_string(&mut text).unwrap();
    let tree: Vec<&str> = text.lines().filter(|l| l.contains('|')).collect();
    assert_eq!(tree.len(), 3, "{text}");
    assert!(tree[0].contains("invoke_agent codex-cli"), "{text}");
    assert!(
        tree[1].contains("  chat ") && tree[1].contains("300 ms"),
        "{text}"
    );
    assert!(
        tree[2].contains("execute_tool shell") && tree[2].contains("40 ms"),
        "{text}"
    );
    assert!(tree[2].ends_with("error"), "{text}");
}
