//! Scripted faults and the answers the collector gives.

use std::time::Duration;

use tonic::Code;

/// A scripted misbehaviour, consumed by the next request of either transport
/// (see [`Collector::push_fault`](crate::Collector::push_fault)).
///
/// Over HTTP, error answers carry a `google.rpc.Status` body encoded like the
/// request (protobuf or JSON), as the OTLP/HTTP specification asks.
/// `Retry-After` headers built from a [`Duration`] are whole seconds, rounded
/// **up** (1.2 s is sent as `2`; zero as `0`). gRPC `RetryInfo` details carry
/// the exact duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 503 (with `Retry-After` when given) / gRPC `UNAVAILABLE` (with a
    /// `google.rpc.RetryInfo` detail when given).
    Unavailable {
        /// Server-requested delay before retrying.
        retry_after: Option<Duration>,
    },
    /// HTTP 429 (with `Retry-After` when given) / gRPC `RESOURCE_EXHAUSTED`
    /// (with a `RetryInfo` detail when given; without it OTLP senders must
    /// not retry).
    Throttled {
        /// Server-requested delay before retrying.
        retry_after: Option<Duration>,
    },
    /// HTTP 400 / gRPC `INVALID_ARGUMENT`.
    InvalidArgument,
    /// HTTP 401 / gRPC `UNAUTHENTICATED`.
    Unauthenticated,
    /// A raw HTTP status, with a raw `Retry-After` header value when given
    /// (for example an HTTP date). Statuses outside `200..=599` are sent as
    /// 500; a 2xx status is a normal acceptance (records are counted).
    ///
    /// Over gRPC the status is mapped so that the OTLP retry decision stays
    /// the same on both transports:
    ///
    /// | HTTP | gRPC |
    /// | --- | --- |
    /// | 2xx | `OK` (normal acceptance) |
    /// | 400 | `INVALID_ARGUMENT` |
    /// | 401 | `UNAUTHENTICATED` |
    /// | 403 | `PERMISSION_DENIED` |
    /// | 404 | `UNIMPLEMENTED` |
    /// | 408 | `UNKNOWN` (permanent under OTLP/HTTP, so not the retryable `DEADLINE_EXCEEDED`) |
    /// | 429 | `RESOURCE_EXHAUSTED`, always with a `RetryInfo` detail (so it stays retryable) |
    /// | 500 | `INTERNAL` |
    /// | 501 | `UNIMPLEMENTED` |
    /// | 502, 503, 504 | `UNAVAILABLE` |
    /// | anything else | `UNKNOWN` |
    ///
    /// Only 429, 502, 503 and 504 are retryable over OTLP/HTTP; they map to
    /// the retryable gRPC codes above, and every other status maps to a code
    /// OTLP/gRPC senders do not retry.
    ///
    /// When `retry_after` is a whole number of seconds it becomes the
    /// `RetryInfo` delay of `UNAVAILABLE` / `RESOURCE_EXHAUSTED` answers.
    HttpStatus {
        /// The HTTP status code.
        status: u16,
        /// Raw `Retry-After` header value.
        retry_after: Option<String>,
    },
    /// A raw gRPC status code, with a `RetryInfo` detail when `retry_after`
    /// is given. `OK` is a normal acceptance (records are counted).
    ///
    /// Over HTTP the code is mapped so that the OTLP retry decision stays the
    /// same on both transports (`Retry-After` is added when given):
    ///
    /// | gRPC | HTTP |
    /// | --- | --- |
    /// | `OK` | 200 (normal acceptance) |
    /// | `UNAVAILABLE`, `CANCELLED`, `ABORTED`, `OUT_OF_RANGE`, `DATA_LOSS` | 503 |
    /// | `DEADLINE_EXCEEDED` | 504 |
    /// | `RESOURCE_EXHAUSTED` | 429 |
    /// | `INVALID_ARGUMENT`, `FAILED_PRECONDITION` | 400 |
    /// | `UNAUTHENTICATED` | 401 |
    /// | `PERMISSION_DENIED` | 403 |
    /// | `NOT_FOUND` | 404 |
    /// | `ALREADY_EXISTS` | 409 |
    /// | `UNIMPLEMENTED` | 501 |
    /// | `UNKNOWN`, `INTERNAL` | 500 |
    GrpcStatus {
        /// The gRPC status code.
        code: Code,
        /// Delay for the `RetryInfo` detail (and the HTTP `Retry-After`).
        retry_after: Option<Duration>,
    },
    /// HTTP 200 / gRPC `OK` with `partial_success` set. The records count as
    /// received.
    PartialSuccess {
        /// `rejected_log_records` (`rejected_data_points`,
        /// `rejected_spans`) in the answer.
        rejected: i64,
        /// `error_message` in the answer.
        message: String,
    },
    /// Accept normally after this delay. The request is recorded (and its
    /// records counted and fed to subscribers) on arrival; if the collector
    /// is dropped during the delay the delay is cut short and the request is
    /// answered as accepted right away, so the answer always matches what
    /// was recorded.
    Delay(Duration),
    /// Never answer: hold the request open until the collector is dropped,
    /// then answer 503 / `UNAVAILABLE`. Records are not counted.
    NeverAnswer,
}

