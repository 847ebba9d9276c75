//! Shared fixtures of the agent-otel benchmarks: one realistic event of each
//! kind, the same events as OpenTelemetry SDK log records and as `tracing`
//! events (the baselines), discarding / gated exporters for both sides, and
//! small helpers (peak RSS, machine description).
//!
//! Nothing here is a test: the crate's benches are run by `cargo bench`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use agent_otel_core::{
    ApiRequest, Batch, DecisionSource, EventData, EventKind, ExportOutcome, Exporter,
    PipelineOptions, Session, SessionMetadata, SseEvent, Telemetry, TelemetryOptions, TokenCounts,
    ToolDecision, ToolDecisionEvent, ToolResult, WireFormat,
};
use async_trait::async_trait;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::{Key, StringValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{
    BatchConfigBuilder, BatchLogProcessor, LogExporter, SdkLogRecord, SdkLogger, SdkLoggerProvider,
};

/// The five event kinds, with the names used in benchmark ids.
pub const KINDS: [(EventKind, &str); 5] = [
    (EventKind::ApiRequest, "api_request"),
    (EventKind::SseEvent, "sse_event"),
    (EventKind::UserPrompt, "user_prompt"),
    (EventKind::ToolDecision, "tool_decision"),
    (EventKind::ToolResult, "tool_result"),
];

/// Session metadata as a Codex-style CLI would set it.
pub fn metadata() -> SessionMetadata {
    SessionMetadata {
        conversation_id: "0199a4f2-6c3e-7d21-9a8b-3f5e2c1d0b9a".to_owned(),
        app_version: "0.46.0".to_owned(),
        auth_mode: Some("ApiKey".to_owned()),
        account_id: Some("acct_0123456789".to_owned()),
        terminal_type: "xterm-256color".to_owned(),
        model: "gpt-5-codex".to_owned(),
        slug: "gpt-5-codex".to_owned(),
        vcs: None,
        attributes: Vec::new(),
    }
}

/// `cf_ray` of the sample `api_request`.
pub const CF_RAY: &str = "8f1a2b3c4d5e6f70-AMS";
/// `event.kind` of the sample `sse_event`.
pub const SSE_KIND: &str = "response.completed";
/// The sample prompt (exported redacted).
pub const PROMPT: &str = "fix the failing tests in core and explain what was wrong";
/// `tool_name` of the tool events.
pub const TOOL: &str = "shell";
/// `call_id` of the tool events.
pub const CALL_ID: &str = "call_7f3a9c21d4e5";
/// `arguments` of the sample `tool_result`.
pub const ARGUMENTS: &str =
    r#"{"command":["cargo","test","-p","agent-otel-core"],"workdir":"/work/main"}"#;

/// `output` of the sample `tool_result`: 512 bytes of test output.
pub fn output() -> &'static str {
    static OUTPUT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    OUTPUT.get_or_init(|| {
        let line = "test pipeline::tests::retries_follow_the_policy ... ok\n";
        let mut s = line.repeat(512 / line.len() + 1);
        s.truncate(512);
        s
    })
}

/// Token counts of the sample `sse_event` (a completion).
pub const TOKENS: TokenCounts = TokenCounts {
    input: 1834,
    output: 412,
    cached: Some(1024),
    reasoning: Some(128),
    tool: 0,
};

/// The sample event of `kind`, as borrowed event data.
pub fn event_data(kind: EventKind) -> EventData<'static> {
    match kind {
        EventKind::ApiRequest => EventData::ApiRequest(ApiRequest {
            attempt: 1,
            duration: Duration::from_millis(850),
            status_code: Some(200),
            cf_ray: Some(CF_RAY),
            error: None,
        }),
        EventKind::SseEvent => EventData::SseEvent(SseEvent {
            kind: SSE_KIND,
            duration: Duration::from_millis(12),
            error: None,
            tokens: Some(TOKENS),
        }),
        EventKind::UserPrompt => EventData::UserPrompt(PROMPT),
        EventKind::ToolDecision => EventData::ToolDecision(ToolDecisionEvent {
            tool_name: TOOL,
            call_id: CALL_ID,
            decision: ToolDecision::Approved,
            source: DecisionSource::User,
        }),
        EventKind::ToolResult => EventData::ToolResult(ToolResult {
            tool_name: TOOL,
            call_id: CALL_ID,
            arguments: ARGUMENTS,
            duration: Duration::from_millis(2300),
            success: true,
            output: output(),
        }),
    }
}

