//! The tables, named as the OpenTelemetry Collector's ClickHouse exporter
//! names them, so the same queries serve a team's ClickHouse.
//!
//! Mapping from ClickHouse types to SQLite:
//!
//! | ClickHouse | here |
//! | --- | --- |
//! | `DateTime64(9)` (`Timestamp`, `TimeUnix`, ...) | `INTEGER`, nanoseconds since the Unix epoch |
//! | `Map(String, String)` (`*Attributes`) | `TEXT`, a JSON object of strings (values rendered as text, as the exporter does) |
//! | `Array(T)` and `Nested` columns (`Events.*`, `Links.*`, `Exemplars.*`, `BucketCounts`, `ExplicitBounds`) | `TEXT`, a JSON array; nested columns keep their dotted names (`"Events.Name"`) |
//! | `String` ids (`TraceId`, `SpanId`, ...) | `TEXT`, lowercase hex (empty when unset) |
//! | `LowCardinality(String)`, `String` | `TEXT` |
//! | `Int64`/`UInt64`/`UInt32`/`Int32`/`UInt8`/`Bool` | `INTEGER` |
//! | `Float64` | `REAL` |
//!
//! `SpanKind` and `StatusCode` hold the exporter's strings (`Internal`,
//! `Client`, ..., `Ok`, `Error`, `Unset`); `AggregationTemporality` the
//! protobuf number. `TimestampTime` (a second-precision copy) is not
//! kept. Added column: `otel_logs.EventName` (the `LogRecord.event_name`
//! field, which newer exporter versions also store).
//!
//! Indexes serve the viewer: sessions by time (`conversation.id` of the
//! log attributes, then time), a session's spans (trace id), metric series
//! by name and time.

