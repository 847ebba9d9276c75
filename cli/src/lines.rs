//! Reading the input of `agent-otel emit` line by line in bounded memory:
//! a line longer than the limit is skipped without being kept, binary input
//! (a NUL byte in an over-long line, as `/dev/zero` gives) stops the read,
//! and a UTF-8 byte-order mark before line 1 is dropped.

use std::io::{BufRead, ErrorKind};

/// The UTF-8 encoding of U+FEFF, which some editors write at the start of a file.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Default `--max-line-bytes`: 16 MiB.
pub const DEFAULT_MAX_LINE_BYTES: u64 = 16 * 1024 * 1024;

/// One line of input, numbered from 1.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line within the limit, without its `\n` (nor, for line 1, a BOM).
    Text {
        /// 1-based line number.
        number: u64,
        /// The line's bytes.
        bytes: &'a [u8],
    },
    /// A line longer than the limit; its bytes were read and discarded.
    TooLong {
        /// 1-based line number.
        number: u64,
        /// How many bytes it held (without the `\n`).
        length: u64,
    },
    /// An over-long line holding a NUL byte: the input is not text, and
    /// reading stops here (it may never end, as `/dev/zero` does not).
    Binary {
        /// 1-based line number.
        number: u64,
    },
}

/// Splits a byte stream into [`Line`]s, holding at most `max` bytes of a line.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max: usize,
    number: u64,
    buffer: Vec<u8>,
    finished: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Reads `inner`, keeping at most `max` bytes of any line.
    pub fn new(inner: R, max: usize) -> Self {
        Self {
            inner,
            max,
            number: 0,
            buffer: Vec::new(),
            finished: false,
        }
    }

    /// The next line; `Ok(None)` at the end of input (or after
    /// [`Line::Binary`]).
    pub fn next_line(&mut self) -> std::io::Result<Option<Line<'_>>> {
        if self.finished {
            return Ok(None);
        }
        self.buffer.clear();
        // `Some(length)` once the line is known to be too long.
        let mut skipped: Option<u64> = None;
        let mut started = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.finished = true;
                    return Err(e);
                }
            };
            if chunk.is_empty() {
                self.finished = true;
                if !started {
                    return Ok(None);
                }
                break;
            }
            started = true;
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            match skipped.as_mut() {
                Some(length) => *length += part.len() as u64,
                None if self.buffer.len() + part.len() > self.max => {
                    skipped = Some((self.buffer.len() + part.len()) as u64);
                    // Whatever was kept of this line counts for the NUL check too.
                    if self.buffer.contains(&0) {
                        self.buffer.clear();
                        return self.binary();
                    }
                    self.buffer.clear();
                }
                None => self.buffer.extend_from_slice(part),
            }
            let binary = skipped.is_some() && part.contains(&0);
            let used = part.len() + usize::from(newline.is_some());
            self.inner.consume(used);
            if binary {
                return self.binary();
            }
            if newline.is_some() {
                break;
            }
        }
        self.number += 1;
        let number = self.number;
        Ok(Some(match skipped {
            Some(length) => Line::TooLong { number, length },
            None => {
                let bytes = if number == 1 {
                    self.buffer.strip_prefix(UTF8_BOM).unwrap_or(&self.buffer)
                } else {
                    &self.buffer
                };
                Line::Text { number, bytes }
            }
        }))
    }

    fn binary(&mut self) -> std::io::Result<Option<Line<'_>>> {
        self.finished = true;
        self.number += 1;
        Ok(Some(Line::Binary {
            number: self.number,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every line of `input` read with limit `max`, as owned values, using
    /// a tiny buffer so lines span many reads.
    fn read_all(input: &[u8], max: usize) -> Vec<String> {
        let mut reader = LineReader::new(std::io::BufReader::with_capacity(3, input), max);
        let mut out = Vec::new();
        while let Some(line) = reader.next_line().expect("in-memory read") {
            out.push(match line {
                Line::Text { number, bytes } => {
                    format!("{number}:{}", String::from_utf8_lossy(bytes))
                }
                Line::TooLong { number, length } => format!("{number}:too long ({length})"),
                Line::Binary { number } => format!("{number}:binary"),
            });
        }
        out
    }

    #[test]
    fn lines_are_split_and_numbered() {
        assert_eq!(read_all(b"ab\n\ncd", 10), ["1:ab", "2:", "3:cd"]);
        assert_eq!(read_all(b"ab\n", 10), ["1:ab"]);
        assert!(read_all(b"", 10).is_empty());
    }

    #[test]
    fn a_line_over_the_limit_is_skipped_and_the_next_one_read() {
        assert_eq!(
            read_all(b"12345\n123456\nok\n", 5),
            ["1:12345", "2:too long (6)", "3:ok"]
        );
        assert_eq!(read_all(b"1234567890", 5), ["1:too long (10)"]);
    }

    #[test]
    fn a_bom_before_line_1_is_dropped_and_kept_elsewhere() {
        assert_eq!(
            read_all(b"\xEF\xBB\xBFa\n\xEF\xBB\xBFb\n", 10),
            ["1:a", "2:\u{feff}b"]
        );
    }

    #[test]
    fn an_endless_line_of_nul_bytes_stops_the_read() {
        // What `--input /dev/zero` gives, cut short.
        let zeros = vec![0u8; 1000];
        assert_eq!(read_all(&zeros, 100), ["1:binary"]);
        let mut late = b"ok\n".to_vec();
        late.extend(std::iter::repeat_n(b'x', 200));
        late.push(0);
        late.extend(b"\nnever read\n");
        assert_eq!(read_all(&late, 100), ["1:ok", "2:binary"]);
        // A short line with a NUL byte is an ordinary (bad) line.
        assert_eq!(read_all(b"a\0b\nc\n", 100), ["1:a\0b", "2:c"]);
    }

    #[test]
    fn read_errors_end_the_input() {
        struct Failing;
        impl std::io::Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("device gone"))
            }
        }
        let mut reader = LineReader::new(std::io::BufReader::new(Failing), 10);
        assert!(reader.next_line().is_err());
        assert!(matches!(reader.next_line(), Ok(None)));
    }
}
