//! The viewer in a real headless browser (Debian's `chromium` driven by
//! `chromedriver` over WebDriver): a store filled by a scripted session
//! through our collector, every page loaded and checked for what a person
//! sees, a hostile tool name shown as text, no script run, no console error.
//!
//! These tests need `chromium` and `chromedriver` on the PATH (or
//! `CHROMIUM` / `CHROMEDRIVER`); without them they fail, saying so.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use agent_otel_collector::opentelemetry_proto::tonic::logs::v1::{
    LogRecord, ResourceLogs, ScopeLogs,
};
use agent_otel_collector::opentelemetry_proto::tonic::resource::v1::Resource;
use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, status,
};
use agent_otel_collector::{Collector, CollectorConfig};
use agent_otel_store::Store;
use agent_otel_viewer::Viewer;
use prost::Message as _;
use serde_json::{Value, json};

/// The tool name a hostile agent (or a prompt injection) could send.
const XSS: &str = "<img src=x onerror=alert(1)>";
/// A prompt with markup, exported by the agent.
const PROMPT: &str = "fix the <b>build</b> & test";
/// 2025-11-24 16:00:00 UTC in nanoseconds.
const T0: u64 = 1_764_000_000_000_000_000;
const MS: u64 = 1_000_000;

fn kv(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn event(session: &str, at_ms: u64, name: &str, trace: u8, mut attrs: Vec<KeyValue>) -> LogRecord {
    attrs.push(kv("conversation.id", session));
    attrs.push(kv("model", "gpt-5-codex"));
    attrs.push(kv("vcs.repository.url.full", "https://example.com/app.git"));
    attrs.push(kv("vcs.ref.head.name", "main"));
    LogRecord {
        time_unix_nano: T0 + at_ms * MS,
        event_name: name.into(),
        trace_id: vec![trace; 16],
        span_id: vec![trace; 8],
        attributes: attrs,
        ..Default::default()
    }
}

/// Session `s-1`: two turns (traces 0x11 and 0x22), a prompt, two API
/// requests, token counts, a failing hostile tool and a working shell;
/// session `s-2`: one API request, no span.
fn logs() -> ExportLogsServiceRequest {
    let records = vec![
        event("s-1", 0, "codex.conversation_starts", 0x11, vec![]),
        event(
            "s-1",
            5,
            "codex.user_prompt",
            0x11,
            vec![kv("prompt", PROMPT), int("prompt_length", 27)],
        ),
        event(
            "s-1",
            10,
            "codex.api_request",
            0x11,
            vec![int("duration_ms", 420), int("attempt", 1)],
        ),
        event(
            "s-1",
            430,
            "codex.sse_event",
            0x11,
            vec![
                kv("event.kind", "response.completed"),
                int("input_token_count", 1000),
                int("output_token_count", 200),
                int("cached_token_count", 500),
                int("reasoning_token_count", 50),
            ],
        ),
        event(
            "s-1",
            440,
            "codex.tool_decision",
            0x11,
            vec![kv("tool_name", XSS), kv("decision", "approved")],
        ),
        event(
            "s-1",
            460,
            "codex.tool_result",
            0x11,
            vec![
                kv("tool_name", XSS),
                kv("call_id", "call-1"),
                kv("success", "false"),
                int("duration_ms", 12),
            ],
        ),
        event(
            "s-1",
            1300,
            "codex.tool_result",
            0x11,
            vec![
                kv("tool_name", "shell"),
                kv("call_id", "call-2"),
                kv("success", "true"),
                int("duration_ms", 800),
            ],
        ),
        event(
            "s-1",
            2000,
            "codex.api_request",
            0x22,
            vec![int("duration_ms", 95), int("attempt", 1)],
        ),
        event(
            "s-1",
            2100,
            "codex.sse_event",
            0x22,
            vec![
                kv("event.kind", "response.completed"),
                int("input_token_count", 300),
                int("output_token_count", 40),
            ],
        ),
        event(
            "s-2",
            60_000,
            "codex.api_request",
            0x33,
            vec![int("duration_ms", 2500), int("attempt", 1)],
        ),
    ];
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "codex-cli")],
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn span(
    trace: u8,
    id: u8,
    parent: Option<u8>,
    name: &str,
    start_ms: u64,
    end_ms: u64,
    error: bool,
) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![id; 8],
        parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
        name: name.into(),
        start_time_unix_nano: T0 + start_ms * MS,
        end_time_unix_nano: T0 + end_ms * MS,
        attributes: vec![kv("gen_ai.conversation.id", "s-1")],
        status: Some(Status {
            code: if error {
                status::StatusCode::Error
            } else {
                status::StatusCode::Ok
            } as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Five spans: three in turn 1, two in turn 2.
fn traces() -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "codex-cli")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    span(0x11, 1, None, "turn", 0, 1400, false),
                    span(0x11, 2, Some(1), "api_request", 10, 430, false),
                    span(0x11, 3, Some(1), XSS, 440, 460, true),
                    span(0x22, 4, None, "turn", 2000, 2150, false),
                    span(0x22, 5, Some(4), "api_request", 2000, 2095, false),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// A reqwest client (ring as rustls' provider, as everywhere in the workspace).
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

async fn post(endpoint: String, body: Vec<u8>) {
    let status = client()
        .post(endpoint)
        .header("content-type", "application/x-protobuf")
        .body(body)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
}

/// A store filled through our collector over loopback (write before
/// acknowledge), and the viewer over it on 127.0.0.1:0.
async fn filled_viewer() -> (Viewer, Arc<Store>) {
    let store = Arc::new(Store::in_memory(100_000).unwrap());
    let collector =
        Collector::start_with_sink(CollectorConfig::http_only(), store.clone()).unwrap();
    post(
        collector.http_logs_endpoint().unwrap(),
        logs().encode_to_vec(),
    )
    .await;
    post(
        collector.http_traces_endpoint().unwrap(),
        traces().encode_to_vec(),
    )
    .await;
    drop(collector);
    let viewer = Viewer::start(store.clone(), "127.0.0.1:0".parse().unwrap()).unwrap();
    (viewer, store)
}

/// `name` from the environment variable `var`, else the first match on PATH.
fn program(var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver as a child process, killed on drop.
struct Driver {
    child: Child,
    url: String,
    http: reqwest::Client,
    session: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a port it picks and a headless chromium
    /// session; fails (never skips) when either program is missing.
    async fn start() -> Driver {
        let chromium = program("CHROMIUM", &["chromium", "chromium-browser"]).expect(
            "the viewer's browser tests need Debian's `chromium` (apt-get install chromium chromium-driver; \
             .ci/run installs it), or CHROMIUM=/path/to/chromium",
        );
        let chromedriver = program("CHROMEDRIVER", &["chromedriver"]).expect(
            "the viewer's browser tests need `chromedriver` (Debian: apt-get install chromium-driver; \
             .ci/run installs it), or CHROMEDRIVER=/path/to/chromedriver",
        );
        let mut child = Command::new(&chromedriver)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", chromedriver.display()));
        // chromedriver says which port it took once it listens.
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let port = loop {
            let line = lines
                .next()
                .expect("chromedriver exited before it listened")
                .unwrap();
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                break rest.trim_end_matches('.').trim().to_owned();
            }
        };
        // Keep reading its output so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        let profile = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let http = client();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "unhandledPromptBehavior": "ignore",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium.to_string_lossy(),
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        }}});
        let mut driver = Driver {
            child,
            url,
            http,
            session: String::new(),
            _profile: profile,
        };
        let answer = driver.call("POST", "/session", Some(caps)).await;
        driver.session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver did not open a session: {answer}"))
            .to_owned();
        driver
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{}", self.url, path);
        let request = match method {
            "POST" => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.unwrap_or_else(|| json!({})).to_string()),
            "DELETE" => self.http.delete(url),
            _ => self.http.get(url),
        };
        let text = request.send().await.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("chromedriver said {text:?}: {e}"))
    }

    async fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{}", self.session, path), body)
            .await
    }

    /// Loads `url` and waits for the document (WebDriver's navigation
    /// waits for the load event).
    async fn open(&self, url: &str) {
        let answer = self
            .session_call("POST", "/url", Some(json!({ "url": url })))
            .await;
        assert!(
            answer["value"].is_null(),
            "navigation to {url} failed: {answer}"
        );
    }

    /// Runs `script` in the page (WebDriver's own channel, not the page's:
    /// the page's CSP still forbids the page any script) and returns its value.
    async fn eval(&self, script: &str) -> Value {
        let answer = self
            .session_call(
                "POST",
                "/execute/sync",
                Some(json!({"script": script, "args": []})),
            )
            .await;
        assert!(
            answer["value"].get("error").is_none(),
            "script {script:?} failed: {answer}"
        );
        answer["value"].clone()
    }

    async fn count(&self, selector: &str) -> u64 {
        self.eval(&format!(
            "return document.querySelectorAll({selector:?}).length"
        ))
        .await
        .as_u64()
        .unwrap()
    }

    async fn texts(&self, selector: &str) -> Vec<String> {
        let value = self
            .eval(&format!(
                "return Array.from(document.querySelectorAll({selector:?})).map(e => e.textContent)"
            ))
            .await;
        serde_json::from_value(value).unwrap()
    }

    /// The browser's console entries since the last call.
    async fn console(&self) -> Vec<Value> {
        let answer = self
            .session_call("POST", "/se/log", Some(json!({"type": "browser"})))
            .await;
        answer["value"].as_array().cloned().unwrap_or_default()
    }

    /// Asserts no console error was logged and no dialog (the XSS payload's
    /// `alert`) is open.
    async fn assert_clean(&self, page: &str) {
        let errors: Vec<Value> = self
            .console()
            .await
            .into_iter()
            .filter(|e| e["level"] == "SEVERE" || e["level"] == "WARNING")
            .collect();
        assert!(errors.is_empty(), "console errors on {page}: {errors:?}");
        let alert = self.session_call("GET", "/alert/text", None).await;
        assert_eq!(
            alert["value"]["error"], "no such alert",
            "a dialog opened on {page}: {alert}"
        );
    }

    async fn quit(&self) {
        self.session_call("DELETE", "", None).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_shows_the_session_in_a_real_browser() {
    let (viewer, _store) = filled_viewer().await;
    let base = viewer.url();
    let browser = Driver::start().await;

    // The sessions list: one row per session, newest first, linking to it.
    browser.open(&base).await;
    assert_eq!(browser.count("tr.session").await, 2);
    let rows = browser.texts("tr.session").await;
    assert!(rows[0].contains("s-2"), "{rows:?}");
    assert!(
        rows[1].contains("s-1") && rows[1].contains("gpt-5-codex"),
        "{rows:?}"
    );
    assert!(
        rows[1].contains("https://example.com/app.git @ main"),
        "{rows:?}"
    );
    let cells = browser.texts("tr.session:nth-child(2) td").await;
    // started, session, model, repo, input, output, tools, failures, duration, events
    assert_eq!(cells[4], "1300");
    assert_eq!(cells[5], "240");
    assert_eq!(cells[6], "2");
    assert_eq!(cells[7], "1");
    assert_eq!(cells[8], "2.1 s");
    assert_eq!(cells[9], "9");
    let link = browser
        .eval("return document.querySelector('tr.session:nth-child(2) a').href")
        .await;
    assert_eq!(link, json!(format!("{base}sessions/s-1")));
    browser.assert_clean("/").await;

    // The session: a waterfall per turn with one bar per span, the tool
    // calls, the prompt, and the hostile name as text.
    browser.open(link.as_str().unwrap()).await;
    assert_eq!(browser.count("svg.waterfall").await, 2);
    assert_eq!(browser.count("svg.waterfall rect.span").await, 5);
    assert_eq!(
        browser.count("svg.waterfall:first-of-type rect.span").await,
        3
    );
    assert_eq!(browser.count("tr.tool-call").await, 2);
    assert_eq!(browser.texts("td.tool-name").await, vec![XSS, "shell"]);
    assert_eq!(browser.texts("tr.tool-call td.bad").await, vec!["failed"]);
    assert_eq!(browser.texts("tr.tool-call td.ok").await, vec!["success"]);
    assert_eq!(browser.texts("pre.prompt").await, vec![PROMPT]);
    assert_eq!(browser.count("tr.event").await, 9);
    assert_eq!(
        browser.count("img").await,
        0,
        "the tool name became an element"
    );
    assert_eq!(browser.count("b").await, 0, "the prompt became markup");
    browser.assert_clean("/sessions/s-1").await;

    // The overview: stacked token bars, the latency histogram, the tools.
    browser.open(&format!("{base}overview")).await;
    assert_eq!(browser.count("svg.tokens").await, 1);
    assert_eq!(
        browser.count("svg.tokens rect.bar").await,
        4,
        "input, output, cached, reasoning"
    );
    assert!(browser.count("svg.chart path.axis").await >= 2);
    assert_eq!(browser.count("svg.latency rect.bar").await, 13);
    assert_eq!(browser.count("svg.tools rect.success").await, 2);
    assert_eq!(
        browser.texts("svg.tools text.tool-name").await,
        vec![XSS, "shell"]
    );
    assert_eq!(browser.count("img").await, 0);
    browser.assert_clean("/overview").await;

    // An unknown session is a page that says so.
    browser.open(&format!("{base}sessions/nope")).await;
    assert!(browser.texts("h1").await[0].contains("Not found"));

    browser.quit().await;
}

#[tokio::test]
async fn the_api_serves_the_same_data_as_json_with_a_no_script_policy() {
    let (viewer, _store) = filled_viewer().await;
    let http = client();
    let get = |path: &str| http.get(format!("{}{path}", viewer.url())).send();

    let response = get("").await.unwrap();
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("script-src"), "{csp}");
    let body = response.text().await.unwrap();
    assert!(!body.contains("<script"), "{body}");

    let sessions: Value =
        serde_json::from_str(&get("api/sessions").await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    assert_eq!(sessions[1]["conversation_id"], "s-1");
    assert_eq!(sessions[1]["input_tokens"], 1300);

    let session: Value =
        serde_json::from_str(&get("api/sessions/s-1").await.unwrap().text().await.unwrap())
            .unwrap();
    assert_eq!(session["turns"].as_array().unwrap().len(), 2);
    assert_eq!(session["turns"][0]["spans"].as_array().unwrap().len(), 3);
    assert_eq!(session["tool_calls"][0]["tool_name"], XSS);
    assert_eq!(session["tool_calls"][0]["success"], false);
    assert_eq!(session["events"].as_array().unwrap().len(), 9);

    let overview: Value =
        serde_json::from_str(&get("api/overview").await.unwrap().text().await.unwrap()).unwrap();
    assert_eq!(overview["tools"][0]["tool_name"], XSS);
    assert_eq!(overview["tools"][1]["successes"], 1);
    let requests: Vec<u64> = overview["latency"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["requests"].as_u64().unwrap())
        .collect();
    // 95 ms, 420 ms, 2500 ms
    assert_eq!(requests, vec![0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(overview["tokens"][0]["input"], 1300);

    let missing = get("api/sessions/nope").await.unwrap();
    assert_eq!(missing.status(), 404);
    let favicon = get("favicon.ico").await.unwrap();
    assert_eq!(favicon.status(), 204);
}
