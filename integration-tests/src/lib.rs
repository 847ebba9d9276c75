//! Helpers shared by agent-otel's end-to-end tests (`tests/*.rs`): every
//! test writes a real host config file with an `[otel]` table, resolves it
//! with [`agent_otel_config::load_file`], starts telemetry, emits events and
//! checks what a real [`Collector`] on loopback decoded.
//!
//! * [`Backend`]: the four exporter choices (`none`, `otlp-http` binary and
//!   JSON, `otlp-grpc`) and how each reaches a collector.
//! * [`OtelTable`] / [`ConfigDir`]: the config file writer and loader.
//! * [`emit_every_event`]: emits every event kind with every attribute and
//!   returns what the collector must see; [`assert_every_event`] checks it.
//! * [`write_client_files`]: a [`TestPki`]'s CA and client identity as files.
//! * [`conformance`]: the exporter conformance suite, run by
//!   `tests/conformance.rs` for every transport × signal.

pub mod conformance;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use agent_otel_collector::opentelemetry_proto::tonic::common::v1::any_value;
pub use agent_otel_collector::test_pki::TestPki;
use agent_otel_collector::{
    Collector, CollectorConfig, ReceivedRecord, ReceivedRequest, Transport,
};
use agent_otel_config::{Environment, HostInfo, ResolvedConfig, Telemetry};
use agent_otel_core::{
    ApiRequest, DecisionSource, EventData, PipelineStats, REDACTED, Session, SessionMetadata,
    SseEvent, TokenCounts, ToolDecision, ToolDecisionEvent, ToolResult,
};

/// The value of `IT_TOKEN` in [`it_env`]; the config's `x-otlp-api-key`
/// header is `"${IT_TOKEN}"`, so this must arrive on the wire.
pub const IT_TOKEN: &str = "it-secret-7f3a9c";
/// The header every generated config sends.
pub const API_KEY_HEADER: &str = "x-otlp-api-key";
/// `service.name` the host reports.
pub const SERVICE_NAME: &str = "codex-cli";
/// `service.version` the host reports.
pub const SERVICE_VERSION: &str = "0.42.0-it";
/// `environment` in every generated config (resource attribute `env`).
pub const ENVIRONMENT: &str = "it";
/// The `[otel.resource_attributes]` entry of every generated config.
pub const TEAM: (&str, &str) = ("team", "platform");
/// The scope name the collector must see.
pub const SCOPE_NAME: &str = "codex_otel";
/// Generous bound for waits that normally finish in milliseconds.
pub const WAIT: Duration = Duration::from_secs(15);

/// Which exporter a config file selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `exporter = "none"`.
    None,
    /// `otlp-http` with `protocol = "binary"`.
    HttpBinary,
    /// `otlp-http` with `protocol = "json"`.
    HttpJson,
    /// `otlp-grpc`.
    Grpc,
}

impl Backend {
    /// Every backend.
    pub const ALL: [Backend; 4] = [
        Backend::None,
        Backend::HttpBinary,
        Backend::HttpJson,
        Backend::Grpc,
    ];

    /// One backend per transport: HTTP (binary) and gRPC.
    pub const TRANSPORTS: [Backend; 2] = [Backend::HttpBinary, Backend::Grpc];

