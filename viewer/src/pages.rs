//! The HTML of each page (every value from the store goes through
//! [`escape`]) with inline SVG charts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use agent_otel_store::SessionSummary;

use crate::data::{Event, Overview, SessionView, Turn};
use crate::html::{duration, escape, page, time};

/// Width of a chart's plot area in SVG units.
const CHART_WIDTH: f64 = 900.0;
/// Width of the name column left of a waterfall.
const LABEL_WIDTH: f64 = 220.0;
/// Height of one waterfall row.
const ROW_HEIGHT: f64 = 18.0;

/// `/`: one row per session, each linking to its page.
pub fn sessions(rows: &[SessionSummary]) -> String {
    let mut b = String::from("<h1>Sessions</h1>");
    if rows.is_empty() {
        b.push_str("<p class=\"muted\">No session yet: point an agent's OTLP exporter at the collector.</p>");
        return page("Sessions", &b);
    }
    b.push_str(
        "<table id=\"sessions\"><thead><tr><th>Started (UTC)</th><th>Session</th><th>Model</th>\
         <th>Repository / branch</th><th>Input tokens</th><th>Output tokens</th><th>Tool calls</th>\
         <th>Failures</th><th>Duration</th><th>Events</th></tr></thead><tbody>",
    );
    for s in rows {
        let _ = write!(
            b,
            "<tr class=\"session\"><td>{}</td><td><a href=\"/sessions/{}\">{}</a></td><td>{}</td>\
             <td>{}{}{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n{}\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            time(s.first_ns),
            escape(&path_segment(&s.conversation_id)),
            escape(&s.conversation_id),
            escape(&s.model),
            escape(&s.repository),
            if s.branch.is_empty() { "" } else { " @ " },
            escape(&s.branch),
            s.input_tokens,
            s.output_tokens,
            s.tool_calls,
            if s.failures > 0 { " bad" } else { "" },
            s.failures,
            duration(s.last_ns.saturating_sub(s.first_ns)),
            s.events,
        );
    }
    b.push_str("</tbody></table>");
    page("Sessions", &b)
}

/// `text` percent-encoded for a URL path segment (all but unreserved bytes).
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// `/sessions/{id}`: summary, turns' waterfalls, tool calls, timeline.
pub fn session(view: &SessionView) -> String {
    let s = &view.summary;
    let mut b = String::with_capacity(256 * view.events.len() + 4096);
    let _ = write!(
        b,
        "<h1>Session {}</h1><p>{} &middot; model {} &middot; {}{} &middot; {} events &middot; \
         {} input / {} output tokens &middot; {} tool calls, {} failures &middot; {}</p>",
        escape(&s.conversation_id),
        time(s.first_ns),
        escape(&s.model),
        if s.repository.is_empty() {
            "no repository"
        } else {
            ""
        },
        escape(&format!(
            "{}{}{}",
            s.repository,
            if s.branch.is_empty() { "" } else { " @ " },
            s.branch
        )),
        s.events,
        s.input_tokens,
        s.output_tokens,
        s.tool_calls,
        s.failures,
        duration(s.last_ns.saturating_sub(s.first_ns)),
    );
    let _ = write!(b, "<h2>Turns ({})</h2>", view.turns.len());
    if view.turns.is_empty() {
        b.push_str("<p class=\"muted\">No span of this session was exported.</p>");
    }
    for (i, turn) in view.turns.iter().enumerate() {
        waterfall(&mut b, i + 1, turn);
    }
    let _ = write!(b, "<h2>Tool calls ({})</h2>", view.tool_calls.len());
    b.push_str(
        "<table id=\"tools\"><thead><tr><th>Time</th><th>Tool</th><th>Call</th><th>Result</th>\
         <th>Duration</th></tr></thead><tbody>",
    );
    for call in &view.tool_calls {
        let _ = write!(
            b,
            "<tr class=\"tool-call\"><td>{}</td><td class=\"tool-name\">{}</td><td>{}</td>{}<td class=\"n\">{}</td></tr>",
            time(call.timestamp_ns),
            escape(&call.tool_name),
            escape(&call.call_id),
            if call.success {
                "<td class=\"ok\">success</td>"
            } else {
                "<td class=\"bad\">failed</td>"
            },
            call.duration_ms
                .map(|ms| format!("{ms:.0} ms"))
                .unwrap_or_default(),
        );
    }
    b.push_str("</tbody></table>");
    let _ = write!(b, "<h2>Timeline ({} events)</h2>", view.events.len());
    b.push_str(
        "<table id=\"timeline\"><thead><tr><th>+</th><th>Event</th><th>Details</th></tr></thead><tbody>",
    );
    for e in &view.events {
        b.push_str("<tr class=\"event\"><td class=\"n\">");
        b.push_str(&duration(e.timestamp_ns.saturating_sub(s.first_ns)));
        b.push_str("</td><td>");
        crate::html::escape_into(&mut b, &e.event_name);
        b.push_str("</td><td>");
        details(&mut b, e);
        b.push_str("</td></tr>");
    }
    b.push_str("</tbody></table>");
    page(&format!("Session {}", s.conversation_id), &b)
}

