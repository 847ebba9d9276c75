//! OTLP traces: finished spans to `ExportTraceServiceRequest`s under the
//! pipeline's Resource and Scope, split so no request exceeds the size
//! limit. Spans are few (a handful per turn), so they are built as prost
//! messages and encoded by prost (and serde for OTLP JSON).

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

use super::WireFormat;
use super::batch::{Batch, Signal};

/// Encodes spans into batches for one exporter.
#[derive(Debug, Clone)]
pub struct TracesEncoder {
    resource: Resource,
    scope: InstrumentationScope,
    max_request_bytes: usize,
}

impl TracesEncoder {
    /// An encoder whose requests carry `resource` and `scope` and stay under
    /// `max_request_bytes` (a single larger span is sent alone).
    pub fn new(resource: Resource, scope: InstrumentationScope, max_request_bytes: usize) -> Self {
        Self {
            resource,
            scope,
            max_request_bytes,
        }
    }

    /// The spans as one or more batches in `format`, in order.
    pub fn encode(&self, spans: Vec<Span>, format: WireFormat) -> Vec<Batch> {
        let mut batches = Vec::new();
        let mut current: Vec<Span> = Vec::new();
        let mut size = 0usize;
        for span in spans {
            let len = span.encoded_len() + 8;
            if !current.is_empty() && size + len > self.max_request_bytes {
                batches.push(self.batch(std::mem::take(&mut current), format));
                size = 0;
            }
            size += len;
            current.push(span);
        }
        if !current.is_empty() {
            batches.push(self.batch(current, format));
        }
        batches
    }

    fn batch(&self, spans: Vec<Span>, format: WireFormat) -> Batch {
        let records = spans.len();
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(self.resource.clone()),
                scope_spans: vec![ScopeSpans {
                    scope: Some(self.scope.clone()),
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        };
        // Serializing plain prost structs into a Vec cannot fail.
        let json =
            (format == WireFormat::Json).then(|| serde_json::to_vec(&request).unwrap_or_default());
        Batch::from_encoded_parts(Signal::Traces, request.encode_to_vec(), json, records)
    }
}
