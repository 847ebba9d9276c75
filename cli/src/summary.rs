//! What a collector received, for people: one line per event, a table, and
//! a summary (events by name, tokens, tool success rate, API latency).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use agent_otel_collector::ReceivedRecord;
use agent_otel_core::PipelineStats;

use crate::style::Style;

/// Aggregates over received events.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// Events per event name.
    pub by_name: BTreeMap<String, u64>,
    /// Sum of `input_token_count`.
    pub input_tokens: i64,
    /// Sum of `output_token_count`.
    pub output_tokens: i64,
    /// Sum of `cached_token_count`.
    pub cached_tokens: i64,
    /// Sum of `reasoning_token_count`.
    pub reasoning_tokens: i64,
    /// `tool_result` events with `success = "true"`.
    pub tool_successes: u64,
    /// All `tool_result` events.
    pub tool_results: u64,
    /// `duration_ms` of every `api_request`, sorted.
    pub api_latencies_ms: Vec<i64>,
}

fn kind_of(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

impl Summary {
    /// Adds one received event.
    pub fn add(&mut self, record: &ReceivedRecord) {
        let name = record.event_name().to_owned();
        match kind_of(&name) {
            "sse_event" => {
                self.input_tokens += record.attr_int("input_token_count").unwrap_or(0);
                self.output_tokens += record.attr_int("output_token_count").unwrap_or(0);
                self.cached_tokens += record.attr_int("cached_token_count").unwrap_or(0);
                self.reasoning_tokens += record.attr_int("reasoning_token_count").unwrap_or(0);
            }
            "tool_result" => {
                self.tool_results += 1;
                if record.attr_str("success") == Some("true") {
                    self.tool_successes += 1;
                }
            }
            "api_request" => {
                if let Some(ms) = record.attr_int("duration_ms") {
                    let at = self.api_latencies_ms.partition_point(|&x| x <= ms);
                    self.api_latencies_ms.insert(at, ms);
                }
            }
            _ => {}
        }
        *self.by_name.entry(name).or_default() += 1;
    }

    /// Summary of `records`.
    pub fn of(records: &[ReceivedRecord]) -> Self {
        let mut summary = Self::default();
        for record in records {
            summary.add(record);
        }
        summary
    }

    /// Total events.
    pub fn total(&self) -> u64 {
        self.by_name.values().sum()
    }

    /// Nearest-rank percentile of API latency, `p` in 1..=100.
    pub fn api_latency_percentile(&self, p: u32) -> Option<i64> {
        if self.api_latencies_ms.is_empty() {
            return None;
        }
        let n = self.api_latencies_ms.len();
        let rank = (u64::from(p) * n as u64).div_ceil(100).max(1) as usize;
        self.api_latencies_ms.get(rank.min(n) - 1).copied()
    }

    /// The summary as text.
    pub fn render(&self, style: &Style) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", style.bold("Events received"));
        for (name, count) in &self.by_name {
            let _ = writeln!(out, "  {name:<28} {count:>6}");
        }
        let _ = writeln!(out, "  {:<28} {:>6}", "total", self.total());
        let _ = writeln!(out, "{}", style.bold("Tokens"));
        let _ = writeln!(
            out,
            "  input {}  output {}  cached {}  reasoning {}",
            self.input_tokens, self.output_tokens, self.cached_tokens, self.reasoning_tokens
        );
        let _ = writeln!(out, "{}", style.bold("Tools"));
        if self.tool_results == 0 {
            let _ = writeln!(out, "  no tool results");
        } else {
            let rate = 100.0 * self.tool_successes as f64 / self.tool_results as f64;
            let _ = writeln!(
                out,
                "  success rate {rate:.0}% ({} of {})",
                self.tool_successes, self.tool_results
            );
        }
        let _ = writeln!(out, "{}", style.bold("API latency"));
        match (
            self.api_latency_percentile(50),
            self.api_latency_percentile(95),
        ) {
            (Some(p50), Some(p95)) => {
                let _ = writeln!(
                    out,
                    "  p50 {p50} ms  p95 {p95} ms  ({} requests)",
                    self.api_latencies_ms.len()
                );
            }
            _ => {
                let _ = writeln!(out, "  no API requests");
            }
        }
        out
    }
}

/// The pipeline's counters as text.
pub fn render_stats(stats: &PipelineStats, style: &Style) -> String {
    let mut out = format!("{}\n  {stats}\n", style.bold("Pipeline"));
    if let Some(error) = &stats.last_error {
        let _ = writeln!(out, "  last error: {error}");
    }
    if let Some(error) = &stats.last_spool_error {
        let _ = writeln!(out, "  last spool error: {error}");
    }
    out
}

/// The interesting attributes of one event, after its name.
fn details(record: &ReceivedRecord) -> String {
    let keys: &[&str] = match kind_of(record.event_name()) {
        "api_request" => &[
            "attempt",
            "http.response.status_code",
            "duration_ms",
            "error.message",
        ],
        "sse_event" => &[
            "event.kind",
            "duration_ms",
            "input_token_count",
            "output_token_count",
            "error.message",
        ],
        "user_prompt" => &["prompt_length", "prompt"],
        "tool_decision" => &["tool_name", "call_id", "decision", "source"],
        "tool_result" => &["tool_name", "call_id", "success", "duration_ms"],
        _ => &[],
    };
    keys.iter()
        .filter_map(|key| {
            record.attr_text(key).map(|value| {
                let value: String = value.chars().take(60).collect();
                format!("{key}={value}")
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One human line per event: time, name, key attributes.
pub fn event_line(record: &ReceivedRecord, style: &Style) -> String {
    let time = record
        .attr_str("event.timestamp")
        .and_then(|t| t.get(11..23))
        .unwrap_or("--:--:--.---");
    format!(
        "{} {:<22} {}",
        style.dim(time),
        record.event_name(),
        details(record)
    )
}

/// Every event as a table.
pub fn event_table(records: &[ReceivedRecord], style: &Style) -> String {
    let mut out = format!(
        "{}\n",
        style.bold("time         event                  details")
    );
    for record in records {
        let _ = writeln!(out, "{}", event_line(record, style));
    }
    out
}
