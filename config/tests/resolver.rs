//! ResolvedConfig: building exporters, starting telemetry, the summary,
//! and transports that are not compiled in. No network is used: exporters
//! connect lazily, and nothing is emitted.

use std::time::Duration;

use agent_otel_config::{
    ConfigError, Environment, ExporterSettings, HostInfo, OtelConfig, ResolvedConfig,
};

fn resolve(toml: &str) -> Result<ResolvedConfig, ConfigError> {
    OtelConfig::parse(toml)
        .expect("parses")
        .resolve(&Environment::empty(), &HostInfo::new("test-agent", "1.0.0"))
}

#[test]
fn none_builds_no_exporter_and_starts_disabled() {
    let resolved = resolve("[otel]\nexporter = \"none\"\n").expect("resolves");
    assert!(resolved.build_exporter().expect("ok").is_none());
    let telemetry = resolved.start().expect("starts");
    assert!(!telemetry.is_enabled());
    assert_eq!(telemetry.exporter_name(), "none");
    telemetry
        .shutdown(Duration::from_millis(10))
        .expect("no-op");
}

#[test]
fn default_resolved_config_is_disabled() {
    let resolved = ResolvedConfig::default();
    assert_eq!(resolved.exporter, ExporterSettings::None);
    assert!(!resolved.start().expect("starts").is_enabled());
}

/// Builds the real exporter (it connects lazily, so no network is used).
#[cfg(feature = "http")]
#[test]
fn http_exporter_builds() {
    let resolved = resolve(
        "[otel]\nexporter = { otlp-http = { endpoint = \"http://127.0.0.1:9/v1/logs\", protocol = \"json\" } }\n",
    )
    .expect("resolves");
    let ExporterSettings::OtlpHttp(settings) = &resolved.exporter else {
        panic!("http")
    };
    let config = settings.exporter_config();
    assert_eq!(config.endpoint, "http://127.0.0.1:9/v1/logs");
    assert_eq!(config.protocol, agent_otel_core::HttpProtocol::Json);
    let exporter = resolved
        .build_exporter()
        .expect("exporter builds")
        .expect("an exporter");
    assert_eq!(exporter.name(), "otlp-http");
}

#[cfg(feature = "grpc")]
#[test]
fn grpc_exporter_builds() {
    let resolved = resolve(
        "[otel]\nexporter = { otlp-grpc = { endpoint = \"http://127.0.0.1:9\", compression = \"gzip\" } }\n",
    )
    .expect("resolves");
    let ExporterSettings::OtlpGrpc(settings) = &resolved.exporter else {
        panic!("grpc")
    };
    let config = settings.exporter_config();
    assert_eq!(config.endpoint, "http://127.0.0.1:9");
    assert!(config.transport.tls.insecure);
    let exporter = resolved
        .build_exporter()
        .expect("exporter builds")
        .expect("an exporter");
    assert_eq!(exporter.name(), "otlp-grpc");
}

/// Starting (when the exporter builds) spawns the pipeline; shutting down
/// with nothing queued returns at once without touching the network.
#[cfg(feature = "http")]
#[test]
fn start_then_shutdown_without_events() {
    let resolved = resolve(
        "[otel]\nexporter = { otlp-http = { endpoint = \"http://127.0.0.1:9/v1/logs\" } }\nshutdown_timeout_ms = 500\n",
    )
    .expect("resolves");
    let telemetry = resolved.start().expect("starts");
    assert!(telemetry.is_enabled());
    assert_eq!(telemetry.exporter_name(), "otlp-http");
    let started = std::time::Instant::now();
    telemetry
        .shutdown(resolved.shutdown_timeout)
        .expect("nothing queued");
    // Nothing was emitted, so nothing was sent; the bound only catches a hang.
    assert_eq!(telemetry.stats().requests, 0);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown hung for {:?}",
        started.elapsed()
    );
}

