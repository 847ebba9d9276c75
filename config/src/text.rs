//! Small string helpers: `${VAR}` expansion, percent-decoding, "did you
//! mean" suggestions, URL checks and masking.

use crate::env::Environment;

/// Why `${VAR}` expansion failed. Never carries the text being expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    /// `${NAME}` with `NAME` unset.
    Unset(String),
    /// `${` without a closing `}`, or an empty / non-identifier name, at the
    /// given character index.
    BadReference(usize),
    /// A `$` followed by neither `{` nor `$`, at the given character index.
    LoneDollar(usize),
}

/// Where one `${NAME}` expansion landed in the expanded text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expansion {
    /// The variable's name.
    pub(crate) name: String,
    /// Byte range of its value in the expanded text.
    pub(crate) span: std::ops::Range<usize>,
}

/// Expands `${NAME}` from `env` and `$$` to `$`. Expanded values are
/// inserted as they are (not expanded again). Also tells where each
/// expanded value landed.
pub(crate) fn expand_tracked(
    raw: &str,
    env: &Environment,
) -> Result<(String, Vec<Expansion>), ExpandError> {
    let mut expansions = Vec::new();
    if !raw.contains('$') {
        return Ok((raw.to_owned(), expansions));
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices().peekable();
    let mut index = 0usize;
    while let Some((_, c)) = chars.next() {
        let at = index;
        index += 1;
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek().map(|&(_, c)| c) {
            Some('$') => {
                chars.next();
                index += 1;
                out.push('$');
            }
            Some('{') => {
                chars.next();
                index += 1;
                let mut name = String::new();
                let mut closed = false;
                for (_, c) in chars.by_ref() {
                    index += 1;
                    if c == '}' {
                        closed = true;
                        break;
                    }
                    name.push(c);
                }
                let valid = !name.is_empty()
                    && !name.starts_with(|c: char| c.is_ascii_digit())
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !closed || !valid {
                    return Err(ExpandError::BadReference(at));
                }
                match env.get(&name) {
                    Some(value) => {
                        let start = out.len();
                        out.push_str(value);
                        expansions.push(Expansion {
                            name,
                            span: start..out.len(),
                        });
                    }
                    None => return Err(ExpandError::Unset(name)),
                }
            }
            _ => return Err(ExpandError::LoneDollar(at)),
        }
    }
    Ok((out, expansions))
}

/// Characters that, inside an expanded value, would move the end of a URL's
/// user-info (`@`) or of its authority (`/`, `?`, `#`, and `\` for http(s)).
pub(crate) const USERINFO_BREAKERS: [char; 5] = ['@', '/', '?', '#', '\\'];

/// The first expansion that lands in the user-info of the URL `url` and
/// holds one of [`USERINFO_BREAKERS`]: once expanded, such a value would be
/// re-parsed with part of it as the host or path (leaking it in summaries
/// and sending requests elsewhere).
///
/// The URL's structure is read from the text written around the `${NAME}`
/// references only: the user-info ends at the last written `@` before the
/// first written `/`, `?` or `#` after the written `://`. When the written
/// text has no `://` or no such `@` (e.g. the whole URL is one `${NAME}`),
/// no expansion counts as user-info.
pub(crate) fn userinfo_expansion_breaking_url<'a>(
    url: &str,
    expansions: &'a [Expansion],
) -> Option<&'a Expansion> {
    if expansions.is_empty() {
        return None;
    }
    let literal = |i: usize| !expansions.iter().any(|e| e.span.contains(&i));
    let authority_start = url
        .match_indices("://")
        .map(|(i, _)| i)
        .find(|&i| (i..i + 3).all(literal))?
        + 3;
    let authority_end = url[authority_start..]
        .char_indices()
        .find(|&(i, c)| matches!(c, '/' | '?' | '#') && literal(authority_start + i))
        .map_or(url.len(), |(i, _)| authority_start + i);
    let userinfo_end = authority_start
        + url[authority_start..authority_end]
            .char_indices()
            .rev()
            .find(|&(i, c)| c == '@' && literal(authority_start + i))?
            .0;
    expansions.iter().find(|e| {
        e.span.start >= authority_start
            && e.span.end <= userinfo_end
            && url[e.span.clone()].contains(USERINFO_BREAKERS)
    })
}

