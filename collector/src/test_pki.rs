//! Test certificates (feature `test-pki`): a fresh CA, a server
//! certificate for `localhost` and `127.0.0.1`, and a client certificate,
//! generated with rcgen, for TLS and mTLS tests against this collector.

use crate::CollectorTls;

/// A CA with a server certificate (`localhost`, `127.0.0.1`) and a client
/// certificate, as PEM.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate.
    pub ca_pem: String,
    /// The server certificate.
    pub server_cert_pem: String,
    /// The server's private key.
    pub server_key_pem: String,
    /// The client certificate.
    pub client_cert_pem: String,
    /// The client's private key.
    pub client_key_pem: String,
}

impl TestPki {
    /// Generates a fresh CA (named after `name`) and both leaf certificates.
    pub fn generate(name: &str) -> Self {
        use rcgen::{
            BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose,
            IsCa, KeyPair, KeyUsagePurpose,
        };
        let key = || KeyPair::generate().expect("generate a key pair");
        let mut ca_params =
            CertificateParams::new(Vec::<String>::new()).expect("CA certificate parameters");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("agent-otel test CA {name}"));
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(ca_params, key()).expect("self-sign the CA");

        let server_key = key();
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                .expect("server certificate parameters");
        server_params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server_params
            .signed_by(&server_key, &ca)
            .expect("sign the server certificate");

        let client_key = key();
        let mut client_params =
            CertificateParams::new(Vec::<String>::new()).expect("client certificate parameters");
        client_params
            .distinguished_name
            .push(DnType::CommonName, "agent-otel test client");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params
            .signed_by(&client_key, &ca)
            .expect("sign the client certificate");

        TestPki {
            ca_pem: ca.pem(),
            server_cert_pem: server_cert.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_pem: client_cert.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    /// Writes `ca.pem`, `client.pem` and `client.key` into `dir` (which
    /// must exist), for configs that name TLS files.
    pub fn write_client_files(&self, dir: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(dir.join("ca.pem"), &self.ca_pem)?;
        std::fs::write(dir.join("client.pem"), &self.client_cert_pem)?;
        std::fs::write(dir.join("client.key"), &self.client_key_pem)
    }

    /// The collector's TLS settings; with `require_client_cert`, clients
    /// must present a certificate issued by this CA (mTLS).
    pub fn collector_tls(&self, require_client_cert: bool) -> CollectorTls {
        let tls = CollectorTls::new(
            self.server_cert_pem.as_bytes(),
            self.server_key_pem.as_bytes(),
        );
        if require_client_cert {
            tls.with_client_ca(self.ca_pem.as_bytes())
        } else {
            tls
        }
    }
}
