//! The JSON-lines input of `agent-otel emit`: one object per line, either a
//! `session` line setting the metadata of the lines after it, an event line
//! with the catalog's attribute names as keys, or a custom `event` line with
//! a name and typed attributes.

use std::time::{Duration, SystemTime};

use std::path::Path;

use agent_otel_core::attribute::MAX_VALUE_DEPTH;
use agent_otel_core::{
    ApiRequest, AttributeValue, DecisionSource, EventData, Sensitivity, Session, SessionMetadata,
    SseEvent, TokenCounts, ToolDecision, ToolDecisionEvent, ToolResult, Turn, VcsInfo,
};
use serde::Deserialize;
use serde_json::{Map, Value};

/// One parsed input line.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum InputLine {
    /// Sets the session metadata for the lines after it.
    Session {
        /// `conversation.id`.
        #[serde(default)]
        conversation_id: String,
        /// `model`.
        #[serde(default)]
        model: String,
        /// `slug`.
        #[serde(default)]
        slug: String,
        /// `app.version`.
        #[serde(default)]
        app_version: String,
        /// `terminal.type`.
        #[serde(default)]
        terminal_type: String,
        /// `auth_mode`.
        #[serde(default)]
        auth_mode: Option<String>,
        /// `user.account_id`.
        #[serde(default)]
        account_id: Option<String>,
        /// Extra attributes on every event of the session.
        #[serde(default)]
        attributes: Map<String, Value>,
        /// A directory whose git repository gives the `vcs.*` attributes.
        #[serde(default)]
        vcs_dir: Option<String>,
    },
    /// Starts a turn: the events up to `turn_end` belong to it (their log
    /// records carry its trace; with a trace exporter, it becomes a span
    /// tree). A turn still open at a `session` line or the end of input
    /// ends there.
    TurnStart {},
    /// Ends the turn `turn_start` began.
    TurnEnd {},
    /// A custom event: its name as given, and typed attributes.
    Event {
        /// The event name, e.g. `codex.sandbox_outcome`.
        name: String,
        /// Attributes: strings, numbers, booleans, arrays and objects.
        #[serde(default)]
        attributes: Map<String, Value>,
        /// Attribute keys marked sensitive: `"prompt"` or `"tool"`. A key
        /// absent from `attributes` is ignored.
        #[serde(default)]
        sensitive: Map<String, Value>,
        /// RFC 3339 time to backfill.
        #[serde(default)]
        timestamp: Option<String>,
    },
    /// `api_request`.
    ApiRequest {
        /// `attempt`.
        attempt: u32,
        /// `duration_ms`.
        duration_ms: u64,
        /// `http.response.status_code`.
        #[serde(rename = "http.response.status_code", default)]
        status_code: Option<u16>,
        /// `cf_ray`.
        #[serde(default)]
        cf_ray: Option<String>,
        /// `error.message`.
        #[serde(rename = "error.message", default)]
        error: Option<String>,
        /// RFC 3339 time to backfill.
        #[serde(default)]
        timestamp: Option<String>,
    },
    /// `sse_event`.
    SseEvent {
        /// `event.kind`.
        #[serde(rename = "event.kind")]
        kind: String,
        /// `duration_ms`.
        duration_ms: u64,
        /// `error.message`.
        #[serde(rename = "error.message", default)]
        error: Option<String>,
        /// `input_token_count`.
        #[serde(default)]
        input_token_count: Option<u64>,
        /// `output_token_count`.
        #[serde(default)]
        output_token_count: Option<u64>,
        /// `cached_token_count`.
        #[serde(default)]
        cached_token_count: Option<u64>,
        /// `reasoning_token_count`.
        #[serde(default)]
        reasoning_token_count: Option<u64>,
        /// `tool_token_count`.
        #[serde(default)]
        tool_token_count: Option<u64>,
        /// RFC 3339 time to backfill.
        #[serde(default)]
        timestamp: Option<String>,
    },
    /// `user_prompt`.
    UserPrompt {
        /// The prompt text (exported only with `log_user_prompt`).
        prompt: String,
        /// RFC 3339 time to backfill.
        #[serde(default)]
        timestamp: Option<String>,
    },
    /// `tool_decision`.
    ToolDecision {
        /// `tool_name`.
        tool_name: String,
        /// `call_id`.
        call_id: String,
        /// `approved`, `approved_for_session`, `denied` or `abort`.
        decision: String,
        /// `config` or `user`.
        source: String,
        /// RFC 3339 time to backfill.
        #[serde(default)]
        timestamp: Option<String>,
    },
    /// `tool_result`.
    ToolResult {
        /// `tool_name`.
        tool_name: String,
        /// `call_id`.
        call_id: String,
        /// `arguments`: a string, or any JSON value (sent as its JSON text).
        #[serde(default)]
        arguments: serde_json::Value,
        /// `duration_ms`.
        duration_ms: u64,
        /// `success`.
        success: bool,
        /// `output`.
        #[serde(default)]
        output: String,
        /// RFC 3339 time to backfill.
        #[serde(default)]
        timestamp: Option<String>,
    },
}

