//! Classification of OTLP/HTTP answers and transport errors into
//! [`ExportOutcome`]s, following the OTLP/HTTP specification.

use std::time::{Duration, SystemTime};

use agent_otel_core::classify::no_unwrap;
use agent_otel_core::opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use agent_otel_core::{
    ErrorChain, ExportError, ExportOutcome, FailureKind, TlsFailure, is_retryable_http_status,
    server_message_excerpt,
};
use prost::Message;
use reqwest::StatusCode;

/// Largest response body the exporter reads; the rest is never read.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How a response body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFormat {
    Protobuf,
    Json,
    Other,
}

impl BodyFormat {
    /// From the response `Content-Type`; `None` (no header) is the caller's
    /// choice, usually the request's own encoding.
    pub(crate) fn from_content_type(content_type: Option<&str>, fallback: BodyFormat) -> Self {
        let Some(content_type) = content_type else {
            return fallback;
        };
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence.contains("protobuf") {
            BodyFormat::Protobuf
        } else if essence.contains("json") {
            BodyFormat::Json
        } else {
            BodyFormat::Other
        }
    }
}

/// The outcome of a 2xx answer: `Accepted` unless the body carries a
/// `partial_success` with rejected records or a message.
///
/// A body that cannot be decoded (or was cut at [`MAX_RESPONSE_BYTES`]) still
/// means the collector took the request: it is `Accepted`, never retried.
pub(crate) fn success_outcome(body: &[u8], format: BodyFormat, truncated: bool) -> ExportOutcome {
    if body.is_empty() || truncated {
        return ExportOutcome::Accepted;
    }
    let partial = match format {
        BodyFormat::Protobuf => ExportLogsServiceResponse::decode(body)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_log_records, p.error_message)),
        BodyFormat::Json => json_partial_success(body),
        BodyFormat::Other => None,
    };
    match partial {
        Some((rejected, message)) => ExportOutcome::from_partial_success(rejected, &message),
        None => ExportOutcome::Accepted,
    }
}

/// `partialSuccess` of an OTLP JSON response. Parsed by hand rather than
/// with the generated serde impl because OTLP JSON sends int64 either as a
/// number or as a string (the collector sends strings), and receivers must
/// accept both, as well as the original snake_case field names.
fn json_partial_success(body: &[u8]) -> Option<(i64, String)> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let partial = field(&value, "partialSuccess", "partial_success")?;
    // Logs, traces and metrics answers name their count differently.
    let count = field(partial, "rejectedLogRecords", "rejected_log_records")
        .or_else(|| field(partial, "rejectedSpans", "rejected_spans"))
        .or_else(|| field(partial, "rejectedDataPoints", "rejected_data_points"));
    let rejected = match count {
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    };
    let message = field(partial, "errorMessage", "error_message")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    Some((rejected, message))
}

fn field<'a>(
    value: &'a serde_json::Value,
    camel: &str,
    snake: &str,
) -> Option<&'a serde_json::Value> {
    value.get(camel).or_else(|| value.get(snake))
}

/// `google.rpc.Status`, the body of an OTLP/HTTP error answer. Only the
/// fields the exporter reads; prost skips `details`.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The outcome of a non-2xx answer.
pub(crate) fn failure_outcome(
    status: StatusCode,
    retry_after: Option<Duration>,
    location: Option<&str>,
    body: &[u8],
    format: BodyFormat,
) -> ExportOutcome {
    let mut message = format!("HTTP {status}");
    let detail = error_detail(body, format);
    if status.is_redirection() {
        message.push_str(": redirects are not followed; set the endpoint to the final URL");
        if let Some(location) = location {
            message.push_str(&format!(
                " (Location: {})",
                server_message_excerpt(location)
            ));
        }
    }
    if !detail.is_empty() {
        message.push_str(": ");
        message.push_str(&detail);
    }
    let error =
        ExportError::with_status(FailureKind::HttpStatus, i32::from(status.as_u16()), message);
    if is_retryable_http_status(status.as_u16()) {
        ExportOutcome::Retryable { error, retry_after }
    } else {
        ExportOutcome::permanent(error)
    }
}

