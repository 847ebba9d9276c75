//! TLS and mutual TLS on both receivers, with certificates from [`TestPki`].
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use agent_otel_collector::test_pki::TestPki;
use agent_otel_collector::{
    Answer, Collector, CollectorConfig, CollectorError, CollectorTls, Transport,
};
use common::{BOUND, sample_request};
use prost::Message as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// A rustls client configuration (ring provider) trusting only `ca`; with
/// `identity`, it presents that PKI's client certificate.
fn client_config(ca: &str, identity: Option<&TestPki>, alpn: &[&[u8]]) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        Some(pki) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(pki.client_cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(pki.client_key_pem.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

fn https_client(ca: &str, identity: Option<&TestPki>) -> reqwest::Client {
    https_client_alpn(ca, identity, &[b"h2", b"http/1.1"])
}

fn https_client_alpn(ca: &str, identity: Option<&TestPki>, alpn: &[&[u8]]) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(client_config(ca, identity, alpn))
        .timeout(BOUND)
        .build()
        .unwrap()
}

async fn post(client: &reqwest::Client, url: &str, n: usize) -> reqwest::Result<reqwest::Response> {
    client
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(sample_request(n).encode_to_vec())
        .send()
        .await
}

/// One gRPC export over TLS; any failure (connect or call) as text.
async fn grpc_export(
    endpoint: &str,
    ca: &str,
    identity: Option<&TestPki>,
    n: usize,
) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    if let Some(pki) = identity {
        tls = tls.identity(Identity::from_pem(
            &pki.client_cert_pem,
            &pki.client_key_pem,
        ));
    }
    let channel = Endpoint::from_shared(endpoint.to_owned())
        .map_err(|e| e.to_string())?
        .tls_config(tls)
        .map_err(|e| e.to_string())?
        .connect_timeout(BOUND)
        .timeout(BOUND)
        .connect()
        .await
        .map_err(|e| format!("connect: {e:?}"))?;
    LogsServiceClient::new(channel)
        .export(sample_request(n))
        .await
        .map(drop)
        .map_err(|e| format!("export: {e:?}"))
}

#[tokio::test]
async fn both_receivers_serve_tls() {
    let pki = TestPki::generate("tls");
    let c =
        Collector::start(CollectorConfig::default().with_tls(pki.collector_tls(false))).unwrap();
    assert!(c.is_tls());
    let http_url = c.http_logs_endpoint().unwrap();
    let grpc_url = c.grpc_endpoint().unwrap();
    let port = |a: Option<std::net::SocketAddr>| a.unwrap().port();
    assert_eq!(
        http_url,
        format!("https://127.0.0.1:{}/v1/logs", port(c.http_addr()))
    );
    assert_eq!(
        c.http_base_endpoint().unwrap(),
        format!("https://127.0.0.1:{}", port(c.http_addr()))
    );
    assert_eq!(
        grpc_url,
        format!("https://127.0.0.1:{}", port(c.grpc_addr()))
    );
    let localhost_http = c.http_logs_endpoint_for_host("localhost").unwrap();
    assert_eq!(
        localhost_http,
        format!("https://localhost:{}/v1/logs", port(c.http_addr()))
    );
    let localhost_grpc = c.grpc_endpoint_for_host("localhost").unwrap();
    assert_eq!(
        localhost_grpc,
        format!("https://localhost:{}", port(c.grpc_addr()))
    );

    // HTTP: by IP (IP SAN) and by name, HTTP/2 negotiated by ALPN.
    let client = https_client(&pki.ca_pem, None);
    for url in [&http_url, &localhost_http] {
        let resp = post(&client, url, 1).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    }
    // A client that only speaks HTTP/1.1 gets HTTP/1.1.
    let h1 = https_client_alpn(&pki.ca_pem, None, &[b"http/1.1"]);
    let resp = post(&h1, &http_url, 1).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);

    // gRPC: by IP and by name.
    grpc_export(&grpc_url, &pki.ca_pem, None, 2).await.unwrap();
    grpc_export(&localhost_grpc, &pki.ca_pem, None, 2)
        .await
        .unwrap();

    let requests = c.wait_for_requests(5, BOUND).unwrap();
    let transports: Vec<_> = requests.iter().map(|r| r.transport).collect();
    assert_eq!(
        transports,
        [
            Transport::Http,
            Transport::Http,
            Transport::Http,
            Transport::Grpc,
            Transport::Grpc
        ]
    );
    for req in &requests {
        assert_eq!(req.answered, Answer::Accepted);
        assert!(!req.client_certificate, "{req:?}");
    }
    assert_eq!(requests[3].request, sample_request(2));
    assert_eq!(c.record_count(), 7);
    assert_eq!(c.tls_handshake_failures(), 0);
}