/// Why a line was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not a JSON object of a known shape.
    #[error("{0}")]
    Json(String),
    /// A field has a value outside its choices.
    #[error("`{field}` is {value:?}; expected one of {choices}")]
    Choice {
        /// The field.
        field: &'static str,
        /// What the line said.
        value: String,
        /// The valid values.
        choices: &'static str,
    },
    /// An attribute value has no OTLP form.
    #[error("attribute `{key}`: {reason}")]
    Attribute {
        /// The attribute key (a path for nested values).
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// `vcs_dir` is not a directory.
    #[error("`vcs_dir` {0:?} is not a directory")]
    VcsDir(String),
    /// `timestamp` is not RFC 3339.
    #[error("`timestamp` {0:?} is not an RFC 3339 time (e.g. 2026-11-24T23:06:54.123Z)")]
    Timestamp(String),
    /// `timestamp` is RFC 3339 but outside what OTLP can carry.
    #[error(
        "`timestamp` {0:?} is outside the range OTLP can carry ({EARLIEST_TIME} to {LATEST_TIME}: nanoseconds since 1970 in 64 bits)"
    )]
    TimestampOutOfRange(String),
}

/// The earliest time OTLP can carry (`time_unix_nano` 0).
pub const EARLIEST_TIME: &str = "1970-01-01T00:00:00Z";
/// The latest time OTLP can carry (`time_unix_nano` = `u64::MAX`).
pub const LATEST_TIME: &str = "2554-07-21T23:34:33.709551615Z";

/// Parses one line (without its newline).
pub fn parse(line: &str) -> Result<InputLine, LineError> {
    let parsed: InputLine =
        serde_json::from_str(line).map_err(|e| LineError::Json(json_message(&e)))?;
    validate(&parsed)?;
    Ok(parsed)
}

/// serde_json's message without its "at line 1 column N" tail (the caller
/// reports the input line number).
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

fn validate(line: &InputLine) -> Result<(), LineError> {
    match line {
        InputLine::Session {
            attributes,
            vcs_dir,
            ..
        } => {
            attribute_list(attributes)?;
            if let Some(dir) = vcs_dir
                && !Path::new(dir).is_dir()
            {
                return Err(LineError::VcsDir(dir.clone()));
            }
        }
        InputLine::Event {
            attributes,
            sensitive,
            ..
        } => {
            attribute_list(attributes)?;
            for (key, class) in sensitive {
                if class.as_str().and_then(Sensitivity::parse).is_none() {
                    return Err(LineError::Choice {
                        field: "sensitive",
                        value: format!("{key}: {class}"),
                        choices: "\"prompt\", \"tool\"",
                    });
                }
            }
        }
        _ => {}
    }
    if let InputLine::ToolDecision {
        decision, source, ..
    } = line
    {
        if ToolDecision::parse(decision).is_none() {
            return Err(LineError::Choice {
                field: "decision",
                value: decision.clone(),
                choices: "\"approved\", \"approved_for_session\", \"denied\", \"abort\"",
            });
        }
        if DecisionSource::parse(source).is_none() {
            return Err(LineError::Choice {
                field: "source",
                value: source.clone(),
                choices: "\"config\", \"user\"",
            });
        }
    }
    if let Some(text) = line.timestamp() {
        parse_time(text)?;
    }
    Ok(())
}

