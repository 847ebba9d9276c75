//! The simulated agent session `agent-otel demo` sends: a few turns with a
//! failed API attempt and its retry, a streamed response with token counts,
//! tool decisions of every kind and tool results that succeed and fail.

use std::time::{Duration, SystemTime};

use agent_otel_core::{
    ApiRequest, DecisionSource, EventData, Session, SessionMetadata, SseEvent, TokenCounts,
    ToolDecision, ToolDecisionEvent, ToolResult,
};

/// Metadata of the simulated session.
pub fn metadata() -> SessionMetadata {
    SessionMetadata {
        conversation_id: "demo-7f3c9a".to_owned(),
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        auth_mode: Some("ApiKey".to_owned()),
        account_id: None,
        terminal_type: "demo-terminal".to_owned(),
        model: "gpt-5-codex".to_owned(),
        slug: "openai".to_owned(),
        vcs: None,
        attributes: Vec::new(),
    }
}

struct Turn {
    prompt: &'static str,
    api_ms: [u64; 2],
    failed_first: Option<u16>,
    deltas: usize,
    tokens: TokenCounts,
    tool: &'static str,
    arguments: &'static str,
    decision: ToolDecision,
    source: DecisionSource,
    success: bool,
    output: &'static str,
}

const TURNS: [Turn; 3] = [
    Turn {
        prompt: "Why does `cargo test` fail on main?",
        api_ms: [412, 688],
        failed_first: Some(503),
        deltas: 4,
        tokens: TokenCounts {
            input: 1840,
            output: 312,
            cached: Some(1024),
            reasoning: Some(128),
            tool: 0,
        },
        tool: "shell",
        arguments: r#"{"command":["cargo","test"]}"#,
        decision: ToolDecision::Approved,
        source: DecisionSource::User,
        success: false,
        output: "test parse::tests::empty ... FAILED",
    },
    Turn {
        prompt: "Fix the empty-input case.",
        api_ms: [520, 0],
        failed_first: None,
        deltas: 6,
        tokens: TokenCounts {
            input: 2410,
            output: 655,
            cached: Some(1792),
            reasoning: Some(256),
            tool: 40,
        },
        tool: "apply_patch",
        arguments: r#"{"path":"src/parse.rs"}"#,
        decision: ToolDecision::ApprovedForSession,
        source: DecisionSource::User,
        success: true,
        output: "patched src/parse.rs",
    },
    Turn {
        prompt: "Now push it.",
        api_ms: [233, 0],
        failed_first: None,
        deltas: 2,
        tokens: TokenCounts {
            input: 2600,
            output: 120,
            cached: Some(2304),
            reasoning: None,
            tool: 12,
        },
        tool: "shell",
        arguments: r#"{"command":["git","push","--force"]}"#,
        decision: ToolDecision::Denied,
        source: DecisionSource::Config,
        success: false,
        output: "denied by policy",
    },
];

/// Emits the whole simulated session; returns how many events it emitted.
pub fn run(session: &Session) -> u64 {
    let mut clock = SystemTime::now() - Duration::from_secs(90);
    let mut emitted = 0u64;
    let mut emit = |clock: &mut SystemTime, step_ms: u64, data: EventData<'_>| {
        *clock += Duration::from_millis(step_ms);
        session.emit_at(*clock, data);
        emitted += 1;
    };
    for (index, turn) in TURNS.iter().enumerate() {
        let call_id = format!("call_{}", index + 1);
        emit(&mut clock, 1500, EventData::UserPrompt(turn.prompt));
        let mut attempt = 1;
        if let Some(status) = turn.failed_first {
            emit(
                &mut clock,
                turn.api_ms[0],
                EventData::ApiRequest(ApiRequest {
                    attempt,
                    duration: Duration::from_millis(turn.api_ms[0]),
                    status_code: Some(status),
                    cf_ray: Some("8f1d2c3b4a5e6f70-SJC"),
                    error: Some("503 Service Unavailable: upstream overloaded"),
                }),
            );
            attempt += 1;
        }
        let ok_ms = if turn.failed_first.is_some() {
            turn.api_ms[1]
        } else {
            turn.api_ms[0]
        };
        emit(
            &mut clock,
            ok_ms,
            EventData::ApiRequest(ApiRequest {
                attempt,
                duration: Duration::from_millis(ok_ms),
                status_code: Some(200),
                cf_ray: Some("8f1d2c3b4a5e6f71-SJC"),
                error: None,
            }),
        );
        emit(
            &mut clock,
            40,
            EventData::SseEvent(SseEvent {
                kind: "response.created",
                duration: Duration::from_millis(40),
                error: None,
                tokens: None,
            }),
        );
        for _ in 0..turn.deltas {
            emit(
                &mut clock,
                25,
                EventData::SseEvent(SseEvent {
                    kind: "response.output_text.delta",
                    duration: Duration::from_millis(25),
                    error: None,
                    tokens: None,
                }),
            );
        }
        emit(
            &mut clock,
            30,
            EventData::SseEvent(SseEvent {
                kind: "response.completed",
                duration: Duration::from_millis(30),
                error: None,
                tokens: Some(turn.tokens),
            }),
        );
        emit(
            &mut clock,
            800,
            EventData::ToolDecision(ToolDecisionEvent {
                tool_name: turn.tool,
                call_id: &call_id,
                decision: turn.decision,
                source: turn.source,
            }),
        );
        let tool_ms = if turn.decision == ToolDecision::Denied {
            1
        } else {
            2300
        };
        emit(
            &mut clock,
            tool_ms,
            EventData::ToolResult(ToolResult {
                tool_name: turn.tool,
                call_id: &call_id,
                arguments: turn.arguments,
                duration: Duration::from_millis(tool_ms),
                success: turn.success,
                output: turn.output,
            }),
        );
    }
    emitted
}