#[tokio::test]
async fn clients_trusting_another_ca_are_refused_and_the_server_keeps_serving() {
    let pki = TestPki::generate("tls");
    let c =
        Collector::start(CollectorConfig::default().with_tls(pki.collector_tls(false))).unwrap();
    let http_url = c.http_logs_endpoint().unwrap();
    let grpc_url = c.grpc_endpoint().unwrap();

    let other = TestPki::generate("other");
    let wrong = https_client(&other.ca_pem, None);
    let err = post(&wrong, &http_url, 1).await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let err = grpc_export(&grpc_url, &other.ca_pem, None, 1)
        .await
        .unwrap_err();
    assert!(err.starts_with("connect"), "{err}");

    // The server saw both handshakes fail, recorded nothing ...
    c.wait_for_tls_handshake_failures(2, BOUND).unwrap();
    assert_eq!(c.request_count(), 0);

    // ... and still serves the right clients on both receivers.
    let resp = post(&https_client(&pki.ca_pem, None), &http_url, 1)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    grpc_export(&grpc_url, &pki.ca_pem, None, 1).await.unwrap();
    c.wait_for_records(2, BOUND).unwrap();
}

#[tokio::test]
async fn mtls_accepts_clients_with_a_trusted_certificate() {
    let pki = TestPki::generate("tls");
    let c = Collector::start(CollectorConfig::default().with_tls(pki.collector_tls(true))).unwrap();

    let client = https_client(&pki.ca_pem, Some(&pki));
    let resp = post(&client, &c.http_logs_endpoint().unwrap(), 3)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    grpc_export(&c.grpc_endpoint().unwrap(), &pki.ca_pem, Some(&pki), 4)
        .await
        .unwrap();

    let requests = c.wait_for_requests(2, BOUND).unwrap();
    assert_eq!(requests[0].transport, Transport::Http);
    assert_eq!(requests[1].transport, Transport::Grpc);
    assert!(
        requests.iter().all(|r| r.client_certificate),
        "{requests:?}"
    );
    assert_eq!(c.record_count(), 7);
    assert_eq!(c.tls_handshake_failures(), 0);
}

#[tokio::test]
async fn mtls_refuses_missing_or_untrusted_client_certificates() {
    let pki = TestPki::generate("tls");
    let c = Collector::start(CollectorConfig::default().with_tls(pki.collector_tls(true))).unwrap();
    let http_url = c.http_logs_endpoint().unwrap();
    let grpc_url = c.grpc_endpoint().unwrap();

    // No client certificate, and one from an unrelated CA.
    let other = TestPki::generate("other");
    for identity in [None, Some(&other)] {
        let client = https_client(&pki.ca_pem, identity);
        let err = post(&client, &http_url, 1).await.unwrap_err();
        assert!(err.is_request() || err.is_connect(), "{err:?}");
        grpc_export(&grpc_url, &pki.ca_pem, identity, 1)
            .await
            .unwrap_err();
    }
    c.wait_for_tls_handshake_failures(4, BOUND).unwrap();
    assert_eq!(c.request_count(), 0);

    // Still serving.
    let client = https_client(&pki.ca_pem, Some(&pki));
    let resp = post(&client, &http_url, 1).await.unwrap();
    assert_eq!(resp.status(), 200);
    grpc_export(&grpc_url, &pki.ca_pem, Some(&pki), 1)
        .await
        .unwrap();
    let requests = c.wait_for_requests(2, BOUND).unwrap();
    assert!(requests.iter().all(|r| r.client_certificate));
}

