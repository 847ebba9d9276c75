//! Received or user-given text made safe for a terminal: control
//! characters escaped (`\\u{1b}`, `\\r`), cut to a number of characters.

/// `text` with control characters escaped, at most `max_chars` characters
/// of it, followed by `marker` when it was cut.
pub fn printable(text: &str, max_chars: usize, marker: &str) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == max_chars {
            out.push_str(marker);
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}
