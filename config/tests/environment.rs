//! The standard OTEL_* variables fill what the table leaves unset; the
//! table wins; OTEL_SDK_DISABLED forces "none". The environment is always
//! injected: these tests never touch the process environment.

use std::time::Duration;

use agent_otel_config::{
    Environment, ExporterSettings, HostInfo, Origin, OtelConfig, OtlpGrpcSettings,
    OtlpHttpSettings, ResolvedConfig,
};
#[cfg(feature = "http")]
use agent_otel_core::{Compression, HttpProtocol};

mod common;
use common::resolve;

#[cfg_attr(not(feature = "http"), allow(dead_code))]
fn http(resolved: &ResolvedConfig) -> &OtlpHttpSettings {
    match &resolved.exporter {
        ExporterSettings::OtlpHttp(s) => s,
        other => panic!("expected otlp-http, got {other:?}"),
    }
}

#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
fn grpc(resolved: &ResolvedConfig) -> &OtlpGrpcSettings {
    match &resolved.exporter {
        ExporterSettings::OtlpGrpc(s) => s,
        other => panic!("expected otlp-grpc, got {other:?}"),
    }
}

#[cfg_attr(not(feature = "http"), allow(dead_code))]
const HTTP: &str = "[otel]\nexporter = \"otlp-http\"\n";
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
const GRPC: &str = "[otel]\nexporter = \"otlp-grpc\"\n";

#[test]
fn no_otel_table_means_none() {
    let resolved = resolve("model = \"o3\"\n", &[]);
    assert_eq!(resolved.exporter, ExporterSettings::None);
    assert_eq!(resolved.exporter_origin, Origin::Default);
    let telemetry = resolved.start().expect("starts");
    assert!(!telemetry.is_enabled());
}

#[test]
fn sdk_disabled_forces_none() {
    for value in ["true", "TRUE", " True "] {
        let resolved = resolve(HTTP, &[("OTEL_SDK_DISABLED", value)]);
        assert_eq!(resolved.exporter, ExporterSettings::None);
        assert_eq!(
            resolved.exporter_origin,
            Origin::Env("OTEL_SDK_DISABLED".into())
        );
        assert!(!resolved.start().expect("starts").is_enabled());
    }
    // Even a table that names a missing variable: nothing is resolved.
    let resolved = resolve(
        "[otel]\nexporter = { otlp-grpc = { headers = { a = \"${NOPE}\" } } }\n",
        &[("OTEL_SDK_DISABLED", "true")],
    );
    assert_eq!(resolved.exporter, ExporterSettings::None);
}

#[cfg(feature = "http")]
#[test]
fn sdk_disabled_false_keeps_the_table_choice() {
    let resolved = resolve(HTTP, &[("OTEL_SDK_DISABLED", "false")]);
    assert_eq!(resolved.exporter.name(), "otlp-http");
}

