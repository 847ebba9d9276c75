//! The tables, named as the OpenTelemetry Collector's ClickHouse exporter
//! names them, so the same queries serve a team's ClickHouse.
//!
//! Mapping from ClickHouse types to SQLite:
//!
//! | ClickHouse | here |
//! | --- | --- |
//! | `DateTime64(9)` (`Timestamp`, `TimeUnix`, ...) | `INTEGER`, nanoseconds since the Unix epoch |
//! | `Map(String, String)` (`*Attributes`) | `TEXT`, a JSON object of strings (values rendered as text, as the exporter does) |
//! | `Array(T)` and `Nested` columns (`Events.*`, `Links.*`, `Exemplars.*`, `ValueAtQuantiles.*`, `BucketCounts`, `ExplicitBounds`, `PositiveBucketCounts`, `NegativeBucketCounts`) | `TEXT`, a JSON array; nested columns keep their dotted names (`"Events.Name"`) |
//! | `String` ids (`TraceId`, `SpanId`, ...) | `TEXT`, lowercase hex (empty when unset) |
//! | `LowCardinality(String)`, `String` | `TEXT` |
//! | `Int64`/`UInt64`/`UInt32`/`Int32`/`UInt8`/`Bool` | `INTEGER` |
//! | `Float64` | `REAL` |
//!
//! `SpanKind` and `StatusCode` hold the exporter's strings (`Internal`,
//! `Client`, ..., `Ok`, `Error`, `Unset`); `AggregationTemporality` the
//! protobuf number. `TimestampTime` (a second-precision copy) is not
//! kept. Added columns of `otel_logs`:
//! * `EventName`: the `LogRecord.event_name` field, which newer exporter
//!   versions also store;
//! * `ConversationId`: `LogAttributes['conversation.id']` (empty when
//!   absent), copied at write time so that the session index needs no JSON
//!   parse per insert (an expression index on `json_extract` halved ingest
//!   speed). On ClickHouse the same name is a materialized column:
//!   `ConversationId String MATERIALIZED LogAttributes['conversation.id']`.
//!
//! Indexes serve the viewer: sessions by time (`ConversationId`, then
//! time), a session's spans (trace id, and `gen_ai.conversation.id` of the
//! span attributes), metric series by name and time.

/// The resource, scope, metric and time columns every metric table starts
/// with (a macro so that `concat!` builds [`CREATE`] at compile time).
macro_rules! metric_origin_columns {
    () => {
        r#"    ResourceAttributes TEXT NOT NULL,
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
"#
    };
}

/// The `Exemplars.*` columns of the metric tables that have exemplars.
macro_rules! exemplar_columns {
    () => {
        r#"    "Exemplars.FilteredAttributes" TEXT NOT NULL,
    "Exemplars.TimeUnix" TEXT NOT NULL,
    "Exemplars.Value" TEXT NOT NULL,
    "Exemplars.SpanId" TEXT NOT NULL,
    "Exemplars.TraceId" TEXT NOT NULL"#
    };
}

