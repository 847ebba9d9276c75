//! One session read back as OTLP requests (for `agent-otel export`).
//!
//! Only what the tables hold comes back: attribute values as the strings
//! the store kept (a typed `AnyValue` was rendered as text on write), ids
//! from their hex, bodies as strings, and for spans the columns of
//! `otel_traces` (no scope attributes, no dropped counts, no flags).
//! Records of one resource and scope are grouped back into one
//! `ResourceLogs` / `ScopeLogs` (one `ResourceSpans` / `ScopeSpans`), in
//! stored order.

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use agent_otel_collector::opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value,
};
use agent_otel_collector::opentelemetry_proto::tonic::logs::v1::{
    LogRecord, ResourceLogs, ScopeLogs,
};
use agent_otel_collector::opentelemetry_proto::tonic::resource::v1::Resource;
use agent_otel_collector::opentelemetry_proto::tonic::trace::v1::{
    ResourceSpans, ScopeSpans, Span, Status, span, status,
};
use rusqlite::{Row, params};
use serde_json::Value;

use crate::text::unhex;
use crate::{Store, StoreError};

/// The stored records of one session, as OTLP requests.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionExport {
    /// The session's log records (`conversation.id` attribute).
    pub logs: ExportLogsServiceRequest,
    /// Spans of the traces the log records point to, and spans whose
    /// `gen_ai.conversation.id` attribute is the session; empty when none.
    pub traces: ExportTraceServiceRequest,
}

const SESSION_LOGS: &str = r#"SELECT Timestamp, TraceId, SpanId, TraceFlags, SeverityText,
    SeverityNumber, Body, ResourceSchemaUrl, ResourceAttributes, ScopeSchemaUrl, ScopeName,
    ScopeVersion, ScopeAttributes, LogAttributes, EventName
    FROM otel_logs WHERE ConversationId = ?1
    ORDER BY rowid"#;

const SESSION_SPANS: &str = r#"SELECT Timestamp, TraceId, SpanId, ParentSpanId, TraceState,
    SpanName, SpanKind, ResourceAttributes, ScopeName, ScopeVersion, SpanAttributes, Duration,
    StatusCode, StatusMessage, "Events.Timestamp", "Events.Name", "Events.Attributes",
    "Links.TraceId", "Links.SpanId", "Links.TraceState", "Links.Attributes"
    FROM otel_traces
    WHERE json_extract(SpanAttributes, '$."gen_ai.conversation.id"') = ?1
       OR TraceId IN (SELECT TraceId FROM otel_logs
                      WHERE ConversationId = ?1
                        AND TraceId != '')
    ORDER BY rowid"#;

impl Store {
    /// The records of session `conversation_id` as OTLP requests; `None`
    /// when the store has no log record of that session.
    pub fn session_export(
        &self,
        conversation_id: &str,
    ) -> Result<Option<SessionExport>, StoreError> {
        self.read(|conn| {
            let mut logs = ExportLogsServiceRequest::default();
            let mut stmt = conn.prepare(SESSION_LOGS)?;
            let mut rows = stmt.query(params![conversation_id])?;
            while let Some(r) = rows.next()? {
                push_log(&mut logs, r)?;
            }
            if logs.resource_logs.is_empty() {
                return Ok(None);
            }
            let mut traces = ExportTraceServiceRequest::default();
            let mut stmt = conn.prepare(SESSION_SPANS)?;
            let mut rows = stmt.query(params![conversation_id])?;
            while let Some(r) = rows.next()? {
                push_span(&mut traces, r)?;
            }
            Ok(Some(SessionExport { logs, traces }))
        })
    }
}

