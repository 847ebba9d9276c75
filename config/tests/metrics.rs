//! The metrics exporter and settings: `metrics_exporter`,
//! `metrics_temporality`, `metrics_interval_ms` in the table;
//! `OTEL_METRICS_EXPORTER`, `OTEL_EXPORTER_OTLP_METRICS_*`,
//! `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` and
//! `OTEL_METRIC_EXPORT_INTERVAL` (the table wins; the signal's variable
//! wins over the generic one).
#![cfg(all(feature = "http", feature = "grpc"))]

use std::time::Duration;

use agent_otel_config::{Environment, ExporterSettings, HostInfo, Origin, OtelConfig};
use agent_otel_core::{Compression, HttpProtocol, Temporality};

mod common;
use common::{resolve, resolve_err};

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

/// The endpoint and origin of a resolved exporter (HTTP or gRPC).
fn endpoint(settings: &ExporterSettings) -> (&str, &Origin) {
    match settings {
        ExporterSettings::OtlpHttp(s) => (&s.endpoint, &s.endpoint_origin),
        ExporterSettings::OtlpGrpc(s) => (&s.endpoint, &s.endpoint_origin),
        ExporterSettings::None => panic!("an exporter expected"),
    }
}

#[test]
fn each_signal_gets_its_own_http_path_from_the_generic_endpoint() {
    let all_on = [
        ("OTEL_LOGS_EXPORTER", "otlp"),
        ("OTEL_TRACES_EXPORTER", "otlp"),
        ("OTEL_METRICS_EXPORTER", "otlp"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/otlp/"),
    ];
    let resolved = resolve("[otel]\n", &all_on);
    let generic = Origin::Env("OTEL_EXPORTER_OTLP_ENDPOINT".into());
    for (settings, path) in [
        (&resolved.exporter, "logs"),
        (&resolved.trace_exporter, "traces"),
        (&resolved.metrics_exporter, "metrics"),
    ] {
        assert!(matches!(settings, ExporterSettings::OtlpHttp(_)));
        let (url, origin) = endpoint(settings);
        assert_eq!(url, format!("http://collector:4318/otlp/v1/{path}"));
        assert_eq!(origin, &generic);
    }
    // The metrics variable is used as is (no path appended) and touches
    // only metrics.
    let mut own = all_on.to_vec();
    own.push((
        "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
        "http://m:9000/custom",
    ));
    let resolved = resolve("[otel]\n", &own);
    assert_eq!(
        endpoint(&resolved.metrics_exporter),
        (
            "http://m:9000/custom",
            &Origin::Env("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT".into())
        )
    );
    assert_eq!(
        endpoint(&resolved.exporter).0,
        "http://collector:4318/otlp/v1/logs"
    );
    assert_eq!(
        endpoint(&resolved.trace_exporter).0,
        "http://collector:4318/otlp/v1/traces"
    );
}

#[test]
fn grpc_endpoints_per_signal_are_used_as_given() {
    let resolved = resolve(
        "[otel]\n",
        &[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317"),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                "metrics.internal:4317",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "true"),
        ],
    );
    let ExporterSettings::OtlpGrpc(logs) = &resolved.exporter else {
        panic!("grpc logs expected: {:?}", resolved.exporter);
    };
    assert_eq!(logs.endpoint, "http://collector:4317", "no path for gRPC");
    let ExporterSettings::OtlpGrpc(metrics) = &resolved.metrics_exporter else {
        panic!("grpc metrics expected: {:?}", resolved.metrics_exporter);
    };
    // No scheme: the metrics INSECURE variable picks plaintext.
    assert_eq!(metrics.endpoint, "http://metrics.internal:4317");
    assert!(metrics.transport.tls.insecure);
    assert_eq!(resolved.trace_exporter, ExporterSettings::None);

    // The metrics protocol variable alone switches metrics to gRPC.
    let mixed = resolve(
        "[otel]\n",
        &[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ],
    );
    assert_eq!(endpoint(&mixed.exporter).0, "http://localhost:4318/v1/logs");
    assert_eq!(
        endpoint(&mixed.metrics_exporter),
        ("http://localhost:4317", &Origin::Default)
    );
    assert!(matches!(
        mixed.metrics_exporter,
        ExporterSettings::OtlpGrpc(_)
    ));
}

#[test]
fn metrics_transport_variables_touch_only_metrics() {
    let resolved = resolve(
        "[otel]\nexporter = \"otlp-http\"\nmetrics_exporter = \"otlp-http\"\n",
        &[
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "7000"),
            ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "2000"),
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-tenant=all,x-shared=generic",
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "x-shared=metrics"),
        ],
    );
    let (ExporterSettings::OtlpHttp(logs), ExporterSettings::OtlpHttp(metrics)) =
        (&resolved.exporter, &resolved.metrics_exporter)
    else {
        panic!("http logs and metrics expected");
    };
    assert_eq!(logs.transport.compression, Compression::None);
    assert_eq!(metrics.transport.compression, Compression::Gzip);
    assert_eq!(logs.transport.timeout, Duration::from_secs(7));
    assert_eq!(metrics.transport.timeout, Duration::from_secs(2));
    let header = |s: &agent_otel_config::OtlpHttpSettings, name: &str| {
        s.transport.headers.get(name).map(|v| v.expose().to_owned())
    };
    assert_eq!(header(logs, "x-shared").as_deref(), Some("generic"));
    assert_eq!(header(metrics, "x-shared").as_deref(), Some("metrics"));
    assert_eq!(header(metrics, "x-tenant").as_deref(), Some("all"));
    let bad = resolve_err(
        "[otel]\nmetrics_exporter = \"otlp-http\"\n",
        &[("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "zstd")],
    );
    assert!(
        bad.contains("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION"),
        "{bad}"
    );
    assert!(bad.contains("gzip"), "the choices: {bad}");
}

#[test]
fn metrics_tls_files_come_from_the_metrics_variables() {
    let dir = tempfile::tempdir().expect("temp dir");
    let ca = dir.path().join("metrics-ca.pem");
    std::fs::write(
        &ca,
        "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ3J0\n-----END CERTIFICATE-----\n",
    )
    .expect("pem");
    let ca_text = ca.to_str().expect("utf-8 path");
    let resolved = resolve(
        "[otel]\nexporter = { otlp-grpc = { endpoint = \"https://logs.example.com:4317\" } }\nmetrics_exporter = { otlp-grpc = { endpoint = \"https://metrics.example.com:4317\" } }\n",
        &[("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE", ca_text)],
    );
    let (ExporterSettings::OtlpGrpc(logs), ExporterSettings::OtlpGrpc(metrics)) =
        (&resolved.exporter, &resolved.metrics_exporter)
    else {
        panic!("grpc logs and metrics expected");
    };
    assert_eq!(
        metrics.transport.tls.ca_certificate.as_deref(),
        Some(ca.as_path())
    );
    assert_eq!(logs.transport.tls.ca_certificate, None);
    let missing = resolve_err(
        "[otel]\nmetrics_exporter = { otlp-grpc = { endpoint = \"https://metrics.example.com:4317\" } }\n",
        &[(
            "OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE",
            "/nonexistent/ca.pem",
        )],
    );
    assert!(
        missing.contains("OTEL_EXPORTER_OTLP_METRICS_CERTIFICATE"),
        "{missing}"
    );
}

#[test]
fn temporality_in_any_case_and_lowmemory() {
    for (table, expected) in [
        ("lowmemory", Temporality::LowMemory),
        ("LowMemory", Temporality::LowMemory),
        ("Cumulative", Temporality::Cumulative),
        ("DELTA", Temporality::Delta),
    ] {
        let resolved = resolve(&format!("[otel]\nmetrics_temporality = \"{table}\"\n"), &[]);
        assert_eq!(resolved.telemetry.metrics.temporality, expected, "{table}");
    }
    for (var, expected) in [
        (" lowmemory ", Temporality::LowMemory),
        ("Delta", Temporality::Delta),
        ("cUmUlAtIvE", Temporality::Cumulative),
        // Empty counts as unset (OTel spec): the default.
        ("", Temporality::Delta),
    ] {
        let resolved = resolve(
            "[otel]\n",
            &[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", var)],
        );
        assert_eq!(resolved.telemetry.metrics.temporality, expected, "{var:?}");
    }
    let summary = resolve("[otel]\nmetrics_temporality = \"lowmemory\"\n", &[]).to_string();
    assert!(summary.contains("temporality=lowmemory"), "{summary}");
}

#[test]
fn the_interval_range_is_100_ms_to_24_hours_for_key_and_variable() {
    for ms in [100_u64, 86_400_000] {
        let resolved = resolve(&format!("[otel]\nmetrics_interval_ms = {ms}\n"), &[]);
        assert_eq!(
            resolved.telemetry.metrics.interval,
            Duration::from_millis(ms)
        );
        let from_env = resolve(
            "[otel]\n",
            &[("OTEL_METRIC_EXPORT_INTERVAL", &ms.to_string())],
        );
        assert_eq!(
            from_env.telemetry.metrics.interval,
            Duration::from_millis(ms)
        );
    }
    for ms in [0_u64, 99, 86_400_001] {
        let error = parse_err(&format!("[otel]\nmetrics_interval_ms = {ms}\n"));
        assert!(error.contains("line 2"), "{error}");
        assert!(error.contains("metrics_interval_ms"), "{error}");
        assert!(
            error.contains("100") && error.contains("86400000"),
            "{error}"
        );
        let env_error = resolve_err(
            "[otel]\n",
            &[("OTEL_METRIC_EXPORT_INTERVAL", &ms.to_string())],
        );
        assert!(
            env_error.contains("OTEL_METRIC_EXPORT_INTERVAL"),
            "{env_error}"
        );
        assert!(
            env_error.contains("metrics_interval_ms"),
            "names the key whose range applies: {env_error}"
        );
    }
    let not_integer = parse_err("[otel]\nmetrics_interval_ms = \"60s\"\n");
    assert!(not_integer.contains("metrics_interval_ms"), "{not_integer}");
}

#[test]
fn sdk_disabled_wins_over_the_metrics_variable_and_starts_nothing() {
    let resolved = resolve(
        "[otel]\n",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_SDK_DISABLED", "TRUE"),
        ],
    );
    assert_eq!(resolved.metrics_exporter, ExporterSettings::None);
    assert_eq!(
        resolved.metrics_exporter_origin,
        Origin::Env("OTEL_SDK_DISABLED".into())
    );
    assert!(resolved.build_metrics_exporter().expect("builds").is_none());
    let telemetry = resolved.start().expect("starts");
    assert!(!telemetry.is_enabled(), "no signal is exported");
    let enabled = resolve(
        "[otel]\n",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_SDK_DISABLED", "false"),
        ],
    );
    assert!(matches!(
        enabled.metrics_exporter,
        ExporterSettings::OtlpHttp(_)
    ));
}

#[test]
fn the_metrics_exporter_builds_for_each_transport() {
    for (toml, name) in [
        ("[otel]\nmetrics_exporter = \"otlp-http\"\n", "otlp-http"),
        ("[otel]\nmetrics_exporter = \"otlp-grpc\"\n", "otlp-grpc"),
    ] {
        let resolved = resolve(toml, &[]);
        let exporter = resolved
            .build_metrics_exporter()
            .expect("builds")
            .expect("an exporter");
        assert_eq!(exporter.name(), name);
        assert!(resolved.build_exporter().expect("builds").is_none());
    }
}

#[test]
fn the_summary_names_where_the_metrics_exporter_came_from() {
    let resolved = resolve(
        "[otel]\n",
        &[
            ("OTEL_METRICS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "2500"),
        ],
    );
    let summary = resolved.to_string();
    assert!(
        summary.contains("metrics_exporter: otlp-grpc (from OTEL_METRICS_EXPORTER)"),
        "{summary}"
    );
    assert_eq!(
        summary.lines().next(),
        Some("exporter: none (default)"),
        "logs stay off: {summary}"
    );
    assert!(
        summary.contains("metrics: temporality=delta, interval=2500 ms"),
        "{summary}"
    );
}
