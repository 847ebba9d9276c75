//! OTLP encoding, written straight from typed events on the pipeline
//! worker: one module per wire format ([`protobuf`], [`json`]) and one per
//! signal ([`logs`], [`metrics`], [`traces`]).
//!
//! Records are written field by field with no intermediate prost messages
//! (no per-attribute allocation); the prost message is decoded back only
//! when someone asks for it (tests, probes). Tests decode every byte with
//! the official `opentelemetry-proto` types and compare with prost's own
//! encoding.

pub mod batch;
pub(crate) mod json;
pub mod logs;
pub mod metrics;
#[cfg(test)]
mod proptests;
pub(crate) mod protobuf;
pub mod traces;

pub use batch::{Batch, Signal};
pub use logs::OtlpEncoder;

use crate::attribute::ValueRef;
use crate::event::TraceLink;

/// Value exported for `prompt` when `log_user_prompt` is off.
pub const REDACTED: &str = "[REDACTED]";

/// The wire encodings an exporter can ask the pipeline for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WireFormat {
    /// OTLP protobuf (gRPC, `application/x-protobuf`).
    #[default]
    Protobuf,
    /// OTLP JSON (`application/json`).
    Json,
}

/// One OTLP wire encoding of log records: how a record and its attributes
/// are written, and how records are framed into a request. The attribute
/// walk ([`OtlpEncoder::write_record`](logs::OtlpEncoder)) is shared by both
/// encodings.
pub(crate) trait Encoding {
    const FORMAT: WireFormat;
    /// Starts a record: timestamps and severity.
    fn open_record(buf: &mut Vec<u8>, time: u64);
    /// A string attribute whose value is the concatenation of `parts`.
    fn str_attr(buf: &mut Vec<u8>, key: &str, parts: &[&str]);
    /// An integer attribute.
    fn int_attr(buf: &mut Vec<u8>, key: &str, value: i64);
    /// An attribute of any shape (double, bool, arrays, maps, ...).
    fn value_attr(buf: &mut Vec<u8>, key: &str, value: &ValueRef<'_>);
    /// Ends a record: `dropped_attributes_count` (when not zero), the
    /// trace context (flags, trace id, span id) of an event in a turn,
    /// observed time and the `event_name` field.
    fn close_record(
        buf: &mut Vec<u8>,
        dropped_attributes: u32,
        trace: Option<&TraceLink>,
        observed: u64,
        name: &[&str],
    );
    /// Bytes `record` takes once appended to a request's records.
    fn framed_len(record: &[u8]) -> usize;
    /// Appends `record` to a request's records.
    fn frame(records: &mut Vec<u8>, record: &[u8]);
    /// Bytes of a request around its records.
    fn overhead(encoder: &OtlpEncoder) -> usize;
    /// The whole request.
    fn finish(encoder: &OtlpEncoder, records: &[u8]) -> Vec<u8>;
}
