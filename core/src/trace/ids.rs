//! Trace and span ids: random, never all-zero, made without a lock or a
//! syscall (a thread-local generator seeded once per thread).

use std::fmt;

/// A W3C / OTLP trace id (16 bytes, never all zero).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub [u8; 16]);

/// A W3C / OTLP span id (8 bytes, never all zero).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    /// A new random trace id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u128(..);
            if id != 0 {
                return Self(id.to_be_bytes());
            }
        }
    }

    /// Parses 32 lowercase hex digits (W3C); all-zero is invalid.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::<16>(text)?;
        (bytes != [0; 16]).then_some(Self(bytes))
    }
}

impl SpanId {
    /// A new random span id.
    pub fn random() -> Self {
        loop {
            let id = fastrand::u64(..);
            if id != 0 {
                return Self(id.to_be_bytes());
            }
        }
    }

    /// Parses 16 lowercase hex digits (W3C); all-zero is invalid.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::<8>(text)?;
        (bytes != [0; 8]).then_some(Self(bytes))
    }
}

fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != N * 2 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hex(f, &self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_hex_and_are_not_zero() {
        let trace = TraceId::random();
        let span = SpanId::random();
        assert_ne!(trace.0, [0; 16]);
        assert_eq!(TraceId::from_hex(&trace.to_string()), Some(trace));
        assert_eq!(SpanId::from_hex(&span.to_string()), Some(span));
        assert_eq!(TraceId::from_hex(&"0".repeat(32)), None);
        assert_eq!(SpanId::from_hex("00f067aa0ba902B7"), None, "uppercase");
        assert_eq!(SpanId::from_hex("00f067aa0ba902b"), None, "short");
    }
}
