//! W3C Trace Context: the `traceparent` header a caller hands us (the
//! `TRACEPARENT` environment variable, or the host) and the one a turn
//! hands to a tool's subprocess.

use std::fmt;

use super::ids::{SpanId, TraceId};

/// A parsed `traceparent`: `00-<trace-id>-<parent-id>-<flags>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    /// The trace every turn joins.
    pub trace_id: TraceId,
    /// The caller's span: the parent of every turn span.
    pub span_id: SpanId,
    /// The caller's sampled flag (trace-flags bit 0).
    pub sampled: bool,
}

/// Why a `traceparent` value was ignored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TraceParentError {
    /// Not `version-traceid-parentid-flags` with the W3C lengths.
    #[error("expected 00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>")]
    Shape,
    /// Version `ff` is forbidden by the W3C spec.
    #[error("version ff is invalid")]
    Version,
    /// A trace or parent id that is not lowercase hex, or all zeros.
    #[error("the trace id or parent id is not lowercase hex or is all zeros")]
    Id,
    /// Flags that are not two hex digits.
    #[error("the flags are not two hex digits")]
    Flags,
}

impl TraceParent {
    /// Parses a `traceparent` value. Versions above `00` are accepted when
    /// their first four fields have the version-00 shape (W3C: parse what
    /// is understood); version `00` must have exactly four.
    pub fn parse(value: &str) -> Result<Self, TraceParentError> {
        let value = value.trim();
        let mut parts = value.split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TraceParentError::Shape);
        };
        let rest = parts.next();
        if version.len() != 2 || !version.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TraceParentError::Shape);
        }
        if version == "ff" {
            return Err(TraceParentError::Version);
        }
        if version == "00" && rest.is_some() {
            return Err(TraceParentError::Shape);
        }
        let trace_id = TraceId::from_hex(trace).ok_or(TraceParentError::Id)?;
        let span_id = SpanId::from_hex(span).ok_or(TraceParentError::Id)?;
        if flags.len() != 2 {
            return Err(TraceParentError::Flags);
        }
        let flags = u8::from_str_radix(flags, 16).map_err(|_| TraceParentError::Flags)?;
        Ok(Self {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }
}

impl fmt::Display for TraceParent {
    /// The version-00 header value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "00-{}-{}-{:02x}",
            self.trace_id,
            self.span_id,
            u8::from(self.sampled)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_the_w3c_example() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parent = TraceParent::parse(text).expect("valid");
        assert!(parent.sampled);
        assert_eq!(parent.to_string(), text);
        let unsampled =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")
                .expect("valid");
        assert!(!unsampled.sampled);
    }

    #[test]
    fn rejects_what_the_spec_rejects() {
        let cases = [
            ("", TraceParentError::Shape),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
                TraceParentError::Shape,
            ),
            (
                "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                TraceParentError::Version,
            ),
            (
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
                TraceParentError::Id,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
                TraceParentError::Id,
            ),
            (
                "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
                TraceParentError::Id,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
                TraceParentError::Flags,
            ),
            (
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
                TraceParentError::Shape,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(TraceParent::parse(text), Err(expected), "{text:?}");
        }
        let future = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever";
        assert!(TraceParent::parse(future).is_ok());
    }
}
