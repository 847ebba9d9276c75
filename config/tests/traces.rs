//! The spans exporter and trace context: `trace_exporter` in the table,
//! `OTEL_TRACES_EXPORTER` and the `OTEL_EXPORTER_OTLP_TRACES_*` variables
//! (each winning over the generic one), `TRACEPARENT` and the samplers.
#![cfg(all(feature = "http", feature = "grpc"))]

use agent_otel_config::{ExporterSettings, Origin};
use agent_otel_core::{HttpProtocol, Sampler, TraceParent, trace::RootSampler};

mod common;
use common::{resolve, resolve_err};

#[test]
fn trace_exporter_key_takes_the_same_forms_as_exporter() {
    let resolved = resolve(
        "[otel]\nexporter = \"otlp-http\"\ntrace_exporter = { otlp-grpc = { endpoint = \"http://traces:4317\" } }\n",
        &[],
    );
    let ExporterSettings::OtlpGrpc(grpc) = &resolved.trace_exporter else {
        panic!("grpc expected: {:?}", resolved.trace_exporter);
    };
    assert_eq!(grpc.endpoint, "http://traces:4317");
    assert!(matches!(
        resolved.trace_exporter_origin,
        Origin::File { .. }
    ));
    let ExporterSettings::OtlpHttp(http) = &resolved.exporter else {
        panic!("http logs expected");
    };
    assert_eq!(http.endpoint, "http://localhost:4318/v1/logs");
    let summary = resolved.to_string();
    assert!(summary.contains("trace_exporter: otlp-grpc"), "{summary}");
}

#[test]
fn traces_variables_win_over_the_generic_ones_and_default_to_v1_traces() {
    let resolved = resolve(
        "[otel]\n",
        &[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "x-team=a,x-key=generic"),
            ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-key=traces"),
            ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1234"),
        ],
    );
    assert_eq!(resolved.exporter, ExporterSettings::None, "logs stay off");
    let ExporterSettings::OtlpHttp(http) = &resolved.trace_exporter else {
        panic!("http traces expected: {:?}", resolved.trace_exporter);
    };
    assert_eq!(http.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(http.protocol, HttpProtocol::Json);
    assert_eq!(http.transport.timeout.as_millis(), 1234);
    let headers: Vec<(String, String)> = http
        .transport
        .headers
        .iter()
        .map(|(k, v)| (k.to_owned(), v.expose().to_owned()))
        .collect();
    assert!(
        headers.contains(&("x-key".to_owned(), "traces".to_owned())),
        "{headers:?}"
    );
    assert!(
        headers.contains(&("x-team".to_owned(), "a".to_owned())),
        "{headers:?}"
    );
    assert_eq!(
        resolved.trace_exporter_origin,
        Origin::Env("OTEL_TRACES_EXPORTER".into())
    );

    let own = resolve(
        "[otel]\n",
        &[
            ("OTEL_TRACES_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://spans:9999/custom",
            ),
        ],
    );
    let ExporterSettings::OtlpHttp(http) = &own.trace_exporter else {
        panic!("http traces expected");
    };
    assert_eq!(http.endpoint, "http://spans:9999/custom", "used as given");
}

#[test]
fn sdk_disabled_turns_traces_off_too() {
    let resolved = resolve(
        "[otel]\ntrace_exporter = \"otlp-grpc\"\n",
        &[("OTEL_SDK_DISABLED", "true")],
    );
    assert_eq!(resolved.trace_exporter, ExporterSettings::None);
    assert!(!resolved.start().expect("starts").is_enabled());
}

#[test]
fn traceparent_parents_turns_and_a_malformed_one_is_a_warning() {
    let resolved = resolve(
        "[otel]\n",
        &[(
            "TRACEPARENT",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )],
    );
    assert_eq!(
        resolved.telemetry.trace.parent,
        TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").ok()
    );
    assert!(resolved.warnings.is_empty());

    let resolved = resolve("[otel]\n", &[("TRACEPARENT", "00-nope")]);
    assert_eq!(resolved.telemetry.trace.parent, None);
    assert_eq!(resolved.warnings.len(), 1);
    assert!(
        resolved.warnings[0].starts_with("TRACEPARENT is ignored"),
        "{:?}",
        resolved.warnings
    );
}

#[test]
fn samplers_come_from_the_otel_variables() {
    let resolved = resolve(
        "[otel]\n",
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ],
    );
    assert_eq!(
        resolved.telemetry.trace.sampler,
        Sampler::ParentBased(RootSampler::TraceIdRatio(0.25))
    );
    assert_eq!(
        resolve("[otel]\n", &[]).telemetry.trace.sampler,
        Sampler::default()
    );
    let err = resolve_err("[otel]\n", &[("OTEL_TRACES_SAMPLER", "jaeger_remote")]);
    assert!(err.contains("OTEL_TRACES_SAMPLER"), "{err}");
    assert!(err.contains("parentbased_traceidratio"), "{err}");
    let err = resolve_err(
        "[otel]\n",
        &[
            ("OTEL_TRACES_SAMPLER", "traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "1.5"),
        ],
    );
    assert!(err.contains("between 0 and 1"), "{err}");
}
