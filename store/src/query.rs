//! The queries the viewer and the CLI run (plain SQL over the
//! ClickHouse-named tables; attribute lookups with `json_extract`).
//!
//! Carrying a query to ClickHouse: `json_extract(LogAttributes, '$."k"')`
//! is `LogAttributes['k']`, `CAST(x AS INTEGER)` is `toInt64OrZero(x)`,
//! `(Timestamp / n) * n` is `toStartOfInterval(Timestamp, ...)`, and
//! `sum(a = b)` is `countIf(a = b)`, and `ConversationId` is the
//! materialized column `LogAttributes['conversation.id']` (or that lookup
//! itself); everything else (GROUP BY, IN (subquery), LIKE, coalesce,
//! min/max/avg) is the same SQL.

use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::{Span, Status};
use rusqlite::params;

use crate::text::unhex;

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

impl SpanRow {
    /// The row back as an OTLP span with the fields the row holds (ids,
    /// name, times, an error status), for drawing a waterfall.
    pub fn to_span(&self) -> Span {
        let start = u64::try_from(self.start_ns).unwrap_or(0);
        Span {
            trace_id: unhex(&self.trace_id),
            span_id: unhex(&self.span_id),
            parent_span_id: unhex(&self.parent_span_id),
            name: self.name.clone(),
            start_time_unix_nano: start,
            end_time_unix_nano: start.saturating_add(u64::try_from(self.duration_ns).unwrap_or(0)),
            status: (self.status == "Error").then(|| Status {
                code: StatusCode::Error as i32,
                ..Status::default()
            }),
            ..Span::default()
        }
    }
}

/// The session of a log record: `otel_logs.ConversationId`, the copy of
/// `LogAttributes['conversation.id']` (a materialized column on
/// ClickHouse; see the `schema` module), empty when it has none.
const SESSION: &str = "ConversationId";

/// The columns of a [`SessionSummary`], grouped by `cid` (the session).
const SUMMARY_SELECT: &str = r#"SELECT ConversationId AS cid,
    min(Timestamp), max(Timestamp), count(*),
    coalesce(max(json_extract(LogAttributes, '$.model')), ''),
    coalesce(max(json_extract(LogAttributes, '$."vcs.repository.url.full"')), ''),
    coalesce(max(json_extract(LogAttributes, '$."vcs.ref.head.name"')), ''),
    coalesce(sum(CAST(json_extract(LogAttributes, '$.input_token_count') AS INTEGER)), 0),
    coalesce(sum(CAST(json_extract(LogAttributes, '$.output_token_count') AS INTEGER)), 0),
    sum(EventName LIKE '%.tool_result'),
    sum((EventName LIKE '%.tool_result' AND json_extract(LogAttributes, '$.success') = 'false')
        OR (EventName LIKE '%.api_request' AND json_extract(LogAttributes, '$."error.message"') IS NOT NULL))"#;

fn summary_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionSummary> {
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
}

impl Store {
    /// The `limit` most recent sessions, newest first.
    pub fn sessions(&self, limit: usize) -> Result<Vec<SessionSummary>, StoreError> {
        let sql = format!(
            "{SUMMARY_SELECT} FROM otel_logs WHERE {SESSION} != '' \
             GROUP BY cid ORDER BY min(Timestamp) DESC LIMIT ?1"
        );
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], summary_row)?;
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
            let rows = stmt.query_map(params![trace_id], span_row)?;
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

/// Tokens of one model and time bucket (from the `*.sse_event` logs that
/// carry token counts, typically `response.completed`).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TokenBucket {
    /// Start of the bucket, nanoseconds since the Unix epoch.
    pub bucket_ns: i64,
    /// The `model` attribute (empty when unset).
    pub model: String,
    /// Sum of `input_token_count`.
    pub input: i64,
    /// Sum of `output_token_count`.
    pub output: i64,
    /// Sum of `cached_token_count`.
    pub cached: i64,
    /// Sum of `reasoning_token_count`.
    pub reasoning: i64,
}

/// Calls and outcomes of one tool (from the `*.tool_result` logs).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ToolStats {
    /// The `tool_name` attribute.
    pub tool_name: String,
    /// Results recorded.
    pub calls: u64,
    /// Results with `success = "true"`.
    pub successes: u64,
    /// Mean `duration_ms` (0 when none was exported).
    pub mean_duration_ms: f64,
}

