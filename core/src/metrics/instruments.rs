//! The instruments of DESIGN.md's metrics table: name, kind, unit,
//! description and bucket boundaries, defined once.

/// What an instrument aggregates.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InstrumentKind {
    /// A monotonic sum of integer increments.
    Counter,
    /// An explicit-bucket histogram with sum, count, min and max.
    Histogram(&'static [f64]),
}

/// One instrument of the catalog.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Instrument {
    /// The name after the event prefix (`api_request`), or the full name
    /// when [`Instrument::prefixed`] is false (`gen_ai.client.token.usage`).
    pub name: &'static str,
    /// True when the name is `<prefix>.<name>`.
    pub prefixed: bool,
    /// Counter or histogram (with its bucket boundaries).
    pub kind: InstrumentKind,
    /// UCUM unit (`ms`, `s`, `{token}`).
    pub unit: &'static str,
    /// What it measures.
    pub description: &'static str,
}

impl Instrument {
    /// The exported name under `prefix`.
    pub fn full_name(&self, prefix: &str) -> String {
        if self.prefixed {
            format!("{prefix}.{}", self.name)
        } else {
            self.name.to_owned()
        }
    }
}

/// Millisecond histograms: long-tailed, to 30 minutes (a turn or a tool
/// may run for minutes; a 10 s ceiling would put them all in overflow).
pub const MILLISECOND_BOUNDS: [f64; 20] = [
    1.0,
    2.0,
    5.0,
    10.0,
    25.0,
    50.0,
    100.0,
    250.0,
    500.0,
    1_000.0,
    2_500.0,
    5_000.0,
    10_000.0,
    30_000.0,
    60_000.0,
    120_000.0,
    300_000.0,
    600_000.0,
    1_200_000.0,
    1_800_000.0,
];

/// `gen_ai.client.token.usage`: the GenAI semantic conventions' advice,
/// powers of 4 from 1 to 67108864.
pub const TOKEN_BOUNDS: [f64; 14] = [
    1.0,
    4.0,
    16.0,
    64.0,
    256.0,
    1_024.0,
    4_096.0,
    16_384.0,
    65_536.0,
    262_144.0,
    1_048_576.0,
    4_194_304.0,
    16_777_216.0,
    67_108_864.0,
];

/// `gen_ai.client.operation.duration`: the GenAI semantic conventions'
/// advice, 0.01 s doubling to 81.92 s.
pub const SECOND_BOUNDS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

const fn counter(name: &'static str, unit: &'static str, description: &'static str) -> Instrument {
    Instrument {
        name,
        prefixed: true,
        kind: InstrumentKind::Counter,
        unit,
        description,
    }
}

/// `P.api_request`: model API requests by status and success.
pub const API_REQUEST: Instrument = counter(
    "api_request",
    "{request}",
    "Model API requests (every attempt).",
);
/// `P.api_request.duration_ms`.
pub const API_REQUEST_DURATION: Instrument = Instrument {
    name: "api_request.duration_ms",
    prefixed: true,
    kind: InstrumentKind::Histogram(&MILLISECOND_BOUNDS),
    unit: "ms",
    description: "Duration of model API requests.",
};
/// `P.sse_event`.
pub const SSE_EVENT: Instrument = counter(
    "sse_event",
    "{event}",
    "Server-sent events of response streams.",
);
/// `P.token.usage`, by `type`.
pub const TOKEN_USAGE: Instrument = counter(
    "token.usage",
    "{token}",
    "Tokens used, by type (input, output, cached, reasoning, tool).",
);
/// `P.tool.call`.
pub const TOOL_CALL: Instrument =
    counter("tool.call", "{call}", "Tool calls, by tool and success.");
/// `P.tool.call.duration_ms`.
pub const TOOL_CALL_DURATION: Instrument = Instrument {
    name: "tool.call.duration_ms",
    prefixed: true,
    kind: InstrumentKind::Histogram(&MILLISECOND_BOUNDS),
    unit: "ms",
    description: "Duration of tool calls.",
};
/// `P.tool.decision`.
pub const TOOL_DECISION: Instrument = counter(
    "tool.decision",
    "{decision}",
    "Tool-approval decisions, by tool, decision and source.",
);
/// `P.user_prompt`.
pub const USER_PROMPT: Instrument = counter("user_prompt", "{prompt}", "User prompts.");
/// `P.session.count`.
pub const SESSION_COUNT: Instrument = counter("session.count", "{session}", "Sessions started.");
/// `gen_ai.client.token.usage` (GenAI semantic conventions).
pub const GEN_AI_TOKEN_USAGE: Instrument = Instrument {
    name: "gen_ai.client.token.usage",
    prefixed: false,
    kind: InstrumentKind::Histogram(&TOKEN_BOUNDS),
    unit: "{token}",
    description: "Number of input and output tokens used.",
};
/// `gen_ai.client.operation.duration` (GenAI semantic conventions).
pub const GEN_AI_OPERATION_DURATION: Instrument = Instrument {
    name: "gen_ai.client.operation.duration",
    prefixed: false,
    kind: InstrumentKind::Histogram(&SECOND_BOUNDS),
    unit: "s",
    description: "GenAI operation duration.",
};

/// Every instrument, in export order; an instrument's index here is its id.
pub const ALL: [Instrument; 11] = [
    API_REQUEST,
    API_REQUEST_DURATION,
    SSE_EVENT,
    TOKEN_USAGE,
    TOOL_CALL,
    TOOL_CALL_DURATION,
    TOOL_DECISION,
    USER_PROMPT,
    SESSION_COUNT,
    GEN_AI_TOKEN_USAGE,
    GEN_AI_OPERATION_DURATION,
];

/// An instrument's position in [`ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InstrumentId {
    ApiRequest,
    ApiRequestDuration,
    SseEvent,
    TokenUsage,
    ToolCall,
    ToolCallDuration,
    ToolDecision,
    UserPrompt,
    SessionCount,
    GenAiTokenUsage,
    GenAiOperationDuration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_index_their_instruments_and_bounds_increase() {
        assert_eq!(ALL[InstrumentId::ApiRequest as usize].name, "api_request");
        assert_eq!(
            ALL[InstrumentId::GenAiOperationDuration as usize].name,
            "gen_ai.client.operation.duration"
        );
        assert_eq!(
            ALL[InstrumentId::SessionCount as usize].name,
            "session.count"
        );
        for instrument in ALL {
            if let InstrumentKind::Histogram(bounds) = instrument.kind {
                assert!(
                    bounds.windows(2).all(|w| w[0] < w[1]),
                    "{}",
                    instrument.name
                );
            }
        }
        assert_eq!(MILLISECOND_BOUNDS.last(), Some(&1_800_000.0));
        assert_eq!(TOKEN_BOUNDS.last(), Some(&67_108_864.0));
        assert_eq!(SECOND_BOUNDS.last(), Some(&81.92));
    }
}
