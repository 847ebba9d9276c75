//! How an OTLP answer or a transport failure is classified, once for every
//! exporter: the OTLP retry rules for HTTP statuses and gRPC codes, the
//! safe excerpt of a server's message, and one walk over an error chain
//! that finds TLS failures, timeouts and the distinct messages.

use std::error::Error as StdError;
use std::io;

/// HTTP statuses the OTLP/HTTP spec marks retryable: 429, 502, 503, 504.
/// Every other non-2xx status is permanent.
pub fn is_retryable_http_status(status: u16) -> bool {
    matches!(status, 429 | 502 | 503 | 504)
}

/// gRPC codes the OTLP spec marks retryable: CANCELLED, DEADLINE_EXCEEDED,
/// ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED
/// only when the server sent `RetryInfo`. Every other code is permanent.
pub fn is_retryable_grpc_code(code: i32, has_retry_info: bool) -> bool {
    match code {
        // CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS
        1 | 4 | 10 | 11 | 14 | 15 => true,
        // RESOURCE_EXHAUSTED
        8 => has_retry_info,
        _ => false,
    }
}

/// Longest server-provided text kept in an outcome's message.
pub const MAX_SERVER_MESSAGE_CHARS: usize = 256;

/// A server-provided message made safe for stats and logs: one line,
/// control characters and runs of whitespace folded to one space, at most
/// [`MAX_SERVER_MESSAGE_CHARS`] characters (an ellipsis marks a cut).
pub fn server_message_excerpt(text: &str) -> String {
    let mut out = String::new();
    let mut chars = 0;
    let mut last_space = true;
    for c in text.chars() {
        let c = if c.is_control() || c.is_whitespace() {
            ' '
        } else {
            c
        };
        if c == ' ' && last_space {
            continue;
        }
        last_space = c == ' ';
        if chars == MAX_SERVER_MESSAGE_CHARS {
            out.push('…');
            return out.trim_end().to_owned();
        }
        out.push(c);
        chars += 1;
    }
    out.trim_end().to_owned()
}

/// How rustls words its TLS failures. After a TLS 1.3 handshake a server
/// refusing the client certificate sends its alert with the first answer,
/// and HTTP/2 and gRPC stacks pass it on as text only, not as a typed
/// `rustls::Error`; transports recognise it by these phrases.
const TLS_FAILURE_PHRASES: [&str; 5] = [
    "received fatal alert",
    "invalid peer certificate",
    "peer is incompatible",
    "peer misbehaved",
    "peer sent no certificates",
];

/// True when an error message carries one of rustls's TLS failure phrases,
/// so an exporter classifies it as a TLS failure, not a connection error.
pub fn is_tls_failure_text(message: &str) -> bool {
    TLS_FAILURE_PHRASES
        .iter()
        .any(|phrase| message.contains(phrase))
}

/// The errors of a failure's chain, outermost first. `io::Error::source`
/// skips the error it wraps (tokio-rustls reports TLS failures that way),
/// so the walk looks inside io errors explicitly; a transport whose own
/// error types hide an io error (h2) names it through `unwrap`.
#[derive(Debug)]
pub struct ErrorChain<'a> {
    errors: Vec<&'a (dyn StdError + 'static)>,
}

/// Why a TLS connection failed, as found in an error chain.
#[derive(Debug, Clone, Copy)]
pub enum TlsFailure<'a> {
    /// A typed rustls error (handshake, certificate verification).
    Typed(&'a rustls::Error),
    /// A TLS alert that reached the transport as text only.
    Text,
}

impl TlsFailure<'_> {
    /// What the user should check for this failure.
    pub fn hint(&self) -> &'static str {
        use rustls::AlertDescription as Alert;
        match self {
            TlsFailure::Typed(rustls::Error::InvalidCertificate(_)) => {
                "the server's certificate is not trusted: check tls ca-certificate and the endpoint host"
            }
            TlsFailure::Typed(rustls::Error::AlertReceived(
                Alert::CertificateRequired
                | Alert::BadCertificate
                | Alert::UnknownCA
                | Alert::HandshakeFailure,
            )) => {
                "the server refused the client: check tls client-certificate and client-private-key"
            }
            TlsFailure::Typed(_) => "check the tls settings and that the endpoint speaks TLS",
            TlsFailure::Text => {
                "the server refused the handshake: check tls client-certificate, client-private-key and ca-certificate"
            }
        }
    }
}