/// `json_extract(LogAttributes, '$."key"')`: in ClickHouse this is
/// `LogAttributes['key']`.
fn attr(key: &str) -> String {
    format!(r#"json_extract(LogAttributes, '$."{key}"')"#)
}

impl Store {
    /// The summary of session `conversation_id` (as [`Store::sessions`]
    /// computes it), `None` when no event of it is stored.
    pub fn session(&self, conversation_id: &str) -> Result<Option<SessionSummary>, StoreError> {
        let sql = format!("{SUMMARY_SELECT} FROM otel_logs WHERE {SESSION} = ?1 GROUP BY cid");
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let mut rows = stmt.query_map(params![conversation_id], summary_row)?;
            rows.next().transpose()
        })
    }

    /// The spans of session `conversation_id`: those whose
    /// `gen_ai.conversation.id` is the session, and those of the traces its
    /// events name; by trace, then start time.
    pub fn session_spans(&self, conversation_id: &str) -> Result<Vec<SpanRow>, StoreError> {
        let sql = format!(
            r#"SELECT TraceId, SpanId, ParentSpanId, SpanName, SpanKind, Timestamp, Duration,
                StatusCode, SpanAttributes FROM otel_traces
             WHERE json_extract(SpanAttributes, '$."gen_ai.conversation.id"') = ?1
                OR TraceId IN (SELECT DISTINCT TraceId FROM otel_logs
                               WHERE {SESSION} = ?1 AND TraceId != '')
             ORDER BY TraceId, Timestamp, rowid"#
        );
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params![conversation_id], span_row)?;
            rows.collect()
        })
    }

    /// Tokens per model and time bucket of `bucket_ns` nanoseconds, oldest
    /// first, from the `*.sse_event` logs with token counts.
    pub fn token_buckets(&self, bucket_ns: i64) -> Result<Vec<TokenBucket>, StoreError> {
        let sum = |key: &str| format!("coalesce(sum(CAST({} AS INTEGER)), 0)", attr(key));
        let sql = format!(
            "SELECT (Timestamp / ?1) * ?1 AS bucket, coalesce({model}, '') AS m, {i}, {o}, {c}, {r} \
             FROM otel_logs WHERE EventName LIKE '%.sse_event' AND {input} IS NOT NULL \
             GROUP BY bucket, m ORDER BY bucket, m",
            model = attr("model"),
            input = attr("input_token_count"),
            i = sum("input_token_count"),
            o = sum("output_token_count"),
            c = sum("cached_token_count"),
            r = sum("reasoning_token_count"),
        );
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([bucket_ns.max(1)], |r| {
                Ok(TokenBucket {
                    bucket_ns: r.get(0)?,
                    model: r.get(1)?,
                    input: r.get(2)?,
                    output: r.get(3)?,
                    cached: r.get(4)?,
                    reasoning: r.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// First and last `Timestamp` of `otel_logs`, `None` when empty.
    pub fn log_time_range(&self) -> Result<Option<(i64, i64)>, StoreError> {
        self.read(|conn| {
            conn.query_row(
                "SELECT min(Timestamp), max(Timestamp) FROM otel_logs",
                [],
                |r| Ok(r.get::<_, Option<i64>>(0)?.zip(r.get::<_, Option<i64>>(1)?)),
            )
        })
    }

    /// API request latencies: `(duration_ms, requests)` per distinct
    /// whole-millisecond `duration_ms` of the `*.api_request` logs.
    pub fn api_latencies(&self) -> Result<Vec<(i64, u64)>, StoreError> {
        let sql = format!(
            "SELECT CAST({d} AS INTEGER) AS ms, count(*) FROM otel_logs \
             WHERE EventName LIKE '%.api_request' AND {d} IS NOT NULL GROUP BY ms ORDER BY ms",
            d = attr("duration_ms")
        );
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok((r.get(0)?, r.get::<_, i64>(1)?.try_into().unwrap_or(0)))
            })?;
            rows.collect()
        })
    }

    /// Calls, successes and mean duration per tool, by tool name.
    pub fn tool_stats(&self) -> Result<Vec<ToolStats>, StoreError> {
        let sql = format!(
            "SELECT coalesce({name}, '') AS t, count(*), sum({success} = 'true'), \
             coalesce(avg(CAST({d} AS REAL)), 0) FROM otel_logs \
             WHERE EventName LIKE '%.tool_result' GROUP BY t ORDER BY t",
            name = attr("tool_name"),
            success = attr("success"),
            d = attr("duration_ms"),
        );
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt.query_map([], |r| {
                Ok(ToolStats {
                    tool_name: r.get(0)?,
                    calls: r.get::<_, i64>(1)?.try_into().unwrap_or(0),
                    successes: r.get::<_, i64>(2)?.try_into().unwrap_or(0),
                    mean_duration_ms: r.get(3)?,
                })
            })?;
            rows.collect()
        })
    }
}

fn span_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SpanRow> {
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
}
