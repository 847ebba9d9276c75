//! OTLP requests as rows of the ClickHouse-named tables, in two steps:
//! [`Rows::of`] renders every column's text **before** the store's lock is
//! taken (so concurrent requests render in parallel), then
//! [`Rows::insert`] only binds and inserts, under the lock.

use std::borrow::Cow;

use agent_otel_collector::SignalRequest;
use agent_otel_collector::any_value_text;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value,
};
use agent_otel_collector::opentelemetry_proto::tonic::logs::v1::LogRecord;
use agent_otel_collector::opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, exemplar, metric,
    number_data_point,
};
use agent_otel_collector::opentelemetry_proto::tonic::resource::v1::Resource;
use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::{Span, span, status};
use rusqlite::{Connection, ToSql, params};
use serde_json::Value;

use crate::schema::{CONVERSATION_ID, Table};
use crate::text::{attributes_json, hex, json_array};

/// Resource and scope columns shared by the rows of one scope.
struct Origin<'a> {
    resource_attributes: String,
    resource_schema_url: &'a str,
    service_name: String,
    scope_name: &'a str,
    scope_version: &'a str,
    scope_attributes: String,
    scope_dropped: u32,
    scope_schema_url: &'a str,
}

impl<'a> Origin<'a> {
    fn new(
        resource: Option<&'a Resource>,
        resource_schema_url: &'a str,
        scope: Option<&'a InstrumentationScope>,
        scope_schema_url: &'a str,
    ) -> Self {
        Origin {
            resource_attributes: attributes_json(resource.map_or(&[], |r| &r.attributes)),
            resource_schema_url,
            service_name: service_name(resource),
            scope_name: scope.map_or("", |s| &s.name),
            scope_version: scope.map_or("", |s| &s.version),
            scope_attributes: attributes_json(scope.map_or(&[], |s| &s.attributes)),
            scope_dropped: scope.map_or(0, |s| s.dropped_attributes_count),
            scope_schema_url,
        }
    }
}

fn service_name(resource: Option<&Resource>) -> String {
    resource
        .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
        .and_then(|kv| kv.value.as_ref())
        .map(any_value_text)
        .unwrap_or_default()
}

/// The `conversation.id` attribute as text (the last one when repeated,
/// as [`attributes_json`] keeps it; borrowed when it is a string); empty
/// when absent.
fn conversation_id(attributes: &[KeyValue]) -> Cow<'_, str> {
    let value = attributes
        .iter()
        .rev()
        .find(|kv| kv.key == CONVERSATION_ID)
        .and_then(|kv| kv.value.as_ref());
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(text)) => Cow::Borrowed(text),
        _ => Cow::Owned(value.map(any_value_text).unwrap_or_default()),
    }
}

fn body_text(body: Option<&AnyValue>) -> String {
    body.map(any_value_text).unwrap_or_default()
}

/// Nanoseconds as SQLite's signed integer (saturating; year 2262 is far).
fn nanos(t: u64) -> i64 {
    i64::try_from(t).unwrap_or(i64::MAX)
}

/// One `otel_logs` row: the record plus its rendered columns.
struct LogRow<'a> {
    origin: usize,
    record: &'a LogRecord,
    trace_id: String,
    span_id: String,
    body: String,
    attributes: String,
    /// The `conversation.id` attribute as text, empty when absent.
    conversation_id: Cow<'a, str>,
}

/// One `otel_traces` row.
struct SpanRow<'a> {
    origin: usize,
    span: &'a Span,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: String,
    /// `Events.Timestamp`, `Events.Name`, `Events.Attributes`.
    events: [String; 3],
    /// `Links.TraceId`, `Links.SpanId`, `Links.TraceState`, `Links.Attributes`.
    links: [String; 4],
}

/// What distinguishes the metric tables' rows: each type's own columns,
/// rendered.
enum PointKind<'a> {
    Sum {
        value: f64,
        temporality: i32,
        monotonic: bool,
    },
    Gauge {
        value: f64,
    },
    Histogram {
        /// For `Min` and `Max`.
        point: &'a HistogramDataPoint,
        count: i64,
        sum: f64,
        temporality: i32,
        bucket_counts: String,
        explicit_bounds: String,
    },
    ExponentialHistogram {
        /// For `Scale`, `Min` and `Max`.
        point: &'a ExponentialHistogramDataPoint,
        count: i64,
        sum: f64,
        zero_count: i64,
        temporality: i32,
        /// `PositiveOffset`, `NegativeOffset`.
        offsets: [i32; 2],
        /// `PositiveBucketCounts`, `NegativeBucketCounts`.
        bucket_counts: [String; 2],
    },
    Summary {
        count: i64,
        sum: f64,
        /// `ValueAtQuantiles.Quantile`, `ValueAtQuantiles.Value`.
        quantiles: [String; 2],
    },
}