/// Emits the sample event of `kind` through an agent-otel session.
#[inline]
pub fn emit(session: &Session, kind: EventKind) {
    session.emit(event_data(kind));
}

/// The `i`-th kind of a round-robin mix of all five kinds.
pub fn mixed_kind(i: usize) -> EventKind {
    KINDS[i % KINDS.len()].0
}

/// Our `HttpExporter` sending protobuf to `endpoint` with the default
/// transport options (the exporter most benches compare).
pub fn http_exporter(endpoint: String) -> Box<dyn Exporter> {
    match agent_otel_exporter_http::HttpExporter::new(
        agent_otel_exporter_http::HttpExporterConfig {
            endpoint,
            protocol: agent_otel_core::HttpProtocol::Binary,
            transport: agent_otel_core::TransportOptions::default(),
        },
    ) {
        Ok(e) => Box::new(e),
        Err(e) => panic!("HttpExporter: {e}"),
    }
}

/// Our `GrpcExporter` sending to `endpoint`.
pub fn grpc_exporter(endpoint: String) -> Box<dyn Exporter> {
    match agent_otel_exporter_grpc::GrpcExporter::new(
        agent_otel_exporter_grpc::GrpcExporterConfig::new(endpoint),
    ) {
        Ok(e) => Box::new(e),
        Err(e) => panic!("GrpcExporter: {e}"),
    }
}

/// A running agent-otel pipeline whose exporter is `exporter`.
pub fn telemetry(exporter: Box<dyn Exporter>, options: PipelineOptions) -> Telemetry {
    match Telemetry::new(TelemetryOptions::default(), exporter, options) {
        Ok(t) => t,
        Err(e) => panic!("pipeline does not start: {e}"),
    }
}

/// Pipeline options with a queue of `queue` events, batches of 512 and a
/// batch timeout of `batch_timeout`.
pub fn pipeline_options(queue: usize, batch_timeout: Duration) -> PipelineOptions {
    PipelineOptions {
        queue_capacity: queue,
        max_batch_size: 512,
        batch_timeout,
        ..PipelineOptions::default()
    }
}

/// Blocks the calling thread while closed; lets exporters of both sides
/// hold their worker so that only the caller thread runs (allocation counts).
#[derive(Debug, Default)]
pub struct Gate {
    state: Mutex<(bool, u64)>,
    changed: Condvar,
}

impl Gate {
    /// A new, open gate.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Closes the gate: the next exporter call blocks in [`Gate::pass`].
    pub fn close(&self) {
        self.lock().0 = true;
    }

    /// Opens the gate and wakes the blocked exporter.
    pub fn open(&self) {
        self.lock().0 = false;
        self.changed.notify_all();
    }