fn parse_time(text: &str) -> Result<SystemTime, LineError> {
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|_| LineError::Timestamp(text.to_owned()))?;
    let nanos = parsed.unix_timestamp_nanos();
    let since_epoch =
        u64::try_from(nanos).map_err(|_| LineError::TimestampOutOfRange(text.to_owned()))?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_nanos(since_epoch))
}

/// The typed attributes of a JSON object, in order.
fn attribute_list(object: &Map<String, Value>) -> Result<Vec<(String, AttributeValue)>, LineError> {
    object
        .iter()
        .map(|(key, value)| Ok((key.clone(), attribute_value(key, value, 0)?)))
        .collect()
}

/// A JSON value as an attribute value: null, integers beyond i64 and
/// nesting deeper than [`MAX_VALUE_DEPTH`] have no OTLP form.
fn attribute_value(path: &str, value: &Value, depth: usize) -> Result<AttributeValue, LineError> {
    let bad = |reason: &str| LineError::Attribute {
        key: path.to_owned(),
        reason: reason.to_owned(),
    };
    if depth > MAX_VALUE_DEPTH {
        return Err(bad(&format!("nested deeper than {MAX_VALUE_DEPTH} levels")));
    }
    Ok(match value {
        Value::Null => return Err(bad("null has no attribute value; leave the key out")),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => AttributeValue::Int(i),
            (None, Some(_)) if n.is_u64() => {
                return Err(bad("integer larger than 9223372036854775807"));
            }
            (None, Some(d)) => AttributeValue::Double(d),
            (None, None) => return Err(bad("number out of range")),
        },
        Value::String(s) => AttributeValue::String(s.clone()),
        Value::Array(items) => AttributeValue::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| attribute_value(&format!("{path}[{i}]"), item, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(entries) => AttributeValue::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    Ok((
                        k.clone(),
                        attribute_value(&format!("{path}.{k}"), v, depth + 1)?,
                    ))
                })
                .collect::<Result<_, LineError>>()?,
        ),
    })
}

impl InputLine {
    fn timestamp(&self) -> Option<&str> {
        match self {
            InputLine::Session { .. } | InputLine::TurnStart {} | InputLine::TurnEnd {} => None,
            InputLine::Event { timestamp, .. } => timestamp.as_deref(),
            InputLine::ApiRequest { timestamp, .. }
            | InputLine::SseEvent { timestamp, .. }
            | InputLine::UserPrompt { timestamp, .. }
            | InputLine::ToolDecision { timestamp, .. }
            | InputLine::ToolResult { timestamp, .. } => timestamp.as_deref(),
        }
    }

    /// The session metadata, for a `session` line.
    pub fn session(&self) -> Option<SessionMetadata> {
        match self {
            InputLine::Session {
                conversation_id,
                model,
                slug,
                app_version,
                terminal_type,
                auth_mode,
                account_id,
                attributes,
                vcs_dir,
            } => Some(SessionMetadata {
                conversation_id: conversation_id.clone(),
                app_version: app_version.clone(),
                auth_mode: auth_mode.clone(),
                account_id: account_id.clone(),
                terminal_type: terminal_type.clone(),
                model: model.clone(),
                slug: slug.clone(),
                vcs: vcs_dir
                    .as_deref()
                    .and_then(|dir| VcsInfo::detect(Path::new(dir))),
                // Validated by `parse`.
                attributes: attribute_list(attributes).unwrap_or_default(),
            }),
            _ => None,
        }
    }

    /// The backfill time, if the line has one (validated by [`parse`]).
    pub fn time(&self) -> Option<SystemTime> {
        self.timestamp().and_then(|t| parse_time(t).ok())
    }

