//! Turns the result of one `LogsService/Export` call into an
//! [`ExportOutcome`], following the OTLP/gRPC retry rules.
//!
//! | answer | outcome | kind |
//! | --- | --- | --- |
//! | OK, no `partial_success` | `Accepted` | |
//! | OK, `rejected_log_records > 0` or a message | `PartiallyRejected` | |
//! | CANCELLED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS | `Retryable` | `GrpcStatus` |
//! | DEADLINE_EXCEEDED | `Retryable` | `Timeout` |
//! | RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` | `Retryable` | `GrpcStatus` |
//! | RESOURCE_EXHAUSTED without `RetryInfo`, every other code | `Permanent` | `GrpcStatus` |
//! | no answer within the timeout (client-side deadline) | `Retryable` | `Timeout` |
//! | connect timeout | `Retryable` | `Timeout` |
//! | connection refused/reset/closed, DNS failure | `Retryable` | `Connection` |
//! | TLS handshake or certificate failure | `Permanent` | `Tls` |
//! | TLS handshake timeout | `Retryable` | `Timeout` |
//! | answer not decodable | `Permanent` | `Protocol` |
//!
//! A `RetryInfo` delay is honoured as `retry_after` for every retryable code.
//! Statuses the collector sent carry no error source; statuses tonic made
//! up from a transport failure do, and are classified by that source chain
//! rather than by their code (a refused connection is UNAVAILABLE to tonic
//! but "connection" in the stats).

use std::error::Error as StdError;
use std::time::Duration;

use agent_otel_core::{
    ErrorChain, ExportError, ExportOutcome, FailureKind, is_retryable_grpc_code,
    server_message_excerpt,
};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::codec::ResponseDecodeError;

/// Classifies a successful call: accepted or partially rejected.
pub(crate) fn response(response: &ExportLogsServiceResponse) -> ExportOutcome {
    match &response.partial_success {
        Some(partial) => ExportOutcome::from_partial_success(
            partial.rejected_log_records,
            &partial.error_message,
        ),
        None => ExportOutcome::Accepted,
    }
}

/// Classifies a failed call. `endpoint` and `timeout` only shape messages.
pub(crate) fn status(status: &Status, endpoint: &str, timeout: Duration) -> ExportOutcome {
    if let Some(source) = status.source() {
        return transport(source, endpoint, timeout);
    }
    if is_local_timeout(status) {
        return ExportOutcome::retryable(ExportError::new(
            FailureKind::Timeout,
            format!("no answer from {endpoint} within {timeout:?}"),
        ));
    }
    grpc_status(status)
}

/// Whether tonic made `status` up for its own client-side deadline: it
/// turns `TimeoutExpired` into a CANCELLED status and drops the source, so
/// only the text tells it from a CANCELLED the collector sent.
fn is_local_timeout(status: &Status) -> bool {
    status.code() == Code::Cancelled
        && status.details().is_empty()
        && status.message() == tonic::TimeoutExpired(()).to_string()
}

/// Classifies a status the collector sent (no local error source).
pub(crate) fn grpc_status(status: &Status) -> ExportOutcome {
    let code = status.code();
    let number = code as i32;
    let message = if status.message().is_empty() {
        code_name(code).to_owned()
    } else {
        format!(
            "{}: {}",
            code_name(code),
            server_message_excerpt(status.message())
        )
    };
    let retry_info = status.get_details_retry_info();
    let retry_after = retry_info.as_ref().and_then(|info| info.retry_delay);
    let retryable = |kind| ExportOutcome::Retryable {
        error: ExportError::with_status(kind, number, message.clone()),
        retry_after,
    };
    if !is_retryable_grpc_code(number, retry_info.is_some()) {
        return ExportOutcome::permanent(ExportError::with_status(
            FailureKind::GrpcStatus,
            number,
            message,
        ));
    }
    match code {
        Code::DeadlineExceeded => retryable(FailureKind::Timeout),
        _ => retryable(FailureKind::GrpcStatus),
    }
}

