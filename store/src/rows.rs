//! OTLP requests written as rows of the ClickHouse-named tables.

use agent_otel_collector::any_value_text;
use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value,
};
use agent_otel_collector::opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, exemplar, metric, number_data_point,
};
use agent_otel_collector::opentelemetry_proto::tonic::resource::v1::Resource;
use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::{span, status};
use rusqlite::{Transaction, params};
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

fn service_name(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| kv.value.as_ref())
        .map(any_value_text)
        .unwrap_or_default()
}

fn body_text(body: Option<&AnyValue>) -> String {
    body.map(any_value_text).unwrap_or_default()
}

/// Nanoseconds as SQLite's signed integer (saturating; year 2262 is far).
fn nanos(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// Resource and scope columns shared by the rows of one scope.
struct Origin {
    resource_attributes: String,
    resource_schema_url: String,
    service_name: String,
    scope_name: String,
    scope_version: String,
    scope_attributes: String,
    scope_dropped: u32,
    scope_schema_url: String,
}

impl Origin {
    fn new(
        resource: Option<&Resource>,
        resource_schema_url: &str,
        scope: Option<&InstrumentationScope>,
        scope_schema_url: &str,
    ) -> Self {
        Origin {
            resource_attributes: attributes_json(resource.map_or(&[], |r| &r.attributes)),
            resource_schema_url: resource_schema_url.to_owned(),
            service_name: service_name(resource),
            scope_name: scope.map(|s| s.name.clone()).unwrap_or_default(),
            scope_version: scope.map(|s| s.version.clone()).unwrap_or_default(),
            scope_attributes: attributes_json(scope.map_or(&[], |s| &s.attributes)),
            scope_dropped: scope.map_or(0, |s| s.dropped_attributes_count),
            scope_schema_url: scope_schema_url.to_owned(),
        }
    }
}

/// Writes every log record of `request`; returns how many.
pub(crate) fn write_logs(
    tx: &Transaction<'_>,
    request: &ExportLogsServiceRequest,
) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO otel_logs (Timestamp, TraceId, SpanId, TraceFlags, SeverityText, \
         SeverityNumber, ServiceName, Body, ResourceSchemaUrl, ResourceAttributes, \
         ScopeSchemaUrl, ScopeName, ScopeVersion, ScopeAttributes, LogAttributes, EventName) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?;
    let mut n = 0;
    for rl in &request.resource_logs {
        for sl in &rl.scope_logs {
            let o = Origin::new(
                rl.resource.as_ref(),
                &rl.schema_url,
                sl.scope.as_ref(),
                &sl.schema_url,
            );
            for r in &sl.log_records {
                let time = if r.time_unix_nano != 0 {
                    r.time_unix_nano
                } else {
                    r.observed_time_unix_nano
                };
                stmt.execute(params![
                    nanos(time),
                    hex(&r.trace_id),
                    hex(&r.span_id),
                    r.flags,
                    r.severity_text,
                    r.severity_number,
                    o.service_name,
                    body_text(r.body.as_ref()),
                    o.resource_schema_url,
                    o.resource_attributes,
                    o.scope_schema_url,
                    o.scope_name,
                    o.scope_version,
                    o.scope_attributes,
                    attributes_json(&r.attributes),
                    r.event_name,
                ])?;
                n += 1;
            }
        }
    }
    Ok(n)
}

fn span_kind(kind: i32) -> &'static str {
    match span::SpanKind::try_from(kind) {
        Ok(span::SpanKind::Internal) => "Internal",
        Ok(span::SpanKind::Server) => "Server",
        Ok(span::SpanKind::Client) => "Client",
        Ok(span::SpanKind::Producer) => "Producer",
        Ok(span::SpanKind::Consumer) => "Consumer",
        _ => "Unspecified",
    }
}

fn status_code(code: i32) -> &'static str {
    match status::StatusCode::try_from(code) {
        Ok(status::StatusCode::Ok) => "Ok",
        Ok(status::StatusCode::Error) => "Error",
        _ => "Unset",
    }
}

fn json_array(values: impl Iterator<Item = Value>) -> String {
    Value::Array(values.collect()).to_string()
}

