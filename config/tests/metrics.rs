//! The metrics exporter and settings: `metrics_exporter`,
//! `metrics_temporality`, `metrics_interval_ms` in the table;
//! `OTEL_METRICS_EXPORTER`, `OTEL_EXPORTER_OTLP_METRICS_*`,
//! `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` and
//! `OTEL_METRIC_EXPORT_INTERVAL` (the table wins; the signal's variable
//! wins over the generic one).
#![cfg(all(feature = "http", feature = "grpc"))]

use std::time::Duration;

use agent_otel_config::{
    Environment, ExporterSettings, HostInfo, Origin, OtelConfig, ResolvedConfig,
};
use agent_otel_core::{HttpProtocol, Temporality};

fn resolve(toml: &str, pairs: &[(&str, &str)]) -> ResolvedConfig {
    OtelConfig::parse(toml)
        .expect("parses")
        .resolve(
            &Environment::from_pairs(pairs.iter().copied()),
            &HostInfo::default(),
        )
        .expect("resolves")
}

fn resolve_err(toml: &str, pairs: &[(&str, &str)]) -> String {
    OtelConfig::parse(toml)
        .expect("parses")
        .resolve(
            &Environment::from_pairs(pairs.iter().copied()),
            &HostInfo::default(),
        )
        .expect_err("must fail")
        .to_string()
}

fn parse_err(toml: &str) -> String {
    OtelConfig::parse(toml).expect_err("must fail").to_string()
}

#[test]
fn metrics_are_off_by_default_with_delta_every_minute() {
    let resolved = resolve("[otel]\nexporter = \"otlp-http\"\n", &[]);
    assert_eq!(resolved.metrics_exporter, ExporterSettings::None);
    assert_eq!(resolved.metrics_exporter_origin, Origin::Default);
    let metrics = resolved.telemetry.metrics;
    assert_eq!(metrics.temporality, Temporality::Delta);
    assert_eq!(metrics.interval, Duration::from_secs(60));
    assert!(resolved.build_metrics_exporter().expect("builds").is_none());
}

#[test]
fn metrics_exporter_key_takes_the_same_forms_as_exporter() {
    let resolved = resolve(
        "[otel]\nmetrics_exporter = { otlp-http = { endpoint = \"http://m:4318/v1/metrics\", protocol = \"json\" } }\nmetrics_temporality = \"cumulative\"\nmetrics_interval_ms = 5000\n",
        &[],
    );
    let ExporterSettings::OtlpHttp(http) = &resolved.metrics_exporter else {
        panic!("http metrics expected: {:?}", resolved.metrics_exporter);
    };
    assert_eq!(http.endpoint, "http://m:4318/v1/metrics");
    assert_eq!(http.protocol, HttpProtocol::Json);
    assert!(matches!(
        resolved.metrics_exporter_origin,
        Origin::File { .. }
    ));
    assert_eq!(resolved.exporter, ExporterSettings::None, "logs stay off");
    assert_eq!(
        resolved.telemetry.metrics.temporality,
        Temporality::Cumulative
    );
    assert_eq!(resolved.telemetry.metrics.interval, Duration::from_secs(5));
    let summary = resolved.to_string();
    assert!(summary.contains("metrics_exporter: otlp-http"), "{summary}");
    assert!(
        summary.contains("metrics: temporality=cumulative, interval=5000 ms"),
        "{summary}"
    );
    let string_form = resolve("[otel]\nmetrics_exporter = \"otlp-grpc\"\n", &[]);
    let ExporterSettings::OtlpGrpc(grpc) = &string_form.metrics_exporter else {
        panic!("grpc expected");
    };
    assert_eq!(grpc.endpoint, "http://localhost:4317");
    let default_http = resolve("[otel]\nmetrics_exporter = \"otlp-http\"\n", &[]);
    let ExporterSettings::OtlpHttp(http) = &default_http.metrics_exporter else {
        panic!("http expected");
    };
    assert_eq!(http.endpoint, "http://localhost:4318/v1/metrics");
}

#[test]
fn metrics_variables_win_over_the_generic_ones_and_default_to_v1_metrics() {
    let resolved = resolve(
        "[otel]\n",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/json"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "CUMULATIVE",
            ),
            ("OTEL_METRIC_EXPORT_INTERVAL", "15000"),
        ],
    );
    assert_eq!(resolved.exporter, ExporterSettings::None, "logs stay off");
    let ExporterSettings::OtlpHttp(http) = &resolved.metrics_exporter else {
        panic!("http metrics expected: {:?}", resolved.metrics_exporter);
    };
    assert_eq!(http.endpoint, "http://collector:4318/v1/metrics");
    assert_eq!(http.protocol, HttpProtocol::Json);
    assert_eq!(
        resolved.metrics_exporter_origin,
        Origin::Env("OTEL_METRICS_EXPORTER".into())
    );
    assert_eq!(
        resolved.telemetry.metrics.temporality,
        Temporality::Cumulative
    );
    assert_eq!(resolved.telemetry.metrics.interval, Duration::from_secs(15));

    let own = resolve(
        "[otel]\n",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://generic:4317"),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://metrics:4317"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "LowMemory",
            ),
        ],
    );
    let ExporterSettings::OtlpGrpc(grpc) = &own.metrics_exporter else {
        panic!("grpc metrics expected: {:?}", own.metrics_exporter);
    };
    assert_eq!(grpc.endpoint, "http://metrics:4317");
    assert_eq!(own.telemetry.metrics.temporality, Temporality::LowMemory);
}