/// One row of a metric table (`otel_metrics_sum`, `_gauge`, `_histogram`,
/// `_exponential_histogram` or `_summary`).
struct PointRow<'a> {
    origin: usize,
    metric: &'a Metric,
    attributes: String,
    /// `StartTimeUnix`, `TimeUnix`.
    times: [i64; 2],
    flags: u32,
    /// The `Exemplars.*` columns, in table order (unused by summaries).
    exemplars: [String; 5],
    kind: PointKind<'a>,
}

/// The rows of one request, rendered and ready to insert.
pub(crate) struct Rows<'a> {
    origins: Vec<Origin<'a>>,
    logs: Vec<LogRow<'a>>,
    spans: Vec<SpanRow<'a>>,
    points: Vec<PointRow<'a>>,
}

impl<'a> Rows<'a> {
    /// Renders every row of `request` (no SQL yet).
    pub(crate) fn of(request: SignalRequest<'a>) -> Self {
        let mut rows = Rows {
            origins: Vec::new(),
            logs: Vec::new(),
            spans: Vec::new(),
            points: Vec::new(),
        };
        match request {
            SignalRequest::Logs(r) => rows.add_logs(&r.request.resource_logs),
            SignalRequest::Traces(r) => rows.add_spans(&r.request.resource_spans),
            SignalRequest::Metrics(r) => rows.add_points(&r.request.resource_metrics),
        }
        rows
    }

    fn add_logs(
        &mut self,
        resource_logs: &'a [agent_otel_collector::opentelemetry_proto::tonic::logs::v1::ResourceLogs],
    ) {
        for rl in resource_logs {
            for sl in &rl.scope_logs {
                let origin = self.origins.len();
                self.origins.push(Origin::new(
                    rl.resource.as_ref(),
                    &rl.schema_url,
                    sl.scope.as_ref(),
                    &sl.schema_url,
                ));
                self.logs.reserve(sl.log_records.len());
                for record in &sl.log_records {
                    self.logs.push(LogRow {
                        origin,
                        record,
                        trace_id: hex(&record.trace_id),
                        span_id: hex(&record.span_id),
                        body: body_text(record.body.as_ref()),
                        attributes: attributes_json(&record.attributes),
                        conversation_id: conversation_id(&record.attributes),
                    });
                }
            }
        }
    }

    fn add_spans(
        &mut self,
        resource_spans: &'a [agent_otel_collector::opentelemetry_proto::tonic::trace::v1::ResourceSpans],
    ) {
        for rs in resource_spans {
            for ss in &rs.scope_spans {
                let origin = self.origins.len();
                self.origins.push(Origin::new(
                    rs.resource.as_ref(),
                    &rs.schema_url,
                    ss.scope.as_ref(),
                    &ss.schema_url,
                ));
                for span in &ss.spans {
                    let events = &span.events;
                    let links = &span.links;
                    self.spans.push(SpanRow {
                        origin,
                        span,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                        attributes: attributes_json(&span.attributes),
                        events: [
                            json_array(events.iter().map(|e| Value::from(nanos(e.time_unix_nano)))),
                            json_array(events.iter().map(|e| Value::from(e.name.as_str()))),
                            json_array(
                                events
                                    .iter()
                                    .map(|e| Value::from(attributes_json(&e.attributes))),
                            ),
                        ],
                        links: [
                            json_array(links.iter().map(|l| Value::from(hex(&l.trace_id)))),
                            json_array(links.iter().map(|l| Value::from(hex(&l.span_id)))),
                            json_array(links.iter().map(|l| Value::from(l.trace_state.as_str()))),
                            json_array(
                                links
                                    .iter()
                                    .map(|l| Value::from(attributes_json(&l.attributes))),
                            ),
                        ],
                    });
                }
            }
        }
    }

