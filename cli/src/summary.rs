//! What a collector received, for people: one line per event, a table, and
//! a summary (events by name, tokens, tool success rate, API latency).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use agent_otel_collector::ReceivedRecord;
use agent_otel_core::{PipelineStats, catalog};

use crate::style::Style;

/// Most distinct event names the summary keeps; more are counted together.
const MAX_NAMES: usize = 64;

/// API latency buckets: bucket `i` holds durations up to `2^i` ms (the last
/// one everything above), so the summary stays the same size whatever it
/// receives.
const LATENCY_BUCKETS: usize = 32;

/// Aggregates over received events, in fixed memory: at most
/// [`MAX_NAMES`] names, saturating sums, latency in histogram buckets.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    /// Events per event name (at most [`MAX_NAMES`] names).
    pub by_name: BTreeMap<String, u64>,
    /// Events whose name did not fit in `by_name`.
    pub other_names: u64,
    /// Sum of `input_token_count` (saturating).
    pub input_tokens: i64,
    /// Sum of `output_token_count` (saturating).
    pub output_tokens: i64,
    /// Sum of `cached_token_count` (saturating).
    pub cached_tokens: i64,
    /// Sum of `reasoning_token_count` (saturating).
    pub reasoning_tokens: i64,
    /// `tool_result` events with `success = "true"`.
    pub tool_successes: u64,
    /// All `tool_result` events.
    pub tool_results: u64,
    /// `duration_ms` of `api_request` events, by power-of-two bucket.
    pub api_latency_buckets: [u64; LATENCY_BUCKETS],
}

fn kind_of(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// The latency bucket of `ms`: the smallest `i` with `ms <= 2^i`.
fn latency_bucket(ms: i64) -> usize {
    let ms = u64::try_from(ms).unwrap_or(0);
    let i = if ms <= 1 {
        0
    } else {
        (64 - (ms - 1).leading_zeros()) as usize
    };
    i.min(LATENCY_BUCKETS - 1)
}

impl Summary {
    /// Adds one received event.
    pub fn add(&mut self, record: &ReceivedRecord) {
        let name = record.event_name();
        match kind_of(name) {
            "sse_event" => {
                let add = |sum: &mut i64, key| {
                    *sum = sum.saturating_add(record.attr_int(key).unwrap_or(0));
                };
                add(&mut self.input_tokens, catalog::INPUT_TOKEN_COUNT);
                add(&mut self.output_tokens, catalog::OUTPUT_TOKEN_COUNT);
                add(&mut self.cached_tokens, catalog::CACHED_TOKEN_COUNT);
                add(&mut self.reasoning_tokens, catalog::REASONING_TOKEN_COUNT);
            }
            "tool_result" => {
                self.tool_results = self.tool_results.saturating_add(1);
                if record.attr_str(catalog::SUCCESS) == Some("true") {
                    self.tool_successes = self.tool_successes.saturating_add(1);
                }
            }
            "api_request" => {
                if let Some(ms) = record.attr_int(catalog::DURATION_MS) {
                    let b = &mut self.api_latency_buckets[latency_bucket(ms)];
                    *b = b.saturating_add(1);
                }
            }
            _ => {}
        }
        if let Some(count) = self.by_name.get_mut(name) {
            *count = count.saturating_add(1);
        } else if self.by_name.len() < MAX_NAMES {
            self.by_name.insert(name.to_owned(), 1);
        } else {
            self.other_names = self.other_names.saturating_add(1);
        }
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
        self.by_name
            .values()
            .fold(self.other_names, |a, b| a.saturating_add(*b))
    }

    /// API requests with a duration.
    pub fn api_requests(&self) -> u64 {
        self.api_latency_buckets
            .iter()
            .fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Nearest-rank percentile of API latency, `p` in 1..=100, as the upper
    /// bound of its bucket (a power of two, in ms).
    pub fn api_latency_percentile(&self, p: u32) -> Option<u64> {
        let n = self.api_requests();
        if n == 0 {
            return None;
        }
        let rank = (u128::from(p.min(100)) * u128::from(n))
            .div_ceil(100)
            .max(1);
        let mut seen = 0u128;
        for (i, count) in self.api_latency_buckets.iter().enumerate() {
            seen += u128::from(*count);
            if seen >= rank {
                return Some(1u64 << i);
            }
        }
        None
    }

    /// The summary as text (received names escaped).
    pub fn render(&self, style: &Style) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", style.bold("Events received"));
        for (name, count) in &self.by_name {
            let _ = writeln!(out, "  {:<28} {count:>6}", escape_control(name));
        }
        if self.other_names > 0 {
            let _ = writeln!(out, "  {:<28} {:>6}", "(other names)", self.other_names);
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
                    "  p50 <= {p50} ms  p95 <= {p95} ms  ({} requests)",
                    self.api_requests()
                );
            }
            _ => {
                let _ = writeln!(out, "  no API requests");
            }
        }
        out
    }
}

/// `text` with every control character (C0, DEL, C1, and the bidirectional
/// overrides that reorder what a terminal shows) written as a `\u{..}`
/// escape, so a received value cannot move the cursor, clear the screen or
/// forge a line.
pub fn escape_control(text: &str) -> String {
    let needs =
        |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(needs) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if needs(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
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
            catalog::ATTEMPT,
            catalog::HTTP_RESPONSE_STATUS_CODE,
            catalog::DURATION_MS,
            catalog::ERROR_MESSAGE,
        ],
        "sse_event" => &[
            catalog::EVENT_KIND,
            catalog::DURATION_MS,
            catalog::INPUT_TOKEN_COUNT,
            catalog::OUTPUT_TOKEN_COUNT,
            catalog::ERROR_MESSAGE,
        ],
        "user_prompt" => &[catalog::PROMPT_LENGTH, catalog::PROMPT],
        "tool_decision" => &[
            catalog::TOOL_NAME,
            catalog::CALL_ID,
            catalog::DECISION,
            catalog::SOURCE,
        ],
        "tool_result" => &[
            catalog::TOOL_NAME,
            catalog::CALL_ID,
            catalog::SUCCESS,
            catalog::DURATION_MS,
        ],
        _ => &[],
    };
    keys.iter()
        .filter_map(|key| {
            record.attr_text(key).map(|value| {
                let value: String = value.chars().take(60).collect();
                format!("{key}={}", escape_control(&value))
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
        style.dim(&escape_control(time)),
        escape_control(record.event_name()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape_control("plain"), "plain");
        assert_eq!(
            escape_control("a\x1b[2J\r\nb\u{202e}c\u{9b}"),
            "a\\u{1b}[2J\\u{d}\\u{a}b\\u{202e}c\\u{9b}"
        );
    }

    #[test]
    fn latency_buckets_are_powers_of_two() {
        assert_eq!(latency_bucket(-5), 0);
        assert_eq!(latency_bucket(1), 0);
        assert_eq!(latency_bucket(2), 1);
        assert_eq!(latency_bucket(3), 2);
        assert_eq!(latency_bucket(1024), 10);
        assert_eq!(latency_bucket(i64::MAX), LATENCY_BUCKETS - 1);
    }
}
