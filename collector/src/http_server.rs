//! OTLP/HTTP receiver: `POST /v1/logs`, `/v1/metrics`, `/v1/traces`,
//! protobuf or JSON, optionally gzip.

use std::io::Read as _;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::{Body, HttpBody as _};
use axum::extract::{ConnectInfo, Request, State};
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http::header::{ALLOW, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;
use tonic::Code;

use crate::fault::{Answer, Fault};
use crate::record::{Signal, Transport};
use crate::server::{Ctx, wait_shutdown};
use crate::state::{Incoming, Stored};
use crate::tls::PeerInfo;
use crate::value_count;

/// What every refusal of an unknown path or method names.
const SERVED: &str = "POST /v1/logs, /v1/metrics or /v1/traces";

const PROTOBUF: &str = "application/x-protobuf";
const JSON: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> &'static str {
        match self {
            Encoding::Protobuf => PROTOBUF,
            Encoding::Json => JSON,
        }
    }
}

pub(crate) fn router(ctx: Arc<Ctx>) -> axum::Router {
    axum::Router::new().fallback(handle).with_state(ctx)
}

async fn handle(State(ctx): State<Arc<Ctx>>, req: Request) -> Response {
    let _in_flight = ctx.in_flight();
    let path = req.uri().path();
    let Some(signal) = Signal::ALL.into_iter().find(|s| s.http_path() == path) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("not found: this collector serves {SERVED}\n"),
        );
    };
    if req.method() != Method::POST {
        let mut resp = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("method not allowed: use {SERVED}\n"),
        );
        resp.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    let (parts, body) = req.into_parts();
    let headers = &parts.headers;
    let client_certificate = parts
        .extensions
        .get::<ConnectInfo<PeerInfo>>()
        .is_some_and(|info| info.0.client_certificate);

    let content_type = header_string(headers, CONTENT_TYPE.as_str());
    let encoding = match content_type.as_deref().map(media_type).as_deref() {
        Some("application/x-protobuf" | "application/protobuf") => Encoding::Protobuf,
        Some("application/json") => Encoding::Json,
        _ => {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!(
                    "unsupported content type {:?}: use {PROTOBUF} or {JSON}\n",
                    content_type.as_deref().unwrap_or("")
                ),
            );
        }
    };
    let content_encoding = header_string(headers, CONTENT_ENCODING.as_str());
    let gzip = match content_encoding
        .as_deref()
        .map(|v| v.trim().to_ascii_lowercase())
        .as_deref()
    {
        None | Some("" | "identity") => false,
        Some("gzip" | "x-gzip") => true,
        Some(other) => {
            return text(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("unsupported content encoding {other:?}: use gzip or none\n"),
            );
        }
    };

    // Bounded work: wait for a request slot before reading the body.
    let _slot = ctx.request_slot().await;
    let limit = ctx.max_body_bytes;
    let too_large = || {
        status_response(
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            &format!("request body exceeds the limit of {limit} bytes"),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let wire = match collect_limited(body, limit).await {
        Ok(bytes) => bytes,
        Err(CollectError::TooLarge) => return too_large(),
        Err(CollectError::Read(msg)) => {
            return status_response(
                encoding,
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                &format!("cannot read the request body: {msg}"),
            );
        }
    };
    let body_len = wire.len();
    let plain = if gzip {
        match gunzip_limited(&wire, limit) {
            Ok(bytes) => bytes,
            Err(CollectError::TooLarge) => return too_large(),
            Err(CollectError::Read(msg)) => {
                return status_response(
                    encoding,
                    StatusCode::BAD_REQUEST,
                    Code::InvalidArgument,
                    &format!("cannot decompress the gzip body: {msg}"),
                );
            }
        }
    } else {
        wire
    };
    let max_values = ctx.limits.max_values_per_request;
    let too_many = match encoding {
        Encoding::Protobuf => value_count::protobuf_exceeds(signal, &plain, max_values),
        Encoding::Json => value_count::json_exceeds(&plain, max_values),
    };
    if too_many {
        ctx.note_oversized();
        return status_response(
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            &format!("the request holds more than {max_values} values: split it"),
        );
    }
    let meta = Meta {
        headers: header_list(headers),
        content_type,
        content_encoding,
        body_len,
        client_certificate,
    };
    match signal {
        Signal::Logs => receive::<ExportLogsServiceRequest>(&ctx, encoding, &plain, meta).await,
        Signal::Metrics => {
            receive::<ExportMetricsServiceRequest>(&ctx, encoding, &plain, meta).await
        }
        Signal::Traces => receive::<ExportTraceServiceRequest>(&ctx, encoding, &plain, meta).await,
    }
}

/// What the handler learnt about a request besides its body.
struct Meta {
    headers: Vec<(String, String)>,
    content_type: Option<String>,
    content_encoding: Option<String>,
    body_len: usize,
    client_certificate: bool,
}

/// Decodes a request body of signal `R`, records it and answers.
async fn receive<R: Stored>(
    ctx: &Arc<Ctx>,
    encoding: Encoding,
    plain: &[u8],
    meta: Meta,
) -> Response {
    let request = match decode::<R>(encoding, plain) {
        Ok(r) => r,
        Err(msg) => {
            return status_response(
                encoding,
                StatusCode::BAD_REQUEST,
                Code::InvalidArgument,
                &msg,
            );
        }
    };
    let max_records = ctx.limits.max_records_per_request;
    if request.item_count() > max_records {
        ctx.note_oversized();
        return status_response(
            encoding,
            StatusCode::PAYLOAD_TOO_LARGE,
            Code::ResourceExhausted,
            &format!(
                "the request holds more than {max_records} {}: split it",
                R::SIGNAL.items()
            ),
        );
    }
    let answer = ctx
        .receive(Incoming {
            transport: Transport::Http,
            headers: meta.headers,
            content_type: meta.content_type,
            content_encoding: meta.content_encoding,
            body_len: meta.body_len,
            request,
            client_certificate: meta.client_certificate,
        })
        .await;
    answer_response::<R>(ctx, encoding, answer).await
}

async fn answer_response<R: Stored>(ctx: &Ctx, encoding: Encoding, answer: Answer) -> Response {
    match answer {
        Answer::Accepted => success::<R>(encoding, None),
        Answer::Delayed(d) => {
            // Shutdown cuts the delay short: the request was recorded and fed
            // to the subscribers as accepted, so it is answered as accepted.
            tokio::select! {
                () = tokio::time::sleep(d) => {}
                () = wait_shutdown(ctx.shutdown.clone()) => {}
            }
            success::<R>(encoding, None)
        }
        Answer::PartialSuccess { rejected, message } => {
            success::<R>(encoding, Some((rejected, message)))
        }
        Answer::NotStored(message) => status_response(
            encoding,
            StatusCode::SERVICE_UNAVAILABLE,
            Code::Unavailable,
            &format!("the collector could not store the request: {message}"),
        ),
        Answer::Fault(fault) => fault_response::<R>(ctx, encoding, fault).await,
    }
}

async fn fault_response<R: Stored>(ctx: &Ctx, encoding: Encoding, fault: Fault) -> Response {
    let Some(refusal) = fault.refusal() else {
        if matches!(fault, Fault::NeverAnswer) {
            wait_shutdown(ctx.shutdown.clone()).await;
            return shutting_down(encoding);
        }
        // Normalised to accepting answers by `Answer::from_fault`; answer
        // them as such should one get here.
        return success::<R>(encoding, None);
    };
    let (status, code, message, retry_after) = (
        refusal.http_status,
        refusal.code,
        refusal.message,
        refusal.retry_after_header,
    );
    let status = match StatusCode::from_u16(status) {
        Ok(s) if (200..600).contains(&s.as_u16()) => s,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let mut resp = status_response(encoding, status, code, &message);
    if let Some(value) = retry_after {
        match HeaderValue::from_str(&value) {
            Ok(v) => {
                resp.headers_mut().insert(RETRY_AFTER, v);
            }
            Err(_) => tracing::warn!(value, "scripted Retry-After is not a valid header value"),
        }
    }
    resp
}

fn shutting_down(encoding: Encoding) -> Response {
    status_response(
        encoding,
        StatusCode::SERVICE_UNAVAILABLE,
        Code::Unavailable,
        "collector shutting down",
    )
}

fn success<R: Stored>(encoding: Encoding, partial: Option<(i64, String)>) -> Response {
    let empty = partial.is_none();
    let response = R::response(partial);
    let body = match encoding {
        Encoding::Protobuf => response.encode_to_vec(),
        Encoding::Json if empty => b"{}".to_vec(),
        Encoding::Json => serde_json::to_vec(&response).unwrap_or_else(|_| b"{}".to_vec()),
    };
    with_body(StatusCode::OK, encoding.content_type(), body)
}

/// An error answer with a `google.rpc.Status` body in the request's encoding.
fn status_response(encoding: Encoding, status: StatusCode, code: Code, message: &str) -> Response {
    let body = match encoding {
        Encoding::Protobuf => tonic_types::pb::Status {
            code: code as i32,
            message: message.to_owned(),
            details: Vec::new(),
        }
        .encode_to_vec(),
        Encoding::Json => serde_json::json!({ "code": code as i32, "message": message })
            .to_string()
            .into_bytes(),
    };
    with_body(status, encoding.content_type(), body)
}

fn text(status: StatusCode, message: String) -> Response {
    with_body(status, "text/plain; charset=utf-8", message.into_bytes())
}

fn with_body(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

fn decode<R: Stored>(encoding: Encoding, body: &[u8]) -> Result<R, String> {
    match encoding {
        Encoding::Protobuf => {
            R::decode(body).map_err(|e| format!("cannot decode the OTLP protobuf body: {e}"))
        }
        Encoding::Json => serde_json::from_slice::<R>(body)
            .map_err(|e| format!("cannot decode the OTLP JSON body: {e}")),
    }
}

/// The media type of a `Content-Type` value, lowercase, without parameters.
fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn header_string(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

pub(crate) fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

pub(crate) enum CollectError {
    TooLarge,
    Read(String),
}

/// Reads a whole body, failing as soon as it exceeds `limit` bytes.
pub(crate) async fn collect_limited(mut body: Body, limit: usize) -> Result<Bytes, CollectError> {
    let mut buf = BytesMut::new();
    let mut single: Option<Bytes> = None;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        let Some(frame) = frame else { break };
        let frame = frame.map_err(|e| CollectError::Read(e.to_string()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let so_far = single.as_ref().map_or(buf.len(), Bytes::len);
        if so_far.saturating_add(data.len()) > limit {
            return Err(CollectError::TooLarge);
        }
        // Keep the first chunk without copying; most bodies are one chunk.
        match single.take() {
            None if buf.is_empty() => single = Some(data),
            None => buf.extend_from_slice(&data),
            Some(first) => {
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&data);
            }
        }
    }
    Ok(single.unwrap_or_else(|| buf.freeze()))
}

/// Decompresses a gzip body, failing when the output exceeds `limit` bytes.
pub(crate) fn gunzip_limited(wire: &[u8], limit: usize) -> Result<Bytes, CollectError> {
    let mut out = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::MultiGzDecoder::new(wire)
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| CollectError::Read(e.to_string()))?;
    if out.len() > limit {
        return Err(CollectError::TooLarge);
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn media_type_strips_parameters() {
        assert_eq!(
            media_type("Application/JSON; charset=utf-8"),
            "application/json"
        );
        assert_eq!(media_type(""), "");
    }

    #[test]
    fn gunzip_respects_the_limit() {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&[0u8; 1000]).expect("write");
        let gz = enc.finish().expect("finish");
        assert!(matches!(
            gunzip_limited(&gz, 999),
            Err(CollectError::TooLarge)
        ));
        assert_eq!(gunzip_limited(&gz, 1000).ok().map(|b| b.len()), Some(1000));
        assert!(matches!(
            gunzip_limited(b"not gzip", 1000),
            Err(CollectError::Read(_))
        ));
    }
}