/// The attributes worth a glance for an event; the prompt only when the
/// agent exported it.
fn details(b: &mut String, e: &Event) {
    const KEYS: [&str; 14] = [
        "event.kind",
        "tool_name",
        "success",
        "decision",
        "duration_ms",
        "attempt",
        "http.response.status_code",
        "error.message",
        "input_token_count",
        "output_token_count",
        "cached_token_count",
        "reasoning_token_count",
        "prompt_length",
        "call_id",
    ];
    let mut first = true;
    for key in KEYS {
        let value = e.attr(key);
        if value.is_empty() {
            continue;
        }
        if !first {
            b.push_str(" &middot; ");
        }
        first = false;
        crate::html::escape_into(b, key);
        b.push('=');
        crate::html::escape_into(b, &value);
    }
    let prompt = e.attr("prompt");
    if e.is("user_prompt") && !prompt.is_empty() {
        b.push_str("<pre class=\"prompt\">");
        crate::html::escape_into(b, &prompt);
        b.push_str("</pre>");
    }
}

/// One turn's waterfall: a bar (`rect.span`) per span, indented by depth.
fn waterfall(b: &mut String, number: usize, turn: &Turn) {
    let depth = depths(turn);
    let height = ROW_HEIGHT * turn.spans.len() as f64 + 4.0;
    let scale = CHART_WIDTH / (turn.duration_ns.max(1) as f64);
    let _ = write!(
        b,
        "<h3>Turn {number} <span class=\"muted\">{} &middot; {} &middot; trace {}</span></h3>\
         <svg class=\"waterfall\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\">",
        time(turn.start_ns),
        duration(turn.duration_ns),
        escape(&turn.trace_id),
        w = LABEL_WIDTH + CHART_WIDTH + 80.0,
    );
    for (i, span) in turn.spans.iter().enumerate() {
        let y = ROW_HEIGHT * i as f64 + 2.0;
        let x = LABEL_WIDTH + (span.start_ns.saturating_sub(turn.start_ns)) as f64 * scale;
        let w = (span.duration_ns.max(0) as f64 * scale).max(1.0);
        let fill = if span.status == "Error" {
            "#d9534f"
        } else {
            "#4a7bd0"
        };
        let indent = 8.0 * f64::from(depth.get(i).copied().unwrap_or(0).min(10));
        let _ = write!(
            b,
            "<text x=\"{tx}\" y=\"{ty}\">{name}</text><rect class=\"span\" x=\"{x:.1}\" y=\"{y:.1}\" \
             width=\"{w:.1}\" height=\"{h}\" fill=\"{fill}\"><title>{name} ({kind}, {status}) {d}</title></rect>\
             <text x=\"{dx:.1}\" y=\"{ty}\" class=\"muted\">{d}</text>",
            tx = 4.0 + indent,
            ty = y + 12.0,
            name = escape(&span.name),
            kind = escape(&span.kind),
            status = escape(&span.status),
            h = ROW_HEIGHT - 4.0,
            d = duration(span.duration_ns),
            dx = (x + w + 4.0).min(LABEL_WIDTH + CHART_WIDTH + 4.0),
        );
    }
    b.push_str("</svg>");
}

