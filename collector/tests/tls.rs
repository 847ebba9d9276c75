//! TLS and mutual TLS on both receivers, with certificates made by rcgen.
#![allow(clippy::unwrap_used)]

mod common;

use std::ops::Deref as _;
use std::sync::Arc;

use agent_otel_collector::opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use agent_otel_collector::{
    Answer, Collector, CollectorConfig, CollectorError, CollectorTls, Transport,
};
use common::{BOUND, sample_request};
use prost::Message as _;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

/// A certificate and its key, PEM.
#[derive(Clone)]
struct Pair {
    cert: String,
    key: String,
}

/// A test PKI: a CA with a server certificate (`localhost`, `127.0.0.1`)
/// and a client certificate, and an unrelated CA with its own client
/// certificate.
struct Pki {
    ca: String,
    server: Pair,
    client: Pair,
    other_ca: String,
    other_client: Pair,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
) -> Pair {
    let key = KeyPair::generate().unwrap();
    let mut params =
        CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    params.extended_key_usages = vec![usage];
    params.use_authority_key_identifier_extension = true;
    let cert = params.signed_by(&key, issuer.deref()).unwrap();
    Pair {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn pki() -> Pki {
    let ca1 = ca("agent-otel test CA");
    let ca2 = ca("some other CA");
    Pki {
        ca: ca1.pem(),
        server: leaf(
            &ca1,
            &["localhost", "127.0.0.1"],
            ExtendedKeyUsagePurpose::ServerAuth,
        ),
        client: leaf(&ca1, &["agent"], ExtendedKeyUsagePurpose::ClientAuth),
        other_ca: ca2.pem(),
        other_client: leaf(&ca2, &["intruder"], ExtendedKeyUsagePurpose::ClientAuth),
    }
}

impl Pki {
    fn server_tls(&self) -> CollectorTls {
        CollectorTls::new(self.server.cert.as_bytes(), self.server.key.as_bytes())
    }

    fn mtls(&self) -> CollectorTls {
        self.server_tls().with_client_ca(self.ca.as_bytes())
    }
}

/// A rustls client configuration (ring provider) trusting only `ca`.
fn client_config(ca: &str, identity: Option<&Pair>, alpn: &[&[u8]]) -> rustls::ClientConfig {
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
        Some(pair) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(pair.cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(pair.key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

fn https_client(ca: &str, identity: Option<&Pair>) -> reqwest::Client {
    https_client_alpn(ca, identity, &[b"h2", b"http/1.1"])
}

fn https_client_alpn(ca: &str, identity: Option<&Pair>, alpn: &[&[u8]]) -> reqwest::Client {
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
    identity: Option<&Pair>,
    n: usize,
) -> Result<(), String> {
    let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
    if let Some(pair) = identity {
        tls = tls.identity(Identity::from_pem(&pair.cert, &pair.key));
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
    let pki = pki();
    let c = Collector::start(CollectorConfig::default().with_tls(pki.server_tls())).unwrap();
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
    let client = https_client(&pki.ca, None);
    for url in [&http_url, &localhost_http] {
        let resp = post(&client, url, 1).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
    }
    // A client that only speaks HTTP/1.1 gets HTTP/1.1.
    let h1 = https_client_alpn(&pki.ca, None, &[b"http/1.1"]);
    let resp = post(&h1, &http_url, 1).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);

    // gRPC: by IP and by name.
    grpc_export(&grpc_url, &pki.ca, None, 2).await.unwrap();
    grpc_export(&localhost_grpc, &pki.ca, None, 2)
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
    let pki = pki();
    let c = Collector::start(CollectorConfig::default().with_tls(pki.server_tls())).unwrap();
    let http_url = c.http_logs_endpoint().unwrap();
    let grpc_url = c.grpc_endpoint().unwrap();

    let wrong = https_client(&pki.other_ca, None);
    let err = post(&wrong, &http_url, 1).await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    let err = grpc_export(&grpc_url, &pki.other_ca, None, 1)
        .await
        .unwrap_err();
    assert!(err.starts_with("connect"), "{err}");

    // The server saw both handshakes fail, recorded nothing ...
    c.wait_for_tls_handshake_failures(2, BOUND).unwrap();
    assert_eq!(c.request_count(), 0);

    // ... and still serves the right clients on both receivers.
    let resp = post(&https_client(&pki.ca, None), &http_url, 1)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    grpc_export(&grpc_url, &pki.ca, None, 1).await.unwrap();
    c.wait_for_records(2, BOUND).unwrap();
}

#[tokio::test]
async fn mtls_accepts_clients_with_a_trusted_certificate() {
    let pki = pki();
    let c = Collector::start(CollectorConfig::default().with_tls(pki.mtls())).unwrap();

    let client = https_client(&pki.ca, Some(&pki.client));
    let resp = post(&client, &c.http_logs_endpoint().unwrap(), 3)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    grpc_export(&c.grpc_endpoint().unwrap(), &pki.ca, Some(&pki.client), 4)
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
    let pki = pki();
    let c = Collector::start(CollectorConfig::default().with_tls(pki.mtls())).unwrap();
    let http_url = c.http_logs_endpoint().unwrap();
    let grpc_url = c.grpc_endpoint().unwrap();

    for identity in [None, Some(&pki.other_client)] {
        let client = https_client(&pki.ca, identity);
        let err = post(&client, &http_url, 1).await.unwrap_err();
        assert!(err.is_request() || err.is_connect(), "{err:?}");
        grpc_export(&grpc_url, &pki.ca, identity, 1)
            .await
            .unwrap_err();
    }
    c.wait_for_tls_handshake_failures(4, BOUND).unwrap();
    assert_eq!(c.request_count(), 0);

    // Still serving.
    let client = https_client(&pki.ca, Some(&pki.client));
    let resp = post(&client, &http_url, 1).await.unwrap();
    assert_eq!(resp.status(), 200);
    grpc_export(&grpc_url, &pki.ca, Some(&pki.client), 1)
        .await
        .unwrap();
    let requests = c.wait_for_requests(2, BOUND).unwrap();
    assert!(requests.iter().all(|r| r.client_certificate));
}

#[tokio::test]
async fn stalled_and_plaintext_clients_do_not_block_the_server() {
    let pki = pki();
    let c = Collector::start(CollectorConfig::default().with_tls(pki.server_tls())).unwrap();
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
        &https_client(&pki.ca, None),
        &c.http_logs_endpoint().unwrap(),
        1,
    )
    .await
    .unwrap();
    assert_eq!(resp.status(), 200);
    grpc_export(&c.grpc_endpoint().unwrap(), &pki.ca, None, 1)
        .await
        .unwrap();
    c.wait_for_records(2, BOUND).unwrap();
}

#[test]
fn tls_works_for_a_single_receiver() {
    let pki = pki();
    let rt = common::runtime();
    let c = Collector::start(CollectorConfig::grpc_only().with_tls(pki.mtls())).unwrap();
    assert_eq!(c.http_logs_endpoint(), None);
    rt.block_on(grpc_export(
        &c.grpc_endpoint_for_host("localhost").unwrap(),
        &pki.ca,
        Some(&pki.client),
        1,
    ))
    .unwrap();
    let c = Collector::start(CollectorConfig::http_only().with_tls(pki.server_tls())).unwrap();
    assert_eq!(c.grpc_endpoint(), None);
    let resp = rt
        .block_on(post(
            &https_client(&pki.ca, None),
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
    let pki = pki();
    let start = |tls: CollectorTls| match Collector::start(CollectorConfig::default().with_tls(tls))
    {
        Err(CollectorError::Tls(msg)) => msg,
        other => panic!("expected a TLS error, got {other:?}"),
    };
    let key_body = |pem: &str| pem.lines().nth(1).unwrap().to_owned();

    let msg = start(CollectorTls::new(
        "not a certificate",
        pki.server.key.as_bytes(),
    ));
    assert!(msg.contains("certificate_chain_pem"), "{msg}");

    let msg = start(CollectorTls::new(
        pki.server.cert.as_bytes(),
        "-----BEGIN PRIVATE KEY-----\nbm9wZQ==\n-----END PRIVATE KEY-----\n",
    ));
    assert!(msg.starts_with("private_key_pem: not a supported"), "{msg}");
    let msg = start(CollectorTls::new(pki.server.cert.as_bytes(), "no key here"));
    assert!(msg.starts_with("private_key_pem"), "{msg}");

    // A key that does not belong to the certificate.
    let msg = start(CollectorTls::new(
        pki.server.cert.as_bytes(),
        pki.client.key.as_bytes(),
    ));
    assert!(msg.contains("does not belong"), "{msg}");
    assert!(!msg.contains(&key_body(&pki.client.key)), "{msg}");

    let msg = start(pki.server_tls().with_client_ca("garbage"));
    assert!(msg.contains("client_ca_pem"), "{msg}");
    let msg = start(pki.server_tls().with_client_ca(Vec::new()));
    assert!(msg.contains("client_ca_pem"), "{msg}");

    // Debug never shows the key.
    let debug = format!("{:?}", CollectorConfig::default().with_tls(pki.mtls()));
    assert!(!debug.contains(&key_body(&pki.server.key)), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
}