    /// A label for messages.
    pub fn label(self) -> &'static str {
        match self {
            Backend::None => "none",
            Backend::HttpBinary => "otlp-http/binary",
            Backend::HttpJson => "otlp-http/json",
            Backend::Grpc => "otlp-grpc",
        }
    }

    /// The exporter name as the config crate reports it.
    pub fn exporter_name(self) -> &'static str {
        match self {
            Backend::None => "none",
            Backend::HttpBinary | Backend::HttpJson => "otlp-http",
            Backend::Grpc => "otlp-grpc",
        }
    }

    /// Whether this backend exports anything.
    pub fn exports(self) -> bool {
        self != Backend::None
    }

    /// The collector transport requests arrive on (`None` for `none`).
    pub fn transport(self) -> Option<Transport> {
        match self {
            Backend::None => None,
            Backend::HttpBinary | Backend::HttpJson => Some(Transport::Http),
            Backend::Grpc => Some(Transport::Grpc),
        }
    }

    /// A collector configuration with only this backend's receiver
    /// (both receivers for `none`, to prove nothing arrives on either).
    pub fn collector_config(self) -> CollectorConfig {
        match self {
            Backend::None => CollectorConfig::default(),
            Backend::HttpBinary | Backend::HttpJson => CollectorConfig::http_only(),
            Backend::Grpc => CollectorConfig::grpc_only(),
        }
    }

    /// The same, listening on `port` of 127.0.0.1.
    pub fn collector_config_at(self, port: u16) -> CollectorConfig {
        let addr = Some(SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        match self {
            Backend::Grpc => CollectorConfig {
                grpc_addr: addr,
                ..CollectorConfig::grpc_only()
            },
            _ => CollectorConfig {
                http_addr: addr,
                ..CollectorConfig::http_only()
            },
        }
    }

    /// The endpoint of `collector` this backend's exporter should use
    /// (the HTTP one for `none`; it is not written to the config anyway).
    pub fn endpoint(self, collector: &Collector) -> String {
        let endpoint = match self {
            Backend::Grpc => collector.grpc_endpoint(),
            _ => collector.http_logs_endpoint(),
        };
        endpoint.expect("the collector runs the receiver this backend needs")
    }

    /// The endpoint for a collector on `scheme://host:port`.
    pub fn endpoint_at(self, scheme: &str, host: &str, port: u16) -> String {
        match self {
            Backend::Grpc => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}:{port}/v1/logs"),
        }
    }

    /// The `Content-Type` requests must carry.
    pub fn content_type(self) -> Option<&'static str> {
        match self {
            Backend::None => None,
            Backend::HttpBinary => Some("application/x-protobuf"),
            Backend::HttpJson => Some("application/json"),
            Backend::Grpc => Some("application/grpc"),
        }
    }
}

/// What the OpenTelemetry SDK's exporters need in the interop tests: the
/// process's default rustls provider (`opentelemetry-otlp`'s reqwest
/// client uses it, even for `http://`; ours pass their own) and a
/// one-worker runtime to enter while building them (the tonic client needs
/// one when it is built and to drive its connection).
pub fn sdk_runtime() -> tokio::runtime::Runtime {
    let _ = rustls::crypto::ring::default_provider().install_default();
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => panic!("a tokio runtime for the SDK exporters: {e}"),
    }
}

/// The injected environment of every test: only `IT_TOKEN`.
pub fn it_env() -> Environment {
    Environment::from_pairs([("IT_TOKEN", IT_TOKEN)])
}

/// What the host application reports about itself.
pub fn host_info() -> HostInfo {
    HostInfo::new(SERVICE_NAME, SERVICE_VERSION)
}

/// Renders `value` as a TOML basic string.
pub fn toml_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An `[otel]` table under construction, rendered into a host config file.
///
/// [`OtelTable::new`] sets what every test shares: `environment = "it"`,
/// the `x-otlp-api-key = "${IT_TOKEN}"` header, `team = "platform"`, a
/// 5 s per-request timeout, short retry backoffs (20–200 ms) and a 50 ms
/// batch timeout.
#[derive(Debug, Clone)]
pub struct OtelTable {
    backend: Backend,
    endpoint: Option<String>,
    exporter_keys: Vec<(String, String)>,
    otel_keys: Vec<(String, String)>,
}

impl OtelTable {
    /// The shared defaults for `backend`, without an endpoint.
    pub fn new(backend: Backend) -> Self {
        let mut table = OtelTable {
            backend,
            endpoint: None,
            exporter_keys: Vec::new(),
            otel_keys: Vec::new(),
        };
        table = table
            .set("environment", toml_str(ENVIRONMENT))
            .set("batch_timeout_ms", "50")
            .set("retry_initial_backoff_ms", "20")
            .set("retry_max_backoff_ms", "200")
            .set("retry_budget_ms", "10000")
            .exporter_key(
                "headers",
                format!("{{ {} = \"${{IT_TOKEN}}\" }}", toml_str(API_KEY_HEADER)),
            )
            .exporter_key("timeout-ms", "5000");
        if let Some(protocol) = match backend {
            Backend::HttpBinary => Some("binary"),
            Backend::HttpJson => Some("json"),
            _ => None,
        } {
            table = table.exporter_key("protocol", toml_str(protocol));
        }
        table
    }

    /// The shared defaults for `backend`, pointing at `endpoint`.
    pub fn pointing_at(backend: Backend, endpoint: impl Into<String>) -> Self {
        Self::new(backend).endpoint(endpoint)
    }

    /// Sets the exporter's `endpoint`.
    #[must_use]
    pub fn endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Sets an `[otel]`-level key to a raw TOML value, replacing it if set.
    #[must_use]
    pub fn set(mut self, key: &str, toml_value: impl Into<String>) -> Self {
        upsert(&mut self.otel_keys, key, toml_value.into());
        self
    }