/// Decodes `%XX` escapes (as in `OTEL_EXPORTER_OTLP_HEADERS` and
/// `OTEL_RESOURCE_ATTRIBUTES` values). Malformed escapes stay as written;
/// `None` when the decoded bytes are not UTF-8.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|b| (*b as char).to_digit(16)),
                bytes.get(i + 2).and_then(|b| (*b as char).to_digit(16)),
            )
        {
            // Two hex digits are at most 255.
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// The candidate closest to `input` when it is plausibly a typo.
pub(crate) fn suggest(input: &str, candidates: &'static [&'static str]) -> Option<&'static str> {
    let normalize = |s: &str| s.to_ascii_lowercase().replace('_', "-");
    let wanted = normalize(input);
    if wanted.len() >= 3
        && let Some(c) = candidates.iter().find(|c| normalize(c).contains(&wanted))
    {
        return Some(c);
    }
    candidates
        .iter()
        .map(|c| (levenshtein(&wanted, &normalize(c)), *c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4) && *d < c.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// `url` with the password of its user-info replaced by `***`, for messages
/// and summaries. Works on unparsable text too; the user-info ends at the
/// last `@` before the path, query or fragment (see
/// [`agent_otel_core::mask_url_credentials`]), so a password holding `@`
/// is masked in full.
pub(crate) fn mask_url(raw: &str) -> String {
    agent_otel_core::mask_url_credentials(raw)
}

/// Checks an endpoint URL; `Err` holds (reason, fix).
pub(crate) fn check_url(raw: &str, grpc: bool) -> Result<(), (String, &'static str)> {
    // Before parsing: the URL parser silently drops tabs and line breaks.
    if let Some((index, c)) = raw.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err((
            format!(
                "the URL holds a control character (U+{:04X}) at character {}",
                u32::from(c),
                index + 1
            ),
            "remove line breaks, tabs and other control characters (check the variables it references)",
        ));
    }
    if !raw.contains("://") {
        return Err((
            "the URL has no http:// or https:// scheme".to_owned(),
            if grpc {
                "start it with https:// (or http:// for plaintext), e.g. \"https://collector.example.com:4317\""
            } else {
                "start it with https:// (or http:// for plaintext), e.g. \"https://collector.example.com:4318/v1/logs\""
            },
        ));
    }
    let parsed = url::Url::parse(raw).map_err(|e| {
        (
            e.to_string(),
            "write an absolute URL such as \"https://collector.example.com:4318/v1/logs\"",
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err((
            format!("scheme \"{}\" is not supported", parsed.scheme()),
            "use an http:// or https:// URL",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err((
            "the URL has no host".to_owned(),
            "write the collector's host, e.g. \"https://collector.example.com\"",
        ));
    }
    if parsed.port() == Some(0) {
        return Err((
            "port 0 is not a port a collector can listen on".to_owned(),
            "write the collector's port, e.g. 4318 (OTLP/HTTP) or 4317 (OTLP/gRPC)",
        ));
    }
    if grpc && (!parsed.username().is_empty() || parsed.password().is_some()) {
        return Err((
            "gRPC endpoints take no user info".to_owned(),
            "remove \"user:password@\" and send credentials as headers",
        ));
    }
    if grpc && !matches!(parsed.path(), "" | "/") {
        return Err((
            format!("gRPC endpoints take no path, found \"{}\"", parsed.path()),
            "remove the path (e.g. \"https://collector.example.com:4317\"); the service path is fixed by OTLP/gRPC",
        ));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        if grpc {
            return Err((
                "gRPC endpoints take no query or fragment".to_owned(),
                "remove everything after the host and port",
            ));
        }
        if parsed.fragment().is_some() {
            return Err(("the URL has a #fragment".to_owned(), "remove the #fragment"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand(raw: &str, env: &Environment) -> Result<String, ExpandError> {
        expand_tracked(raw, env).map(|(out, _)| out)
    }

    #[test]
    fn expands_variables_and_dollar_escapes() {
        let env = Environment::from_pairs([("TOKEN", "abc"), ("EMPTY", "")]);
        assert_eq!(expand("Bearer ${TOKEN}", &env).as_deref(), Ok("Bearer abc"));
        assert_eq!(expand("$$${TOKEN}$$", &env).as_deref(), Ok("$abc$"));
        assert_eq!(expand("a${EMPTY}b", &env).as_deref(), Ok("ab"));
        assert_eq!(expand("$${TOKEN}", &env).as_deref(), Ok("${TOKEN}"));
        assert_eq!(expand("plain", &env).as_deref(), Ok("plain"));
        assert_eq!(
            expand("${NOPE}", &env),
            Err(ExpandError::Unset("NOPE".into()))
        );
        assert_eq!(expand("x${TOKEN", &env), Err(ExpandError::BadReference(1)));
        assert_eq!(expand("${}", &env), Err(ExpandError::BadReference(0)));
        assert_eq!(expand("${A-B}", &env), Err(ExpandError::BadReference(0)));
        assert_eq!(expand("ab$c", &env), Err(ExpandError::LoneDollar(2)));
        assert_eq!(expand("ab$", &env), Err(ExpandError::LoneDollar(2)));
    }

    #[test]
    fn expanded_values_are_not_expanded_again() {
        let env = Environment::from_pairs([("A", "${B}"), ("B", "no")]);
        assert_eq!(expand("${A}", &env).as_deref(), Ok("${B}"));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b%2Cc").as_deref(), Some("a b,c"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(percent_decode("%C3%A9").as_deref(), Some("é"));
        assert_eq!(percent_decode("%FF"), None);
    }

    #[test]
    fn suggestions() {
        const C: &[&str] = &["none", "otlp-http", "otlp-grpc"];
        assert_eq!(suggest("otlp-htp", C), Some("otlp-http"));
        assert_eq!(suggest("otlp_grpc", C), Some("otlp-grpc"));
        assert_eq!(suggest("kafka", C), None);
        assert_eq!(
            suggest("timeout_ms", &["timeout-ms", "tls"]),
            Some("timeout-ms")
        );
    }

    #[test]
    fn urls() {
        assert!(check_url("https://otel.example.com/v1/logs", false).is_ok());
        assert!(check_url("http://localhost:4317", true).is_ok());
        assert!(check_url("ftp://x", false).is_err());
        assert!(check_url("localhost:4318", false).is_err());
        assert!(check_url("not a url", false).is_err());
        assert!(check_url("https://h:4317/v1/logs", true).is_err());
        for bad in [
            "https://h/v1/\nlogs",
            "https://h\r/v1/logs",
            "https://h/v1/lo\tgs",
            "https://h/v1/logs\u{1}",
            "https://h/v1/logs\u{7f}",
        ] {
            let (reason, _) = check_url(bad, false).expect_err(bad);
            assert!(reason.contains("control character"), "{reason}");
        }
        for zero in ["http://h:0/v1/logs", "http://h:00", "https://[::1]:0"] {
            let (reason, _) = check_url(zero, zero.ends_with("]:0")).expect_err(zero);
            assert!(reason.contains("port 0"), "{zero}: {reason}");
        }
        assert_eq!(
            mask_url("https://user:pw@h/v1/logs"),
            "https://user:***@h/v1/logs"
        );
        assert_eq!(mask_url("https://h/v1/logs"), "https://h/v1/logs");
    }

    #[test]
    fn masking_splits_user_info_at_the_last_at_sign() {
        // Unparsable (port out of range): the fallback used to split at the
        // first '@' and show "ss@host".
        assert_eq!(
            mask_url("https://user:p@ss@host:99999/v1/logs"),
            "https://user:***@host:99999/v1/logs"
        );
        assert_eq!(
            mask_url("https://user:p@ss@host/v1/logs"),
            "https://user:***@host/v1/logs"
        );
        assert_eq!(mask_url("https://u:pw@h?x=@y"), "https://u:***@h?x=***");
        assert_eq!(mask_url("not a url"), "not a url");
    }

    #[test]
    fn expansions_are_tracked() {
        let env = Environment::from_pairs([("A", "xy"), ("B", "")]);
        let (out, spans) = expand_tracked("$$${A}-${B}${A}", &env).expect("expands");
        assert_eq!(out, "$xy-xy");
        let found: Vec<(&str, std::ops::Range<usize>)> = spans
            .iter()
            .map(|e| (e.name.as_str(), e.span.clone()))
            .collect();
        assert_eq!(found, [("A", 1..3), ("B", 4..4), ("A", 4..6)]);
    }

    #[test]
    fn expansions_breaking_the_user_info_are_found() {
        let breaking = |template: &str, pairs: &[(&str, &str)]| {
            let env = Environment::from_pairs(pairs.iter().copied());
            let (url, spans) = expand_tracked(template, &env).expect("expands");
            userinfo_expansion_breaking_url(&url, &spans).map(|e| e.name.clone())
        };
        let t = "https://${U}:${P}@${H}/v1/logs";
        let ok = [("U", "user"), ("P", "pw:x%40y"), ("H", "h:4318/otlp")];
        assert_eq!(breaking(t, &ok), None);
        for bad in ["a@b/c", "a/b", "a?b", "a#b", "a\\b", "x@y"] {
            let pairs = [("U", "user"), ("P", bad), ("H", "h")];
            assert_eq!(breaking(t, &pairs).as_deref(), Some("P"), "{bad}");
        }
        assert_eq!(
            breaking(t, &[("U", "us@r"), ("P", "pw"), ("H", "h")]).as_deref(),
            Some("U")
        );
        // Whole credentials in one variable.
        assert_eq!(
            breaking("https://${C}@h/v1/logs", &[("C", "u:p/w")]).as_deref(),
            Some("C")
        );
        assert_eq!(breaking("https://${C}@h/v1/logs", &[("C", "u:pw")]), None);
        // Outside the user-info anything goes.
        assert_eq!(breaking("https://h/${P}", &[("P", "a@b/c?d#e")]), None);
        assert_eq!(breaking("https://u:pw@h?t=${Q}", &[("Q", "a@b/c")]), None);
        // No written structure: the value is a whole URL, used as written.
        assert_eq!(
            breaking("${URL}", &[("URL", "https://u:p@w@h/v1/logs")]),
            None
        );
    }
}
