//! Attribute names, defined once. Core encodes with them; the collector,
//! the CLI and the tests read decoded records with them, so a name is
//! spelled in one place only.
//!
//! Names follow DESIGN.md's catalog and, where one exists, the OpenTelemetry
//! semantic conventions (`http.response.status_code`, `error.message`,
//! `vcs.*`, `service.*`).

/// `event.name`: the event's full name (`codex.tool_result`, or a custom name).
pub const EVENT_NAME: &str = "event.name";
/// `event.timestamp`: RFC 3339 with milliseconds.
pub const EVENT_TIMESTAMP: &str = "event.timestamp";
/// `conversation.id`: the session's conversation.
pub const CONVERSATION_ID: &str = "conversation.id";
/// `app.version`: the host CLI's version.
pub const APP_VERSION: &str = "app.version";
/// `auth_mode`, when known.
pub const AUTH_MODE: &str = "auth_mode";
/// `user.account_id`, when known.
pub const USER_ACCOUNT_ID: &str = "user.account_id";
/// `terminal.type`.
pub const TERMINAL_TYPE: &str = "terminal.type";
/// `model`.
pub const MODEL: &str = "model";
/// `slug`: the model family / provider slug.
pub const SLUG: &str = "slug";

/// The common attributes every event carries (when known); a custom or
/// session attribute with one of these keys is dropped and counted.
pub const COMMON_ATTRIBUTES: [&str; 9] = [
    EVENT_NAME,
    EVENT_TIMESTAMP,
    CONVERSATION_ID,
    APP_VERSION,
    AUTH_MODE,
    USER_ACCOUNT_ID,
    TERMINAL_TYPE,
    MODEL,
    SLUG,
];

/// `vcs.repository.url.full`: the repository's remote URL, credentials stripped.
pub const VCS_REPOSITORY_URL_FULL: &str = "vcs.repository.url.full";
/// `vcs.ref.head.name`: the checked-out branch (absent on a detached HEAD).
pub const VCS_REF_HEAD_NAME: &str = "vcs.ref.head.name";
/// `vcs.ref.head.revision`: the checked-out commit id.
pub const VCS_REF_HEAD_REVISION: &str = "vcs.ref.head.revision";

/// `attempt` (api_request).
pub const ATTEMPT: &str = "attempt";
/// `duration_ms` (api_request, sse_event, tool_result).
pub const DURATION_MS: &str = "duration_ms";
/// `http.response.status_code` (api_request).
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `cf_ray` (api_request).
pub const CF_RAY: &str = "cf_ray";
/// `error.message` (api_request, sse_event).
pub const ERROR_MESSAGE: &str = "error.message";
/// `event.kind` (sse_event).
pub const EVENT_KIND: &str = "event.kind";
/// `input_token_count` (sse_event completion).
pub const INPUT_TOKEN_COUNT: &str = "input_token_count";
/// `output_token_count` (sse_event completion).
pub const OUTPUT_TOKEN_COUNT: &str = "output_token_count";
/// `cached_token_count` (sse_event completion, optional).
pub const CACHED_TOKEN_COUNT: &str = "cached_token_count";
/// `reasoning_token_count` (sse_event completion, optional).
pub const REASONING_TOKEN_COUNT: &str = "reasoning_token_count";
/// `tool_token_count` (sse_event completion).
pub const TOOL_TOKEN_COUNT: &str = "tool_token_count";
/// `prompt_length` (user_prompt), in characters.
pub const PROMPT_LENGTH: &str = "prompt_length";
/// `prompt` (user_prompt), redacted unless `log_user_prompt`.
pub const PROMPT: &str = "prompt";
/// `tool_name` (tool_decision, tool_result).
pub const TOOL_NAME: &str = "tool_name";
/// `call_id` (tool_decision, tool_result).
pub const CALL_ID: &str = "call_id";
/// `decision` (tool_decision).
pub const DECISION: &str = "decision";
/// `source` (tool_decision).
pub const SOURCE: &str = "source";
/// `arguments` (tool_result), redacted unless `log_tool_content`.
pub const ARGUMENTS: &str = "arguments";
/// `success` (tool_result), the string `"true"` / `"false"`.
pub const SUCCESS: &str = "success";
/// `output` (tool_result), redacted unless `log_tool_content`.
pub const OUTPUT: &str = "output";

/// Resource `service.name`.
pub const SERVICE_NAME: &str = "service.name";
/// Resource `service.version`.
pub const SERVICE_VERSION: &str = "service.version";
/// Resource `env` (the `environment` key).
pub const ENV: &str = "env";

/// `error.type` (span status detail, GenAI conventions).
pub const ERROR_TYPE: &str = "error.type";
/// `gen_ai.operation.name`: `invoke_agent`, `chat`, `execute_tool`.
pub const GEN_AI_OPERATION_NAME: &str = "gen_ai.operation.name";
/// `gen_ai.agent.name`.
pub const GEN_AI_AGENT_NAME: &str = "gen_ai.agent.name";
/// `gen_ai.conversation.id`.
pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
/// `gen_ai.request.model`.
pub const GEN_AI_REQUEST_MODEL: &str = "gen_ai.request.model";
/// `gen_ai.provider.name`.
pub const GEN_AI_PROVIDER_NAME: &str = "gen_ai.provider.name";
/// `gen_ai.usage.input_tokens`.
pub const GEN_AI_USAGE_INPUT_TOKENS: &str = "gen_ai.usage.input_tokens";
/// `gen_ai.usage.output_tokens`.
pub const GEN_AI_USAGE_OUTPUT_TOKENS: &str = "gen_ai.usage.output_tokens";
/// `gen_ai.tool.name`.
pub const GEN_AI_TOOL_NAME: &str = "gen_ai.tool.name";
/// `gen_ai.tool.call.id`.
pub const GEN_AI_TOOL_CALL_ID: &str = "gen_ai.tool.call.id";

// Metric attributes (DESIGN.md "Metrics").

/// `type` of `<prefix>.token.usage`: input, output, cached, reasoning, tool.
pub const TOKEN_TYPE: &str = "type";
/// `gen_ai.token.type` of `gen_ai.client.token.usage`: input or output.
pub const GEN_AI_TOKEN_TYPE: &str = "gen_ai.token.type";
/// `otel.metric.overflow`: marks the series that holds measurements past
/// an instrument's cardinality limit.
pub const OTEL_METRIC_OVERFLOW: &str = "otel.metric.overflow";