/// Writes every span of `request`; returns how many.
pub(crate) fn write_traces(
    tx: &Transaction<'_>,
    request: &ExportTraceServiceRequest,
) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, TraceState, \
         SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, \
         SpanAttributes, Duration, StatusCode, StatusMessage, \"Events.Timestamp\", \
         \"Events.Name\", \"Events.Attributes\", \"Links.TraceId\", \"Links.SpanId\", \
         \"Links.TraceState\", \"Links.Attributes\") \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20, ?21, ?22)",
    )?;
    let mut n = 0;
    for rs in &request.resource_spans {
        for ss in &rs.scope_spans {
            let o = Origin::new(
                rs.resource.as_ref(),
                &rs.schema_url,
                ss.scope.as_ref(),
                &ss.schema_url,
            );
            for s in &ss.spans {
                let duration = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano);
                let (code, message) = s.status.as_ref().map_or(("Unset", ""), |st| {
                    (status_code(st.code), st.message.as_str())
                });
                stmt.execute(params![
                    nanos(s.start_time_unix_nano),
                    hex(&s.trace_id),
                    hex(&s.span_id),
                    hex(&s.parent_span_id),
                    s.trace_state,
                    s.name,
                    span_kind(s.kind),
                    o.service_name,
                    o.resource_attributes,
                    o.scope_name,
                    o.scope_version,
                    attributes_json(&s.attributes),
                    nanos(duration),
                    code,
                    message,
                    json_array(
                        s.events
                            .iter()
                            .map(|e| Value::from(nanos(e.time_unix_nano)))
                    ),
                    json_array(s.events.iter().map(|e| Value::from(e.name.clone()))),
                    json_array(
                        s.events
                            .iter()
                            .map(|e| Value::from(attributes_json(&e.attributes)))
                    ),
                    json_array(s.links.iter().map(|l| Value::from(hex(&l.trace_id)))),
                    json_array(s.links.iter().map(|l| Value::from(hex(&l.span_id)))),
                    json_array(s.links.iter().map(|l| Value::from(l.trace_state.clone()))),
                    json_array(
                        s.links
                            .iter()
                            .map(|l| Value::from(attributes_json(&l.attributes)))
                    ),
                ])?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// The `Exemplars.*` columns, in table order.
fn exemplar_columns(exemplars: &[Exemplar]) -> [String; 5] {
    [
        json_array(
            exemplars
                .iter()
                .map(|e| Value::from(attributes_json(&e.filtered_attributes))),
        ),
        json_array(
            exemplars
                .iter()
                .map(|e| Value::from(nanos(e.time_unix_nano))),
        ),
        json_array(exemplars.iter().map(|e| {
            Value::from(match e.value {
                Some(exemplar::Value::AsDouble(v)) => v,
                Some(exemplar::Value::AsInt(v)) => v as f64,
                None => 0.0,
            })
        })),
        json_array(exemplars.iter().map(|e| Value::from(hex(&e.span_id)))),
        json_array(exemplars.iter().map(|e| Value::from(hex(&e.trace_id)))),
    ]
}

/// Writes every sum, gauge and histogram data point of `request`; returns
/// how many. Exponential histograms and summaries are not kept (no table
/// yet); they are not counted.
pub(crate) fn write_metrics(
    tx: &Transaction<'_>,
    request: &ExportMetricsServiceRequest,
) -> rusqlite::Result<usize> {
    const ORIGIN: &str = "ResourceAttributes, ResourceSchemaUrl, ScopeName, ScopeVersion, \
        ScopeAttributes, ScopeDroppedAttrCount, ScopeSchemaUrl, ServiceName, MetricName, \
        MetricDescription, MetricUnit, Attributes, StartTimeUnix, TimeUnix";
    const EXEMPLARS: &str = "\"Exemplars.FilteredAttributes\", \"Exemplars.TimeUnix\", \
        \"Exemplars.Value\", \"Exemplars.SpanId\", \"Exemplars.TraceId\"";
    let mut sum = tx.prepare_cached(&format!(
        "INSERT INTO otel_metrics_sum ({ORIGIN}, Value, Flags, {EXEMPLARS}, \
         AggregationTemporality, IsMonotonic) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, \
         ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)"
    ))?;
    let mut gauge = tx.prepare_cached(&format!(
        "INSERT INTO otel_metrics_gauge ({ORIGIN}, Value, Flags, {EXEMPLARS}) VALUES (?1, ?2, \
         ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)"
    ))?;
    let mut histogram = tx.prepare_cached(&format!(
        "INSERT INTO otel_metrics_histogram ({ORIGIN}, Count, Sum, BucketCounts, \
         ExplicitBounds, {EXEMPLARS}, Flags, Min, Max, AggregationTemporality) VALUES (?1, ?2, \
         ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, \
         ?21, ?22, ?23, ?24, ?25, ?26, ?27)"
    ))?;
    let mut n = 0;
    for rm in &request.resource_metrics {
        for sm in &rm.scope_metrics {
            let o = Origin::new(
                rm.resource.as_ref(),
                &rm.schema_url,
                sm.scope.as_ref(),
                &sm.schema_url,
            );
            for m in &sm.metrics {
                let number = |v: &Option<number_data_point::Value>| match v {
                    Some(number_data_point::Value::AsDouble(d)) => *d,
                    Some(number_data_point::Value::AsInt(i)) => *i as f64,
                    None => 0.0,
                };
                match &m.data {
                    Some(metric::Data::Sum(s)) => {
                        for p in &s.data_points {
                            let [ea, et, ev, es, etr] = exemplar_columns(&p.exemplars);
                            sum.execute(params![
                                o.resource_attributes,
                                o.resource_schema_url,
                                o.scope_name,
                                o.scope_version,
                                o.scope_attributes,
                                o.scope_dropped,
                                o.scope_schema_url,
                                o.service_name,
                                m.name,
                                m.description,
                                m.unit,
                                attributes_json(&p.attributes),
                                nanos(p.start_time_unix_nano),
                                nanos(p.time_unix_nano),
                                number(&p.value),
                                p.flags,
                                ea,
                                et,
                                ev,
                                es,
                                etr,
                                s.aggregation_temporality,
                                s.is_monotonic,
                            ])?;
                            n += 1;
                        }
                    }
                    Some(metric::Data::Gauge(g)) => {
                        for p in &g.data_points {
                            let [ea, et, ev, es, etr] = exemplar_columns(&p.exemplars);
                            gauge.execute(params![
                                o.resource_attributes,
                                o.resource_schema_url,
                                o.scope_name,
                                o.scope_version,
                                o.scope_attributes,
                                o.scope_dropped,
                                o.scope_schema_url,
                                o.service_name,
                                m.name,
                                m.description,
                                m.unit,
                                attributes_json(&p.attributes),
                                nanos(p.start_time_unix_nano),
                                nanos(p.time_unix_nano),
                                number(&p.value),
                                p.flags,
                                ea,
                                et,
                                ev,
                                es,
                                etr,
                            ])?;
                            n += 1;
                        }
                    }
                    Some(metric::Data::Histogram(h)) => {
                        for p in &h.data_points {
                            let [ea, et, ev, es, etr] = exemplar_columns(&p.exemplars);
                            histogram.execute(params![
                                o.resource_attributes,
                                o.resource_schema_url,
                                o.scope_name,
                                o.scope_version,
                                o.scope_attributes,
                                o.scope_dropped,
                                o.scope_schema_url,
                                o.service_name,
                                m.name,
                                m.description,
                                m.unit,
                                attributes_json(&p.attributes),
                                nanos(p.start_time_unix_nano),
                                nanos(p.time_unix_nano),
                                nanos(p.count),
                                p.sum.unwrap_or(0.0),
                                json_array(p.bucket_counts.iter().map(|c| Value::from(*c))),
                                json_array(p.explicit_bounds.iter().map(|b| Value::from(*b))),
                                ea,
                                et,
                                ev,
                                es,
                                etr,
                                p.flags,
                                p.min,
                                p.max,
                                h.aggregation_temporality,
                            ])?;
                            n += 1;
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_repeated_key_keeps_its_last_value() {
        let attrs = [
            kv("k", any_value::Value::StringValue("first".into())),
            kv("k", any_value::Value::StringValue("last".into())),
        ];
        assert_eq!(attributes_json(&attrs), r#"{"k":"last"}"#);
    }
}
