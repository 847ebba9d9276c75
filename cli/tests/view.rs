//! The web viewer from the command line: `demo --ui`, `collect --ui`,
//! `view --db` print its address and serve it until Ctrl-C.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use assert_cmd::cargo::cargo_bin;

/// An `agent-otel` child that serves the viewer; killed on drop.
struct Served {
    child: Child,
    /// `127.0.0.1:PORT` of the viewer.
    addr: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Runs `agent-otel ARGS` and reads standard error up to the
    /// `viewer: http://ADDR/` line.
    fn start(args: &[&str]) -> Served {
        let mut child = Command::new(cargo_bin("agent-otel"))
            .args(args)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let addr = loop {
            let mut line = String::new();
            assert!(
                stderr.read_line(&mut line).unwrap() > 0,
                "no viewer address in {seen:?}"
            );
            if let Some(url) = line.trim().strip_prefix("viewer: http://") {
                break url.trim_end_matches('/').to_owned();
            }
            seen.push_str(&line);
        };
        std::thread::spawn(move || stderr.lines().for_each(drop));
        Served { child, addr }
    }

    /// `GET path`: the status code and the body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.addr).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response[9..12].parse().unwrap();
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Ctrl-C, then the exit code.
    fn interrupt(&mut self) -> Option<i32> {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap().code()
    }
}

#[test]
fn demo_ui_serves_the_demo_session_until_ctrl_c() {
    let mut demo = Served::start(&["demo", "--ui", "127.0.0.1:0"]);
    let (status, sessions) = demo.get("/api/sessions");
    assert_eq!(status, 200);
    assert!(
        sessions.contains("\"conversation_id\":\"demo-7f3c9a\""),
        "{sessions}"
    );
    let (status, page) = demo.get("/sessions/demo-7f3c9a");
    assert_eq!(status, 200);
    // Three turns (4, 3 and 3 spans): one bar per span.
    assert_eq!(page.matches("<svg class=\"waterfall\"").count(), 3);
    assert_eq!(page.matches("<rect class=\"span\"").count(), 10);
    assert_eq!(demo.interrupt(), Some(0));
}

#[test]
fn collect_ui_and_view_serve_the_store_file() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let db = db.to_str().unwrap();
    let mut collect = Served::start(&[
        "collect",
        "--http",
        "127.0.0.1:0",
        "--grpc",
        "127.0.0.1:0",
        "--db",
        db,
        "--quiet",
        "--ui",
        "127.0.0.1:0",
    ]);
    assert_eq!(collect.get("/api/sessions"), (200, "[]".to_owned()));
    assert_eq!(collect.interrupt(), Some(0));

    let mut view = Served::start(&["view", "--db", db, "--addr", "127.0.0.1:0"]);
    let (status, page) = view.get("/");
    assert_eq!(status, 200);
    assert!(page.contains("<h1>Sessions</h1>"), "{page}");
    assert_eq!(view.get("/overview").0, 200);
    assert_eq!(view.interrupt(), Some(0));
}

#[test]
fn view_of_a_missing_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_cmd::Command::new(cargo_bin("agent-otel"))
        .args(["view", "--db"])
        .arg(dir.path().join("missing.db"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("no store file"));
}
