//! The queries the viewer and the CLI run (plain SQL over the
//! ClickHouse-named tables; attribute lookups with `json_extract`).

use rusqlite::params;

use crate::{Store, StoreError};

/// One agent session (the log records sharing a `conversation.id`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionSummary {
    /// The `conversation.id` attribute.
    pub conversation_id: String,
    /// First event, nanoseconds since the Unix epoch.
    pub first_ns: i64,
    /// Last event, nanoseconds since the Unix epoch.
    pub last_ns: i64,
    /// Events of the session.
    pub events: u64,
    /// The `model` attribute (the greatest, when several).
    pub model: String,
    /// `vcs.repository.url.full`, when exported.
    pub repository: String,
    /// `vcs.ref.head.name`, when exported.
    pub branch: String,
    /// Sum of `input_token_count` (saturating).
    pub input_tokens: i64,
    /// Sum of `output_token_count` (saturating).
    pub output_tokens: i64,
    /// `*.tool_result` events.
    pub tool_calls: u64,
    /// `*.tool_result` events with `success = "false"`, and
    /// `*.api_request` events with an `error.message`.
    pub failures: u64,
}

/// One event (log record) of a session.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SessionEvent {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// `EventName` (or the `event.name` attribute).
    pub event_name: String,
    /// `LogAttributes`: a JSON object of strings.
    pub attributes: String,
    /// Hex trace id, empty when unset.
    pub trace_id: String,
    /// Hex span id, empty when unset.
    pub span_id: String,
}

/// One span of `otel_traces`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpanRow {
    /// Hex trace id.
    pub trace_id: String,
    /// Hex span id.
    pub span_id: String,
    /// Hex parent span id, empty for a root.
    pub parent_span_id: String,
    /// `SpanName`.
    pub name: String,
    /// `SpanKind` (`Internal`, `Client`, ...).
    pub kind: String,
    /// Start, nanoseconds since the Unix epoch.
    pub start_ns: i64,
    /// Duration in nanoseconds.
    pub duration_ns: i64,
    /// `StatusCode` (`Ok`, `Error`, `Unset`).
    pub status: String,
    /// `SpanAttributes`: a JSON object of strings.
    pub attributes: String,
}

const SESSION: &str = r#"json_extract(LogAttributes, '$."conversation.id"')"#;

impl Store {
    /// The `limit` most recent sessions, newest first.
    pub fn sessions(&self, limit: usize) -> Result<Vec<SessionSummary>, StoreError> {
        let sql = format!(
            r#"SELECT {SESSION} AS cid, min(Timestamp), max(Timestamp), count(*),
                coalesce(max(json_extract(LogAttributes, '$.model')), ''),
                coalesce(max(json_extract(LogAttributes, '$."vcs.repository.url.full"')), ''),
                coalesce(max(json_extract(LogAttributes, '$."vcs.ref.head.name"')), ''),
                coalesce(sum(CAST(json_extract(LogAttributes, '$.input_token_count') AS INTEGER)), 0),
                coalesce(sum(CAST(json_extract(LogAttributes, '$.output_token_count') AS INTEGER)), 0),
                sum(EventName LIKE '%.tool_result'),
                sum((EventName LIKE '%.tool_result' AND json_extract(LogAttributes, '$.success') = 'false')
                    OR (EventName LIKE '%.api_request' AND json_extract(LogAttributes, '$."error.message"') IS NOT NULL))
            FROM otel_logs WHERE {SESSION} IS NOT NULL
            GROUP BY cid ORDER BY min(Timestamp) DESC LIMIT ?1"#
        );
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
                Ok(SessionSummary {
                    conversation_id: r.get(0)?,
                    first_ns: r.get(1)?,
                    last_ns: r.get(2)?,
                    events: r.get::<_, i64>(3)?.try_into().unwrap_or(0),
                    model: r.get(4)?,
                    repository: r.get(5)?,
                    branch: r.get(6)?,
                    input_tokens: r.get(7)?,
                    output_tokens: r.get(8)?,
                    tool_calls: r.get::<_, i64>(9)?.try_into().unwrap_or(0),
                    failures: r.get::<_, i64>(10)?.try_into().unwrap_or(0),
                })
            })?;
            rows.collect()
        })
    }

    /// The events of session `conversation_id`, oldest first.
    pub fn session_events(&self, conversation_id: &str) -> Result<Vec<SessionEvent>, StoreError> {
        let sql = format!(
            "SELECT Timestamp, EventName, LogAttributes, TraceId, SpanId FROM otel_logs \
             WHERE {SESSION} = ?1 ORDER BY Timestamp, rowid"
        );
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![conversation_id], |r| {
                Ok(SessionEvent {
                    timestamp_ns: r.get(0)?,
                    event_name: r.get(1)?,
                    attributes: r.get(2)?,
                    trace_id: r.get(3)?,
                    span_id: r.get(4)?,
                })
            })?;
            rows.collect()
        })
    }

    /// The spans of trace `trace_id` (hex), by start time.
    pub fn trace_spans(&self, trace_id: &str) -> Result<Vec<SpanRow>, StoreError> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, Timestamp, Duration, \
                 StatusCode, SpanAttributes FROM otel_traces WHERE TraceId = ?1 \
                 ORDER BY Timestamp, rowid",
            )?;
            let rows = stmt.query_map(params![trace_id], |r| {
                Ok(SpanRow {
                    trace_id: r.get(0)?,
                    span_id: r.get(1)?,
                    parent_span_id: r.get(2)?,
                    name: r.get(3)?,
                    kind: r.get(4)?,
                    start_ns: r.get(5)?,
                    duration_ns: r.get(6)?,
                    status: r.get(7)?,
                    attributes: r.get(8)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Sum of the values of the sum metric `name`, per value of its
    /// attribute `key` (for example `codex.token.usage` by `type`).
    pub fn metric_sum_by(&self, name: &str, key: &str) -> Result<Vec<(String, f64)>, StoreError> {
        let path = format!("$.\"{}\"", key.replace('"', ""));
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT coalesce(json_extract(Attributes, ?2), ''), sum(Value) \
                 FROM otel_metrics_sum WHERE MetricName = ?1 GROUP BY 1 ORDER BY 1",
            )?;
            let rows = stmt.query_map(params![name, path], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }
}