/// The server's explanation: `google.rpc.Status.message` for protobuf,
/// the JSON `message` field for JSON, else the text itself; shortened.
fn error_detail(body: &[u8], format: BodyFormat) -> String {
    if body.is_empty() {
        return String::new();
    }
    let decoded = match format {
        BodyFormat::Protobuf => RpcStatus::decode(body)
            .ok()
            .map(|s| s.message)
            .filter(|m| !m.is_empty()),
        BodyFormat::Json => serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .filter(|m| !m.is_empty()),
        BodyFormat::Other => None,
    };
    match decoded {
        Some(message) => server_message_excerpt(&message),
        // Binary protobuf that did not decode is not worth quoting.
        None if format == BodyFormat::Protobuf => String::new(),
        None => server_message_excerpt(&String::from_utf8_lossy(body)),
    }
}

/// Parses `Retry-After`: delta-seconds or an HTTP-date (all three formats
/// of RFC 9110). A zero delay or a date in the past gives `None`, so the
/// pipeline falls back to its own backoff instead of retrying in a loop.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to fit u64: far beyond any retry budget anyway.
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).ok()?
    };
    (!delay.is_zero()).then_some(delay)
}

/// Classifies an error of sending the request or reading the answer.
///
/// | cause | outcome |
/// | --- | --- |
/// | TLS handshake/certificate error | `Permanent`, `Tls` (a wrong CA or missing client cert stays wrong) |
/// | request timeout | `Retryable`, `Timeout` |
/// | request could not be built | `Permanent`, `Exporter` |
/// | closed after a handshake whose server wants a client certificate we lack | `Permanent`, `Tls` |
/// | anything else (refused, reset, DNS, closed early) | `Retryable`, `Connection` |
///
/// `certificate_required`: a server asked for a client certificate this
/// exporter does not have and never answered without one (see
/// `tls::CertificateRequests`); a connection closed after the handshake is
/// then that server's refusal, whose TLS 1.3 alert was lost, and is
/// reported as the TLS failure it is, not as a retryable connection error.
pub(crate) fn transport_outcome(
    err: &reqwest::Error,
    timeout: Option<Duration>,
    certificate_required: bool,
) -> ExportOutcome {
    let chain = ErrorChain::walk(err, no_unwrap);
    // Over HTTP/2 a TLS alert (e.g. the server refusing our client
    // certificate) reaches us as text only; the chain finds both forms.
    if let Some(tls) = chain.tls_failure() {
        let detail = match tls {
            TlsFailure::Typed(error) => error.to_string(),
            TlsFailure::Text => chain_message(&chain),
        };
        return ExportOutcome::permanent(ExportError::new(
            FailureKind::Tls,
            format!("TLS error: {detail} ({})", tls.hint()),
        ));
    }
    if err.is_timeout() {
        let message = match timeout {
            Some(t) => format!("no response within {t:?}"),
            None => "the request timed out".to_owned(),
        };
        return ExportOutcome::retryable(ExportError::new(FailureKind::Timeout, message));
    }
    let message = chain_message(&chain);
    if err.is_builder() {
        return ExportOutcome::permanent(ExportError::new(FailureKind::Exporter, message));
    }
    if certificate_required && !err.is_connect() {
        return ExportOutcome::permanent(ExportError::new(
            FailureKind::Tls,
            format!(
                "TLS error: the server asked for a client certificate, none is configured, \
                 and it closed the connection ({message}); fix: set tls client-certificate \
                 and client-private-key"
            ),
        ));
    }
    ExportOutcome::retryable(ExportError::new(FailureKind::Connection, message))
}