/// Classifies a failure that happened before or instead of an answer, from
/// its error chain.
pub(crate) fn transport(
    error: &(dyn StdError + 'static),
    endpoint: &str,
    timeout: Duration,
) -> ExportOutcome {
    let chain = ErrorChain::walk(error, h2_io_error);
    let detail = message(&chain);
    if chain.find::<ResponseDecodeError>().is_some() {
        return ExportOutcome::permanent(ExportError::new(FailureKind::Protocol, detail));
    }
    // tonic's own TLS errors are private types; recognise them by their text.
    let tonic_text = |needle: &str| {
        chain
            .iter()
            .any(|e| e.to_string().to_ascii_lowercase().contains(needle))
    };
    let tls = chain.tls_failure();
    if tls.is_some() || tonic_text("http/2 was not negotiated") {
        // A certificate the client does not trust, a server that wants a
        // client certificate, or a peer that does not speak TLS: retrying
        // with the same configuration cannot succeed. The hint names the
        // setting to check, as the HTTP exporter's does.
        let hint = tls.map_or("check that the endpoint speaks gRPC over TLS", |tls| {
            tls.hint()
        });
        return ExportOutcome::permanent(ExportError::new(
            FailureKind::Tls,
            format!("TLS with {endpoint} failed: {detail} ({hint})"),
        ));
    }
    if chain.find::<tonic::TimeoutExpired>().is_some()
        || chain.io_timed_out()
        || tonic_text("tls handshake timed out")
    {
        return ExportOutcome::retryable(ExportError::new(
            FailureKind::Timeout,
            format!("no answer from {endpoint} within {timeout:?}: {detail}"),
        ));
    }
    ExportOutcome::retryable(ExportError::new(
        FailureKind::Connection,
        format!("cannot reach {endpoint}: {detail}"),
    ))
}

/// h2 errors expose no source; the io error (and a TLS alert in it) is
/// only reachable through `get_io`.
fn h2_io_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    err.downcast_ref::<h2::Error>()
        .and_then(h2::Error::get_io)
        .map(|io| io as &(dyn StdError + 'static))
}

/// The distinct messages of an error chain, outermost first; a status with
/// no message is named by its code.
fn message(chain: &ErrorChain<'_>) -> String {
    chain.message(|err| {
        err.downcast_ref::<Status>().map(|status| {
            if status.message().is_empty() {
                code_name(status.code()).to_owned()
            } else {
                status.message().to_owned()
            }
        })
    })
}

/// [`message`] of any error, for errors raised while building the channel.
pub(crate) fn chain_message(error: &(dyn StdError + 'static)) -> String {
    message(&ErrorChain::walk(error, h2_io_error))
}

/// The canonical upper-case name of a gRPC code.
pub(crate) fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agent_otel_core::testing::{expect_permanent, expect_retryable};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsPartialSuccess;
    use std::io;
    use tonic_types::ErrorDetails;

    fn with_retry_info(code: Code, delay: Duration) -> Status {
        Status::with_error_details(code, "busy", ErrorDetails::with_retry_info(Some(delay)))
    }

    #[test]
    fn retryable_codes_follow_the_otlp_table() {
        for code in [
            Code::Cancelled,
            Code::Aborted,
            Code::OutOfRange,
            Code::Unavailable,
            Code::DataLoss,
        ] {
            let (error, retry_after) = expect_retryable(grpc_status(&Status::new(code, "x")));
            assert_eq!(error.kind, FailureKind::GrpcStatus, "{code:?}");
            assert_eq!(error.status, Some(code as i32), "{code:?}");
            assert_eq!(retry_after, None, "{code:?}");
        }
        let (error, _) = expect_retryable(grpc_status(&Status::deadline_exceeded("slow")));
        assert_eq!(error.kind, FailureKind::Timeout);
        assert_eq!(error.status, Some(4));
    }

    #[test]
    fn tonics_own_deadline_is_a_timeout_not_a_server_cancel() {
        let timeout = Duration::from_millis(500);
        let local = Status::from_error(Box::new(tonic::TimeoutExpired(())));
        let (error, _) = expect_retryable(status(&local, "http://h:4317", timeout));
        assert_eq!(error.kind, FailureKind::Timeout, "{error}");
        assert_eq!(error.status, None);
        let sent = Status::cancelled("the collector cancelled");
        let (error, _) = expect_retryable(status(&sent, "http://h:4317", timeout));
        assert_eq!(error.kind, FailureKind::GrpcStatus, "{error}");
    }

    #[test]
    fn permanent_codes_carry_their_number() {
        for code in [
            Code::Unknown,
            Code::InvalidArgument,
            Code::NotFound,
            Code::AlreadyExists,
            Code::PermissionDenied,
            Code::ResourceExhausted,
            Code::FailedPrecondition,
            Code::Unimplemented,
            Code::Internal,
            Code::Unauthenticated,
        ] {
            let error = expect_permanent(grpc_status(&Status::new(code, "no")));
            assert_eq!(error.kind, FailureKind::GrpcStatus, "{code:?}");
            assert_eq!(error.status, Some(code as i32), "{code:?}");
            assert!(error.message.starts_with(code_name(code)), "{error}");
        }
    }

    #[test]
    fn retry_info_makes_resource_exhausted_retryable_and_sets_the_delay() {
        let delay = Duration::from_millis(1500);
        for code in [Code::ResourceExhausted, Code::Unavailable] {
            let (error, retry_after) = expect_retryable(grpc_status(&with_retry_info(code, delay)));
            assert_eq!(retry_after, Some(delay), "{code:?}");
            assert_eq!(error.status, Some(code as i32), "{code:?}");
        }
        // RetryInfo on a permanent code does not make it retryable.
        let error = expect_permanent(grpc_status(&with_retry_info(Code::InvalidArgument, delay)));
        assert_eq!(error.status, Some(Code::InvalidArgument as i32));
    }

    #[test]
    fn partial_success_needs_a_rejection_or_a_message() {
        let answer = |rejected, message: &str| ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message.to_owned(),
            }),
        };
        assert_eq!(
            response(&ExportLogsServiceResponse::default()),
            ExportOutcome::Accepted
        );
        assert_eq!(response(&answer(0, "")), ExportOutcome::Accepted);
        assert_eq!(
            response(&answer(2, "too old")),
            ExportOutcome::PartiallyRejected {
                rejected: 2,
                message: "too old".to_owned()
            }
        );
        assert_eq!(
            response(&answer(0, "warning")),
            ExportOutcome::PartiallyRejected {
                rejected: 0,
                message: "warning".to_owned()
            }
        );
        assert_eq!(
            response(&answer(-3, "bogus")),
            ExportOutcome::PartiallyRejected {
                rejected: 0,
                message: "bogus".to_owned()
            }
        );
    }

    #[test]
    fn transport_chains_are_classified_by_their_source() {
        let endpoint = "http://127.0.0.1:1";
        let timeout = Duration::from_secs(1);
        let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
        let (error, _) = expect_retryable(transport(&refused, endpoint, timeout));
        assert_eq!(error.kind, FailureKind::Connection);
        assert_eq!(error.status, None);
        let tls = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        );
        let error = expect_permanent(transport(&tls, endpoint, timeout));
        assert_eq!(error.kind, FailureKind::Tls, "{error}");
        let alert = io::Error::new(
            io::ErrorKind::InvalidData,
            "received fatal alert: CertificateRequired",
        );
        let error = expect_permanent(transport(&alert, endpoint, timeout));
        assert_eq!(error.kind, FailureKind::Tls, "{error}");
        assert!(error.message.contains("client-certificate"), "{error}");
        let timed_out = io::Error::from(io::ErrorKind::TimedOut);
        let (error, _) = expect_retryable(transport(&timed_out, endpoint, timeout));
        assert_eq!(error.kind, FailureKind::Timeout, "{error}");
    }
}