#[test]
fn protocol_alone_does_not_turn_export_on() {
    let resolved = resolve("", &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
    assert_eq!(resolved.exporter, ExporterSettings::None);
    let resolved = resolve("", &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://h:4318")]);
    assert_eq!(resolved.exporter, ExporterSettings::None);
}

#[cfg(all(feature = "http", feature = "grpc"))]
#[test]
fn logs_exporter_otlp_selects_transport_by_protocol() {
    let resolved = resolve("", &[("OTEL_LOGS_EXPORTER", "otlp")]);
    assert_eq!(http(&resolved).protocol, HttpProtocol::Binary);
    assert_eq!(
        resolved.exporter_origin,
        Origin::Env("OTEL_LOGS_EXPORTER".into())
    );

    let resolved = resolve(
        "",
        &[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ],
    );
    assert_eq!(http(&resolved).protocol, HttpProtocol::Json);

    let resolved = resolve(
        "",
        &[
            ("OTEL_LOGS_EXPORTER", "otlp"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "grpc"),
        ],
    );
    assert_eq!(grpc(&resolved).endpoint, "http://localhost:4317");

    // The table's choice wins over OTEL_LOGS_EXPORTER.
    let resolved = resolve(
        "[otel]\nexporter = \"none\"\n",
        &[("OTEL_LOGS_EXPORTER", "otlp")],
    );
    assert_eq!(resolved.exporter, ExporterSettings::None);
    let resolved = resolve(GRPC, &[("OTEL_LOGS_EXPORTER", "none")]);
    assert_eq!(resolved.exporter.name(), "otlp-grpc");

    let err = OtelConfig::parse("")
        .expect("parses")
        .resolve(
            &Environment::from_pairs([("OTEL_LOGS_EXPORTER", "console")]),
            &HostInfo::default(),
        )
        .expect_err("console unsupported");
    let msg = err.to_string();
    assert!(
        msg.contains("OTEL_LOGS_EXPORTER") && msg.contains("\"otlp\", \"none\""),
        "{msg}"
    );
}

#[cfg(feature = "http")]
#[test]
fn http_defaults() {
    let resolved = resolve(HTTP, &[]);
    let s = http(&resolved);
    assert_eq!(s.endpoint, "http://localhost:4318/v1/logs");
    assert_eq!(s.endpoint_origin, Origin::Default);
    assert_eq!(s.protocol, HttpProtocol::Binary);
    assert_eq!(s.transport.compression, Compression::None);
    assert_eq!(s.transport.timeout, Duration::from_secs(10));
    assert!(s.transport.headers.is_empty());
    assert!(s.transport.tls.is_empty());
    assert_eq!(resolved.pipeline.request_timeout, Duration::from_secs(10));
}

#[cfg(feature = "grpc")]
#[test]
fn grpc_defaults() {
    let resolved = resolve(GRPC, &[]);
    let s = grpc(&resolved);
    assert_eq!(s.endpoint, "http://localhost:4317");
    // http:// means plaintext for gRPC.
    assert!(s.transport.tls.insecure);
}

#[cfg(feature = "http")]
#[test]
fn http_endpoint_precedence() {
    let base = ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318");
    let logs = (
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
        "https://logs.collector/custom",
    );

    let resolved = resolve(HTTP, &[base]);
    assert_eq!(http(&resolved).endpoint, "https://collector:4318/v1/logs");
    assert_eq!(
        http(&resolved).endpoint_origin,
        Origin::Env("OTEL_EXPORTER_OTLP_ENDPOINT".into())
    );

    let resolved = resolve(
        HTTP,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318/")],
    );
    assert_eq!(http(&resolved).endpoint, "https://collector:4318/v1/logs");

    let resolved = resolve(HTTP, &[base, logs]);
    assert_eq!(http(&resolved).endpoint, "https://logs.collector/custom");

    let table = "[otel]\nexporter = { otlp-http = { endpoint = \"https://table/v1/logs\" } }\n";
    let resolved = resolve(table, &[base, logs]);
    assert_eq!(http(&resolved).endpoint, "https://table/v1/logs");
    assert!(matches!(
        http(&resolved).endpoint_origin,
        Origin::File { line: 2, .. }
    ));
}

#[cfg(feature = "http")]
#[test]
fn base_endpoint_gets_the_signal_path_appended_to_its_path() {
    for (base, want) in [
        ("http://h:4318", "http://h:4318/v1/logs"),
        ("http://h:4318/", "http://h:4318/v1/logs"),
        ("http://h:4318/otlp", "http://h:4318/otlp/v1/logs"),
        ("http://h:4318/otlp/", "http://h:4318/otlp/v1/logs"),
        // The query stays a query (it used to become "?tenant=a/v1/logs").
        ("https://h:4318?tenant=a", "https://h:4318/v1/logs?tenant=a"),
        (
            "https://h:4318/?tenant=a",
            "https://h:4318/v1/logs?tenant=a",
        ),
        (
            "https://h:4318/otlp?tenant=a&x=1",
            "https://h:4318/otlp/v1/logs?tenant=a&x=1",
        ),
    ] {
        let resolved = resolve(HTTP, &[("OTEL_EXPORTER_OTLP_ENDPOINT", base)]);
        assert_eq!(http(&resolved).endpoint, want, "base {base}");
    }
    // The logs endpoint is used as given, query and all.
    let resolved = resolve(
        HTTP,
        &[(
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "https://h:4318/custom?tenant=a",
        )],
    );
    assert_eq!(http(&resolved).endpoint, "https://h:4318/custom?tenant=a");
}

#[cfg(feature = "grpc")]
#[test]
fn grpc_endpoint_precedence_and_scheme() {
    let resolved = resolve(
        GRPC,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317")],
    );
    assert_eq!(grpc(&resolved).endpoint, "https://collector:4317");
    assert!(!grpc(&resolved).transport.tls.insecure);

    let resolved = resolve(
        GRPC,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "https://logs:4317"),
        ],
    );
    assert_eq!(grpc(&resolved).endpoint, "https://logs:4317");

    // Scheme-less (allowed by the spec for gRPC): INSECURE picks the scheme.
    let resolved = resolve(GRPC, &[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317")]);
    assert_eq!(grpc(&resolved).endpoint, "https://collector:4317");
    let resolved = resolve(
        GRPC,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
            ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
        ],
    );
    assert_eq!(grpc(&resolved).endpoint, "http://collector:4317");
    assert!(grpc(&resolved).transport.tls.insecure);
}

#[cfg(feature = "http")]
#[test]
fn protocol_env_fills_and_table_wins() {
    let json = ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    assert_eq!(http(&resolve(HTTP, &[json])).protocol, HttpProtocol::Json);
    // "grpc" does not apply to the otlp-http exporter the table chose.
    let grpc_env = ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
    assert_eq!(
        http(&resolve(HTTP, &[grpc_env])).protocol,
        HttpProtocol::Binary
    );
    let table = "[otel]\nexporter = { otlp-http = { protocol = \"binary\" } }\n";
    assert_eq!(
        http(&resolve(table, &[json])).protocol,
        HttpProtocol::Binary
    );
    // LOGS_ wins over the generic one.
    let resolved = resolve(
        HTTP,
        &[json, ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf")],
    );
    assert_eq!(http(&resolved).protocol, HttpProtocol::Binary);
}

#[cfg(feature = "http")]
#[test]
fn headers_merge_per_name_table_wins() {
    let table =
        "[otel]\nexporter = { otlp-http = { headers = { \"X-Shared\" = \"from-table\" } } }\n";
    let resolved = resolve(
        table,
        &[
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "x-shared=from-env, api-key=generic%20key,x-only-generic=1",
            ),
            ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "api-key=logs%2Ckey"),
        ],
    );
    let headers = &http(&resolved).transport.headers;
    let get = |name: &str| headers.get(name).map(|v| v.expose().to_owned());
    assert_eq!(get("x-shared").as_deref(), Some("from-table"));
    assert_eq!(get("api-key").as_deref(), Some("logs,key"));
    assert_eq!(get("x-only-generic").as_deref(), Some("1"));
    assert_eq!(headers.len(), 3);
}

