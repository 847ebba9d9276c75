//! Received values as the store's text: attribute maps as JSON objects of
//! strings, ids as lowercase hex, arrays as JSON (see the `schema` module).

use agent_otel_collector::any_value_text;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use serde_json::{Map, Value};

/// Attributes as a JSON object of strings (ClickHouse `Map(String, String)`).
///
/// Written straight into one string (the write path's hottest function:
/// no intermediate map); a repeated key (invalid OTLP) keeps its last value,
/// as a map would.
pub(crate) fn attributes_json(attrs: &[KeyValue]) -> String {
    let repeated = attrs
        .iter()
        .enumerate()
        .any(|(i, a)| attrs[..i].iter().any(|b| b.key == a.key));
    if repeated {
        let mut map = Map::new();
        for kv in attrs {
            let text = kv.value.as_ref().map(any_value_text).unwrap_or_default();
            map.insert(kv.key.clone(), Value::String(text));
        }
        return Value::Object(map).to_string();
    }
    let mut out = String::with_capacity(2 + attrs.len() * 48);
    out.push('{');
    for (i, kv) in attrs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_string(&mut out, &kv.key);
        out.push(':');
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(any_value::Value::StringValue(text)) => push_json_string(&mut out, text),
            _ => {
                let text = kv.value.as_ref().map(any_value_text).unwrap_or_default();
                push_json_string(&mut out, &text);
            }
        }
    }
    out.push('}');
    out
}

/// Appends `text` as a JSON string literal (runs of characters that need
/// no escape are copied at once; only ASCII bytes are ever escaped, so
/// every cut is on a character boundary).
fn push_json_string(out: &mut String, text: &str) {
    use std::fmt::Write as _;
    out.push('"');
    let mut start = 0;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
    out.push('"');
}

/// Lowercase hex back to bytes (empty when unset or malformed; never
/// panics on a non-ASCII value of a damaged file).
pub(crate) fn unhex(text: &str) -> Vec<u8> {
    if !text.is_ascii() || !text.len().is_multiple_of(2) {
        return Vec::new();
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
        .collect::<Result<_, _>>()
        .unwrap_or_default()
}

/// Lowercase hex of an id (empty when unset).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Values as a JSON array (ClickHouse `Array(T)` and `Nested` columns).
pub(crate) fn json_array(values: impl Iterator<Item = Value>) -> String {
    Value::Array(values.collect()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_otel_collector::opentelemetry_proto::tonic::common::v1::AnyValue;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    #[test]
    fn attributes_json_is_a_json_object_of_strings() {
        let attrs = [
            kv(
                "tool_name",
                any_value::Value::StringValue("a\"b\\c\n\u{1b}é".into()),
            ),
            kv("duration_ms", any_value::Value::IntValue(42)),
            kv("ok", any_value::Value::BoolValue(true)),
        ];
        let parsed: Value = serde_json::from_str(&attributes_json(&attrs)).expect("json");
        assert_eq!(
            parsed,
            serde_json::json!({"tool_name": "a\"b\\c\n\u{1b}é", "duration_ms": "42", "ok": "true"})
        );
    }

    #[test]
    fn every_escape_at_every_offset_matches_serde_json() {
        // Each ASCII byte at each offset of a 19-byte string, after no,
        // one and several multi-byte characters.
        for prefix in ["", "é", "日本"] {
            for b in 0u8..0x80 {
                for at in 0..19 {
                    let mut text: Vec<char> = "abcdefghijklmnopqrs".chars().collect();
                    text[at] = char::from(b);
                    let text = format!("{prefix}{}", text.iter().collect::<String>());
                    let mut out = String::new();
                    push_json_string(&mut out, &text);
                    assert_eq!(
                        serde_json::from_str::<String>(&out).ok().as_deref(),
                        Some(text.as_str()),
                        "byte {b:#x} at {at}: {out}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        let attrs = [
            kv("k", any_value::Value::StringValue("first".into())),
            kv("k", any_value::Value::StringValue("last".into())),
        ];
        assert_eq!(attributes_json(&attrs), r#"{"k":"last"}"#);
    }
}