/// Each span's depth under its parents within the turn.
fn depths(turn: &Turn) -> Vec<u32> {
    let parents: BTreeMap<&str, &str> = turn
        .spans
        .iter()
        .map(|s| (s.span_id.as_str(), s.parent_span_id.as_str()))
        .collect();
    turn.spans
        .iter()
        .map(|s| {
            let mut depth = 0;
            let mut parent = s.parent_span_id.as_str();
            while let Some(next) = parents.get(parent) {
                depth += 1;
                if depth > 64 {
                    break;
                }
                parent = next;
            }
            depth
        })
        .collect()
}

/// Colours of the token types, in [`TOKEN_TYPES`] order.
const TOKEN_COLOURS: [&str; 4] = ["#4a7bd0", "#e39b2d", "#7fb77e", "#9a6fc4"];
/// Token types as the charts name them.
const TOKEN_TYPES: [&str; 4] = ["input", "output", "cached", "reasoning"];

/// `/overview`: tokens by model and type over time, API latency
/// histogram, tool success rate.
pub fn overview(o: &Overview) -> String {
    let mut b = String::from("<h1>Overview</h1>");
    let _ = write!(
        b,
        "<h2>Tokens by model and type</h2><p class=\"muted\">per {} (from the sse_event logs); legend: ",
        duration(o.bucket_ns)
    );
    for (name, colour) in TOKEN_TYPES.iter().zip(TOKEN_COLOURS) {
        let _ = write!(b, "<span style=\"color:{colour}\">&#9632; {name}</span> ");
    }
    b.push_str("</p>");
    let mut models: BTreeMap<&str, Vec<&agent_otel_store::TokenBucket>> = BTreeMap::new();
    for t in &o.tokens {
        models.entry(t.model.as_str()).or_default().push(t);
    }
    if models.is_empty() {
        b.push_str("<p class=\"muted\">No token counts yet.</p>");
    }
    let first = o.tokens.iter().map(|t| t.bucket_ns).min().unwrap_or(0);
    let last = o.tokens.iter().map(|t| t.bucket_ns).max().unwrap_or(0);
    let buckets = ((last - first) / o.bucket_ns.max(1) + 1).max(1) as f64;
    for (model, rows) in models {
        let max = rows
            .iter()
            .map(|t| t.input + t.output + t.cached + t.reasoning)
            .max()
            .unwrap_or(1)
            .max(1) as f64;
        let _ = write!(
            b,
            "<h3>{}</h3><svg class=\"chart tokens\" width=\"{w}\" height=\"180\" viewBox=\"0 0 {w} 180\" role=\"img\">\
             <text x=\"0\" y=\"12\">{max}</text><path class=\"axis\" d=\"M60 10 V160 H{w}\" stroke=\"#889\" fill=\"none\"/>",
            escape(if model.is_empty() {
                "(no model)"
            } else {
                model
            }),
            w = CHART_WIDTH + 60.0,
        );
        let slot = CHART_WIDTH / buckets;
        for t in rows {
            let x = 60.0 + ((t.bucket_ns - first) / o.bucket_ns.max(1)) as f64 * slot + 1.0;
            let mut y = 160.0;
            for ((name, colour), value) in TOKEN_TYPES.iter().zip(TOKEN_COLOURS).zip([
                t.input,
                t.output,
                t.cached,
                t.reasoning,
            ]) {
                let h = value.max(0) as f64 / max * 150.0;
                if h <= 0.0 {
                    continue;
                }
                y -= h;
                let _ = write!(
                    b,
                    "<rect class=\"bar\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"{h:.1}\" fill=\"{colour}\">\
                     <title>{} {name}: {value}</title></rect>",
                    time(t.bucket_ns),
                    bw = (slot - 2.0).max(1.0),
                );
            }
        }
        let _ = write!(
            b,
            "<text x=\"60\" y=\"176\">{}</text><text x=\"{}\" y=\"176\" text-anchor=\"end\">{}</text></svg>",
            time(first),
            CHART_WIDTH + 60.0,
            time(last.saturating_add(o.bucket_ns)),
        );
    }

    b.push_str("<h2>API request latency</h2>");
    let total: u64 = o.latency.iter().map(|l| l.requests).sum();
    if total == 0 {
        b.push_str("<p class=\"muted\">No api_request event yet.</p>");
    }
    let max = o
        .latency
        .iter()
        .map(|l| l.requests)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let slot = CHART_WIDTH / o.latency.len().max(1) as f64;
    let _ = write!(
        b,
        "<svg class=\"chart latency\" width=\"{w}\" height=\"200\" viewBox=\"0 0 {w} 200\" role=\"img\">\
         <path class=\"axis\" d=\"M0 170 H{w}\" stroke=\"#889\" fill=\"none\"/>",
        w = CHART_WIDTH,
    );
    for (i, l) in o.latency.iter().enumerate() {
        let h = l.requests as f64 / max * 150.0;
        let x = i as f64 * slot;
        let label = match l.le_ms {
            Some(le) => format!("≤{le}"),
            None => "more".to_owned(),
        };
        let _ = write!(
            b,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"#4a7bd0\">\
             <title>{label} ms: {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{:.1}\" y=\"186\" text-anchor=\"middle\">{label}</text>",
            x + 2.0,
            170.0 - h,
            slot - 4.0,
            l.requests,
            x + slot / 2.0,
            165.0 - h,
            l.requests,
            x + slot / 2.0,
        );
    }
    b.push_str("</svg><p class=\"muted\">milliseconds (duration_ms of the api_request events)</p>");

    b.push_str("<h2>Tool success rate</h2>");
    if o.tools.is_empty() {
        b.push_str("<p class=\"muted\">No tool_result event yet.</p>");
    }
    let height = 22.0 * o.tools.len() as f64 + 4.0;
    let _ = write!(
        b,
        "<svg class=\"chart tools\" width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\">",
        w = LABEL_WIDTH + CHART_WIDTH * 0.6 + 240.0,
    );
    let bar = CHART_WIDTH * 0.6;
    for (i, t) in o.tools.iter().enumerate() {
        let y = 22.0 * i as f64 + 2.0;
        let rate = if t.calls == 0 {
            0.0
        } else {
            t.successes as f64 / t.calls as f64
        };
        let name = escape(&t.tool_name);
        let _ = write!(
            b,
            "<text class=\"tool-name\" x=\"0\" y=\"{ty}\">{name}</text>\
             <rect class=\"bar failed\" x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{bar}\" height=\"16\" fill=\"#d9534f\"/>\
             <rect class=\"bar success\" x=\"{LABEL_WIDTH}\" y=\"{y}\" width=\"{sw:.1}\" height=\"16\" fill=\"#5cb85c\">\
             <title>{name}: {} of {} succeeded</title></rect>\
             <text x=\"{tx}\" y=\"{ty}\">{:.0}% of {} &middot; mean {:.0} ms</text>",
            t.successes,
            t.calls,
            rate * 100.0,
            t.calls,
            t.mean_duration_ms,
            ty = y + 13.0,
            sw = rate * bar,
            tx = LABEL_WIDTH + bar + 8.0,
        );
    }
    b.push_str("</svg>");
    page("Overview", &b)
}

/// The page of an unknown session or path.
pub fn not_found(what: &str) -> String {
    page(
        "Not found",
        &format!(
            "<h1>Not found</h1><p>{}</p><p><a href=\"/\">All sessions</a></p>",
            escape(what)
        ),
    )
}

/// The page of a store error.
pub fn error(message: &str) -> String {
    page(
        "Error",
        &format!(
            "<h1>The store could not be read</h1><pre class=\"bad\">{}</pre>",
            escape(message)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_segment_encodes_everything_but_unreserved() {
        assert_eq!(path_segment("a b/<c>"), "a%20b%2F%3Cc%3E");
        assert_eq!(path_segment("demo-7f3c9a"), "demo-7f3c9a");
    }
}