#[cfg(feature = "http")]
#[test]
fn compression_timeout_and_tls_env() {
    let resolved = resolve(
        HTTP,
        &[
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
            ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "1500"),
        ],
    );
    let t = &http(&resolved).transport;
    assert_eq!(t.compression, Compression::Gzip);
    assert_eq!(t.timeout, Duration::from_millis(1500));
    assert_eq!(
        resolved.pipeline.request_timeout,
        Duration::from_millis(1500)
    );

    let table = "[otel]\nexporter = { otlp-http = { compression = \"none\", timeout-ms = 700 } }\n";
    let resolved = resolve(
        table,
        &[
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ],
    );
    let t = &http(&resolved).transport;
    assert_eq!(t.compression, Compression::None);
    assert_eq!(t.timeout, Duration::from_millis(700));
    assert_eq!(
        resolved.pipeline.request_timeout,
        Duration::from_millis(700)
    );
}

#[test]
fn service_name_precedence() {
    let host = HostInfo::new("my-agent", "1.2.3");
    let name = |toml: &str, pairs: &[(&str, &str)]| {
        OtelConfig::parse(toml)
            .expect("parses")
            .resolve(&Environment::from_pairs(pairs.iter().copied()), &host)
            .expect("resolves")
            .telemetry
            .resource
            .service_name
    };
    let attrs = (
        "OTEL_RESOURCE_ATTRIBUTES",
        "service.name=from-attrs,team=env-team",
    );
    let service = ("OTEL_SERVICE_NAME", "from-service-name");
    let table = "[otel.resource_attributes]\n\"service.name\" = \"from-table\"\n";
    assert_eq!(name("", &[]), "my-agent");
    assert_eq!(name("", &[attrs]), "from-attrs");
    assert_eq!(name("", &[attrs, service]), "from-service-name");
    assert_eq!(name(table, &[attrs, service]), "from-table");
}

#[test]
fn resource_attributes_merge() {
    let toml = "[otel]\nenvironment = \"prod\"\n[otel.resource_attributes]\nteam = \"platform\"\nregion = \"eu\"\n";
    let resolved = resolve(
        toml,
        &[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=env-team, host.name=box%201 ,k8s.pod=p",
        )],
    );
    let r = &resolved.telemetry.resource;
    assert_eq!(r.environment, "prod");
    assert_eq!(
        r.attributes,
        vec![
            ("team".to_owned(), "platform".to_owned()),
            ("host.name".to_owned(), "box 1".to_owned()),
            ("k8s.pod".to_owned(), "p".to_owned()),
            ("region".to_owned(), "eu".to_owned()),
        ]
    );
}