#[test]
fn table_keys_win_over_the_environment() {
    let resolved = resolve(
        "[otel]\nmetrics_exporter = \"none\"\nmetrics_temporality = \"delta\"\nmetrics_interval_ms = 1000\n",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                "cumulative",
            ),
            ("OTEL_METRIC_EXPORT_INTERVAL", "99999"),
        ],
    );
    assert_eq!(resolved.metrics_exporter, ExporterSettings::None);
    assert_eq!(resolved.telemetry.metrics.temporality, Temporality::Delta);
    assert_eq!(resolved.telemetry.metrics.interval, Duration::from_secs(1));
}

#[test]
fn logs_on_and_metrics_off_and_the_reverse() {
    let logs_only = resolve(
        "[otel]\nexporter = \"otlp-http\"\n",
        &[("OTEL_METRICS_EXPORTER", "none")],
    );
    assert!(matches!(logs_only.exporter, ExporterSettings::OtlpHttp(_)));
    assert_eq!(logs_only.metrics_exporter, ExporterSettings::None);
    let metrics_only = resolve("[otel]\nmetrics_exporter = \"otlp-http\"\n", &[]);
    assert_eq!(metrics_only.exporter, ExporterSettings::None);
    let telemetry = metrics_only.start().expect("starts");
    assert!(telemetry.is_enabled(), "metrics alone start the pipeline");
    telemetry.shutdown(Duration::from_secs(5)).ok();
}

#[test]
fn sdk_disabled_turns_metrics_off_too() {
    let resolved = resolve(
        "[otel]\nmetrics_exporter = \"otlp-grpc\"\n",
        &[("OTEL_SDK_DISABLED", "true")],
    );
    assert_eq!(resolved.metrics_exporter, ExporterSettings::None);
}

#[test]
fn bad_metrics_values_name_the_key_line_and_fix() {
    let temporality = parse_err("[otel]\nmetrics_temporality = \"cumulativ\"\n");
    assert!(temporality.contains("line 2"), "{temporality}");
    assert!(temporality.contains("metrics_temporality"), "{temporality}");
    assert!(
        temporality.contains("cumulative"),
        "a suggestion: {temporality}"
    );
    let interval = parse_err("[otel]\n\nmetrics_interval_ms = 10\n");
    assert!(interval.contains("line 3"), "{interval}");
    assert!(interval.contains("metrics_interval_ms"), "{interval}");
    assert!(interval.contains("100"), "the range: {interval}");
    let exporter = parse_err("[otel]\nmetrics_exporter = \"otlp-htp\"\n");
    assert!(exporter.contains("metrics_exporter"), "{exporter}");
    assert!(exporter.contains("otlp-http"), "{exporter}");
    let env_temporality = resolve_err(
        "[otel]\n",
        &[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "delt")],
    );
    assert!(
        env_temporality.contains("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE"),
        "{env_temporality}"
    );
    assert!(env_temporality.contains("delta"), "{env_temporality}");
    let env_interval = resolve_err("[otel]\n", &[("OTEL_METRIC_EXPORT_INTERVAL", "soon")]);
    assert!(
        env_interval.contains("OTEL_METRIC_EXPORT_INTERVAL"),
        "{env_interval}"
    );
    let env_exporter = resolve_err("[otel]\n", &[("OTEL_METRICS_EXPORTER", "prometheus")]);
    assert!(
        env_exporter.contains("OTEL_METRICS_EXPORTER"),
        "{env_exporter}"
    );
}

#[test]
fn metrics_headers_stay_secret() {
    let resolved = resolve(
        "[otel]\nmetrics_exporter = { otlp-http = { headers = { \"x-api-key\" = \"${KEY}\" } } }\n",
        &[("KEY", "s3cr3t-metrics-token")],
    );
    let shown = format!("{resolved}\n{resolved:?}");
    assert!(!shown.contains("s3cr3t-metrics-token"), "{shown}");
    let env = resolve(
        "[otel]\n",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                "x-api-key=env-m3trics-secret",
            ),
        ],
    );
    let shown = format!("{env}\n{env:?}");
    assert!(!shown.contains("env-m3trics-secret"), "{shown}");
}

#[test]
fn the_design_example_of_metrics_exporter_resolves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).expect("certs dir");
    // Syntactically valid PEM is all resolving checks.
    let cert = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ3J0\n-----END CERTIFICATE-----\n";
    let key = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEG\n-----END PRIVATE KEY-----\n";
    for (name, pem) in [("ca.pem", cert), ("client.pem", cert), ("client.key", key)] {
        std::fs::write(certs.join(name), pem).expect("pem");
    }
    let toml = r#"
[otel]
metrics_exporter = { otlp-grpc = { endpoint = "https://otel.example.com:4317",
                           compression = "gzip", timeout-ms = 10000,
                           tls = { ca-certificate = "certs/ca.pem",
                                   client-certificate = "certs/client.pem",
                                   client-private-key = "certs/client.key" } } }
"#;
    let path = dir.path().join("config.toml");
    std::fs::write(&path, toml).expect("config");
    let resolved = OtelConfig::parse_file(&path)
        .expect("parses")
        .resolve(&Environment::empty(), &HostInfo::default())
        .expect("resolves");
    let ExporterSettings::OtlpGrpc(grpc) = &resolved.metrics_exporter else {
        panic!("grpc metrics expected");
    };
    assert_eq!(grpc.endpoint, "https://otel.example.com:4317");
    assert_eq!(
        grpc.transport.tls.ca_certificate.as_deref(),
        Some(certs.join("ca.pem").as_path())
    );
    assert_eq!(grpc.transport.timeout, Duration::from_secs(10));
}