/// The chain's distinct messages, with reqwest's "for url (...)" tail
/// dropped so the request URL (and any credential in it) never shows.
fn chain_message(chain: &ErrorChain<'_>) -> String {
    chain.message(|err| {
        err.downcast_ref::<reqwest::Error>().map(|e| {
            let text = e.to_string();
            text.split(" for url (")
                .next()
                .unwrap_or_default()
                .to_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_otel_core::testing::{expect_permanent, expect_retryable};

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT")
            .unwrap_or(SystemTime::UNIX_EPOCH);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(Duration::from_secs(10))
        );
        // RFC 850 and asctime forms are accepted too.
        assert_eq!(
            parse_retry_after("Sunday, 06-Nov-94 08:50:37 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            parse_retry_after("Sun Nov  6 08:49:40 1994", now),
            Some(Duration::from_secs(3))
        );
        // In the past: let the pipeline back off.
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            None
        );
        // Too large for u64: saturates instead of failing.
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn json_partial_success_accepts_numbers_strings_and_snake_case() {
        let ok = |body: &str| success_outcome(body.as_bytes(), BodyFormat::Json, false);
        assert_eq!(
            ok(r#"{"partialSuccess":{"rejectedLogRecords":"2","errorMessage":"bad"}}"#),
            ExportOutcome::PartiallyRejected {
                rejected: 2,
                message: "bad".into()
            }
        );
        assert_eq!(
            ok(r#"{"partial_success":{"rejected_log_records":3}}"#),
            ExportOutcome::PartiallyRejected {
                rejected: 3,
                message: String::new(),
            },
        );
        assert_eq!(
            ok(r#"{"partialSuccess":{"rejectedSpans":"3"}}"#),
            ExportOutcome::PartiallyRejected {
                rejected: 3,
                message: String::new(),
            },
        );
        assert_eq!(
            ok(r#"{"partialSuccess":{"rejectedDataPoints":3}}"#),
            ExportOutcome::PartiallyRejected {
                rejected: 3,
                message: String::new()
            }
        );
        assert_eq!(
            ok(r#"{"partialSuccess":{"errorMessage":"deprecated field"}}"#),
            ExportOutcome::PartiallyRejected {
                rejected: 0,
                message: "deprecated field".into()
            }
        );
        assert_eq!(ok(r#"{"partialSuccess":{}}"#), ExportOutcome::Accepted);
        assert_eq!(ok("{}"), ExportOutcome::Accepted);
        assert_eq!(ok("not json"), ExportOutcome::Accepted);
    }

    #[test]
    fn content_type_picks_the_decoder() {
        let f = BodyFormat::from_content_type;
        assert_eq!(
            f(Some("application/x-protobuf"), BodyFormat::Json),
            BodyFormat::Protobuf
        );
        assert_eq!(
            f(
                Some("Application/JSON; charset=utf-8"),
                BodyFormat::Protobuf
            ),
            BodyFormat::Json
        );
        assert_eq!(
            f(Some("text/plain"), BodyFormat::Protobuf),
            BodyFormat::Other
        );
        assert_eq!(f(None, BodyFormat::Json), BodyFormat::Json);
    }

    #[test]
    fn error_bodies_are_decoded() {
        let status = RpcStatus {
            code: 3,
            message: "invalid resource".into(),
        }
        .encode_to_vec();
        let outcome = failure_outcome(
            StatusCode::BAD_REQUEST,
            None,
            None,
            &status,
            BodyFormat::Protobuf,
        );
        let error = expect_permanent(outcome);
        assert_eq!(error.status, Some(400));
        assert!(
            error.message.contains("invalid resource"),
            "{}",
            error.message
        );

        let outcome = failure_outcome(
            StatusCode::SERVICE_UNAVAILABLE,
            Some(Duration::from_secs(1)),
            None,
            br#"{"code":14,"message":"overloaded"}"#,
            BodyFormat::Json,
        );
        let (error, retry_after) = expect_retryable(outcome);
        assert_eq!(retry_after, Some(Duration::from_secs(1)));
        assert!(error.message.contains("overloaded"), "{}", error.message);
    }
}
