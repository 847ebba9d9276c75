//! OTLP/HTTP exporter for agent-otel: protobuf or JSON bodies over reqwest + rustls.
//!
//! [`HttpExporter`] POSTs each [`Batch`] to the configured endpoint, as
//! given (`https://collector:4318/v1/logs`), and classifies the answer per
//! the OTLP/HTTP specification. It never retries or sleeps: the core
//! pipeline does that with the [`ExportOutcome`] it returns.
//!
//! | answer | outcome |
//! | --- | --- |
//! | 2xx, no/empty `partial_success` | `Accepted` |
//! | 2xx, `partial_success` with rejected records or a message | `PartiallyRejected` |
//! | 429, 502, 503, 504 | `Retryable` (`HttpStatus`), `Retry-After` honoured |
//! | any other status (3xx included: redirects are not followed) | `Permanent` (`HttpStatus`) |
//! | connection refused/reset, DNS failure, closed early | `Retryable` (`Connection`) |
//! | no answer within `transport.timeout` | `Retryable` (`Timeout`) |
//! | TLS handshake or certificate error | `Permanent` (`Tls`) |
//!
//! TLS errors are permanent on purpose: a wrong CA, an expired certificate
//! or a missing client certificate does not fix itself between retries, and
//! retrying would only hold the queue for the whole retry budget.
//!
//! ## TLS
//!
//! rustls with the ring provider, configured here (no process-wide provider
//! is needed or installed). Without `tls.ca-certificate` the system roots are
//! trusted; with it, **only** that CA is trusted, as the OTLP collector's
//! `ca_file` and the OTel SDKs' `OTEL_EXPORTER_OTLP_CERTIFICATE` do: pinning
//! a private CA should not silently keep trusting every public CA.
//! `tls.client-certificate` + `tls.client-private-key` enable mTLS. `http://`
//! endpoints use no TLS. HTTP proxies from the standard environment variables
//! (`HTTPS_PROXY`, `NO_PROXY`, ...) are honoured.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;
use std::time::Duration;

use agent_otel_core::{
    Batch, Compression, ExportError, ExportOutcome, Exporter, FailureKind, HttpProtocol, TlsError,
    TransportOptions, WireFormat, mask_url_credentials,
};
use async_trait::async_trait;
use bytes::Bytes;
use reqwest::header::{
    CONTENT_ENCODING, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION, RETRY_AFTER,
};

mod response;
mod tls;

use response::BodyFormat;
pub use response::MAX_RESPONSE_BYTES;

/// `User-Agent` sent with every request.
pub const USER_AGENT: &str = concat!("agent-otel/", env!("CARGO_PKG_VERSION"));

/// Headers the exporter sets itself; configuring them is an error.
const RESERVED_HEADERS: [&str; 4] = [
    "content-type",
    "content-length",
    "content-encoding",
    "transfer-encoding",
];

/// Settings of an [`HttpExporter`]. `Debug` masks a URL password and
/// header values.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpExporterConfig {
    /// Full URL requests are POSTed to, used as given (e.g. `https://host:4318/v1/logs`).
    pub endpoint: String,
    /// Body encoding.
    pub protocol: HttpProtocol,
    /// Headers, compression, timeout, TLS. A zero timeout means no
    /// exporter-level timeout (the pipeline's request timeout still applies).
    pub transport: TransportOptions,
}

impl fmt::Debug for HttpExporterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpExporterConfig")
            .field("endpoint", &mask_url_credentials(&self.endpoint))
            .field("protocol", &self.protocol)
            .field("transport", &self.transport)
            .finish()
    }
}

/// Why an [`HttpExporter`] could not be built.
///
/// Messages name endpoints, header names and files, never header values
/// or key material.
#[derive(Debug, thiserror::Error)]
pub enum HttpExporterError {
    /// The endpoint is not a valid absolute URL.
    #[error("invalid otlp-http endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint {
        /// The endpoint as configured.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The endpoint's scheme is neither `http` nor `https`.
    #[error(
        "unsupported scheme `{scheme}` in otlp-http endpoint `{endpoint}`; \
         fix: use an http:// or https:// URL such as https://collector:4318/v1/logs"
    )]
    UnsupportedScheme {
        /// The endpoint as configured.
        endpoint: String,
        /// The scheme found.
        scheme: String,
    },
    /// A TLS file could not be read or holds no PEM item of the right type.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// TLS material parsed as PEM but rustls cannot use it (not a valid
    /// certificate, key does not match, unsupported key type).
    #[error("{what} is not usable for TLS: {reason}")]
    TlsMaterial {
        /// Which setting (`ca-certificate`, `client-certificate`, ...).
        what: &'static str,
        /// rustls' explanation.
        reason: String,
    },
    /// A configured header name is not a valid HTTP header name or is set
    /// by the exporter itself.
    #[error("invalid header name `{name}`: {reason}")]
    InvalidHeaderName {
        /// The name as configured.
        name: String,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// A configured header value is not a valid HTTP header value. The value
    /// is a secret and is not shown.
    #[error(
        "invalid value for header `{name}`: header values must be visible ASCII \
         without line breaks (value not shown)"
    )]
    InvalidHeaderValue {
        /// The header's name.
        name: String,
    },
}