#[tokio::test]
async fn stalled_and_plaintext_clients_do_not_block_the_server() {
    let pki = TestPki::generate("tls");
    let c =
        Collector::start(CollectorConfig::default().with_tls(pki.collector_tls(false))).unwrap();
    // Connections that never start their handshake, held open throughout.
    let _stalled_http = std::net::TcpStream::connect(c.http_addr().unwrap()).unwrap();
    let _stalled_grpc = std::net::TcpStream::connect(c.grpc_addr().unwrap()).unwrap();

    // A plaintext request to the TLS port fails and is counted.
    let plain_url = format!("http://{}/v1/logs", c.http_addr().unwrap());
    post(&common::http_client(), &plain_url, 1)
        .await
        .unwrap_err();
    c.wait_for_tls_handshake_failures(1, BOUND).unwrap();

    let resp = post(
        &https_client(&pki.ca_pem, None),
        &c.http_logs_endpoint().unwrap(),
        1,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    grpc_export(&c.grpc_endpoint().unwrap(), &pki.ca_pem, None, 1)
        .await
        .unwrap();
    c.wait_for_records(2, BOUND).unwrap();
}

#[test]
fn tls_works_for_a_single_receiver() {
    let pki = TestPki::generate("tls");
    let rt = common::runtime();
    let c =
        Collector::start(CollectorConfig::grpc_only().with_tls(pki.collector_tls(true))).unwrap();
    assert_eq!(c.http_logs_endpoint(), None);
    rt.block_on(grpc_export(
        &c.grpc_endpoint_for_host("localhost").unwrap(),
        &pki.ca_pem,
        Some(&pki),
        1,
    ))
    .unwrap();
    let c =
        Collector::start(CollectorConfig::http_only().with_tls(pki.collector_tls(false))).unwrap();
    assert_eq!(c.grpc_endpoint(), None);
    let resp = rt
        .block_on(post(
            &https_client(&pki.ca_pem, None),
            &c.http_logs_endpoint().unwrap(),
            1,
        ))
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[test]
fn plaintext_stays_the_default() {
    assert_eq!(CollectorConfig::default().tls, None);
    let c = Collector::start(CollectorConfig::default()).unwrap();
    assert!(!c.is_tls());
    assert!(c.http_logs_endpoint().unwrap().starts_with("http://"));
    assert!(c.grpc_endpoint().unwrap().starts_with("http://"));
    assert!(
        c.http_base_endpoint_for_host("localhost")
            .unwrap()
            .starts_with("http://localhost:")
    );
    let rt = common::runtime();
    let resp = rt
        .block_on(post(
            &common::http_client(),
            &c.http_logs_endpoint().unwrap(),
            1,
        ))
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(!c.wait_for_requests(1, BOUND).unwrap()[0].client_certificate);
}

#[test]
fn unusable_tls_material_is_a_tls_error_at_start() {
    let pki = TestPki::generate("tls");
    let start = |tls: CollectorTls| match Collector::start(CollectorConfig::default().with_tls(tls))
    {
        Err(CollectorError::Tls(msg)) => msg,
        other => panic!("expected a TLS error, got {other:?}"),
    };
    let key_body = |pem: &str| pem.lines().nth(1).unwrap().to_owned();

    let msg = start(CollectorTls::new(
        "not a certificate",
        pki.server_key_pem.as_bytes(),
    ));
    assert!(msg.contains("certificate_chain_pem"), "{msg}");

    let msg = start(CollectorTls::new(
        pki.server_cert_pem.as_bytes(),
        "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n",
    ));
    assert!(msg.starts_with("private_key_pem: not a supported"), "{msg}");
    let msg = start(CollectorTls::new(
        pki.server_cert_pem.as_bytes(),
        "no key here",
    ));
    assert!(msg.starts_with("private_key_pem"), "{msg}");

    // A key that does not belong to the certificate.
    let msg = start(CollectorTls::new(
        pki.server_cert_pem.as_bytes(),
        pki.client_key_pem.as_bytes(),
    ));
    assert!(msg.contains("does not belong"), "{msg}");
    assert!(!msg.contains(&key_body(&pki.client_key_pem)), "{msg}");

    let msg = start(pki.collector_tls(false).with_client_ca("garbage"));
    assert!(msg.contains("client_ca_pem"), "{msg}");
    let msg = start(pki.collector_tls(false).with_client_ca(Vec::new()));
    assert!(msg.contains("client_ca_pem"), "{msg}");

    // Debug never shows the key.
    let debug = format!(
        "{:?}",
        CollectorConfig::default().with_tls(pki.collector_tls(true))
    );
    assert!(!debug.contains(&key_body(&pki.server_key_pem)), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
}
