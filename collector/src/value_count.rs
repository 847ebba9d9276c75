//! Counting the values of a request on the wire, before it is decoded, so
//! a small body of many tiny records cannot expand into gigabytes of
//! decoded messages.
//!
//! Protobuf: a walk over the OTLP message tree (which field of which
//! message holds which message), counting every field occurrence and every
//! element of packed repeated numbers. JSON: every object and every comma
//! outside strings. Both are upper bounds of the number of values the
//! decoder allocates. A malformed body stops the walk early; the decoder
//! then reports it.

use crate::record::Signal;

/// The OTLP messages whose fields hold other messages (or packed numbers).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    LogsRequest,
    MetricsRequest,
    TracesRequest,
    ResourceLogs,
    ResourceMetrics,
    ResourceSpans,
    Resource,
    ScopeLogs,
    ScopeMetrics,
    ScopeSpans,
    Scope,
    LogRecord,
    KeyValue,
    AnyValue,
    ArrayValue,
    KeyValueList,
    Span,
    SpanEvent,
    SpanLink,
    Metric,
    DataPoints,
    HistogramDataPoints,
    ExponentialHistogramDataPoints,
    SummaryDataPoints,
    NumberDataPoint,
    HistogramDataPoint,
    ExponentialHistogramDataPoint,
    Buckets,
    SummaryDataPoint,
    Exemplar,
    /// A message whose fields are all scalars or strings.
    Leaf,
}

/// What a length-delimited field of a message holds.
enum Child {
    Message(Kind),
    /// Packed repeated numbers, at least `n` bytes each.
    Packed(usize),
    /// A string, bytes or unknown field: one value.
    Opaque,
}

fn child(kind: Kind, field: u64) -> Child {
    use Kind::*;
    let message = match (kind, field) {
        (LogsRequest, 1) => ResourceLogs,
        (MetricsRequest, 1) => ResourceMetrics,
        (TracesRequest, 1) => ResourceSpans,
        (ResourceLogs | ResourceMetrics | ResourceSpans, 1) => Resource,
        (ResourceLogs, 2) => ScopeLogs,
        (ResourceMetrics, 2) => ScopeMetrics,
        (ResourceSpans, 2) => ScopeSpans,
        (Resource, 1) => KeyValue,
        (Resource, 3) => Leaf,
        (ScopeLogs | ScopeMetrics | ScopeSpans, 1) => Scope,
        (ScopeLogs, 2) => LogRecord,
        (ScopeMetrics, 2) => Metric,
        (ScopeSpans, 2) => Span,
        (Scope, 3) => KeyValue,
        (LogRecord, 5) => AnyValue,
        (LogRecord, 6) => KeyValue,
        (KeyValue, 2) => AnyValue,
        (AnyValue, 5) => ArrayValue,
        (AnyValue, 6) => KeyValueList,
        (ArrayValue, 1) => AnyValue,
        (KeyValueList, 1) => KeyValue,
        (Span, 9) => KeyValue,
        (Span, 11) => SpanEvent,
        (Span, 13) => SpanLink,
        (Span, 15) => Leaf,
        (SpanEvent, 3) | (SpanLink, 4) => KeyValue,
        (Metric, 5 | 7) => DataPoints,
        (Metric, 9) => HistogramDataPoints,
        (Metric, 10) => ExponentialHistogramDataPoints,
        (Metric, 11) => SummaryDataPoints,
        (Metric, 12) => KeyValue,
        (DataPoints, 1) => NumberDataPoint,
        (HistogramDataPoints, 1) => HistogramDataPoint,
        (ExponentialHistogramDataPoints, 1) => ExponentialHistogramDataPoint,
        (SummaryDataPoints, 1) => SummaryDataPoint,
        (NumberDataPoint, 7) | (HistogramDataPoint, 9) | (ExponentialHistogramDataPoint, 1) => {
            KeyValue
        }
        (SummaryDataPoint, 7) | (Exemplar, 7) => KeyValue,
        (NumberDataPoint, 5) | (HistogramDataPoint, 8) | (ExponentialHistogramDataPoint, 11) => {
            Exemplar
        }
        (HistogramDataPoint, 6 | 7) => return Child::Packed(8),
        (ExponentialHistogramDataPoint, 8 | 9) => Buckets,
        (Buckets, 2) => return Child::Packed(1),
        (SummaryDataPoint, 6) => Leaf,
        _ => return Child::Opaque,
    };
    Child::Message(message)
}