    /// Sets a key of the exporter table to a raw TOML value, replacing it if set.
    #[must_use]
    pub fn exporter_key(mut self, key: &str, toml_value: impl Into<String>) -> Self {
        upsert(&mut self.exporter_keys, key, toml_value.into());
        self
    }

    /// Makes delivery happen only on `shutdown` (a one-minute batch
    /// timeout), so everything emitted before it goes in one request.
    #[must_use]
    pub fn deliver_on_shutdown(self) -> Self {
        self.set("batch_timeout_ms", "60000")
    }

    /// Sets the exporter's `tls` table from paths as written in the file.
    #[must_use]
    pub fn tls(
        self,
        ca: Option<&str>,
        client_cert: Option<&str>,
        client_key: Option<&str>,
    ) -> Self {
        let entries: Vec<String> = [
            ("ca-certificate", ca),
            ("client-certificate", client_cert),
            ("client-private-key", client_key),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k} = {}", toml_str(v))))
        .collect();
        self.exporter_key("tls", format!("{{ {} }}", entries.join(", ")))
    }

    /// The whole host config file: a top-level key, the `[otel]` table, its
    /// resource attributes and an unrelated table the resolver must ignore.
    pub fn render(&self) -> String {
        let mut out = String::from(
            "# host config written by agent-otel-integration-tests\n\
             model = \"gpt-5-codex\"\n\n[otel]\n",
        );
        let exporter = match self.backend {
            Backend::None => toml_str("none"),
            Backend::HttpBinary | Backend::HttpJson | Backend::Grpc => {
                let mut keys = Vec::new();
                if let Some(endpoint) = &self.endpoint {
                    keys.push(format!("endpoint = {}", toml_str(endpoint)));
                }
                keys.extend(self.exporter_keys.iter().map(|(k, v)| format!("{k} = {v}")));
                format!(
                    "{{ {} = {{ {} }} }}",
                    self.backend.exporter_name(),
                    keys.join(", ")
                )
            }
        };
        out.push_str(&format!("exporter = {exporter}\n"));
        for (key, value) in &self.otel_keys {
            out.push_str(&format!("{key} = {value}\n"));
        }
        out.push_str(&format!(
            "\n[otel.resource_attributes]\n{} = {}\n\n[tui]\nnotifications = true\n",
            toml_str(TEAM.0),
            toml_str(TEAM.1)
        ));
        out
    }
}

fn upsert(list: &mut Vec<(String, String)>, key: &str, value: String) {
    match list.iter_mut().find(|(k, _)| k == key) {
        Some(slot) => slot.1 = value,
        None => list.push((key.to_owned(), value)),
    }
}

/// A temporary folder holding a host config file (`config.toml`) and the
/// files it refers to by relative paths.
#[derive(Debug)]
pub struct ConfigDir {
    dir: tempfile::TempDir,
}

impl Default for ConfigDir {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigDir {
    /// An empty folder.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("create a temporary config folder"),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The config file's path.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// Writes `contents` to `relative` (creating folders) and returns its path.
    pub fn write(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create a folder in the config folder");
        }
        std::fs::write(&path, contents).expect("write a file in the config folder");
        path
    }

    /// Writes `table` as `config.toml`.
    pub fn write_config(&self, table: &OtelTable) -> PathBuf {
        self.write("config.toml", table.render())
    }

    /// Resolves `config.toml` with [`agent_otel_config::load_file`].
    pub fn load(&self, env: &Environment) -> ResolvedConfig {
        let path = self.config_path();
        agent_otel_config::load_file(&path, env, &host_info()).unwrap_or_else(|e| {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            panic!(
                "cannot resolve {}: {e}\n--- file ---\n{text}",
                path.display()
            )
        })
    }
}

/// A config file written from `table`, resolved with [`it_env`] and
/// started: the config folder (keep it alive), the resolved config and
/// the running telemetry.
pub fn start_from(table: &OtelTable) -> (ConfigDir, ResolvedConfig, Telemetry) {
    let dir = ConfigDir::new();
    dir.write_config(table);
    start_in(dir, &it_env())
}

/// Resolves the `config.toml` of `dir` with `env` and starts telemetry.
pub fn start_in(dir: ConfigDir, env: &Environment) -> (ConfigDir, ResolvedConfig, Telemetry) {
    let resolved = dir.load(env);
    let telemetry = resolved
        .start()
        .unwrap_or_else(|e| panic!("cannot start telemetry from {resolved:?}: {e}"));
    (dir, resolved, telemetry)
}