#[test]
fn host_info_flows_into_telemetry_options() {
    let host = HostInfo {
        service_name: "svc".into(),
        service_version: "9.9.9".into(),
        event_prefix: "agent".into(),
        scope_name: "agent_otel".into(),
        scope_version: "0.0.1".into(),
    };
    let resolved = OtelConfig::parse("[otel]\nlog_user_prompt = true\n")
        .expect("parses")
        .resolve(&Environment::empty(), &host)
        .expect("resolves");
    let t = &resolved.telemetry;
    assert_eq!(t.resource.service_version, "9.9.9");
    assert_eq!(t.event_prefix, "agent");
    assert_eq!(t.scope_name, "agent_otel");
    assert_eq!(t.scope_version, "0.0.1");
    assert!(t.content.log_user_prompt);
    let defaults = HostInfo::default();
    assert_eq!(defaults.service_name, "codex-cli");
    assert_eq!(defaults.event_prefix, "codex");
    assert_eq!(defaults.scope_name, "codex_otel");
}

#[test]
fn pipeline_keys_and_blrp_env() {
    let toml = "[otel]\nqueue_capacity = 100\nmax_batch_size = 10\nbatch_timeout_ms = 250\nmax_request_bytes = 65536\nmax_concurrent_exports = 1\nretry_budget_ms = 0\nretry_initial_backoff_ms = 50\nretry_max_backoff_ms = 400\nshutdown_timeout_ms = 1500\n";
    let resolved = resolve(toml, &[("OTEL_BLRP_MAX_QUEUE_SIZE", "7")]);
    let p = &resolved.pipeline;
    assert_eq!(p.queue_capacity, 100);
    assert_eq!(p.max_batch_size, 10);
    assert_eq!(p.batch_timeout, Duration::from_millis(250));
    assert_eq!(p.max_request_bytes, 65536);
    assert_eq!(p.max_concurrent_exports, 1);
    assert_eq!(p.retry.budget, Duration::ZERO);
    assert_eq!(p.retry.initial_backoff, Duration::from_millis(50));
    assert_eq!(p.retry.max_backoff, Duration::from_millis(400));
    assert_eq!(resolved.shutdown_timeout, Duration::from_millis(1500));

    let resolved = resolve(
        "",
        &[
            ("OTEL_BLRP_MAX_QUEUE_SIZE", "7"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "3"),
            ("OTEL_BLRP_SCHEDULE_DELAY", "20"),
        ],
    );
    assert_eq!(resolved.pipeline.queue_capacity, 7);
    assert_eq!(resolved.pipeline.max_batch_size, 3);
    assert_eq!(resolved.pipeline.batch_timeout, Duration::from_millis(20));
    assert_eq!(
        resolved.shutdown_timeout,
        agent_otel_core::DEFAULT_SHUTDOWN_TIMEOUT
    );

    let err = OtelConfig::parse("[otel]\nretry_max_backoff_ms = 10\n")
        .expect("parses")
        .resolve(&Environment::empty(), &HostInfo::default())
        .expect_err("initial 100 > max 10");
    assert!(err.to_string().contains("retry_max_backoff_ms"), "{err}");
}

#[cfg(feature = "http")]
#[test]
fn dollar_escape_and_expansion_in_values() {
    let toml = "[otel]\nexporter = { otlp-http = { endpoint = \"https://${HOST}/v1/logs\", headers = { authorization = \"Bearer ${TOKEN}\", x-price = \"$$5\", x-lit = \"$${NOT_EXPANDED}\" } } }\n";
    let resolved = resolve(toml, &[("HOST", "otel.example.com"), ("TOKEN", "abc")]);
    let s = http(&resolved);
    assert_eq!(s.endpoint, "https://otel.example.com/v1/logs");
    let get = |n: &str| s.transport.headers.get(n).map(|v| v.expose().to_owned());
    assert_eq!(get("authorization").as_deref(), Some("Bearer abc"));
    assert_eq!(get("x-price").as_deref(), Some("$5"));
    assert_eq!(get("x-lit").as_deref(), Some("${NOT_EXPANDED}"));
}

#[test]
fn process_environment_snapshot() {
    // Reads only; PATH is set in any sane test environment.
    let env = Environment::from_process();
    assert_eq!(env.get("PATH"), std::env::var("PATH").ok().as_deref());
}
