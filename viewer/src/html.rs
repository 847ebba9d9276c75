//! HTML escaping and the page frame every page shares.

use std::fmt::Write as _;

/// `text` with `&`, `<`, `>`, `"` and `'` escaped: safe in element
/// content and in quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

/// Appends `text`, escaped as [`escape`] does, to `out`.
pub fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The Content-Security-Policy of every response: no script at all, no
/// remote load; inline styles and `data:` images (the empty favicon) only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; \
     img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const STYLE: &str = "body{font:14px system-ui,sans-serif;margin:0;color:#1d2330}\
nav{background:#1d2330;padding:8px 16px}nav a{color:#fff;margin-right:16px;text-decoration:none}\
main{padding:16px}table{border-collapse:collapse;margin:8px 0}\
th,td{padding:3px 8px;border-bottom:1px solid #dde;text-align:left;vertical-align:top}\
td.n{text-align:right}.bad{color:#b00020}.ok{color:#1b7f3b}.muted{color:#667}\
pre{white-space:pre-wrap;margin:0}svg{display:block;margin:8px 0}\
svg text{font:11px system-ui,sans-serif}h2{margin-top:24px}";

/// A whole page: `title` (escaped here) and `body` (already HTML).
pub fn page(title: &str, body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 1024);
    out.push_str("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<link rel=\"icon\" href=\"data:,\">");
    let _ = write!(out, "<title>{} - agent-otel</title>", escape(title));
    let _ = write!(out, "<style>{STYLE}</style></head><body>");
    out.push_str(
        "<nav><a href=\"/\">Sessions</a><a href=\"/overview\">Overview</a>\
         <a href=\"/api/sessions\">JSON</a></nav><main>",
    );
    out.push_str(body);
    out.push_str("</main></body></html>");
    out
}

/// `ns` (nanoseconds since the Unix epoch) as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn time(ns: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| ns.to_string())
}

/// A duration in nanoseconds, in the unit that reads best.
pub fn duration(ns: i64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 1.0 {
        format!("{:.0} µs", ns as f64 / 1e3)
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else if ms < 60_000.0 {
        format!("{:.1} s", ms / 1000.0)
    } else {
        format!("{:.1} min", ms / 60_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<img src=x onerror=\"alert('1')\">&"),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn formats_time_and_durations() {
        assert_eq!(time(1_700_000_000_000_000_000), "2023-11-14 22:13:20");
        assert_eq!(duration(1_500_000), "2 ms");
        assert_eq!(duration(2_500_000_000), "2.5 s");
    }
}