    /// Called by an exporter: counts the arrival and blocks while closed.
    pub fn pass(&self) {
        let mut st = self.lock();
        st.1 += 1;
        self.changed.notify_all();
        while st.0 {
            st = match self.changed.wait(st) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }

    /// Waits until at least `n` exporter calls arrived.
    pub fn wait_arrivals(&self, n: u64) {
        let mut st = self.lock();
        while st.1 < n {
            st = match self.changed.wait(st) {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (bool, u64)> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// An agent-otel exporter that blocks on a [`Gate`], then accepts.
#[derive(Debug)]
pub struct GatedExporter(pub Arc<Gate>);

#[async_trait]
impl Exporter for GatedExporter {
    async fn export(&self, _batch: &Batch) -> ExportOutcome {
        self.0.pass();
        ExportOutcome::Accepted
    }

    fn name(&self) -> &'static str {
        "gated"
    }
}

/// An agent-otel exporter that serializes each batch (protobuf or JSON)
/// and accepts it: the pipeline's ceiling without a network.
#[derive(Debug)]
pub struct EncodeExporter {
    /// Serialize as JSON instead of protobuf.
    pub json: bool,
    /// Bytes produced so far.
    pub bytes: Arc<AtomicU64>,
}

#[async_trait]
impl Exporter for EncodeExporter {
    async fn export(&self, batch: &Batch) -> ExportOutcome {
        let n = if self.json {
            batch.json().len()
        } else {
            batch.protobuf().len()
        };
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        ExportOutcome::Accepted
    }

    fn name(&self) -> &'static str {
        "encode"
    }

    fn wire_format(&self) -> WireFormat {
        if self.json {
            WireFormat::Json
        } else {
            WireFormat::Protobuf
        }
    }
}

/// An SDK `LogExporter` that counts and discards records, optionally
/// blocking on a [`Gate`] first.
#[derive(Debug, Default, Clone)]
pub struct DiscardLogExporter {
    records: Arc<AtomicU64>,
    gate: Option<Arc<Gate>>,
}

impl DiscardLogExporter {
    /// A counting, discarding exporter.
    pub fn new() -> Self {
        Self::default()
    }

    /// One that first blocks on `gate`.
    pub fn gated(gate: Arc<Gate>) -> Self {
        Self {
            records: Arc::default(),
            gate: Some(gate),
        }
    }

    /// Records exported so far (shared between clones).
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }
}

impl LogExporter for DiscardLogExporter {
    async fn export(&self, batch: opentelemetry_sdk::logs::LogBatch<'_>) -> OTelSdkResult {
        if let Some(gate) = &self.gate {
            gate.pass();
        }
        self.records
            .fetch_add(batch.iter().count() as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// An SDK logger provider with a `BatchLogProcessor` (queue `queue`,
/// batches of 512, scheduled delay `delay`) over `exporter`.
pub fn sdk_provider<E: LogExporter + 'static>(
    exporter: E,
    queue: usize,
    delay: Duration,
) -> SdkLoggerProvider {
    let config = BatchConfigBuilder::default()
        .with_max_queue_size(queue)
        .with_max_export_batch_size(512)
        .with_scheduled_delay(delay)
        .build();
    let processor = BatchLogProcessor::builder(exporter)
        .with_batch_config(config)
        .build();
    SdkLoggerProvider::builder()
        .with_log_processor(processor)
        .with_resource(
            opentelemetry_sdk::Resource::builder_empty()
                .with_service_name("codex-cli")
                .with_attribute(opentelemetry::KeyValue::new("env", "dev"))
                .build(),
        )
        .build()
}

/// The session metadata pre-built as ref-counted SDK string values: the
/// cheapest way an SDK user can attach the common attributes to each record.
#[derive(Debug, Clone)]
pub struct SdkSession {
    logger: SdkLogger,
    conversation_id: StringValue,
    app_version: StringValue,
    auth_mode: StringValue,
    account_id: StringValue,
    terminal_type: StringValue,
    model: StringValue,
    slug: StringValue,
}

fn shared(s: &str) -> StringValue {
    StringValue::from(Arc::<str>::from(s))
}

fn owned(s: &str) -> AnyValue {
    AnyValue::String(StringValue::from(s.to_owned()))
}

impl SdkSession {
    /// The session's common attributes, shared (`Arc`) strings.
    #[inline]
    fn add_common(&self, r: &mut SdkLogRecord) {
        let sv = |v: &StringValue| AnyValue::String(v.clone());
        r.add_attribute(
            Key::from_static_str("conversation.id"),
            sv(&self.conversation_id),
        );
        r.add_attribute(Key::from_static_str("app.version"), sv(&self.app_version));
        r.add_attribute(Key::from_static_str("auth_mode"), sv(&self.auth_mode));
        r.add_attribute(
            Key::from_static_str("user.account_id"),
            sv(&self.account_id),
        );
        r.add_attribute(
            Key::from_static_str("terminal.type"),
            sv(&self.terminal_type),
        );
        r.add_attribute(Key::from_static_str("model"), sv(&self.model));
        r.add_attribute(Key::from_static_str("slug"), sv(&self.slug));
    }

    /// A session over `provider`'s `codex_otel` logger.
    pub fn new(provider: &SdkLoggerProvider) -> Self {
        let m = metadata();
        Self {
            logger: provider.logger("codex_otel"),
            conversation_id: shared(&m.conversation_id),
            app_version: shared(&m.app_version),
            auth_mode: shared(m.auth_mode.as_deref().unwrap_or_default()),
            account_id: shared(m.account_id.as_deref().unwrap_or_default()),
            terminal_type: shared(&m.terminal_type),
            model: shared(&m.model),
            slug: shared(&m.slug),
        }
    }

    /// Emits the sample event of `kind` as one SDK `LogRecord` with the same
    /// attributes agent-otel exports (`event.timestamp` aside: the record's
    /// timestamp carries it, which is the SDK's best case).
    #[inline]
    pub fn emit(&self, kind: EventKind) {
        let mut r = self.logger.create_log_record();
        let now = SystemTime::now();
        r.set_timestamp(now);
        r.set_observed_timestamp(now);
        r.set_severity_number(Severity::Info);
        r.set_severity_text("INFO");
        let name = match kind {
            EventKind::ApiRequest => "codex.api_request",
            EventKind::SseEvent => "codex.sse_event",
            EventKind::UserPrompt => "codex.user_prompt",
            EventKind::ToolDecision => "codex.tool_decision",
            EventKind::ToolResult => "codex.tool_result",
        };
        r.set_event_name(name);
        r.add_attribute(Key::from_static_str("event.name"), name);
        self.add_common(&mut r);
        match kind {
            EventKind::ApiRequest => {
                r.add_attribute(Key::from_static_str("attempt"), 1i64);
                r.add_attribute(Key::from_static_str("duration_ms"), 850i64);
                r.add_attribute(Key::from_static_str("http.response.status_code"), 200i64);
                r.add_attribute(Key::from_static_str("cf_ray"), owned(CF_RAY));
            }
            EventKind::SseEvent => {
                r.add_attribute(Key::from_static_str("event.kind"), owned(SSE_KIND));
                r.add_attribute(Key::from_static_str("duration_ms"), 12i64);
                r.add_attribute(Key::from_static_str("input_token_count"), 1834i64);
                r.add_attribute(Key::from_static_str("output_token_count"), 412i64);
                r.add_attribute(Key::from_static_str("cached_token_count"), 1024i64);
                r.add_attribute(Key::from_static_str("reasoning_token_count"), 128i64);
                r.add_attribute(Key::from_static_str("tool_token_count"), 0i64);
            }
            EventKind::UserPrompt => {
                r.add_attribute(
                    Key::from_static_str("prompt_length"),
                    PROMPT.chars().count() as i64,
                );
                r.add_attribute(Key::from_static_str("prompt"), "[REDACTED]");
            }
            EventKind::ToolDecision => {
                r.add_attribute(Key::from_static_str("tool_name"), owned(TOOL));
                r.add_attribute(Key::from_static_str("call_id"), owned(CALL_ID));
                r.add_attribute(Key::from_static_str("decision"), "approved");
                r.add_attribute(Key::from_static_str("source"), "user");
            }
            EventKind::ToolResult => {
                r.add_attribute(Key::from_static_str("tool_name"), owned(TOOL));
                r.add_attribute(Key::from_static_str("call_id"), owned(CALL_ID));
                r.add_attribute(Key::from_static_str("arguments"), owned(ARGUMENTS));
                r.add_attribute(Key::from_static_str("duration_ms"), 2300i64);
                r.add_attribute(Key::from_static_str("success"), "true");
                r.add_attribute(Key::from_static_str("output"), owned(output()));
            }
        }
        self.logger.emit(r);
    }
}

/// Emits the sample custom event: `codex.sandbox_outcome` with six typed
/// attributes (two strings, two integers, a bool and a double).
#[inline]
pub fn emit_custom(session: &Session) {
    session
        .event("codex.sandbox_outcome")
        .str("outcome", "allowed")
        .str("sandbox", "seatbelt")
        .int("initial_duration_ms", 12)
        .int("retries", 0)
        .bool("escalated", false)
        .double("cpu_ratio", 0.25)
        .emit();
}

impl SdkSession {
    /// The SDK doing the work of [`emit_custom`]: one `LogRecord` with the
    /// common attributes and the same six typed ones.
    #[inline]
    pub fn emit_custom(&self) {
        let mut r = self.logger.create_log_record();
        let now = SystemTime::now();
        r.set_timestamp(now);
        r.set_observed_timestamp(now);
        r.set_severity_number(Severity::Info);
        r.set_severity_text("INFO");
        let name = "codex.sandbox_outcome";
        r.set_event_name(name);
        r.add_attribute(Key::from_static_str("event.name"), name);
        self.add_common(&mut r);
        r.add_attribute(Key::from_static_str("outcome"), owned("allowed"));
        r.add_attribute(Key::from_static_str("sandbox"), owned("seatbelt"));
        r.add_attribute(Key::from_static_str("initial_duration_ms"), 12i64);
        r.add_attribute(Key::from_static_str("retries"), 0i64);
        r.add_attribute(Key::from_static_str("escalated"), false);
        r.add_attribute(Key::from_static_str("cpu_ratio"), 0.25f64);
        self.logger.emit(r);
    }
}

/// Emits the sample event of `kind` the way Codex does: a `tracing` event
/// whose fields are the attributes, bridged to the SDK by
/// `opentelemetry-appender-tracing` (install the bridge layer first).
#[inline]
pub fn emit_tracing(m: &SessionMetadata, kind: EventKind) {
    let ts = agent_otel_core::time::rfc3339_millis(SystemTime::now());
    let auth = m.auth_mode.as_deref().unwrap_or_default();
    let account = m.account_id.as_deref().unwrap_or_default();
    match kind {
        EventKind::ApiRequest => tracing::event!(
            tracing::Level::INFO,
            event.name = "codex.api_request",
            event.timestamp = %ts,
            conversation.id = %m.conversation_id,
            app.version = %m.app_version,
            auth_mode = auth,
            user.account_id = account,
            terminal.r#type = %m.terminal_type,
            model = %m.model,
            slug = %m.slug,
            attempt = 1i64,
            duration_ms = 850i64,
            http.response.status_code = 200i64,
            cf_ray = CF_RAY,
        ),
        EventKind::SseEvent => tracing::event!(
            tracing::Level::INFO,
            event.name = "codex.sse_event",
            event.timestamp = %ts,
            conversation.id = %m.conversation_id,
            app.version = %m.app_version,
            auth_mode = auth,
            user.account_id = account,
            terminal.r#type = %m.terminal_type,
            model = %m.model,
            slug = %m.slug,
            event.kind = SSE_KIND,
            duration_ms = 12i64,
            input_token_count = 1834i64,
            output_token_count = 412i64,
            cached_token_count = 1024i64,
            reasoning_token_count = 128i64,
            tool_token_count = 0i64,
        ),
        EventKind::UserPrompt => tracing::event!(
            tracing::Level::INFO,
            event.name = "codex.user_prompt",
            event.timestamp = %ts,
            conversation.id = %m.conversation_id,
            app.version = %m.app_version,
            auth_mode = auth,
            user.account_id = account,
            terminal.r#type = %m.terminal_type,
            model = %m.model,
            slug = %m.slug,
            prompt_length = PROMPT.chars().count() as i64,
            prompt = "[REDACTED]",
        ),
        EventKind::ToolDecision => tracing::event!(
            tracing::Level::INFO,
            event.name = "codex.tool_decision",
            event.timestamp = %ts,
            conversation.id = %m.conversation_id,
            app.version = %m.app_version,
            auth_mode = auth,
            user.account_id = account,
            terminal.r#type = %m.terminal_type,
            model = %m.model,
            slug = %m.slug,
            tool_name = TOOL,
            call_id = CALL_ID,
            decision = "approved",
            source = "user",
        ),
        EventKind::ToolResult => tracing::event!(
            tracing::Level::INFO,
            event.name = "codex.tool_result",
            event.timestamp = %ts,
            conversation.id = %m.conversation_id,
            app.version = %m.app_version,
            auth_mode = auth,
            user.account_id = account,
            terminal.r#type = %m.terminal_type,
            model = %m.model,
            slug = %m.slug,
            tool_name = TOOL,
            call_id = CALL_ID,
            arguments = ARGUMENTS,
            duration_ms = 2300i64,
            success = "true",
            output = output(),
        ),
    }
}

/// A `tracing` subscriber with the OpenTelemetry bridge layer over `provider`.
pub fn tracing_bridge(provider: &SdkLoggerProvider) -> impl tracing::Subscriber + Send + Sync {
    use tracing_subscriber::layer::SubscriberExt as _;
    tracing_subscriber::registry()
        .with(opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(provider))
}

/// A value of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`), if readable.
pub fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|l| {
        let rest = l.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Installs ring as rustls' process-wide crypto provider (the workspace builds
/// rustls without a default provider; the baseline's reqwest client needs one).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// `nproc` and the CPU model, for reports.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|r| r.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown".to_owned());
    format!("{cpus} CPUs, {model}")
}

/// Emits (or other work) per timed chunk in the hot-path benches: the
/// queues are flushed between chunks, outside the timed region, so they
/// never fill and the numbers are emits, not drops.
pub const CHUNK: u64 = 4096;

/// Runs `iters` units of `work` as timed chunks of [`CHUNK`] with an
/// untimed `flush` after each; returns the timed total.
pub fn chunked(iters: u64, mut work: impl FnMut(u64), mut flush: impl FnMut()) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(CHUNK);
        let start = std::time::Instant::now();
        work(n);
        total += start.elapsed();
        flush();
        left -= n;
    }
    total
}

/// Which signals a discarding pipeline exports besides logs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signals {
    /// Spans of turns.
    pub traces: bool,
    /// Metrics derived from the events.
    pub metrics: bool,
}

/// A pipeline exporting logs (and the `signals` asked for) to discarding
/// exporters: the host-thread cost of an emit, nothing of the network.
pub fn discarding(signals: Signals, options: PipelineOptions) -> Telemetry {
    let discard = |on: bool| {
        on.then(|| Box::new(agent_otel_exporter_noop::DiscardExporter::new()) as Box<dyn Exporter>)
    };
    let exporters = agent_otel_core::SignalExporters {
        logs: discard(true),
        traces: discard(signals.traces),
        metrics: discard(signals.metrics),
    };
    match Telemetry::with_exporters(TelemetryOptions::default(), exporters, options) {
        Ok(t) => t,
        Err(e) => panic!("pipeline does not start: {e}"),
    }
}

/// Waits (untimed, between chunks) until the pipeline has delivered
/// everything emitted so far.
pub fn flush(telemetry: &Telemetry) {
    if let Err(e) = telemetry.force_flush(Duration::from_secs(30)) {
        eprintln!("agent-otel flush failed: {e}");
    }
}