/// Deeper nesting than this is left to the decoder (prost refuses it).
const MAX_DEPTH: usize = 100;

/// Whether a protobuf request of `signal` holds more than `max` values.
pub(crate) fn protobuf_exceeds(signal: Signal, body: &[u8], max: usize) -> bool {
    let root = match signal {
        Signal::Logs => Kind::LogsRequest,
        Signal::Metrics => Kind::MetricsRequest,
        Signal::Traces => Kind::TracesRequest,
    };
    let mut count = 0usize;
    walk(root, body, 0, &mut count, max).is_err()
}

/// The walk stopped: `Err(())` once the count passed the maximum.
fn walk(kind: Kind, mut buf: &[u8], depth: usize, count: &mut usize, max: usize) -> Result<(), ()> {
    while !buf.is_empty() {
        let Some((key, rest)) = varint(buf) else {
            return Ok(()); // malformed: the decoder will say so
        };
        buf = rest;
        *count += 1;
        if *count > max {
            return Err(());
        }
        let field = key >> 3;
        let skip = match key & 7 {
            0 => match varint(buf) {
                Some((_, rest)) => buf.len() - rest.len(),
                None => return Ok(()),
            },
            1 => 8,
            5 => 4,
            2 => {
                let Some((len, rest)) = varint(buf) else {
                    return Ok(());
                };
                let Some(len) = usize::try_from(len).ok().filter(|&l| l <= rest.len()) else {
                    return Ok(());
                };
                let (inner, after) = rest.split_at(len);
                match child(kind, field) {
                    Child::Message(Kind::Leaf) | Child::Opaque => {}
                    Child::Message(next) if depth < MAX_DEPTH => {
                        walk(next, inner, depth + 1, count, max)?;
                    }
                    Child::Message(_) => return Ok(()),
                    Child::Packed(width) => {
                        *count = count.saturating_add(len / width);
                        if *count > max {
                            return Err(());
                        }
                    }
                }
                buf = after;
                continue;
            }
            _ => return Ok(()), // groups and invalid wire types
        };
        if skip > buf.len() {
            return Ok(());
        }
        buf = &buf[skip..];
    }
    Ok(())
}

fn varint(buf: &[u8]) -> Option<(u64, &[u8])> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, &buf[i + 1..]));
        }
    }
    None
}

/// Whether a JSON body holds more than `max` values: objects and commas
/// outside strings are counted.
pub(crate) fn json_exceeds(body: &[u8], max: usize) -> bool {
    let mut count = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &b in body {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b',' => {
                count += 1;
                if count > max {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use prost::Message as _;

    fn empty_records(n: usize) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord::default(); n],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn counts_tiny_records_before_decoding() {
        let body = empty_records(1000).encode_to_vec();
        // Two bytes per empty record on the wire, one value each.
        assert!(body.len() < 2100);
        assert!(protobuf_exceeds(Signal::Logs, &body, 999));
        assert!(!protobuf_exceeds(Signal::Logs, &body, 1010));
    }

    #[test]
    fn malformed_bodies_are_left_to_the_decoder() {
        assert!(!protobuf_exceeds(Signal::Traces, &[0x0a, 0xff], 10));
        assert!(!protobuf_exceeds(Signal::Metrics, &[0xff; 11], 10));
    }

    #[test]
    fn json_counts_objects_and_commas_outside_strings() {
        assert!(!json_exceeds(br#"{"a":"{,{,{,{","b":[1]}"#, 2));
        assert!(json_exceeds(br#"[{},{},{}]"#, 4));
    }
}
