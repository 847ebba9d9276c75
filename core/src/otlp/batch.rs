//! [`Batch`]: one export request of one signal, encoded once in the
//! exporter's wire format.

use std::fmt;
use std::sync::OnceLock;

use bytes::Bytes;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

use super::WireFormat;

/// The three OpenTelemetry signals; each has its own exporter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Log records (events).
    Logs,
    /// Spans.
    Traces,
    /// Metric data points.
    Metrics,
}

impl Signal {
    /// Every signal, in a stable order.
    pub const ALL: [Signal; 3] = [Signal::Logs, Signal::Traces, Signal::Metrics];

    /// `logs`, `traces`, `metrics`: the OTLP/HTTP path segment and the
    /// `OTEL_EXPORTER_OTLP_<SIGNAL>_*` infix (upper-cased).
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
        }
    }

    /// The OTLP/gRPC method path of the signal's export service.
    pub fn grpc_path(self) -> &'static str {
        match self {
            Signal::Logs => "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            Signal::Traces => "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            Signal::Metrics => "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One export request's worth of log records, encoded once in the
/// exporter's [`WireFormat`]; the other encoding and the prost message are
/// derived on demand and cached, so retries never re-encode.
#[derive(Debug)]
pub struct Batch {
    signal: Signal,
    records: usize,
    protobuf: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
    request: OnceLock<ExportLogsServiceRequest>,
    transport_body: OnceLock<Bytes>,
}

impl Batch {
    /// Wraps a logs request built elsewhere (tests, replay tools).
    pub fn from_request(request: ExportLogsServiceRequest) -> Self {
        let records = request
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len())
            .sum();
        Self {
            signal: Signal::Logs,
            records,
            protobuf: OnceLock::from(Bytes::from(request.encode_to_vec())),
            json: OnceLock::new(),
            request: OnceLock::from(request),
            transport_body: OnceLock::new(),
        }
    }

    /// A batch of `signal` read back from its encoding (the disk spool):
    /// `records` records encoded as `bytes` in `format`.
    pub fn from_encoded(signal: Signal, format: WireFormat, bytes: Bytes, records: usize) -> Self {
        let batch = Self {
            signal,
            records,
            protobuf: OnceLock::new(),
            json: OnceLock::new(),
            request: OnceLock::new(),
            transport_body: OnceLock::new(),
        };
        let slot = match format {
            WireFormat::Protobuf => &batch.protobuf,
            WireFormat::Json => &batch.json,
        };
        // The slot is empty: `set` cannot fail.
        let _ = slot.set(bytes);
        batch
    }

    /// The encoding the batch was made in and its bytes (protobuf when it
    /// has both).
    pub fn encoding(&self) -> (WireFormat, &Bytes) {
        match (self.protobuf.get(), self.json.get()) {
            (Some(protobuf), _) => (WireFormat::Protobuf, protobuf),
            (None, Some(json)) => (WireFormat::Json, json),
            (None, None) => (WireFormat::Protobuf, self.protobuf()),
        }
    }

    /// A batch encoded from a prost request: its protobuf bytes, and its
    /// OTLP JSON when the exporter sends JSON.
    pub(crate) fn from_encoded_parts(
        signal: Signal,
        protobuf: Vec<u8>,
        json: Option<Vec<u8>>,
        records: usize,
    ) -> Self {
        Self {
            signal,
            records,
            protobuf: OnceLock::from(Bytes::from(protobuf)),
            json: json
                .map(Bytes::from)
                .map(OnceLock::from)
                .unwrap_or_default(),
            request: OnceLock::new(),
            transport_body: OnceLock::new(),
        }
    }

    /// The signal the batch carries.
    pub fn signal(&self) -> Signal {
        self.signal
    }

    /// Number of records in the batch (log records, spans or data points).
    pub fn len(&self) -> usize {
        self.records
    }

    /// True when the batch holds no record.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The logs request as prost message, decoded from the encoded bytes on
    /// first use (empty for a batch of another signal).
    pub fn request(&self) -> &ExportLogsServiceRequest {
        self.request.get_or_init(|| {
            // The bytes were produced by this module: decoding cannot fail.
            if self.signal != Signal::Logs {
                ExportLogsServiceRequest::default()
            } else if let Some(protobuf) = self.protobuf.get() {
                ExportLogsServiceRequest::decode(protobuf.clone()).unwrap_or_default()
            } else if let Some(json) = self.json.get() {
                serde_json::from_slice(json).unwrap_or_default()
            } else {
                ExportLogsServiceRequest::default()
            }
        })
    }

    /// The request encoded as OTLP protobuf (`application/x-protobuf`).
    pub fn protobuf(&self) -> &Bytes {
        self.protobuf.get_or_init(|| match self.signal {
            Signal::Logs => Bytes::from(self.request().encode_to_vec()),
            // Made from JSON (a spooled batch): transcoded once.
            Signal::Traces => transcode_to_protobuf::<ExportTraceServiceRequest>(self.json.get()),
            Signal::Metrics => {
                transcode_to_protobuf::<ExportMetricsServiceRequest>(self.json.get())
            }
        })
    }

    /// The body an exporter derived from this batch on an earlier attempt
    /// (e.g. its gzipped encoding), if it stored one.
    pub fn transport_body(&self) -> Option<&Bytes> {
        self.transport_body.get()
    }

    /// Stores a body derived from this batch so retries reuse it; returns
    /// the stored body (the first one, if called twice). One exporter sends
    /// a batch, so one slot is enough.
    pub fn set_transport_body(&self, body: Bytes) -> &Bytes {
        self.transport_body.get_or_init(|| body)
    }

    /// The request encoded as OTLP JSON (`application/json`): lowerCamelCase
    /// keys, enums as integers, 64-bit integers as strings.
    pub fn json(&self) -> &Bytes {
        self.json.get_or_init(|| match self.signal {
            // Serializing plain prost structs into a Vec cannot fail.
            Signal::Logs => Bytes::from(serde_json::to_vec(self.request()).unwrap_or_default()),
            // Made in protobuf (a spooled batch): transcoded once.
            Signal::Traces => transcode_to_json::<ExportTraceServiceRequest>(self.protobuf.get()),
            Signal::Metrics => {
                transcode_to_json::<ExportMetricsServiceRequest>(self.protobuf.get())
            }
        })
    }
}

/// The protobuf encoding of a request given as OTLP JSON (empty when
/// there is none, or it does not decode).
fn transcode_to_protobuf<M>(json: Option<&Bytes>) -> Bytes
where
    M: Message + serde::de::DeserializeOwned,
{
    json.and_then(|json| serde_json::from_slice::<M>(json).ok())
        .map(|request| Bytes::from(request.encode_to_vec()))
        .unwrap_or_default()
}

/// The OTLP JSON encoding of a request given as protobuf (empty when
/// there is none, or it does not decode).
fn transcode_to_json<M>(protobuf: Option<&Bytes>) -> Bytes
where
    M: Message + Default + serde::Serialize,
{
    protobuf
        .and_then(|protobuf| M::decode(protobuf.clone()).ok())
        .and_then(|request| serde_json::to_vec(&request).ok())
        .map(Bytes::from)
        .unwrap_or_default()
}