/// A JSON object of strings (as `attributes_json` wrote it) as attributes.
fn attributes(json: &str) -> Vec<KeyValue> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => map
            .into_iter()
            .map(|(key, value)| KeyValue {
                key,
                value: Some(string(match value {
                    Value::String(s) => s,
                    other => other.to_string(),
                })),
                ..KeyValue::default()
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn string(s: String) -> AnyValue {
    AnyValue {
        value: Some(any_value::Value::StringValue(s)),
    }
}

fn time(ns: i64) -> u64 {
    u64::try_from(ns).unwrap_or(0)
}

/// A JSON array column (`[]` on anything else).
fn array(json: &str) -> Vec<Value> {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Array(items)) => items,
        _ => Vec::new(),
    }
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

fn push_log(out: &mut ExportLogsServiceRequest, r: &Row<'_>) -> rusqlite::Result<()> {
    let resource_schema_url: String = r.get(7)?;
    let resource_attributes: String = r.get(8)?;
    let scope_schema_url: String = r.get(9)?;
    let scope = InstrumentationScope {
        name: r.get(10)?,
        version: r.get(11)?,
        attributes: attributes(&r.get::<_, String>(12)?),
        dropped_attributes_count: 0,
    };
    let body: String = r.get(6)?;
    let record = LogRecord {
        time_unix_nano: time(r.get(0)?),
        observed_time_unix_nano: 0,
        severity_number: r.get(5)?,
        severity_text: r.get(4)?,
        body: (!body.is_empty()).then(|| string(body)),
        attributes: attributes(&r.get::<_, String>(13)?),
        dropped_attributes_count: 0,
        flags: r.get(3)?,
        trace_id: unhex(&r.get::<_, String>(1)?),
        span_id: unhex(&r.get::<_, String>(2)?),
        event_name: r.get(14)?,
    };
    let resource = Resource {
        attributes: attributes(&resource_attributes),
        ..Resource::default()
    };
    let same_resource = out.resource_logs.last().is_some_and(|rl| {
        rl.schema_url == resource_schema_url && rl.resource.as_ref() == Some(&resource)
    });
    if !same_resource {
        out.resource_logs.push(ResourceLogs {
            resource: Some(resource),
            scope_logs: Vec::new(),
            schema_url: resource_schema_url,
        });
    }
    let Some(rl) = out.resource_logs.last_mut() else {
        return Ok(());
    };
    match rl
        .scope_logs
        .last_mut()
        .filter(|sl| sl.schema_url == scope_schema_url && sl.scope.as_ref() == Some(&scope))
    {
        Some(sl) => sl.log_records.push(record),
        None => rl.scope_logs.push(ScopeLogs {
            scope: Some(scope),
            log_records: vec![record],
            schema_url: scope_schema_url,
        }),
    }
    Ok(())
}

fn span_kind(text: &str) -> i32 {
    (match text {
        "Internal" => span::SpanKind::Internal,
        "Server" => span::SpanKind::Server,
        "Client" => span::SpanKind::Client,
        "Producer" => span::SpanKind::Producer,
        "Consumer" => span::SpanKind::Consumer,
        _ => span::SpanKind::Unspecified,
    }) as i32
}

fn status_code(text: &str) -> i32 {
    (match text {
        "Ok" => status::StatusCode::Ok,
        "Error" => status::StatusCode::Error,
        _ => status::StatusCode::Unset,
    }) as i32
}

fn push_span(out: &mut ExportTraceServiceRequest, r: &Row<'_>) -> rusqlite::Result<()> {
    let start = time(r.get(0)?);
    let resource = Resource {
        attributes: attributes(&r.get::<_, String>(7)?),
        ..Resource::default()
    };
    let scope = InstrumentationScope {
        name: r.get(8)?,
        version: r.get(9)?,
        ..InstrumentationScope::default()
    };
    let event_times = array(&r.get::<_, String>(14)?);
    let event_names = array(&r.get::<_, String>(15)?);
    let event_attrs = array(&r.get::<_, String>(16)?);
    let events = (0..event_names.len())
        .map(|i| span::Event {
            time_unix_nano: event_times.get(i).and_then(Value::as_u64).unwrap_or(0),
            name: text_of(event_names.get(i)),
            attributes: attributes(&text_of(event_attrs.get(i))),
            dropped_attributes_count: 0,
        })
        .collect();
    let link_traces = array(&r.get::<_, String>(17)?);
    let link_spans = array(&r.get::<_, String>(18)?);
    let link_states = array(&r.get::<_, String>(19)?);
    let link_attrs = array(&r.get::<_, String>(20)?);
    let links = (0..link_traces.len())
        .map(|i| span::Link {
            trace_id: unhex(&text_of(link_traces.get(i))),
            span_id: unhex(&text_of(link_spans.get(i))),
            trace_state: text_of(link_states.get(i)),
            attributes: attributes(&text_of(link_attrs.get(i))),
            dropped_attributes_count: 0,
            flags: 0,
        })
        .collect();
    let code: String = r.get(12)?;
    let message: String = r.get(13)?;
    let s = Span {
        trace_id: unhex(&r.get::<_, String>(1)?),
        span_id: unhex(&r.get::<_, String>(2)?),
        trace_state: r.get(4)?,
        parent_span_id: unhex(&r.get::<_, String>(3)?),
        flags: 0,
        name: r.get(5)?,
        kind: span_kind(&r.get::<_, String>(6)?),
        start_time_unix_nano: start,
        end_time_unix_nano: start.saturating_add(time(r.get(11)?)),
        attributes: attributes(&r.get::<_, String>(10)?),
        dropped_attributes_count: 0,
        events,
        dropped_events_count: 0,
        links,
        dropped_links_count: 0,
        status: Some(Status {
            message,
            code: status_code(&code),
        }),
    };
    let same_resource = out
        .resource_spans
        .last()
        .is_some_and(|rs| rs.resource.as_ref() == Some(&resource));
    if !same_resource {
        out.resource_spans.push(ResourceSpans {
            resource: Some(resource),
            scope_spans: Vec::new(),
            schema_url: String::new(),
        });
    }
    let Some(rs) = out.resource_spans.last_mut() else {
        return Ok(());
    };
    match rs
        .scope_spans
        .last_mut()
        .filter(|ss| ss.scope.as_ref() == Some(&scope))
    {
        Some(ss) => ss.spans.push(s),
        None => rs.scope_spans.push(ScopeSpans {
            scope: Some(scope),
            spans: vec![s],
            schema_url: String::new(),
        }),
    }
    Ok(())
}
