//! What describes the emitting process: the OTLP resource, the event-name
//! prefix and the instrumentation scope.

use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource as ProtoResource;

use crate::attribute::{AttributeLimits, ContentPolicy};
use crate::catalog;
use crate::metrics::MetricsOptions;
use crate::trace::TraceOptions;

/// The OTLP resource sent with every export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// `service.name` (default `codex-cli`).
    pub service_name: String,
    /// `service.version`: the host CLI's version.
    pub service_version: String,
    /// `env` (default `dev`).
    pub environment: String,
    /// Extra attributes (`[otel.resource_attributes]`, `OTEL_RESOURCE_ATTRIBUTES`),
    /// in order. A key here overrides the three above.
    pub attributes: Vec<(String, String)>,
}

impl Default for Resource {
    fn default() -> Self {
        Self {
            service_name: "codex-cli".to_owned(),
            service_version: String::new(),
            environment: "dev".to_owned(),
            attributes: Vec::new(),
        }
    }
}

/// How events are named and scoped, what content is logged, and the
/// attribute limits.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryOptions {
    /// The resource of every export.
    pub resource: Resource,
    /// Event names are `<prefix>.<kind>` (default `codex`).
    pub event_prefix: String,
    /// Instrumentation scope name (default `codex_otel`).
    pub scope_name: String,
    /// Instrumentation scope version (default: this crate's version).
    pub scope_version: String,
    /// What content is exported: prompts (`log_user_prompt`, default
    /// off) and tool arguments/output (`log_tool_content`, default on).
    pub content: ContentPolicy,
    /// Attribute value length and count limits of every record.
    pub attribute_limits: AttributeLimits,
    /// Sampling and the caller's trace context, for turns.
    pub trace: TraceOptions,
    /// Temporality, export interval and cardinality limit of the metrics.
    pub metrics: MetricsOptions,
}

impl Default for TelemetryOptions {
    fn default() -> Self {
        Self {
            resource: Resource::default(),
            event_prefix: "codex".to_owned(),
            scope_name: "codex_otel".to_owned(),
            scope_version: env!("CARGO_PKG_VERSION").to_owned(),
            content: ContentPolicy::default(),
            attribute_limits: AttributeLimits::default(),
            trace: TraceOptions::default(),
            metrics: MetricsOptions::default(),
        }
    }
}

impl Resource {
    /// The OTLP resource: `service.name`, `service.version`, `env`, then the
    /// extra attributes (a key given twice keeps its last value, in the
    /// place of its first).
    pub fn to_proto(&self) -> ProtoResource {
        let mut attrs: Vec<(&str, &str)> = vec![
            (catalog::SERVICE_NAME, &self.service_name),
            (catalog::SERVICE_VERSION, &self.service_version),
            (catalog::ENV, &self.environment),
        ];
        for (key, value) in &self.attributes {
            match attrs.iter_mut().find(|(k, _)| k == key) {
                Some(slot) => slot.1 = value,
                None => attrs.push((key, value)),
            }
        }
        ProtoResource {
            attributes: attrs
                .into_iter()
                .map(|(key, value)| KeyValue {
                    key: key.to_owned(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(value.to_owned())),
                    }),
                    ..KeyValue::default()
                })
                .collect(),
            ..ProtoResource::default()
        }
    }
}

impl TelemetryOptions {
    /// The OTLP instrumentation scope of every export.
    pub fn scope_to_proto(&self) -> InstrumentationScope {
        InstrumentationScope {
            name: self.scope_name.clone(),
            version: self.scope_version.clone(),
            ..InstrumentationScope::default()
        }
    }
}