/// Sends batches as OTLP/HTTP requests.
///
/// Building it needs no tokio runtime and does no I/O beyond reading the
/// configured TLS files: the reqwest client (and with it the system root
/// store, shared by every exporter of the process) is built on the first
/// export, on the runtime that calls it (the pipeline's worker).
pub struct HttpExporter {
    /// Built on first export from `headers` and `tls`.
    client: OnceLock<reqwest::Client>,
    /// Default headers of the client (content type, encoding, configured).
    headers: HeaderMap,
    tls: tls::TlsSetup,
    endpoint: reqwest::Url,
    protocol: HttpProtocol,
    compression: Compression,
    timeout: Option<Duration>,
    header_names: Vec<String>,
}

impl fmt::Debug for HttpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpExporter")
            .field("endpoint", &mask_url_credentials(self.endpoint.as_str()))
            .field("protocol", &self.protocol)
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("headers", &self.header_names)
            .finish_non_exhaustive()
    }
}

impl HttpExporter {
    /// Checks the endpoint and headers, loads and checks the TLS files, so
    /// every configuration error surfaces here. The client itself is built
    /// on the first export.
    pub fn new(config: HttpExporterConfig) -> Result<Self, HttpExporterError> {
        let HttpExporterConfig {
            endpoint: raw_endpoint,
            protocol,
            transport,
        } = config;
        let endpoint = parse_endpoint(&raw_endpoint)?;
        let mut headers = build_headers(&transport)?;
        // Fixed for the exporter's life: set once on the client, not per
        // request (`build_headers` refuses user headers of these names).
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(match protocol {
                HttpProtocol::Binary => "application/x-protobuf",
                HttpProtocol::Json => "application/json",
            }),
        );
        if transport.compression == Compression::Gzip {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        let https = endpoint.scheme() == "https";
        let tls = tls::TlsSetup::new(transport.tls.load()?, https)?;
        let timeout = (!transport.timeout.is_zero()).then_some(transport.timeout);
        let header_names = transport
            .headers
            .iter()
            .map(|(name, _)| name.to_owned())
            .collect();
        Ok(Self {
            client: OnceLock::new(),
            headers,
            tls,
            endpoint,
            protocol,
            compression: transport.compression,
            timeout,
            header_names,
        })
    }

    /// The client, built on the first call (on the export worker): the TLS
    /// configuration with the process's system roots, loaded then if no
    /// exporter has loaded them yet. Concurrent first calls may both build;
    /// one client is kept.
    fn client(&self) -> Result<&reqwest::Client, ExportError> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let endpoint = mask_url_credentials(self.endpoint.as_str());
        let tls = self.tls.client_config(&endpoint)?;
        let client = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(USER_AGENT)
            .default_headers(self.headers.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| {
                ExportError::new(
                    FailureKind::Exporter,
                    format!(
                        "cannot build the otlp-http client for `{endpoint}`: {}",
                        e.without_url()
                    ),
                )
            })?;
        Ok(self.client.get_or_init(|| client))
    }

    /// The endpoint requests go to, with any URL password masked.
    pub fn endpoint(&self) -> String {
        mask_url_credentials(self.endpoint.as_str())
    }

    /// The request body for `batch`: the batch's cached encoding, gzipped
    /// when configured (compressed once per batch, reused by retries).
    fn body(&self, batch: &Batch) -> Result<Bytes, std::io::Error> {
        let encoded = match self.protocol {
            HttpProtocol::Binary => batch.protobuf(),
            HttpProtocol::Json => batch.json(),
        };
        match self.compression {
            Compression::None => Ok(encoded.clone()),
            Compression::Gzip => match batch.transport_body() {
                Some(body) => Ok(body.clone()),
                None => Ok(batch.set_transport_body(gzip(encoded)?).clone()),
            },
        }
    }

    fn request_format(&self) -> BodyFormat {
        match self.protocol {
            HttpProtocol::Binary => BodyFormat::Protobuf,
            HttpProtocol::Json => BodyFormat::Json,
        }
    }
}

