//! What each page shows, read from the store; the `/api/...` JSON is these
//! structures serialized.

use std::collections::BTreeMap;

use agent_otel_store::{
    SessionEvent, SessionSummary, SpanRow, Store, StoreError, TokenBucket, ToolStats,
};
use serde_json::{Map, Value};

/// Sessions listed on `/` (the most recent first).
pub const SESSIONS_LIMIT: usize = 500;

/// Upper bounds (milliseconds) of the API latency histogram's buckets; the
/// last bucket holds everything slower.
pub const LATENCY_BOUNDS_MS: [i64; 12] = [
    50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 10_000,
];

/// One event of a session, its attributes decoded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// `EventName`.
    pub event_name: String,
    /// The log attributes.
    pub attributes: Map<String, Value>,
    /// Hex trace id, empty when unset.
    pub trace_id: String,
}

impl Event {
    /// The attribute `key` as text (`""` when absent).
    pub fn attr(&self, key: &str) -> String {
        match self.attributes.get(key) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    /// Whether the event name ends with `.suffix` (any agent prefix).
    pub fn is(&self, suffix: &str) -> bool {
        self.event_name
            .rsplit_once('.')
            .is_some_and(|(_, last)| last == suffix)
    }
}

/// One tool call of a session (a `*.tool_result` event).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ToolCall {
    /// Nanoseconds since the Unix epoch.
    pub timestamp_ns: i64,
    /// `tool_name`.
    pub tool_name: String,
    /// `call_id`.
    pub call_id: String,
    /// `success` was `"true"`.
    pub success: bool,
    /// `duration_ms`, when exported.
    pub duration_ms: Option<f64>,
}

/// One turn: the spans of one trace, in start order.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Turn {
    /// Hex trace id.
    pub trace_id: String,
    /// Start of the earliest span, nanoseconds since the Unix epoch.
    pub start_ns: i64,
    /// End of the latest span minus `start_ns`.
    pub duration_ns: i64,
    /// The spans, by start time.
    pub spans: Vec<SpanRow>,
}

/// Everything `/sessions/{id}` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionView {
    /// The session's summary row.
    pub summary: SessionSummary,
    /// Its events, oldest first.
    pub events: Vec<Event>,
    /// Its turns (traces), oldest first.
    pub turns: Vec<Turn>,
    /// Its tool calls, oldest first.
    pub tool_calls: Vec<ToolCall>,
}

/// One bucket of the API latency histogram.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LatencyBucket {
    /// Upper bound in milliseconds (inclusive); `None` for the overflow bucket.
    pub le_ms: Option<i64>,
    /// Requests in the bucket.
    pub requests: u64,
}

/// Everything `/overview` shows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Overview {
    /// Width of a token bucket in nanoseconds.
    pub bucket_ns: i64,
    /// Tokens per model, type and bucket.
    pub tokens: Vec<TokenBucket>,
    /// API request latency histogram.
    pub latency: Vec<LatencyBucket>,
    /// Calls and success per tool.
    pub tools: Vec<ToolStats>,
}

/// The sessions list.
pub fn sessions(store: &Store) -> Result<Vec<SessionSummary>, StoreError> {
    store.sessions(SESSIONS_LIMIT)
}

/// Session `id`, `None` when the store has no event of it.
pub fn session(store: &Store, id: &str) -> Result<Option<SessionView>, StoreError> {
    let Some(summary) = store.session(id)? else {
        return Ok(None);
    };
    let events: Vec<Event> = store.session_events(id)?.into_iter().map(event).collect();
    let tool_calls = events
        .iter()
        .filter(|e| e.is("tool_result"))
        .map(|e| ToolCall {
            timestamp_ns: e.timestamp_ns,
            tool_name: e.attr("tool_name"),
            call_id: e.attr("call_id"),
            success: e.attr("success") == "true",
            duration_ms: e.attr("duration_ms").parse().ok(),
        })
        .collect();
    let mut traces: BTreeMap<String, Vec<SpanRow>> = BTreeMap::new();
    for span in store.session_spans(id)? {
        traces.entry(span.trace_id.clone()).or_default().push(span);
    }
    let mut turns: Vec<Turn> = traces
        .into_iter()
        .map(|(trace_id, spans)| {
            let start_ns = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
            let end_ns = spans
                .iter()
                .map(|s| s.start_ns.saturating_add(s.duration_ns))
                .max()
                .unwrap_or(start_ns);
            Turn {
                trace_id,
                start_ns,
                duration_ns: end_ns.saturating_sub(start_ns),
                spans,
            }
        })
        .collect();
    turns.sort_by_key(|t| t.start_ns);
    Ok(Some(SessionView {
        summary,
        events,
        turns,
        tool_calls,
    }))
}

fn event(row: SessionEvent) -> Event {
    let attributes = match serde_json::from_str(&row.attributes) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    Event {
        timestamp_ns: row.timestamp_ns,
        event_name: row.event_name,
        attributes,
        trace_id: row.trace_id,
    }
}

/// The overview: tokens over time in about 24 buckets, latencies, tools.
pub fn overview(store: &Store) -> Result<Overview, StoreError> {
    let bucket_ns = match store.log_time_range()? {
        Some((first, last)) => bucket_width(last.saturating_sub(first)),
        None => MINUTE_NS,
    };
    let mut latency: Vec<LatencyBucket> = LATENCY_BOUNDS_MS
        .iter()
        .map(|&le| LatencyBucket {
            le_ms: Some(le),
            requests: 0,
        })
        .chain(std::iter::once(LatencyBucket {
            le_ms: None,
            requests: 0,
        }))
        .collect();
    for (ms, n) in store.api_latencies()? {
        let i = LATENCY_BOUNDS_MS
            .iter()
            .position(|&le| ms <= le)
            .unwrap_or(LATENCY_BOUNDS_MS.len());
        latency[i].requests = latency[i].requests.saturating_add(n);
    }
    Ok(Overview {
        bucket_ns,
        tokens: store.token_buckets(bucket_ns)?,
        latency,
        tools: store.tool_stats()?,
    })
}

const MINUTE_NS: i64 = 60_000_000_000;

/// A whole number of minutes (or hours, days) giving at most ~24 buckets
/// over `span_ns`.
fn bucket_width(span_ns: i64) -> i64 {
    const STEPS_MIN: [i64; 10] = [1, 5, 15, 30, 60, 180, 360, 720, 1440, 10_080];
    STEPS_MIN
        .iter()
        .map(|m| m * MINUTE_NS)
        .find(|&w| span_ns / w < 24)
        .unwrap_or(10_080 * MINUTE_NS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_width_keeps_about_24_buckets() {
        assert_eq!(bucket_width(0), MINUTE_NS);
        assert_eq!(bucket_width(2 * 60 * MINUTE_NS), 15 * MINUTE_NS);
    }
}