impl<'a> ErrorChain<'a> {
    /// Walks `error` and its sources; `unwrap` may name one more error
    /// hidden inside a transport's error type.
    pub fn walk(
        error: &'a (dyn StdError + 'static),
        unwrap: impl Fn(&'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)>,
    ) -> Self {
        let mut errors = Vec::new();
        let mut pending = vec![error];
        // Bounded: a pathological chain cannot loop forever.
        while let Some(err) = pending.pop() {
            if errors.len() >= 64 {
                break;
            }
            errors.push(err);
            if let Some(source) = err.source() {
                pending.push(source);
            }
            if let Some(inner) = unwrap(err) {
                pending.push(inner);
            }
            if let Some(inner) = err.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
                pending.push(inner);
            }
        }
        Self { errors }
    }

    /// Every error found, outermost first.
    pub fn iter(&self) -> impl Iterator<Item = &'a (dyn StdError + 'static)> + '_ {
        self.errors.iter().copied()
    }

    /// The first error of type `T` in the chain.
    pub fn find<T: StdError + 'static>(&self) -> Option<&'a T> {
        self.iter().find_map(|e| e.downcast_ref::<T>())
    }

    /// A TLS failure anywhere in the chain: a typed rustls error, or a
    /// message carrying one of rustls's failure phrases.
    pub fn tls_failure(&self) -> Option<TlsFailure<'a>> {
        if let Some(typed) = self.find::<rustls::Error>() {
            return Some(TlsFailure::Typed(typed));
        }
        self.iter()
            .any(|e| is_tls_failure_text(&e.to_string()))
            .then_some(TlsFailure::Text)
    }

    /// True when an io error of the chain timed out.
    pub fn io_timed_out(&self) -> bool {
        self.iter()
            .filter_map(|e| e.downcast_ref::<io::Error>())
            .any(|e| e.kind() == io::ErrorKind::TimedOut)
    }

    /// The distinct messages of the chain joined by `: `, as a safe excerpt;
    /// `describe` may word an error differently (or return `None` to use its
    /// `Display`). A message already contained in an earlier one is skipped.
    pub fn message(
        &self,
        describe: impl Fn(&(dyn StdError + 'static)) -> Option<String>,
    ) -> String {
        let mut parts: Vec<String> = Vec::new();
        for err in self.iter() {
            let text = describe(err).unwrap_or_else(|| err.to_string());
            if !text.is_empty() && !parts.iter().any(|seen| seen.contains(&text)) {
                parts.push(text);
            }
        }
        server_message_excerpt(&parts.join(": "))
    }
}

/// No transport-specific unwrapping, for [`ErrorChain::walk`].
pub fn no_unwrap<'a>(_: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connect failed")]
    struct Outer(#[source] io::Error);

    #[test]
    fn server_messages_become_one_short_line() {
        assert_eq!(server_message_excerpt("  a\n\tb  \u{7}c"), "a b c");
        let cut = server_message_excerpt(&"é".repeat(1000));
        assert_eq!(cut.chars().count(), MAX_SERVER_MESSAGE_CHARS + 1);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn otlp_retry_tables() {
        let retryable: Vec<u16> = (100..600)
            .filter(|s| is_retryable_http_status(*s))
            .collect();
        assert_eq!(retryable, [429, 502, 503, 504]);
        let codes: Vec<i32> = (0..17)
            .filter(|c| is_retryable_grpc_code(*c, false))
            .collect();
        assert_eq!(codes, [1, 4, 10, 11, 14, 15]);
        assert!(is_retryable_grpc_code(8, true));
        assert!(!is_retryable_grpc_code(8, false));
    }

    #[test]
    fn the_walk_looks_inside_io_errors() {
        let inner = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let err = Outer(io::Error::new(io::ErrorKind::InvalidData, inner));
        let chain = ErrorChain::walk(&err, no_unwrap);
        assert!(matches!(
            chain.tls_failure(),
            Some(TlsFailure::Typed(rustls::Error::InvalidCertificate(_)))
        ));
        assert!(chain.message(|_| None).starts_with("connect failed: "));
    }

    #[test]
    fn tls_text_and_timeouts_are_recognised() {
        let err = Outer(io::Error::new(
            io::ErrorKind::TimedOut,
            "received fatal alert: CertificateRequired",
        ));
        let chain = ErrorChain::walk(&err, no_unwrap);
        assert!(matches!(chain.tls_failure(), Some(TlsFailure::Text)));
        assert!(chain.io_timed_out());
        let plain = Outer(io::Error::new(io::ErrorKind::ConnectionRefused, "refused"));
        let chain = ErrorChain::walk(&plain, no_unwrap);
        assert!(chain.tls_failure().is_none());
        assert!(!chain.io_timed_out());
        assert_eq!(chain.message(|_| None), "connect failed: refused");
    }
}
