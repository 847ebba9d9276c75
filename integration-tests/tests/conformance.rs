//! The exporter conformance suite (`src/conformance.rs`) for every
//! transport × signal: OTLP/HTTP protobuf, OTLP/HTTP JSON and OTLP/gRPC,
//! each sending logs, traces and metrics.

use agent_otel_core::Signal;
use agent_otel_integration_tests::conformance::{self, Target, Transport};

/// One module per target, one test per case.
macro_rules! conformance {
    ($module:ident, $transport:expr, $signal:expr) => {
        mod $module {
            use super::*;

            const TARGET: Target = Target {
                transport: $transport,
                signal: $signal,
            };

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn accepted() {
                conformance::accepted(TARGET).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn retryable() {
                conformance::retryable(TARGET).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn permanent() {
                conformance::permanent(TARGET).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn partial_success() {
                conformance::partial_success(TARGET).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn tls() {
                conformance::tls(TARGET).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mtls() {
                conformance::mtls(TARGET).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn gzip() {
                conformance::gzip(TARGET).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn headers() {
                conformance::headers(TARGET).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn never_answering() {
                conformance::never_answering(TARGET).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn late_start() {
                conformance::late_start(TARGET).await;
            }

            #[test]
            fn delivered_after_retries() {
                conformance::delivered_after_retries(TARGET);
            }

            #[test]
            fn shutdown_deadline_bounds_a_silent_collector() {
                conformance::shutdown_deadline_bounds_a_silent_collector(TARGET);
            }
        }
    };
}

conformance!(http_protobuf_logs, Transport::HttpProtobuf, Signal::Logs);
conformance!(
    http_protobuf_traces,
    Transport::HttpProtobuf,
    Signal::Traces
);
conformance!(
    http_protobuf_metrics,
    Transport::HttpProtobuf,
    Signal::Metrics
);
conformance!(http_json_logs, Transport::HttpJson, Signal::Logs);
conformance!(http_json_traces, Transport::HttpJson, Signal::Traces);
conformance!(http_json_metrics, Transport::HttpJson, Signal::Metrics);
conformance!(grpc_logs, Transport::Grpc, Signal::Logs);
conformance!(grpc_traces, Transport::Grpc, Signal::Traces);
conformance!(grpc_metrics, Transport::Grpc, Signal::Metrics);

#[test]
fn every_target_has_a_module() {
    assert_eq!(Target::all().len(), 9);
}
