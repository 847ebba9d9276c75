//! TLS paths: relative ones resolve against the config file's folder;
//! missing or unparsable files fail at resolve time with the key and line.
//! (Exercised through otlp-http, so only with the `http` feature.)
#![cfg(feature = "http")]

use std::path::Path;

use agent_otel_config::{ConfigError, Environment, ExporterSettings, HostInfo, OtelConfig};

// Syntactically valid PEM is all `TlsConfig::load` checks.
const CERT_PEM: &str =
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ3J0\n-----END CERTIFICATE-----\n";
const KEY_PEM: &str =
    "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEG\n-----END PRIVATE KEY-----\n";

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

const CONFIG: &str = r#"
[otel]
exporter = { otlp-http = { endpoint = "https://otel.example.com/v1/logs",
                           tls = { ca-certificate = "certs/ca.pem",
                                   client-certificate = "certs/client.pem",
                                   client-private-key = "certs/client.key" } } }
"#;

#[test]
fn relative_paths_resolve_against_the_config_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("agent").join("config.toml");
    write(&config, CONFIG);
    write(&dir.path().join("agent/certs/ca.pem"), CERT_PEM);
    write(&dir.path().join("agent/certs/client.pem"), CERT_PEM);
    write(&dir.path().join("agent/certs/client.key"), KEY_PEM);

    let resolved =
        agent_otel_config::load_file(&config, &Environment::empty(), &HostInfo::default())
            .expect("resolves");
    let ExporterSettings::OtlpHttp(http) = &resolved.exporter else {
        panic!("http")
    };
    let tls = &http.transport.tls;
    assert_eq!(
        tls.ca_certificate.as_deref(),
        Some(dir.path().join("agent/certs/ca.pem").as_path())
    );
    assert_eq!(
        tls.client_certificate.as_deref(),
        Some(dir.path().join("agent/certs/client.pem").as_path())
    );
    assert_eq!(
        tls.client_private_key.as_deref(),
        Some(dir.path().join("agent/certs/client.key").as_path())
    );
    let material = tls.load().expect("the TLS files load");
    assert_eq!(material.ca_pem.as_deref(), Some(CERT_PEM.as_bytes()));
    let identity = material.identity.expect("a client identity");
    assert_eq!(identity.certificate_pem, CERT_PEM.as_bytes());
    assert_eq!(identity.private_key_pem, KEY_PEM.as_bytes());
    // The summary names the files, never their contents.
    let summary = resolved.to_string();
    assert!(
        summary.contains("ca.pem") && !summary.contains("PRIVATE KEY"),
        "{summary}"
    );
}

#[test]
fn absolute_paths_stay_and_env_paths_are_used_as_given() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path().join("abs-ca.pem");
    write(&ca, CERT_PEM);
    let toml = format!(
        "[otel]\nexporter = {{ otlp-http = {{ endpoint = \"https://h/v1/logs\", tls = {{ ca-certificate = \"{}\" }} }} }}\n",
        ca.display()
    );
    let config = OtelConfig::parse_with_path(&toml, &dir.path().join("elsewhere/config.toml"))
        .expect("parses");
    let resolved = config
        .resolve(&Environment::empty(), &HostInfo::default())
        .expect("resolves");
    let ExporterSettings::OtlpHttp(http) = &resolved.exporter else {
        panic!("http")
    };
    assert_eq!(
        http.transport.tls.ca_certificate.as_deref(),
        Some(ca.as_path())
    );

    // From the environment, with the table silent.
    let env = Environment::from_pairs([
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.display().to_string()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://h".to_owned()),
    ]);
    let resolved = OtelConfig::parse("[otel]\nexporter = \"otlp-http\"\n")
        .expect("parses")
        .resolve(&env, &HostInfo::default())
        .expect("resolves");
    let ExporterSettings::OtlpHttp(http) = &resolved.exporter else {
        panic!("http")
    };
    assert_eq!(
        http.transport.tls.ca_certificate.as_deref(),
        Some(ca.as_path())
    );
}

#[test]
fn missing_file_names_key_line_and_resolved_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    write(&config, CONFIG);
    let err = agent_otel_config::load_file(&config, &Environment::empty(), &HostInfo::default())
        .expect_err("no files");
    let msg = err.to_string();
    println!("{msg}");
    assert!(matches!(err, ConfigError::Tls { .. }));
    for part in [
        config.display().to_string(),
        "line 4".to_owned(),
        "otel.exporter.otlp-http.tls.ca-certificate".to_owned(),
        dir.path().join("certs/ca.pem").display().to_string(),
        "fix:".to_owned(),
    ] {
        assert!(msg.contains(&part), "{msg} lacks {part}");
    }
}

#[test]
fn unparsable_file_is_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.toml");
    write(&config, CONFIG);
    write(&dir.path().join("certs/ca.pem"), CERT_PEM);
    write(&dir.path().join("certs/client.pem"), "not a certificate\n");
    write(&dir.path().join("certs/client.key"), KEY_PEM);
    let err = agent_otel_config::load_file(&config, &Environment::empty(), &HostInfo::default())
        .expect_err("bad pem");
    let msg = err.to_string();
    println!("{msg}");
    assert!(
        msg.contains("otel.exporter.otlp-http.tls.client-certificate"),
        "{msg}"
    );
    assert!(msg.contains("line 5"), "{msg}");
    assert!(msg.contains("PEM"), "{msg}");

    // A key file that is a certificate: the key is not echoed.
    write(&dir.path().join("certs/client.pem"), CERT_PEM);
    write(&dir.path().join("certs/client.key"), CERT_PEM);
    let err = agent_otel_config::load_file(&config, &Environment::empty(), &HostInfo::default())
        .expect_err("bad key");
    let msg = err.to_string();
    assert!(
        msg.contains("client-private-key") && msg.contains("line 6"),
        "{msg}"
    );
}

#[test]
fn half_an_identity_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = dir.path().join("client.pem");
    write(&cert, CERT_PEM);
    let toml = format!(
        "[otel]\nexporter = {{ otlp-http = {{ endpoint = \"https://h/v1/logs\", tls = {{ client-certificate = \"{}\" }} }} }}\n",
        cert.display()
    );
    let err = OtelConfig::parse(&toml)
        .expect("parses")
        .resolve(&Environment::empty(), &HostInfo::default())
        .expect_err("no key");
    let msg = err.to_string();
    assert!(
        msg.contains("client-private-key") && msg.contains("otel.exporter.otlp-http.tls:"),
        "{msg}"
    );
}

#[test]
fn tls_files_with_a_plaintext_endpoint_are_an_error() {
    let toml = "[otel]\nexporter = { otlp-http = { endpoint = \"http://h/v1/logs\", tls = { ca-certificate = \"ca.pem\" } } }\n";
    let err = OtelConfig::parse(toml)
        .expect("parses")
        .resolve(&Environment::empty(), &HostInfo::default())
        .expect_err("plaintext");
    let msg = err.to_string();
    assert!(
        msg.contains("https://") && msg.contains("ca-certificate"),
        "{msg}"
    );
}