/// A loopback port held, not released: a bound socket that does not
/// listen, so connections to the port are refused and no one else gets it,
/// while a listener with `SO_REUSEADDR` (every listener of the collector)
/// can still take it over.
#[derive(Debug)]
pub struct HeldPort {
    _socket: socket2::Socket,
    port: u16,
}

impl HeldPort {
    /// Holds an ephemeral loopback port.
    pub fn new() -> Self {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a TCP socket");
        socket.set_reuse_address(true).expect("SO_REUSEADDR");
        socket
            .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("bind an ephemeral loopback port");
        let port = socket
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .expect("local address of the held port")
            .port();
        Self {
            _socket: socket,
            port,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Default for HeldPort {
    fn default() -> Self {
        Self::new()
    }
}

/// Session metadata with every field set, the optional ones included.
pub fn full_metadata() -> SessionMetadata {
    SessionMetadata {
        conversation_id: "conv-0193f0a2-it".to_owned(),
        app_version: SERVICE_VERSION.to_owned(),
        auth_mode: Some("ApiKey".to_owned()),
        account_id: Some("acct-12345".to_owned()),
        terminal_type: "xterm-256color".to_owned(),
        model: "gpt-5-codex".to_owned(),
        slug: "openai".to_owned(),
        vcs: None,
        attributes: Vec::new(),
    }
}

/// An attribute value the collector must see, with its OTLP type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `stringValue`.
    Str(String),
    /// `intValue`.
    Int(i64),
}

/// One event as the collector must see it.
#[derive(Debug, Clone)]
pub struct ExpectedEvent {
    /// `event.name` and `LogRecord.event_name`.
    pub name: String,
    /// When it was emitted (`emit_at`): also the match key.
    pub time: SystemTime,
    /// Every attribute except `event.timestamp`, in any order.
    pub attributes: Vec<(&'static str, Value)>,
    /// The exact `event.timestamp` (RFC 3339, ms).
    pub timestamp: &'static str,
}

impl ExpectedEvent {
    /// `time` in Unix nanoseconds, as in `LogRecord.time_unix_nano`.
    pub fn time_unix_nano(&self) -> u64 {
        unix_nanos(self.time)
    }
}

fn unix_nanos(time: SystemTime) -> u64 {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("test times are after the epoch");
    u64::try_from(since.as_nanos()).expect("test times fit in u64 nanoseconds")
}

/// 2026-01-01T00:00:00Z plus `millis`: the fixed times the script emits at.
pub fn script_time(millis: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600) + Duration::from_millis(millis)
}

fn s(value: &str) -> Value {
    Value::Str(value.to_owned())
}

fn common(metadata: &SessionMetadata, name: &str) -> Vec<(&'static str, Value)> {
    let mut attrs = vec![
        ("event.name", s(name)),
        ("conversation.id", s(&metadata.conversation_id)),
        ("app.version", s(&metadata.app_version)),
        ("terminal.type", s(&metadata.terminal_type)),
        ("model", s(&metadata.model)),
        ("slug", s(&metadata.slug)),
    ];
    if let Some(mode) = &metadata.auth_mode {
        attrs.push(("auth_mode", s(mode)));
    }
    if let Some(account) = &metadata.account_id {
        attrs.push(("user.account_id", s(account)));
    }
    attrs
}

/// The user prompt of the script: 19 characters, 23 bytes (prompt_length
/// counts characters).
pub const PROMPT: &str = "réparer les tests ✓";

/// Emits every event kind with every attribute (optional ones included,
/// plus a failed `tool_result` so `success` is seen as both `"true"` and
/// `"false"`) at fixed times, and returns what the collector must see.
/// The session should carry [`full_metadata`]; `user_prompt` is redacted
/// (the configs leave `log_user_prompt` unset).
pub fn emit_every_event(session: &Session) -> Vec<ExpectedEvent> {
    let md = session.metadata().clone();
    let mut expected = Vec::new();
    let mut push = |millis: u64,
                    timestamp: &'static str,
                    kind: &str,
                    data: EventData<'_>,
                    attrs: Vec<(&'static str, Value)>| {
        let time = script_time(millis);
        session.emit_at(time, data);
        let name = format!("codex.{kind}");
        let mut attributes = common(&md, &name);
        attributes.extend(attrs);
        expected.push(ExpectedEvent {
            name,
            time,
            attributes,
            timestamp,
        });
    };

    push(
        1,
        "2026-01-01T00:00:00.001Z",
        "api_request",
        EventData::ApiRequest(ApiRequest {
            attempt: 2,
            duration: Duration::from_millis(250),
            status_code: Some(503),
            cf_ray: Some("8f1c2a3b4c5d6e7f-IAD"),
            error: Some("service unavailable"),
        }),
        vec![
            ("attempt", Value::Int(2)),
            ("duration_ms", Value::Int(250)),
            ("http.response.status_code", Value::Int(503)),
            ("cf_ray", s("8f1c2a3b4c5d6e7f-IAD")),
            ("error.message", s("service unavailable")),
        ],
    );
    push(
        2,
        "2026-01-01T00:00:00.002Z",
        "sse_event",
        EventData::SseEvent(SseEvent {
            kind: "response.output_text.delta",
            duration: Duration::from_millis(7),
            error: Some("stream interrupted"),
            tokens: None,
        }),
        vec![
            ("event.kind", s("response.output_text.delta")),
            ("duration_ms", Value::Int(7)),
            ("error.message", s("stream interrupted")),
        ],
    );
    push(
        3,
        "2026-01-01T00:00:00.003Z",
        "sse_event",
        EventData::SseEvent(SseEvent {
            kind: "response.completed",
            duration: Duration::from_millis(1_234),
            error: None,
            tokens: Some(TokenCounts {
                input: 1_200,
                output: 340,
                cached: Some(800),
                reasoning: Some(96),
                tool: 12,
            }),
        }),
        vec![
            ("event.kind", s("response.completed")),
            ("duration_ms", Value::Int(1_234)),
            ("input_token_count", Value::Int(1_200)),
            ("output_token_count", Value::Int(340)),
            ("cached_token_count", Value::Int(800)),
            ("reasoning_token_count", Value::Int(96)),
            ("tool_token_count", Value::Int(12)),
        ],
    );
    push(
        4,
        "2026-01-01T00:00:00.004Z",
        "user_prompt",
        EventData::UserPrompt(PROMPT),
        vec![("prompt_length", Value::Int(19)), ("prompt", s(REDACTED))],
    );
    push(
        5,
        "2026-01-01T00:00:00.005Z",
        "tool_decision",
        EventData::ToolDecision(ToolDecisionEvent {
            tool_name: "shell",
            call_id: "call_1",
            decision: ToolDecision::ApprovedForSession,
            source: DecisionSource::Config,
        }),
        vec![
            ("tool_name", s("shell")),
            ("call_id", s("call_1")),
            ("decision", s("approved_for_session")),
            ("source", s("config")),
        ],
    );
    push(
        6,
        "2026-01-01T00:00:00.006Z",
        "tool_result",
        EventData::ToolResult(ToolResult {
            tool_name: "shell",
            call_id: "call_1",
            arguments: r#"{"command":["cargo","test"]}"#,
            duration: Duration::from_millis(1_500),
            success: true,
            output: "test result: ok. 42 passed",
        }),
        vec![
            ("tool_name", s("shell")),
            ("call_id", s("call_1")),
            ("arguments", s(r#"{"command":["cargo","test"]}"#)),
            ("duration_ms", Value::Int(1_500)),
            ("success", s("true")),
            ("output", s("test result: ok. 42 passed")),
        ],
    );
    push(
        1_007,
        "2026-01-01T00:00:01.007Z",
        "tool_result",
        EventData::ToolResult(ToolResult {
            tool_name: "apply_patch",
            call_id: "call_2",
            arguments: "*** Begin Patch",
            duration: Duration::from_millis(3),
            success: false,
            output: "patch does not apply",
        }),
        vec![
            ("tool_name", s("apply_patch")),
            ("call_id", s("call_2")),
            ("arguments", s("*** Begin Patch")),
            ("duration_ms", Value::Int(3)),
            ("success", s("false")),
            ("output", s("patch does not apply")),
        ],
    );
    expected
}

fn actual_value(record: &ReceivedRecord, key: &str) -> Option<Value> {
    match record.attr(key)?.value.as_ref()? {
        any_value::Value::StringValue(v) => Some(Value::Str(v.clone())),
        any_value::Value::IntValue(v) => Some(Value::Int(*v)),
        other => panic!("attribute `{key}` has an unexpected OTLP type: {other:?}"),
    }
}

/// Checks one record against one expected event: `event_name`, every
/// attribute with its OTLP type, no extra attribute, the exact
/// `event.timestamp`, `time_unix_nano`, the resource and the scope.
pub fn assert_record(record: &ReceivedRecord, expected: &ExpectedEvent, context: &str) {
    let what = format!("{context}: {} at {}", expected.name, expected.timestamp);
    assert_eq!(
        record.event_name(),
        expected.name,
        "{what}: LogRecord.event_name"
    );
    assert_eq!(
        record.record.time_unix_nano,
        expected.time_unix_nano(),
        "{what}: time_unix_nano"
    );
    assert_eq!(
        record.attr_str("event.timestamp"),
        Some(expected.timestamp),
        "{what}: event.timestamp"
    );
    for (key, value) in &expected.attributes {
        assert_eq!(
            actual_value(record, key).as_ref(),
            Some(value),
            "{what}: attribute `{key}` (value and OTLP type)"
        );
    }
    let mut expected_keys: Vec<&str> = expected.attributes.iter().map(|(k, _)| *k).collect();
    expected_keys.push("event.timestamp");
    expected_keys.sort_unstable();
    let mut actual_keys: Vec<&str> = record.attributes().map(|(k, _)| k).collect();
    actual_keys.sort_unstable();
    assert_eq!(actual_keys, expected_keys, "{what}: attribute keys");
    assert_resource(record, &what);
    assert_eq!(record.scope_name, SCOPE_NAME, "{what}: scope name");
}

/// Checks the resource every generated config produces.
pub fn assert_resource(record: &ReceivedRecord, context: &str) {
    for (key, value) in [
        ("service.name", SERVICE_NAME),
        ("service.version", SERVICE_VERSION),
        ("env", ENVIRONMENT),
        (TEAM.0, TEAM.1),
    ] {
        assert_eq!(
            record.resource_str(key),
            Some(value),
            "{context}: resource attribute `{key}`"
        );
    }
}

/// Checks that `records` are exactly the `expected` events (each once, in
/// any order, matched by time) with every attribute.
pub fn assert_every_event(records: &[ReceivedRecord], expected: &[ExpectedEvent], context: &str) {
    assert_eq!(
        records.len(),
        expected.len(),
        "{context}: number of records received"
    );
    for event in expected {
        let matching: Vec<&ReceivedRecord> = records
            .iter()
            .filter(|r| r.record.time_unix_nano == event.time_unix_nano())
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "{context}: {} at {} must arrive exactly once",
            event.name,
            event.timestamp
        );
        assert_record(matching[0], event, context);
    }
}

/// Checks every request carried the `${IT_TOKEN}`-expanded header and the
/// backend's content type, on the backend's transport.
pub fn assert_requests(requests: &[ReceivedRequest], backend: Backend, context: &str) {
    assert!(!requests.is_empty(), "{context}: no request arrived");
    for request in requests {
        assert_eq!(
            Some(request.transport),
            backend.transport(),
            "{context}: transport"
        );
        assert_eq!(
            request.header(API_KEY_HEADER),
            Some(IT_TOKEN),
            "{context}: `{API_KEY_HEADER}` must carry the expanded ${{IT_TOKEN}}"
        );
        let content_type = request.content_type.as_deref().unwrap_or_default();
        let expected = backend.content_type().unwrap_or_default();
        assert!(
            content_type.starts_with(expected),
            "{context}: content type `{content_type}`, expected `{expected}`"
        );
    }
}

/// Checks `emitted == exported + rejected + dropped` with nothing in flight.
pub fn assert_accounted(stats: &PipelineStats, context: &str) {
    assert_eq!(
        stats.emitted,
        stats.exported + stats.rejected + stats.dropped_total(),
        "{context}: emitted == exported + rejected + dropped ({stats})"
    );
}

/// The pipeline's final stats: waits (bounded) for the export worker to
/// stop, so what a shutdown deadline cut is already booked.
pub fn settled_stats(telemetry: &Telemetry, timeout: Duration) -> PipelineStats {
    assert!(
        telemetry.wait_stopped(timeout),
        "the export worker did not stop within {timeout:?}"
    );
    telemetry.stats()
}

/// Writes `certs/ca.pem`, `certs/client.pem` and `certs/client.key` of
/// `pki` into `dir`.
pub fn write_client_files(pki: &TestPki, dir: &ConfigDir) {
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).expect("create certs/");
    pki.write_client_files(&certs).expect("write the PEM files");
}
