//! Every example of DESIGN.md's "The `[otel]` table" section, verbatim.
//!
//! The design shows the forms in one block, which assigns `exporter` four
//! times: as one document that is a TOML duplicate-key error (tested too),
//! so each form is checked as its own `[otel]` table.

use agent_otel_config::{Environment, ExporterConfig, ExporterSettings, HostInfo, OtelConfig};
use agent_otel_core::{Compression, HttpProtocol};

const SCALARS: &str = r#"
[otel]
environment = "staging"        # default "dev"
exporter = "none"              # default; also "otlp-http", "otlp-grpc"
log_user_prompt = false        # default false
"#;

const HTTP_TABLE: &str = r#"
[otel]
exporter = { otlp-http = { endpoint = "https://otel.example.com/v1/logs",
                           protocol = "binary",          # or "json"
                           headers = { "x-otlp-api-key" = "${OTLP_TOKEN}" } } }
"#;

const GRPC_TABLE: &str = r#"
[otel]
exporter = { otlp-grpc = { endpoint = "https://otel.example.com:4317",
                           headers = { "x-otlp-meta" = "abc123" } } }
"#;

const GRPC_OPTIONS: &str = r#"
[otel]
exporter = { otlp-grpc = { endpoint = "https://otel.example.com:4317",
                           compression = "gzip",                # default "none"
                           timeout-ms = 10000,
                           tls = { ca-certificate = "certs/ca.pem",
                                   client-certificate = "certs/client.pem",
                                   client-private-key = "certs/client.key" } } }
"#;

const RESOURCE: &str = r#"
[otel]
[otel.resource_attributes]     # added to the resource of every export
"team" = "platform"
"#;

/// The scalar lines of the design's block, one exporter key per signal.
const SIGNAL_SCALARS: &str = r#"
[otel]
environment = "staging"        # default "dev"
exporter = "none"              # logs; default; also "otlp-http", "otlp-grpc", or a table
metrics_exporter = "none"      # same forms; default none
trace_exporter = "none"        # same forms; default none
log_user_prompt = false        # default false
log_tool_content = true        # default true
"#;

const METRICS_GRPC_TABLE: &str = r#"
[otel]
metrics_exporter = { otlp-grpc = { endpoint = "https://otel.example.com:4317",
                           compression = "gzip", timeout-ms = 10000,
                           tls = { ca-certificate = "certs/ca.pem",
                                   client-certificate = "certs/client.pem",
                                   client-private-key = "certs/client.key" } } }
"#;

/// The design's block exactly as printed.
const WHOLE_BLOCK: &str = r#"[otel]
environment = "staging"        # default "dev"
exporter = "none"              # default; also "otlp-http", "otlp-grpc"
log_user_prompt = false        # default false

# table forms
exporter = { otlp-http = { endpoint = "https://otel.example.com/v1/logs",
                           protocol = "binary",          # or "json"
                           headers = { "x-otlp-api-key" = "${OTLP_TOKEN}" } } }
"#;

fn env() -> Environment {
    Environment::from_pairs([("OTLP_TOKEN", "tok-123")])
}

#[test]
fn scalars() {
    let config = OtelConfig::parse(SCALARS).expect("parses");
    assert_eq!(
        config.environment.as_ref().map(|s| s.value.as_str()),
        Some("staging")
    );
    assert_eq!(
        config.exporter.as_ref().map(|s| &s.value),
        Some(&ExporterConfig::None)
    );
    assert_eq!(
        config.log_user_prompt.as_ref().map(|s| s.value),
        Some(false)
    );
    let resolved = config
        .resolve(&env(), &HostInfo::default())
        .expect("resolves");
    assert_eq!(resolved.exporter, ExporterSettings::None);
    assert_eq!(resolved.telemetry.resource.environment, "staging");
    assert!(!resolved.telemetry.content.log_user_prompt);
}

#[test]
fn http_table_form() {
    let config = OtelConfig::parse(HTTP_TABLE).expect("parses");
    let resolved = config.resolve(&env(), &HostInfo::default());
    if !agent_otel_config::HTTP_COMPILED {
        assert!(resolved.is_err());
        return;
    }
    let resolved = resolved.expect("resolves");
    let ExporterSettings::OtlpHttp(http) = &resolved.exporter else {
        panic!("expected otlp-http, got {:?}", resolved.exporter)
    };
    assert_eq!(http.endpoint, "https://otel.example.com/v1/logs");
    assert_eq!(http.protocol, HttpProtocol::Binary);
    let token = http
        .transport
        .headers
        .get("x-otlp-api-key")
        .expect("header");
    assert_eq!(token.expose(), "tok-123");
}

#[test]
fn grpc_table_form() {
    let config = OtelConfig::parse(GRPC_TABLE).expect("parses");
    let resolved = config.resolve(&Environment::empty(), &HostInfo::default());
    if !agent_otel_config::GRPC_COMPILED {
        assert!(resolved.is_err());
        return;
    }
    let resolved = resolved.expect("resolves");
    let ExporterSettings::OtlpGrpc(grpc) = &resolved.exporter else {
        panic!("expected otlp-grpc")
    };
    assert_eq!(grpc.endpoint, "https://otel.example.com:4317");
    assert_eq!(
        grpc.transport
            .headers
            .get("x-otlp-meta")
            .map(|v| v.expose()),
        Some("abc123")
    );
    assert!(!grpc.transport.tls.insecure);
}