    fn add_points(
        &mut self,
        resource_metrics: &'a [agent_otel_collector::opentelemetry_proto::tonic::metrics::v1::ResourceMetrics],
    ) {
        for rm in resource_metrics {
            for sm in &rm.scope_metrics {
                let origin = self.origins.len();
                self.origins.push(Origin::new(
                    rm.resource.as_ref(),
                    &rm.schema_url,
                    sm.scope.as_ref(),
                    &sm.schema_url,
                ));
                for metric in &sm.metrics {
                    self.add_metric(origin, metric);
                }
            }
        }
    }

    fn add_metric(&mut self, origin: usize, metric: &'a Metric) {
        let row =
            |attributes: &[_], exemplars: &[Exemplar], times: [u64; 2], flags, kind| PointRow {
                origin,
                metric,
                attributes: attributes_json(attributes),
                times: times.map(nanos),
                flags,
                exemplars: exemplar_columns(exemplars),
                kind,
            };
        // The columns every data point type has, under the same field
        // names: attributes, start and time, flags (and exemplars, but
        // for summaries).
        macro_rules! point_row {
            ($p:expr, $exemplars:expr, $kind:expr) => {
                row(
                    &$p.attributes,
                    $exemplars,
                    [$p.start_time_unix_nano, $p.time_unix_nano],
                    $p.flags,
                    $kind,
                )
            };
        }
        match &metric.data {
            Some(metric::Data::Sum(s)) => {
                for p in &s.data_points {
                    let kind = PointKind::Sum {
                        value: number(&p.value),
                        temporality: s.aggregation_temporality,
                        monotonic: s.is_monotonic,
                    };
                    self.points.push(point_row!(p, &p.exemplars, kind));
                }
            }
            Some(metric::Data::Gauge(g)) => {
                for p in &g.data_points {
                    let kind = PointKind::Gauge {
                        value: number(&p.value),
                    };
                    self.points.push(point_row!(p, &p.exemplars, kind));
                }
            }
            Some(metric::Data::Histogram(h)) => {
                for p in &h.data_points {
                    let kind = PointKind::Histogram {
                        point: p,
                        count: nanos(p.count),
                        sum: p.sum.unwrap_or(0.0),
                        temporality: h.aggregation_temporality,
                        bucket_counts: json_array(p.bucket_counts.iter().map(|c| Value::from(*c))),
                        explicit_bounds: json_array(
                            p.explicit_bounds.iter().map(|b| Value::from(*b)),
                        ),
                    };
                    self.points.push(point_row!(p, &p.exemplars, kind));
                }
            }
            Some(metric::Data::ExponentialHistogram(h)) => {
                for p in &h.data_points {
                    let buckets = [&p.positive, &p.negative].map(|b| b.as_ref());
                    let kind = PointKind::ExponentialHistogram {
                        point: p,
                        count: nanos(p.count),
                        sum: p.sum.unwrap_or(0.0),
                        zero_count: nanos(p.zero_count),
                        temporality: h.aggregation_temporality,
                        offsets: buckets.map(|b| b.map_or(0, |b| b.offset)),
                        bucket_counts: buckets.map(|b| {
                            json_array(
                                b.map_or(&[][..], |b| &b.bucket_counts)
                                    .iter()
                                    .map(|c| Value::from(*c)),
                            )
                        }),
                    };
                    self.points.push(point_row!(p, &p.exemplars, kind));
                }
            }
            Some(metric::Data::Summary(summary)) => {
                for p in &summary.data_points {
                    let q = &p.quantile_values;
                    let kind = PointKind::Summary {
                        count: nanos(p.count),
                        sum: p.sum,
                        quantiles: [
                            json_array(q.iter().map(|v| Value::from(v.quantile))),
                            json_array(q.iter().map(|v| Value::from(v.value))),
                        ],
                    };
                    self.points.push(point_row!(p, &[], kind));
                }
            }
            None => {}
        }
    }

    /// Inserts every row on `conn` (inside the caller's transaction) and
    /// returns how many rows each table got, in [`Table`] order.
    pub(crate) fn insert(&self, conn: &Connection) -> rusqlite::Result<[u64; Table::COUNT]> {
        let mut added = [0u64; Table::COUNT];
        if !self.logs.is_empty() {
            insert_logs(conn, &self.origins, &self.logs)?;
            added[Table::Logs as usize] = self.logs.len() as u64;
        }
        if !self.spans.is_empty() {
            insert_spans(conn, &self.origins, &self.spans)?;
            added[Table::Traces as usize] = self.spans.len() as u64;
        }
        for point in &self.points {
            added[insert_point(conn, &self.origins[point.origin], point)? as usize] += 1;
        }
        Ok(added)
    }