/// What the collector answered to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Accepted in full (HTTP 200 / gRPC `OK`).
    Accepted,
    /// Accepted in full, after the given delay ([`Fault::Delay`]).
    Delayed(Duration),
    /// Accepted with `partial_success` set ([`Fault::PartialSuccess`]).
    PartialSuccess {
        /// `rejected_log_records` in the answer.
        rejected: i64,
        /// `error_message` in the answer.
        message: String,
    },
    /// Refused or never answered: a status error or [`Fault::NeverAnswer`].
    /// The sender is expected to retry or drop the data, so its records are
    /// not counted.
    Fault(Fault),
    /// The request would have been accepted, but the collector's
    /// [`Sink`](crate::Sink) could not keep it: answered with HTTP 503 /
    /// gRPC `UNAVAILABLE` and this message, records not counted.
    NotStored(String),
}

impl Answer {
    /// The answer for a scripted fault (normalising the accepting ones).
    pub(crate) fn from_fault(fault: Fault) -> Answer {
        match fault {
            Fault::Delay(d) => Answer::Delayed(d),
            Fault::PartialSuccess { rejected, message } => {
                Answer::PartialSuccess { rejected, message }
            }
            Fault::GrpcStatus { code: Code::Ok, .. } => Answer::Accepted,
            Fault::HttpStatus { status, .. } if (200..300).contains(&status) => Answer::Accepted,
            other => Answer::Fault(other),
        }
    }

    /// Whether the request's records count as received: true for
    /// [`Answer::Accepted`], [`Answer::Delayed`] and [`Answer::PartialSuccess`].
    pub fn counts_records(&self) -> bool {
        !matches!(self, Answer::Fault(_) | Answer::NotStored(_))
    }
}

/// How a refusing fault answers, the same on both transports: each server
/// only renders it (an HTTP status with `Retry-After`, or a gRPC status
/// with `RetryInfo`).
pub(crate) struct Refusal {
    pub(crate) http_status: u16,
    pub(crate) code: Code,
    pub(crate) message: String,
    /// The `Retry-After` header value, if any.
    pub(crate) retry_after_header: Option<String>,
    /// `Some` to attach `RetryInfo` (with this delay, if any).
    pub(crate) retry_info: Option<Option<Duration>>,
}

impl Fault {
    /// The refusal this fault answers with; `None` for faults that do not
    /// refuse (never answering, delaying, accepting partially).
    pub(crate) fn refusal(&self) -> Option<Refusal> {
        let secs = |d: &Option<Duration>| d.map(|d| retry_after_secs(d).to_string());
        let refusal = |http_status, code, message: &str, header, retry_info| Refusal {
            http_status,
            code,
            message: message.to_owned(),
            retry_after_header: header,
            retry_info,
        };
        Some(match self {
            Fault::Unavailable { retry_after } => refusal(
                503,
                Code::Unavailable,
                "collector unavailable (scripted fault)",
                secs(retry_after),
                retry_after.map(Some),
            ),
            Fault::Throttled { retry_after } => refusal(
                429,
                Code::ResourceExhausted,
                "too many requests (scripted fault)",
                secs(retry_after),
                retry_after.map(Some),
            ),
            Fault::InvalidArgument => refusal(
                400,
                Code::InvalidArgument,
                "invalid argument (scripted fault)",
                None,
                None,
            ),
            Fault::Unauthenticated => refusal(
                401,
                Code::Unauthenticated,
                "unauthenticated (scripted fault)",
                None,
                None,
            ),
            Fault::HttpStatus {
                status,
                retry_after,
            } => {
                let code = http_status_to_grpc(*status);
                let delay = retry_after
                    .as_deref()
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                let retry_info = match code {
                    // 429 always carries RetryInfo so that it stays retryable.
                    Code::ResourceExhausted => Some(delay),
                    Code::Unavailable => delay.map(Some),
                    _ => None,
                };
                refusal(
                    *status,
                    code,
                    &format!("scripted HTTP status {status}"),
                    retry_after.clone(),
                    retry_info,
                )
            }
            Fault::GrpcStatus { code, retry_after } => refusal(
                grpc_code_to_http(*code),
                *code,
                "scripted gRPC status",
                secs(retry_after),
                retry_after.map(Some),
            ),
            Fault::NeverAnswer | Fault::Delay(_) | Fault::PartialSuccess { .. } => return None,
        })
    }
}