#[test]
fn grpc_options_form() {
    let config = OtelConfig::parse_with_path(GRPC_OPTIONS, "/etc/agent/config.toml".as_ref())
        .expect("parses");
    let Some(ExporterConfig::OtlpGrpc(grpc)) = config.exporter.as_ref().map(|s| &s.value) else {
        panic!("expected otlp-grpc")
    };
    assert_eq!(
        grpc.compression.as_ref().map(|s| s.value),
        Some(Compression::Gzip)
    );
    assert_eq!(grpc.timeout_ms.as_ref().map(|s| s.value), Some(10000));
    assert_eq!(
        grpc.tls.ca_certificate.as_ref().map(|s| s.value.clone()),
        Some("certs/ca.pem".into())
    );
    assert_eq!(
        grpc.tls.client_private_key.as_ref().map(|s| s.key.as_str()),
        Some("otel.exporter.otlp-grpc.tls.client-private-key")
    );
    assert_eq!(config.base_dir.as_deref(), Some("/etc/agent".as_ref()));
    // Resolving loads the TLS files, which do not exist here: a clear error.
    if agent_otel_config::GRPC_COMPILED {
        let err = config
            .resolve(&Environment::empty(), &HostInfo::default())
            .expect_err("missing TLS files");
        let msg = err.to_string();
        assert!(msg.contains("/etc/agent/certs/ca.pem"), "{msg}");
        assert!(
            msg.contains("otel.exporter.otlp-grpc.tls.ca-certificate"),
            "{msg}"
        );
        assert!(msg.contains("line 6"), "{msg}");
    }
}

#[test]
fn resource_attributes_form() {
    let config = OtelConfig::parse(RESOURCE).expect("parses");
    let resolved = config
        .resolve(&Environment::empty(), &HostInfo::default())
        .expect("resolves");
    assert_eq!(
        resolved.telemetry.resource.attributes,
        vec![("team".to_owned(), "platform".to_owned())]
    );
    assert_eq!(resolved.telemetry.resource.service_name, "codex-cli");
    assert_eq!(resolved.telemetry.resource.environment, "dev");
}

#[test]
fn the_whole_block_is_a_duplicate_key_error_with_a_position() {
    let err = OtelConfig::parse(WHOLE_BLOCK).expect_err("exporter is set twice");
    let msg = err.to_string();
    assert!(msg.contains("line 7"), "{msg}");
    assert!(msg.contains("invalid TOML"), "{msg}");
}

#[test]
fn one_exporter_key_per_signal() {
    let config = OtelConfig::parse(SIGNAL_SCALARS).expect("parses");
    for key in [
        &config.exporter,
        &config.metrics_exporter,
        &config.trace_exporter,
    ] {
        assert_eq!(key.as_ref().map(|s| &s.value), Some(&ExporterConfig::None));
    }
    let resolved = config
        .resolve(&env(), &HostInfo::default())
        .expect("resolves");
    assert_eq!(resolved.exporter, ExporterSettings::None);
    assert_eq!(resolved.metrics_exporter, ExporterSettings::None);
    assert_eq!(resolved.trace_exporter, ExporterSettings::None);
    assert!(resolved.telemetry.content.log_tool_content);
}

#[test]
fn metrics_grpc_table_form() {
    let config = OtelConfig::parse_with_path(METRICS_GRPC_TABLE, "/etc/agent/config.toml".as_ref())
        .expect("parses");
    assert_eq!(config.exporter, None, "logs keep their default");
    let Some(ExporterConfig::OtlpGrpc(grpc)) = config.metrics_exporter.as_ref().map(|s| &s.value)
    else {
        panic!("expected otlp-grpc metrics")
    };
    assert_eq!(
        grpc.compression.as_ref().map(|s| s.value),
        Some(Compression::Gzip)
    );
    assert_eq!(grpc.timeout_ms.as_ref().map(|s| s.value), Some(10000));
    assert_eq!(
        grpc.tls.client_certificate.as_ref().map(|s| s.key.as_str()),
        Some("otel.metrics_exporter.otlp-grpc.tls.client-certificate")
    );
    // Resolving loads the TLS files, which do not exist here: the error
    // names the metrics key and its line (a resolving copy with files is
    // in tests/metrics.rs).
    if agent_otel_config::GRPC_COMPILED {
        let msg = config
            .resolve(&Environment::empty(), &HostInfo::default())
            .expect_err("missing TLS files")
            .to_string();
        assert!(msg.contains("/etc/agent/certs/ca.pem"), "{msg}");
        assert!(
            msg.contains("otel.metrics_exporter.otlp-grpc.tls.ca-certificate"),
            "{msg}"
        );
        assert!(msg.contains("line 5"), "{msg}");
    }
}