/// The statements that create every table and index (idempotent).
pub(crate) const CREATE: &str = r#"
CREATE TABLE IF NOT EXISTS otel_logs (
    Timestamp INTEGER NOT NULL,
    TraceId TEXT NOT NULL,
    SpanId TEXT NOT NULL,
    TraceFlags INTEGER NOT NULL,
    SeverityText TEXT NOT NULL,
    SeverityNumber INTEGER NOT NULL,
    ServiceName TEXT NOT NULL,
    Body TEXT NOT NULL,
    ResourceSchemaUrl TEXT NOT NULL,
    ResourceAttributes TEXT NOT NULL,
    ScopeSchemaUrl TEXT NOT NULL,
    ScopeName TEXT NOT NULL,
    ScopeVersion TEXT NOT NULL,
    ScopeAttributes TEXT NOT NULL,
    LogAttributes TEXT NOT NULL,
    EventName TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_logs_session
    ON otel_logs (json_extract(LogAttributes, '$."conversation.id"'), Timestamp);
CREATE INDEX IF NOT EXISTS otel_logs_trace ON otel_logs (TraceId);

CREATE TABLE IF NOT EXISTS otel_traces (
    Timestamp INTEGER NOT NULL,
    TraceId TEXT NOT NULL,
    SpanId TEXT NOT NULL,
    ParentSpanId TEXT NOT NULL,
    TraceState TEXT NOT NULL,
    SpanName TEXT NOT NULL,
    SpanKind TEXT NOT NULL,
    ServiceName TEXT NOT NULL,
    ResourceAttributes TEXT NOT NULL,
    ScopeName TEXT NOT NULL,
    ScopeVersion TEXT NOT NULL,
    SpanAttributes TEXT NOT NULL,
    Duration INTEGER NOT NULL,
    StatusCode TEXT NOT NULL,
    StatusMessage TEXT NOT NULL,
    "Events.Timestamp" TEXT NOT NULL,
    "Events.Name" TEXT NOT NULL,
    "Events.Attributes" TEXT NOT NULL,
    "Links.TraceId" TEXT NOT NULL,
    "Links.SpanId" TEXT NOT NULL,
    "Links.TraceState" TEXT NOT NULL,
    "Links.Attributes" TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_traces_trace ON otel_traces (TraceId, Timestamp);
CREATE INDEX IF NOT EXISTS otel_traces_session
    ON otel_traces (json_extract(SpanAttributes, '$."gen_ai.conversation.id"'), Timestamp);

CREATE TABLE IF NOT EXISTS otel_metrics_sum (
    ResourceAttributes TEXT NOT NULL,
    ResourceSchemaUrl TEXT NOT NULL,
    ScopeName TEXT NOT NULL,
    ScopeVersion TEXT NOT NULL,
    ScopeAttributes TEXT NOT NULL,
    ScopeDroppedAttrCount INTEGER NOT NULL,
    ScopeSchemaUrl TEXT NOT NULL,
    ServiceName TEXT NOT NULL,
    MetricName TEXT NOT NULL,
    MetricDescription TEXT NOT NULL,
    MetricUnit TEXT NOT NULL,
    Attributes TEXT NOT NULL,
    StartTimeUnix INTEGER NOT NULL,
    TimeUnix INTEGER NOT NULL,
    Value REAL NOT NULL,
    Flags INTEGER NOT NULL,
    "Exemplars.FilteredAttributes" TEXT NOT NULL,
    "Exemplars.TimeUnix" TEXT NOT NULL,
    "Exemplars.Value" TEXT NOT NULL,
    "Exemplars.SpanId" TEXT NOT NULL,
    "Exemplars.TraceId" TEXT NOT NULL,
    AggregationTemporality INTEGER NOT NULL,
    IsMonotonic INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_metrics_sum_series ON otel_metrics_sum (MetricName, TimeUnix);

CREATE TABLE IF NOT EXISTS otel_metrics_gauge (
    ResourceAttributes TEXT NOT NULL,
    ResourceSchemaUrl TEXT NOT NULL,
    ScopeName TEXT NOT NULL,
    ScopeVersion TEXT NOT NULL,
    ScopeAttributes TEXT NOT NULL,
    ScopeDroppedAttrCount INTEGER NOT NULL,
    ScopeSchemaUrl TEXT NOT NULL,
    ServiceName TEXT NOT NULL,
    MetricName TEXT NOT NULL,
    MetricDescription TEXT NOT NULL,
    MetricUnit TEXT NOT NULL,
    Attributes TEXT NOT NULL,
    StartTimeUnix INTEGER NOT NULL,
    TimeUnix INTEGER NOT NULL,
    Value REAL NOT NULL,
    Flags INTEGER NOT NULL,
    "Exemplars.FilteredAttributes" TEXT NOT NULL,
    "Exemplars.TimeUnix" TEXT NOT NULL,
    "Exemplars.Value" TEXT NOT NULL,
    "Exemplars.SpanId" TEXT NOT NULL,
    "Exemplars.TraceId" TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_metrics_gauge_series ON otel_metrics_gauge (MetricName, TimeUnix);

CREATE TABLE IF NOT EXISTS otel_metrics_histogram (
    ResourceAttributes TEXT NOT NULL,
    ResourceSchemaUrl TEXT NOT NULL,
    ScopeName TEXT NOT NULL,
    ScopeVersion TEXT NOT NULL,
    ScopeAttributes TEXT NOT NULL,
    ScopeDroppedAttrCount INTEGER NOT NULL,
    ScopeSchemaUrl TEXT NOT NULL,
    ServiceName TEXT NOT NULL,
    MetricName TEXT NOT NULL,
    MetricDescription TEXT NOT NULL,
    MetricUnit TEXT NOT NULL,
    Attributes TEXT NOT NULL,
    StartTimeUnix INTEGER NOT NULL,
    TimeUnix INTEGER NOT NULL,
    Count INTEGER NOT NULL,
    Sum REAL NOT NULL,
    BucketCounts TEXT NOT NULL,
    ExplicitBounds TEXT NOT NULL,
    "Exemplars.FilteredAttributes" TEXT NOT NULL,
    "Exemplars.TimeUnix" TEXT NOT NULL,
    "Exemplars.Value" TEXT NOT NULL,
    "Exemplars.SpanId" TEXT NOT NULL,
    "Exemplars.TraceId" TEXT NOT NULL,
    Flags INTEGER NOT NULL,
    Min REAL,
    Max REAL,
    AggregationTemporality INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_metrics_histogram_series
    ON otel_metrics_histogram (MetricName, TimeUnix);
"#;

/// Every table the store writes, in a fixed order.
pub(crate) const TABLES: [&str; 5] = [
    "otel_logs",
    "otel_traces",
    "otel_metrics_sum",
    "otel_metrics_gauge",
    "otel_metrics_histogram",
];