    /// Emits the event of an event line on `session` (in `turn` when one is
    /// open) at `time`; false for a line that is not an event.
    pub fn emit_to(&self, session: &Session, turn: Option<&Turn>, time: SystemTime) -> bool {
        if let InputLine::Event {
            name,
            attributes,
            sensitive,
            ..
        } = self
        {
            let mut event = match turn {
                Some(turn) => turn.event(name),
                None => session.event(name),
            }
            .at(time);
            // Validated by `parse`.
            for (key, value) in attribute_list(attributes).unwrap_or_default() {
                event = match sensitive
                    .get(&key)
                    .and_then(Value::as_str)
                    .and_then(Sensitivity::parse)
                {
                    Some(class) => event.sensitive_value(&key, value, class),
                    None => event.value(&key, value),
                };
            }
            event.emit();
            return true;
        }
        self.with_event(|event| match turn {
            Some(turn) => turn.emit_at(time, event),
            None => session.emit_at(time, event),
        })
        .is_some()
    }

    /// Calls `f` with the event of a catalog event line (not for `session`
    /// or custom `event` lines).
    pub fn with_event<R>(&self, f: impl FnOnce(EventData<'_>) -> R) -> Option<R> {
        let arguments_text;
        let data = match self {
            InputLine::Session { .. }
            | InputLine::Event { .. }
            | InputLine::TurnStart {}
            | InputLine::TurnEnd {} => return None,
            InputLine::ApiRequest {
                attempt,
                duration_ms,
                status_code,
                cf_ray,
                error,
                ..
            } => EventData::ApiRequest(ApiRequest {
                attempt: *attempt,
                duration: Duration::from_millis(*duration_ms),
                status_code: *status_code,
                cf_ray: cf_ray.as_deref(),
                error: error.as_deref(),
            }),
            InputLine::SseEvent {
                kind,
                duration_ms,
                error,
                input_token_count,
                output_token_count,
                cached_token_count,
                reasoning_token_count,
                tool_token_count,
                ..
            } => {
                let completed = input_token_count.is_some() || output_token_count.is_some();
                EventData::SseEvent(SseEvent {
                    kind,
                    duration: Duration::from_millis(*duration_ms),
                    error: error.as_deref(),
                    tokens: completed.then(|| TokenCounts {
                        input: input_token_count.unwrap_or(0),
                        output: output_token_count.unwrap_or(0),
                        cached: *cached_token_count,
                        reasoning: *reasoning_token_count,
                        tool: tool_token_count.unwrap_or(0),
                    }),
                })
            }
            InputLine::UserPrompt { prompt, .. } => EventData::UserPrompt(prompt),
            InputLine::ToolDecision {
                tool_name,
                call_id,
                decision,
                source,
                ..
            } => EventData::ToolDecision(ToolDecisionEvent {
                tool_name,
                call_id,
                decision: ToolDecision::parse(decision)?,
                source: DecisionSource::parse(source)?,
            }),
            InputLine::ToolResult {
                tool_name,
                call_id,
                arguments,
                duration_ms,
                success,
                output,
                ..
            } => {
                arguments_text = match arguments {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Null => String::new(),
                    other => other.to_string(),
                };
                EventData::ToolResult(ToolResult {
                    tool_name,
                    call_id,
                    arguments: &arguments_text,
                    duration: Duration::from_millis(*duration_ms),
                    success: *success,
                    output,
                })
            }
        };
        Some(f(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_type_parses() {
        let lines = [
            r#"{"type":"session","conversation_id":"c","model":"m","slug":"s","app_version":"1","terminal_type":"t","auth_mode":"a","account_id":"x"}"#,
            r#"{"type":"api_request","attempt":1,"duration_ms":5,"http.response.status_code":200,"cf_ray":"r","error.message":"e","timestamp":"2026-11-24T23:06:54.123+01:00"}"#,
            r#"{"type":"sse_event","event.kind":"response.completed","duration_ms":3,"input_token_count":1,"output_token_count":2,"cached_token_count":3,"reasoning_token_count":4,"tool_token_count":5}"#,
            r#"{"type":"user_prompt","prompt":"hi"}"#,
            r#"{"type":"tool_decision","tool_name":"shell","call_id":"c1","decision":"abort","source":"config"}"#,
            r#"{"type":"tool_result","tool_name":"shell","call_id":"c1","arguments":{"cmd":"ls"},"duration_ms":9,"success":true,"output":"ok"}"#,
        ];
        let parsed: Vec<InputLine> = lines
            .iter()
            .map(|line| parse(line).unwrap_or_else(|e| panic!("{line}: {e}")))
            .collect();
        let session = parsed[0].session().expect("a session line");
        assert_eq!(
            (
                session.conversation_id.as_str(),
                session.account_id.as_deref()
            ),
            ("c", Some("x"))
        );
        let kinds: Vec<&str> = parsed[1..]
            .iter()
            .map(|line| {
                line.with_event(|event| match event {
                    EventData::ApiRequest(e) => {
                        assert_eq!((e.status_code, e.cf_ray), (Some(200), Some("r")));
                        "api_request"
                    }
                    EventData::SseEvent(e) => {
                        let tokens = e.tokens.expect("completion tokens");
                        assert_eq!((tokens.input, tokens.cached, tokens.tool), (1, Some(3), 5));
                        "sse_event"
                    }
                    EventData::UserPrompt(prompt) => {
                        assert_eq!(prompt, "hi");
                        "user_prompt"
                    }
                    EventData::ToolDecision(e) => {
                        assert_eq!(e.decision, ToolDecision::Abort);
                        "tool_decision"
                    }
                    EventData::ToolResult(e) => {
                        assert_eq!((e.arguments, e.success), (r#"{"cmd":"ls"}"#, true));
                        "tool_result"
                    }
                })
                .expect("an event line")
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "api_request",
                "sse_event",
                "user_prompt",
                "tool_decision",
                "tool_result"
            ]
        );
        let with_time = parse(lines[1]).expect("parses");
        let expected = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_558_014_123);
        assert_eq!(with_time.time(), Some(expected));
    }

    #[test]
    fn every_time_otlp_can_carry_is_accepted_and_the_range_is_named() {
        let line = |t: &str| format!(r#"{{"type":"user_prompt","prompt":"x","timestamp":"{t}"}}"#);
        let accepted = [
            (EARLIEST_TIME, 0),
            (LATEST_TIME, u64::MAX),
            ("2016-12-31T23:59:60Z", 1_483_228_799_999_999_999),
            ("2026-11-24t10:00:00.5z", 1_795_514_400_500_000_000),
            ("2026-11-24 10:00:00-00:00", 1_795_514_400_000_000_000),
        ];
        for (time, nanos) in accepted {
            let parsed = parse(&line(time)).unwrap_or_else(|e| panic!("{time}: {e}"));
            assert_eq!(
                parsed.time(),
                Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)),
                "{time}"
            );
        }
        for time in [
            "1969-12-31T23:59:59.999999999Z",
            "2554-07-21T23:34:33.709551616Z",
            "9999-12-31T23:59:59Z",
        ] {
            let error = parse(&line(time)).expect_err(time).to_string();
            assert!(
                error.contains("outside the range OTLP can carry"),
                "{error}"
            );
            assert!(
                error.contains(EARLIEST_TIME) && error.contains(LATEST_TIME),
                "{error}"
            );
        }
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let cases = [
            ("not json", "expected"),
            (r#"{"type":"launch"}"#, "unknown variant `launch`"),
            (r#"{"type":"user_prompt"}"#, "missing field `prompt`"),
            (
                r#"{"type":"user_prompt","prompt":"x","colour":1}"#,
                "unknown field `colour`",
            ),
            (
                r#"{"type":"tool_decision","tool_name":"t","call_id":"c","decision":"maybe","source":"user"}"#,
                "`decision` is \"maybe\"; expected one of \"approved\"",
            ),
            (
                r#"{"type":"user_prompt","prompt":"x","timestamp":"yesterday"}"#,
                "not an RFC 3339 time",
            ),
        ];
        for (line, expected) in cases {
            let error = parse(line).expect_err(line).to_string();
            assert!(error.contains(expected), "{line}: {error}");
        }
    }
}