    /// Rows across every table.
    pub(crate) fn len(&self) -> usize {
        self.logs.len() + self.spans.len() + self.points.len()
    }
}

fn insert_logs(
    conn: &Connection,
    origins: &[Origin<'_>],
    rows: &[LogRow<'_>],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO otel_logs (Timestamp, TraceId, SpanId, TraceFlags, SeverityText, \
         SeverityNumber, ServiceName, Body, ResourceSchemaUrl, ResourceAttributes, \
         ScopeSchemaUrl, ScopeName, ScopeVersion, ScopeAttributes, LogAttributes, EventName, \
         ConversationId) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?;
    for row in rows {
        let r = row.record;
        let o = &origins[row.origin];
        let time = if r.time_unix_nano != 0 {
            r.time_unix_nano
        } else {
            r.observed_time_unix_nano
        };
        stmt.execute(params![
            nanos(time),
            row.trace_id,
            row.span_id,
            r.flags,
            r.severity_text,
            r.severity_number,
            o.service_name,
            row.body,
            o.resource_schema_url,
            o.resource_attributes,
            o.scope_schema_url,
            o.scope_name,
            o.scope_version,
            o.scope_attributes,
            row.attributes,
            r.event_name,
            row.conversation_id.as_ref(),
        ])?;
    }
    Ok(())
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

fn insert_spans(
    conn: &Connection,
    origins: &[Origin<'_>],
    rows: &[SpanRow<'_>],
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO otel_traces (Timestamp, TraceId, SpanId, ParentSpanId, TraceState, \
         SpanName, SpanKind, ServiceName, ResourceAttributes, ScopeName, ScopeVersion, \
         SpanAttributes, Duration, StatusCode, StatusMessage, \"Events.Timestamp\", \
         \"Events.Name\", \"Events.Attributes\", \"Links.TraceId\", \"Links.SpanId\", \
         \"Links.TraceState\", \"Links.Attributes\") \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, \
         ?18, ?19, ?20, ?21, ?22)",
    )?;
    for row in rows {
        let s = row.span;
        let o = &origins[row.origin];
        let duration = s.end_time_unix_nano.saturating_sub(s.start_time_unix_nano);
        let (code, message) = s.status.as_ref().map_or(("Unset", ""), |st| {
            (status_code(st.code), st.message.as_str())
        });
        let [event_times, event_names, event_attributes] = &row.events;
        let [link_traces, link_spans, link_states, link_attributes] = &row.links;
        stmt.execute(params![
            nanos(s.start_time_unix_nano),
            row.trace_id,
            row.span_id,
            row.parent_span_id,
            s.trace_state,
            s.name,
            span_kind(s.kind),
            o.service_name,
            o.resource_attributes,
            o.scope_name,
            o.scope_version,
            row.attributes,
            nanos(duration),
            code,
            message,
            event_times,
            event_names,
            event_attributes,
            link_traces,
            link_spans,
            link_states,
            link_attributes,
        ])?;
    }
    Ok(())
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

fn number(value: &Option<number_data_point::Value>) -> f64 {
    match value {
        Some(number_data_point::Value::AsDouble(d)) => *d,
        Some(number_data_point::Value::AsInt(i)) => *i as f64,
        None => 0.0,
    }
}

/// The resource, scope, metric and point columns every metric table
/// starts with (a macro so that `concat!` builds each statement at compile
/// time).
macro_rules! point_origin_columns {
    () => {
        "ResourceAttributes, ResourceSchemaUrl, ScopeName, ScopeVersion, ScopeAttributes, \
         ScopeDroppedAttrCount, ScopeSchemaUrl, ServiceName, MetricName, MetricDescription, \
         MetricUnit, Attributes, StartTimeUnix, TimeUnix"
    };
}

/// The `Exemplars.*` columns of every metric table.
macro_rules! exemplar_column_names {
    () => {
        "\"Exemplars.FilteredAttributes\", \"Exemplars.TimeUnix\", \"Exemplars.Value\", \
         \"Exemplars.SpanId\", \"Exemplars.TraceId\""
    };
}

/// `?, ?, ...`: `n` anonymous placeholders, for `concat!`.
macro_rules! placeholders {
    (19) => {
        "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"
    };
    (21) => {
        "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"
    };
    (23) => {
        "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"
    };
    (27) => {
        "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"
    };
    (31) => {
        "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?"
    };
}

/// Inserts one data point into its table; returns which table.
fn insert_point(conn: &Connection, o: &Origin<'_>, row: &PointRow<'_>) -> rusqlite::Result<Table> {
    let m = row.metric;
    let [start, time] = &row.times;
    // The columns every metric table starts with, in `point_origin_columns!` order.
    let mut values: Vec<&dyn ToSql> = vec![
        &o.resource_attributes,
        &o.resource_schema_url,
        &o.scope_name,
        &o.scope_version,
        &o.scope_attributes,
        &o.scope_dropped,
        &o.scope_schema_url,
        &o.service_name,
        &m.name,
        &m.description,
        &m.unit,
        &row.attributes,
        start,
        time,
    ];
    let exemplars = row.exemplars.iter().map(|e| e as &dyn ToSql);
    let flags = &row.flags as &dyn ToSql;
    let (sql, table) = match &row.kind {
        PointKind::Sum {
            value,
            temporality,
            monotonic,
        } => {
            values.extend([value as &dyn ToSql, flags]);
            values.extend(exemplars);
            values.extend([temporality as &dyn ToSql, monotonic]);
            (
                concat!(
                    "INSERT INTO otel_metrics_sum (",
                    point_origin_columns!(),
                    ", Value, Flags, ",
                    exemplar_column_names!(),
                    ", AggregationTemporality, IsMonotonic) VALUES (",
                    placeholders!(23),
                    ")"
                ),
                Table::MetricsSum,
            )
        }
        PointKind::Gauge { value } => {
            values.extend([value as &dyn ToSql, flags]);
            values.extend(exemplars);
            (
                concat!(
                    "INSERT INTO otel_metrics_gauge (",
                    point_origin_columns!(),
                    ", Value, Flags, ",
                    exemplar_column_names!(),
                    ") VALUES (",
                    placeholders!(21),
                    ")"
                ),
                Table::MetricsGauge,
            )
        }
        PointKind::Histogram {
            point,
            count,
            sum,
            temporality,
            bucket_counts,
            explicit_bounds,
        } => {
            values.extend([count as &dyn ToSql, sum, bucket_counts, explicit_bounds]);
            values.extend(exemplars);
            values.extend([flags, &point.min, &point.max, temporality]);
            (
                concat!(
                    "INSERT INTO otel_metrics_histogram (",
                    point_origin_columns!(),
                    ", Count, Sum, BucketCounts, ExplicitBounds, ",
                    exemplar_column_names!(),
                    ", Flags, Min, Max, AggregationTemporality) VALUES (",
                    placeholders!(27),
                    ")"
                ),
                Table::MetricsHistogram,
            )
        }
        PointKind::ExponentialHistogram {
            point,
            count,
            sum,
            zero_count,
            temporality,
            offsets: [positive_offset, negative_offset],
            bucket_counts: [positive_counts, negative_counts],
        } => {
            values.extend([
                count as &dyn ToSql,
                sum,
                &point.scale,
                zero_count,
                positive_offset,
                positive_counts,
                negative_offset,
                negative_counts,
            ]);
            values.extend(exemplars);
            values.extend([flags, &point.min, &point.max, temporality]);
            (
                concat!(
                    "INSERT INTO otel_metrics_exponential_histogram (",
                    point_origin_columns!(),
                    ", Count, Sum, Scale, ZeroCount, PositiveOffset, PositiveBucketCounts, \
                     NegativeOffset, NegativeBucketCounts, ",
                    exemplar_column_names!(),
                    ", Flags, Min, Max, AggregationTemporality) VALUES (",
                    placeholders!(31),
                    ")"
                ),
                Table::MetricsExponentialHistogram,
            )
        }
        PointKind::Summary {
            count,
            sum,
            quantiles: [quantile, quantile_value],
        } => {
            values.extend([count as &dyn ToSql, sum, quantile, quantile_value, flags]);
            (
                concat!(
                    "INSERT INTO otel_metrics_summary (",
                    point_origin_columns!(),
                    ", Count, Sum, \"ValueAtQuantiles.Quantile\", \"ValueAtQuantiles.Value\", \
                     Flags) VALUES (",
                    placeholders!(19),
                    ")"
                ),
                Table::MetricsSummary,
            )
        }
    };
    conn.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(values))?;
    Ok(table)
}
