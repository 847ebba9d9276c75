//! Spans as a terminal waterfall: each trace a small tree (children under
//! their parent, by start time), with durations and a bar on the trace's
//! time axis. Used by `demo` and `collect`; every name is printed with its
//! control characters escaped.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use agent_otel_core::opentelemetry_proto::tonic::trace::v1::Span;
use agent_otel_core::opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use crate::printable::printable;
use crate::style::Style;

/// Width of the bar column, in characters.
const BAR_WIDTH: usize = 32;
/// Longest span name shown; longer ones are cut with `…`.
const NAME_CHARS: usize = 36;
/// Deepest level drawn; deeper spans are listed at this depth.
const MAX_DEPTH: usize = 8;

/// The spans, one tree per trace (traces in order of their first start).
pub fn render(spans: &[Span], style: &Style) -> String {
    let mut traces: BTreeMap<&[u8], Vec<&Span>> = BTreeMap::new();
    for span in spans {
        traces.entry(&span.trace_id).or_default().push(span);
    }
    let mut ordered: Vec<Vec<&Span>> = traces.into_values().collect();
    ordered.sort_by_key(|spans| spans.iter().map(|s| s.start_time_unix_nano).min());
    let mut out = String::new();
    for spans in ordered {
        render_trace(&mut out, &spans, style);
    }
    out
}

fn render_trace(out: &mut String, spans: &[&Span], style: &Style) {
    let start = spans
        .iter()
        .map(|s| s.start_time_unix_nano)
        .min()
        .unwrap_or(0);
    let end = spans
        .iter()
        .map(|s| s.end_time_unix_nano)
        .max()
        .unwrap_or(start);
    let total = end.saturating_sub(start).max(1);
    let ids: Vec<&[u8]> = spans.iter().map(|s| s.span_id.as_slice()).collect();
    // Roots: no parent, or a parent outside this process's spans (TRACEPARENT).
    let mut roots: Vec<&Span> = spans
        .iter()
        .filter(|s| !ids.contains(&s.parent_span_id.as_slice()))
        .copied()
        .collect();
    roots.sort_by_key(|s| s.start_time_unix_nano);
    let trace: String = spans
        .first()
        .map(|s| s.trace_id.iter().map(|b| format!("{b:02x}")).collect())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}",
        style.dim(&format!("trace {trace} ({})", duration(total)))
    );
    for root in roots {
        render_span(out, spans, root, 0, start, total, style);
    }
}

fn render_span(
    out: &mut String,
    spans: &[&Span],
    span: &Span,
    depth: usize,
    start: u64,
    total: u64,
    style: &Style,
) {
    let offset = span.start_time_unix_nano.saturating_sub(start);
    let length = span
        .end_time_unix_nano
        .saturating_sub(span.start_time_unix_nano);
    let from = scale(offset, total);
    let width = scale(length, total)
        .max(1)
        .min(BAR_WIDTH - from.min(BAR_WIDTH - 1));
    let bar = format!(
        "{}{}{}",
        " ".repeat(from.min(BAR_WIDTH - 1)),
        "█".repeat(width),
        " ".repeat(BAR_WIDTH.saturating_sub(from.min(BAR_WIDTH - 1) + width))
    );
    let failed = span
        .status
        .as_ref()
        .is_some_and(|s| s.code == StatusCode::Error as i32);
    let name = format!("{}{}", "  ".repeat(depth), printable_name(&span.name));
    let line = format!(
        "  {name:<width$} {:>9} |{bar}|{}",
        duration(length),
        if failed { " error" } else { "" },
        width = NAME_CHARS + 2 * MAX_DEPTH.min(2)
    );
    let _ = writeln!(out, "{}", if failed { style.bad(&line) } else { line });
    let mut children: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id == span.span_id && s.span_id != span.span_id)
        .copied()
        .collect();
    children.sort_by_key(|s| s.start_time_unix_nano);
    for child in children {
        render_span(
            out,
            spans,
            child,
            (depth + 1).min(MAX_DEPTH),
            start,
            total,
            style,
        );
    }
}

/// `nanos` of `total` as a position in the bar column.
fn scale(nanos: u64, total: u64) -> usize {
    let cells = u128::from(nanos) * BAR_WIDTH as u128 / u128::from(total);
    usize::try_from(cells).unwrap_or(BAR_WIDTH).min(BAR_WIDTH)
}

/// A span duration for people: `850 ms`, `2.3 s`, `4 min 10 s`.
fn duration(nanos: u64) -> String {
    let ms = nanos / 1_000_000;
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else {
        format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

/// A received span name made safe for a terminal: control characters
/// escaped, at most [`NAME_CHARS`] characters.
fn printable_name(name: &str) -> String {
    printable(name, NAME_CHARS, "…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(name: &str, id: u8, parent: Option<u8>, start_ms: u64, end_ms: u64) -> Span {
        Span {
            trace_id: vec![7; 16],
            span_id: vec![id; 8],
            parent_span_id: parent.map(|p| vec![p; 8]).unwrap_or_default(),
            name: name.to_owned(),
            start_time_unix_nano: start_ms * 1_000_000,
            end_time_unix_nano: end_ms * 1_000_000,
            ..Span::default()
        }
    }

    #[test]
    fn children_are_drawn_under_their_parent_with_bars_on_one_axis() {
        let spans = [
            span("execute_tool shell", 3, Some(1), 600, 1000),
            span("invoke_agent codex-cli", 1, None, 0, 1000),
            span("chat gpt-5-codex", 2, Some(1), 0, 500),
        ];
        let style = Style::stdout();
        let text = render(&spans, &style);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("trace 0707"), "{text}");
        assert!(lines[1].contains("invoke_agent codex-cli") && lines[1].contains("1.0 s"));
        assert!(lines[2].contains("  chat gpt-5-codex") && lines[2].contains("500 ms"));
        assert!(lines[3].contains("  execute_tool shell") && lines[3].contains("400 ms"));
        let bar = |line: &str| line.split('|').nth(1).unwrap_or_default().to_owned();
        assert_eq!(
            bar(lines[1]).chars().filter(|c| *c == '█').count(),
            BAR_WIDTH
        );
        assert!(bar(lines[3]).starts_with(&" ".repeat(19)), "{text}");
    }

    #[test]
    fn names_are_escaped() {
        let spans = [span("chat \u{1b}[31mred\r\nforged", 1, None, 0, 1)];
        let text = render(&spans, &Style::stdout());
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        assert!(text.contains("\\u{1b}"), "{text:?}");
    }
}