#[cfg(not(feature = "http"))]
#[test]
fn http_not_compiled_is_a_resolve_error() {
    let err = resolve("[otel]\nexporter = \"otlp-http\"\n").expect_err("feature off");
    let msg = err.to_string();
    assert!(matches!(
        err,
        ConfigError::TransportNotCompiled {
            feature: "http",
            ..
        }
    ));
    assert!(
        msg.contains("line 2") && msg.contains("otel.exporter"),
        "{msg}"
    );
    assert!(msg.contains("\"http\" cargo feature"), "{msg}");
    assert!(!agent_otel_config::compiled_exporters().contains(&"otlp-http"));
    // Also when chosen from the environment.
    let err = OtelConfig::parse("")
        .expect("parses")
        .resolve(
            &Environment::from_pairs([("OTEL_LOGS_EXPORTER", "otlp")]),
            &HostInfo::default(),
        )
        .expect_err("feature off");
    assert!(err.to_string().contains("OTEL_LOGS_EXPORTER"), "{err}");
    // A hand-built ResolvedConfig fails in build_exporter, not with a panic.
    let resolved = ResolvedConfig {
        exporter: ExporterSettings::OtlpHttp(agent_otel_config::OtlpHttpSettings {
            endpoint: "http://localhost:4318/v1/logs".into(),
            endpoint_origin: agent_otel_config::Origin::Default,
            protocol: Default::default(),
            transport: Default::default(),
        }),
        ..ResolvedConfig::default()
    };
    assert!(matches!(
        resolved.build_exporter(),
        Err(ConfigError::TransportNotCompiled { .. })
    ));
    assert!(resolved.start().is_err());
}

#[cfg(not(feature = "grpc"))]
#[test]
fn grpc_not_compiled_is_a_resolve_error() {
    let err = resolve("[otel]\nexporter = { otlp-grpc = { endpoint = \"https://h:4317\" } }\n")
        .expect_err("feature off");
    let msg = err.to_string();
    assert!(matches!(
        err,
        ConfigError::TransportNotCompiled {
            feature: "grpc",
            ..
        }
    ));
    assert!(
        msg.contains("line 2") && msg.contains("\"grpc\" cargo feature"),
        "{msg}"
    );
}

#[cfg(feature = "http")]
#[test]
fn summary_lists_every_setting() {
    let toml = "[otel]\nenvironment = \"prod\"\nexporter = { otlp-http = { endpoint = \"https://otel.example.com/v1/logs\", compression = \"gzip\", headers = { x-api-key = \"k\" } } }\n[otel.resource_attributes]\nteam = \"platform\"\n";
    let resolved = resolve(toml).expect("resolves");
    let summary = resolved.to_string();
    println!("{summary}");
    for part in [
        "exporter: otlp-http (from [otel] table, line 3)",
        "endpoint: https://otel.example.com/v1/logs",
        "protocol: binary",
        "compression: gzip",
        "timeout: 10000 ms",
        "headers: x-api-key=***",
        "service.name=test-agent",
        "service.version=1.0.0",
        "env=prod",
        "team=platform",
        "queue_capacity=2048",
        "shutdown_timeout: 3000 ms",
    ] {
        assert!(summary.contains(part), "summary lacks {part:?}:\n{summary}");
    }
}

#[test]
fn summary_of_disabled() {
    let resolved = OtelConfig::parse("[otel]\nexporter = \"otlp-grpc\"\n")
        .expect("parses")
        .resolve(
            &Environment::from_pairs([("OTEL_SDK_DISABLED", "true")]),
            &HostInfo::default(),
        )
        .expect("resolves");
    let summary = resolved.to_string();
    assert!(
        summary.starts_with("exporter: none (from OTEL_SDK_DISABLED)"),
        "{summary}"
    );
}

#[test]
fn compiled_exporters_matches_features() {
    let names = agent_otel_config::compiled_exporters();
    assert_eq!(names.contains(&"otlp-http"), cfg!(feature = "http"));
    assert_eq!(names.contains(&"otlp-grpc"), cfg!(feature = "grpc"));
    assert!(names.contains(&"none"));
}

#[test]
fn load_file_and_from_str() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, "model = \"o3\"\n[otel]\nenvironment = \"ci\"\n").expect("write");
    let resolved = agent_otel_config::load_file(&path, &Environment::empty(), &HostInfo::default())
        .expect("loads");
    assert_eq!(resolved.telemetry.resource.environment, "ci");
    let resolved = agent_otel_config::from_str(
        "[otel]\nenvironment = \"ci\"\n",
        &Environment::empty(),
        &HostInfo::default(),
    )
    .expect("parses");
    assert_eq!(resolved.telemetry.resource.environment, "ci");
}
