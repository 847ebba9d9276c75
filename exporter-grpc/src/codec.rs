//! The codec of the `LogsService/Export` call.
//!
//! The request side writes the batch's cached protobuf bytes
//! ([`agent_otel_core::Batch::protobuf`]) as they are, so a batch is
//! encoded once however many times the pipeline retries it, and the prost
//! message is never cloned. The response side decodes
//! `ExportLogsServiceResponse` with prost.

use std::fmt;

use bytes::{BufMut, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use prost::Message;
use tonic::Status;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Encodes pre-encoded request bytes, decodes `ExportLogsServiceResponse`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogsCodec;

impl Codec for LogsCodec {
    type Encode = Bytes;
    type Decode = ExportLogsServiceResponse;
    type Encoder = CachedBytesEncoder;
    type Decoder = ResponseDecoder;

    fn encoder(&mut self) -> Self::Encoder {
        CachedBytesEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        ResponseDecoder
    }
}

/// Copies already-encoded protobuf bytes into tonic's frame buffer
/// (compression, when enabled, is applied by tonic afterwards).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CachedBytesEncoder;

impl Encoder for CachedBytesEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

/// Decodes the collector's answer.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ResponseDecoder;

impl Decoder for ResponseDecoder {
    type Item = ExportLogsServiceResponse;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        ExportLogsServiceResponse::decode(src)
            .map(Some)
            .map_err(|error| Status::from_error(Box::new(ResponseDecodeError(error))))
    }
}

/// The collector's answer is not an `ExportLogsServiceResponse`. Carried as
/// the source of the returned status so the classifier can tell it apart
/// from a status the collector sent.
#[derive(Debug)]
pub(crate) struct ResponseDecodeError(prost::DecodeError);

impl fmt::Display for ResponseDecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot decode the ExportLogsServiceResponse: {}", self.0)
    }
}

impl std::error::Error for ResponseDecodeError {}
