//! `agent-otel check`: print the resolved `[otel]` settings (secrets
//! masked) and, with `--probe`, send one event and say plainly what happened.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use agent_otel_core::{
    EventData, ExportError, ExportOutcome, FailureKind, OtlpEncoder, SessionMetadata, SseEvent,
};

use crate::style::Style;
use crate::{EXIT_INCOMPLETE, EXIT_OK, EXIT_USAGE};

/// `event.kind` of the probe event, so it is easy to filter out downstream.
const PROBE_KIND: &str = "agent_otel.check.probe";

pub fn run(config: &Path, probe: bool) -> u8 {
    let out = Style::stdout();
    let err = Style::stderr();
    let resolved = match crate::setup::resolve_file(config, None) {
        Ok(resolved) => resolved,
        Err(code) => return code,
    };
    println!(
        "{}",
        out.bold(&format!("{}: [otel] resolved", config.display()))
    );
    println!("{resolved}");
    for warning in &resolved.warnings {
        eprintln!("{} {warning}", err.bad("warning:"));
    }
    if !probe {
        return EXIT_OK;
    }
    let exporter = match resolved.build_exporter() {
        Ok(Some(exporter)) => exporter,
        Ok(None) => {
            println!("probe: exporter is none; nothing to probe");
            return EXIT_OK;
        }
        Err(e) => {
            eprintln!("{} {e}", err.bad("error:"));
            return EXIT_USAGE;
        }
    };
    let encoder = OtlpEncoder::new(&resolved.telemetry, resolved.pipeline.max_request_bytes);
    let metadata = Arc::new(SessionMetadata {
        conversation_id: "agent-otel-check".to_owned(),
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        ..SessionMetadata::default()
    });
    let event = agent_otel_core::Event::new(
        SystemTime::now(),
        metadata,
        EventData::SseEvent(SseEvent {
            kind: PROBE_KIND,
            ..SseEvent::default()
        }),
        agent_otel_core::ContentPolicy::default(),
    );
    let Some(batch) = encoder.encode(&[event]).into_iter().next() else {
        eprintln!("{} could not encode the probe event", err.bad("error:"));
        return EXIT_INCOMPLETE;
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("{} cannot start a runtime: {e}", err.bad("error:"));
            return EXIT_INCOMPLETE;
        }
    };
    let limit = resolved.pipeline.request_timeout;
    let started = Instant::now();
    let outcome = runtime.block_on(async {
        tokio::time::timeout(limit + Duration::from_secs(1), exporter.export(&batch))
            .await
            .unwrap_or_else(|_| {
                ExportOutcome::retryable(ExportError::new(
                    FailureKind::Timeout,
                    format!("no answer within {limit:?}"),
                ))
            })
    });
    let elapsed = started.elapsed();
    let (ok, verdict) = describe(&outcome, exporter.name());
    if ok {
        println!(
            "{} {verdict} ({} ms)",
            out.ok("probe ok:"),
            elapsed.as_millis()
        );
        EXIT_OK
    } else {
        println!("{} {verdict}", out.bad("probe failed:"));
        EXIT_INCOMPLETE
    }
}

/// A plain-language verdict on one export outcome.
pub fn describe(outcome: &ExportOutcome, transport: &str) -> (bool, String) {
    let error = match outcome {
        ExportOutcome::Accepted => {
            return (true, "the collector accepted the probe event".to_owned());
        }
        ExportOutcome::PartiallyRejected { rejected, message } => {
            return (
                false,
                format!("the collector answered but rejected {rejected} record(s): {message}"),
            );
        }
        ExportOutcome::Retryable { error, .. } | ExportOutcome::Permanent { error } => error,
    };
    let text = error.message.to_ascii_lowercase();
    let verdict = match (error.kind, error.status) {
        (FailureKind::Connection, _) if text.contains("refused") => format!(
            "connection refused: nothing listens at the endpoint ({})",
            error.message
        ),
        (FailureKind::Connection, _)
            if text.contains("dns")
                || text.contains("resolve")
                || text.contains("lookup")
                || text.contains("name or service not known") =>
        {
            format!(
                "DNS failure: the endpoint's host name does not resolve ({})",
                error.message
            )
        }
        (FailureKind::Connection, _) => format!("connection failed: {}", error.message),
        (FailureKind::Tls, _) => tls_verdict(&text, &error.message),
        (FailureKind::Timeout, _) => format!("timeout: {}", error.message),
        (FailureKind::HttpStatus, Some(401 | 403)) | (FailureKind::GrpcStatus, Some(7 | 16)) => {
            format!(
                "authentication failed ({}): check the headers (API key, token) — {}",
                status_label(error),
                error.message
            )
        }
        (FailureKind::HttpStatus, Some(404)) => format!(
            "HTTP 404: wrong path; OTLP/HTTP logs go to /v1/logs (e.g. https://host:4318/v1/logs) — {}",
            error.message
        ),
        (FailureKind::GrpcStatus, Some(12)) => format!(
            "gRPC UNIMPLEMENTED: this endpoint does not serve OTLP logs; is it the collector's gRPC port (4317)? — {}",
            error.message
        ),
        (FailureKind::HttpStatus | FailureKind::GrpcStatus, _) => {
            format!("{}: {}", status_label(error), error.message)
        }
        (kind, _) => format!("{transport} {kind} failure: {}", error.message),
    };
    (false, verdict)
}

fn status_label(error: &ExportError) -> String {
    match (error.kind, error.status) {
        (FailureKind::HttpStatus, Some(status)) => format!("HTTP {status}"),
        (FailureKind::GrpcStatus, Some(code)) => format!("gRPC code {code}"),
        _ => error.kind.to_string(),
    }
}

fn tls_verdict(lower: &str, message: &str) -> String {
    let client_side = [
        "certificate required",
        "certificaterequired",
        "bad certificate",
        "badcertificate",
        "client cert",
    ];
    let server_side = [
        "unknownissuer",
        "unknown issuer",
        "invalid peer certificate",
        "not valid for name",
        "notvalidforname",
        "expired",
        "self-signed",
        "self signed",
    ];
    if client_side.iter().any(|needle| lower.contains(needle)) {
        format!(
            "TLS failure (client side): the server refused our client certificate; check client-certificate and client-private-key — {message}"
        )
    } else if server_side.iter().any(|needle| lower.contains(needle)) {
        format!(
            "TLS failure (server side): the server's certificate is not trusted; check ca-certificate or the host name — {message}"
        )
    } else {
        format!("TLS failure: {message}")
    }
}
