//! The `check` summary of a [`ResolvedConfig`], secrets masked.

use std::fmt;
use std::path::PathBuf;

use agent_otel_core::{Compression, HttpProtocol};

use crate::error::{Origin, shown};
use crate::text::mask_url;

use super::ResolvedConfig;
use super::exporter::ExporterSettings;

/// One exporter's lines of the [`ResolvedConfig`] summary, secrets masked.
fn write_exporter(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    exporter: &ExporterSettings,
    origin: &Origin,
) -> fmt::Result {
    let from = |origin: &Origin| match origin {
        Origin::Default => "default".to_owned(),
        other => format!("from {}", other.describe()),
    };
    writeln!(f, "{label}: {} ({})", exporter.name(), from(origin))?;
    let transport = match exporter {
        ExporterSettings::None => None,
        ExporterSettings::OtlpHttp(s) => {
            writeln!(
                f,
                "  endpoint: {} ({})",
                mask_url(&s.endpoint),
                from(&s.endpoint_origin)
            )?;
            let protocol = match s.protocol {
                HttpProtocol::Binary => "binary (application/x-protobuf)",
                HttpProtocol::Json => "json (application/json)",
            };
            writeln!(f, "  protocol: {protocol}")?;
            Some((&s.transport, s.endpoint.starts_with("http://")))
        }
        ExporterSettings::OtlpGrpc(s) => {
            writeln!(
                f,
                "  endpoint: {} ({})",
                mask_url(&s.endpoint),
                from(&s.endpoint_origin)
            )?;
            Some((&s.transport, s.endpoint.starts_with("http://")))
        }
    };
    if let Some((t, plaintext)) = transport {
        let compression = match t.compression {
            Compression::None => "none",
            Compression::Gzip => "gzip",
        };
        writeln!(f, "  compression: {compression}")?;
        writeln!(f, "  timeout: {} ms", t.timeout.as_millis())?;
        if t.headers.is_empty() {
            writeln!(f, "  headers: (none)")?;
        } else {
            let names: Vec<String> = t.headers.iter().map(|(n, v)| format!("{n}={v}")).collect();
            writeln!(f, "  headers: {}", names.join(", "))?;
        }
        let path = |p: &Option<PathBuf>| {
            p.as_ref()
                .map_or_else(|| "-".to_owned(), |p| shown(p.display()).to_string())
        };
        if plaintext {
            writeln!(f, "  tls: none (plaintext http://)")?;
        } else if t.tls.is_empty() {
            writeln!(f, "  tls: system roots")?;
        } else {
            writeln!(
                f,
                "  tls: ca-certificate={}, client-certificate={}, client-private-key={}",
                path(&t.tls.ca_certificate),
                path(&t.tls.client_certificate),
                path(&t.tls.client_private_key),
            )?;
        }
    }
    Ok(())
}

impl fmt::Display for ResolvedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_exporter(f, "exporter", &self.exporter, &self.exporter_origin)?;
        write_exporter(
            f,
            "trace_exporter",
            &self.trace_exporter,
            &self.trace_exporter_origin,
        )?;
        write_exporter(
            f,
            "metrics_exporter",
            &self.metrics_exporter,
            &self.metrics_exporter_origin,
        )?;
        let m = &self.telemetry.metrics;
        writeln!(
            f,
            "metrics: temporality={}, interval={} ms, cardinality_limit={}",
            m.temporality.as_str(),
            m.interval.as_millis(),
            m.cardinality_limit
        )?;
        let r = &self.telemetry.resource;
        write!(
            f,
            "resource: service.name={}, service.version={}, env={}",
            shown(&r.service_name),
            shown(&r.service_version),
            shown(&r.environment)
        )?;
        for (k, v) in &r.attributes {
            write!(f, ", {}={}", shown(k), shown(v))?;
        }
        writeln!(f)?;
        writeln!(
            f,
            "events: prefix={}, scope={} {}, log_user_prompt={}, log_tool_content={}, attribute_value_length_limit={}, attribute_count_limit={}",
            self.telemetry.event_prefix,
            self.telemetry.scope_name,
            self.telemetry.scope_version,
            self.telemetry.content.log_user_prompt,
            self.telemetry.content.log_tool_content,
            self.telemetry
                .attribute_limits
                .value_length
                .map_or_else(|| "none".to_owned(), |n| n.to_string()),
            self.telemetry.attribute_limits.count,
        )?;
        let p = &self.pipeline;
        writeln!(
            f,
            "pipeline: queue_capacity={}, max_batch_size={}, batch_timeout={} ms, request_timeout={} ms, max_request_bytes={}, max_concurrent_exports={}",
            p.queue_capacity,
            p.max_batch_size,
            p.batch_timeout.as_millis(),
            p.request_timeout.as_millis(),
            p.max_request_bytes,
            p.max_concurrent_exports
        )?;
        writeln!(
            f,
            "retry: budget={} ms, initial_backoff={} ms, max_backoff={} ms",
            p.retry.budget.as_millis(),
            p.retry.initial_backoff.as_millis(),
            p.retry.max_backoff.as_millis()
        )?;
        write!(
            f,
            "shutdown_timeout: {} ms",
            self.shutdown_timeout.as_millis()
        )?;
        match &self.spool {
            None => write!(f, "\nspool: off"),
            Some(spool) => write!(
                f,
                "\nspool: dir={}, max_bytes={}, max_age_hours={}",
                spool.dir.display(),
                spool.max_bytes,
                spool.max_age.as_secs() / 3600
            ),
        }
    }
}