fn gzip(data: &[u8]) -> Result<Bytes, std::io::Error> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::default(),
    );
    encoder.write_all(data)?;
    Ok(Bytes::from(encoder.finish()?))
}

fn parse_endpoint(raw: &str) -> Result<reqwest::Url, HttpExporterError> {
    let invalid = |reason: String| HttpExporterError::InvalidEndpoint {
        endpoint: mask_url_credentials(raw),
        reason,
    };
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| {
        let hint = if raw.contains("://") {
            String::new()
        } else {
            " (expected an absolute URL such as http://localhost:4318/v1/logs)".to_owned()
        };
        invalid(format!("{e}{hint}"))
    })?;
    match url.scheme() {
        "http" | "https" => {}
        scheme => {
            return Err(HttpExporterError::UnsupportedScheme {
                endpoint: mask_url_credentials(raw),
                scheme: scheme.to_owned(),
            });
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("the URL has no host".to_owned()));
    }
    Ok(url)
}

/// Why `name` (lowercase) cannot be a configured header: the exporter sets
/// it itself. `None` when it may be configured. The config resolver asks
/// this too, so the error can point at the config line.
pub fn reserved_header(name: &str) -> Option<&'static str> {
    RESERVED_HEADERS
        .contains(&name)
        .then_some("the exporter sets it itself")
}

fn build_headers(transport: &TransportOptions) -> Result<HeaderMap, HttpExporterError> {
    let mut headers = HeaderMap::with_capacity(transport.headers.len());
    for (name, value) in transport.headers.iter() {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            HttpExporterError::InvalidHeaderName {
                name: name.to_owned(),
                reason: "not a valid HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)",
            }
        })?;
        if let Some(reason) = reserved_header(header.as_str()) {
            return Err(HttpExporterError::InvalidHeaderName {
                name: name.to_owned(),
                reason,
            });
        }
        let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
            HttpExporterError::InvalidHeaderValue {
                name: name.to_owned(),
            }
        })?;
        value.set_sensitive(true);
        headers.insert(header, value);
    }
    Ok(headers)
}

#[async_trait]
impl Exporter for HttpExporter {
    async fn export(&self, batch: &Batch) -> ExportOutcome {
        let body = match self.body(batch) {
            Ok(body) => body,
            Err(e) => {
                return ExportOutcome::permanent(ExportError::new(
                    FailureKind::Protocol,
                    format!("cannot compress the request body: {e}"),
                ));
            }
        };
        let client = match self.client() {
            Ok(client) => client,
            Err(error) => return ExportOutcome::permanent(error),
        };
        let mut request = client.post(self.endpoint.clone()).body(body);
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }

        let requests = self.tls.certificate_requests();
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                return response::transport_outcome(&e, self.timeout, requests.required());
            }
        };
        requests.answered();
        let status = response.status();
        let headers = response.headers();
        let format = BodyFormat::from_content_type(
            headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()),
            self.request_format(),
        );
        let retry_after = headers
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| response::parse_retry_after(v, std::time::SystemTime::now()));
        let location = headers
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);

        // The status decides the outcome; a body that cannot be read in
        // full only loses the detail it would have added.
        let (body, truncated) = read_capped(&mut response, MAX_RESPONSE_BYTES).await;
        if status.is_success() {
            response::success_outcome(&body, format, truncated)
        } else {
            response::failure_outcome(status, retry_after, location.as_deref(), &body, format)
        }
    }

    fn name(&self) -> &'static str {
        "otlp-http"
    }

    fn request_timeout(&self) -> Option<std::time::Duration> {
        self.timeout
    }

    fn wire_format(&self) -> WireFormat {
        match self.protocol {
            HttpProtocol::Binary => WireFormat::Protobuf,
            HttpProtocol::Json => WireFormat::Json,
        }
    }
}

/// Reads at most `cap` bytes of the response body; returns them and whether
/// the body was longer (or could not be read to its end).
async fn read_capped(response: &mut reqwest::Response, cap: usize) -> (Vec<u8>, bool) {
    let expected = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(0);
    let mut body = Vec::with_capacity(expected.min(cap));
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = cap - body.len();
                if chunk.len() > room {
                    body.extend_from_slice(&chunk[..room]);
                    return (body, true);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return (body, false),
            Err(_) => return (body, true),
        }
    }
}