/// The statements that create every table and index (idempotent).
pub(crate) const CREATE: &str = concat!(
    r#"
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
    EventName TEXT NOT NULL,
    ConversationId TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS otel_logs_conversation ON otel_logs (ConversationId, Timestamp);

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

"#,
    r#"CREATE TABLE IF NOT EXISTS otel_metrics_sum (
"#,
    metric_origin_columns!(),
    r#"    Value REAL NOT NULL,
    Flags INTEGER NOT NULL,
"#,
    exemplar_columns!(),
    r#",
    AggregationTemporality INTEGER NOT NULL,
    IsMonotonic INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_metrics_sum_series ON otel_metrics_sum (MetricName, TimeUnix);

CREATE TABLE IF NOT EXISTS otel_metrics_gauge (
"#,
    metric_origin_columns!(),
    r#"    Value REAL NOT NULL,
    Flags INTEGER NOT NULL,
"#,
    exemplar_columns!(),
    r#"
);
CREATE INDEX IF NOT EXISTS otel_metrics_gauge_series ON otel_metrics_gauge (MetricName, TimeUnix);

CREATE TABLE IF NOT EXISTS otel_metrics_histogram (
"#,
    metric_origin_columns!(),
    r#"    Count INTEGER NOT NULL,
    Sum REAL NOT NULL,
    BucketCounts TEXT NOT NULL,
    ExplicitBounds TEXT NOT NULL,
"#,
    exemplar_columns!(),
    r#",
    Flags INTEGER NOT NULL,
    Min REAL,
    Max REAL,
    AggregationTemporality INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_metrics_histogram_series
    ON otel_metrics_histogram (MetricName, TimeUnix);

CREATE TABLE IF NOT EXISTS otel_metrics_exponential_histogram (
"#,
    metric_origin_columns!(),
    r#"    Count INTEGER NOT NULL,
    Sum REAL NOT NULL,
    Scale INTEGER NOT NULL,
    ZeroCount INTEGER NOT NULL,
    PositiveOffset INTEGER NOT NULL,
    PositiveBucketCounts TEXT NOT NULL,
    NegativeOffset INTEGER NOT NULL,
    NegativeBucketCounts TEXT NOT NULL,
"#,
    exemplar_columns!(),
    r#",
    Flags INTEGER NOT NULL,
    Min REAL,
    Max REAL,
    AggregationTemporality INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_metrics_exponential_histogram_series
    ON otel_metrics_exponential_histogram (MetricName, TimeUnix);

CREATE TABLE IF NOT EXISTS otel_metrics_summary (
"#,
    metric_origin_columns!(),
    r#"    Count INTEGER NOT NULL,
    Sum REAL NOT NULL,
    "ValueAtQuantiles.Quantile" TEXT NOT NULL,
    "ValueAtQuantiles.Value" TEXT NOT NULL,
    Flags INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS otel_metrics_summary_series
    ON otel_metrics_summary (MetricName, TimeUnix);
"#,
);

/// The log attribute copied into `otel_logs.ConversationId`.
pub(crate) const CONVERSATION_ID: &str = "conversation.id";

/// Brings a store written by an earlier version to the current layout:
/// `otel_logs` without `ConversationId` gets the column (filled from the
/// log attributes) and its index replaces the expression index and the
/// unused trace index. A no-op on a current store. Runs before [`CREATE`].
pub(crate) fn migrate(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let has_logs: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'otel_logs'",
        [],
        |r| r.get(0),
    )?;
    let has_column: bool = conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info('otel_logs') WHERE name = 'ConversationId'",
        [],
        |r| r.get(0),
    )?;
    if !has_logs || has_column {
        return Ok(());
    }
    conn.execute_batch(&format!(
        r#"BEGIN;
        ALTER TABLE otel_logs ADD COLUMN ConversationId TEXT NOT NULL DEFAULT '';
        UPDATE otel_logs SET ConversationId =
            coalesce(json_extract(LogAttributes, '$."{CONVERSATION_ID}"'), '');
        DROP INDEX IF EXISTS otel_logs_session;
        DROP INDEX IF EXISTS otel_logs_trace;
        COMMIT;"#
    ))
}

/// Every table the store writes; the discriminant indexes per-table counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Table {
    Logs,
    Traces,
    MetricsSum,
    MetricsGauge,
    MetricsHistogram,
    MetricsExponentialHistogram,
    MetricsSummary,
}

impl Table {
    /// How many tables there are.
    pub(crate) const COUNT: usize = 7;

    /// Every table, in discriminant order.
    pub(crate) const ALL: [Table; Table::COUNT] = [
        Table::Logs,
        Table::Traces,
        Table::MetricsSum,
        Table::MetricsGauge,
        Table::MetricsHistogram,
        Table::MetricsExponentialHistogram,
        Table::MetricsSummary,
    ];

    /// Whether the table holds metric data points.
    pub(crate) fn is_metric(self) -> bool {
        !matches!(self, Table::Logs | Table::Traces)
    }

    /// The table's SQL name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Table::Logs => "otel_logs",
            Table::Traces => "otel_traces",
            Table::MetricsSum => "otel_metrics_sum",
            Table::MetricsGauge => "otel_metrics_gauge",
            Table::MetricsHistogram => "otel_metrics_histogram",
            Table::MetricsExponentialHistogram => "otel_metrics_exponential_histogram",
            Table::MetricsSummary => "otel_metrics_summary",
        }
    }
}