/// Whole seconds for a `Retry-After` header, rounded up.
pub(crate) fn retry_after_secs(d: Duration) -> u64 {
    d.as_secs().saturating_add(u64::from(d.subsec_nanos() > 0))
}

/// HTTP status -> gRPC code (see [`Fault::HttpStatus`]).
pub(crate) fn http_status_to_grpc(status: u16) -> Code {
    match status {
        200..=299 => Code::Ok,
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 | 501 => Code::Unimplemented,
        429 => Code::ResourceExhausted,
        500 => Code::Internal,
        502..=504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

/// gRPC code -> HTTP status (see [`Fault::GrpcStatus`]).
pub(crate) fn grpc_code_to_http(code: Code) -> u16 {
    match code {
        Code::Ok => 200,
        Code::Unavailable | Code::Cancelled | Code::Aborted | Code::OutOfRange | Code::DataLoss => {
            503
        }
        Code::DeadlineExceeded => 504,
        Code::ResourceExhausted => 429,
        Code::InvalidArgument | Code::FailedPrecondition => 400,
        Code::Unauthenticated => 401,
        Code::PermissionDenied => 403,
        Code::NotFound => 404,
        Code::AlreadyExists => 409,
        Code::Unimplemented => 501,
        Code::Unknown | Code::Internal => 500,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::ZERO), 0);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_secs(Duration::from_millis(2001)), 3);
    }

    #[test]
    fn mappings_keep_retryability() {
        for s in [429, 502, 503, 504] {
            let code = http_status_to_grpc(s);
            assert!(matches!(code, Code::Unavailable | Code::ResourceExhausted));
        }
        assert_eq!(http_status_to_grpc(400), Code::InvalidArgument);
        assert_eq!(http_status_to_grpc(418), Code::Unknown);
        // 408 is permanent under OTLP/HTTP: it must not become the retryable
        // DEADLINE_EXCEEDED over gRPC.
        assert_eq!(http_status_to_grpc(408), Code::Unknown);
        // Every non-retryable HTTP status maps to a non-retryable gRPC code.
        let retryable_grpc = |c: Code| {
            matches!(
                c,
                Code::Cancelled
                    | Code::DeadlineExceeded
                    | Code::ResourceExhausted
                    | Code::Aborted
                    | Code::OutOfRange
                    | Code::Unavailable
                    | Code::DataLoss
            )
        };
        for s in 300..=599u16 {
            let retryable_http = matches!(s, 429 | 502 | 503 | 504);
            assert_eq!(
                retryable_grpc(http_status_to_grpc(s)),
                retryable_http,
                "HTTP {s}"
            );
        }
        for c in [Code::Unavailable, Code::Cancelled, Code::DataLoss] {
            assert_eq!(grpc_code_to_http(c), 503);
        }
        assert_eq!(grpc_code_to_http(Code::PermissionDenied), 403);
    }

    #[test]
    fn accepting_faults_normalise() {
        assert_eq!(
            Answer::from_fault(Fault::GrpcStatus {
                code: Code::Ok,
                retry_after: None
            }),
            Answer::Accepted
        );
        assert!(Answer::from_fault(Fault::Delay(Duration::from_millis(5))).counts_records());
        assert!(!Answer::from_fault(Fault::NeverAnswer).counts_records());
        assert!(
            !Answer::from_fault(Fault::HttpStatus {
                status: 503,
                retry_after: None
            })
            .counts_records()
        );
    }
}
