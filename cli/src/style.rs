//! Terminal styling: colours only when the stream is a terminal and
//! `NO_COLOR` is unset.

use std::io::IsTerminal;

/// Decides whether to colour output for one stream.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Style for standard output.
    pub fn stdout() -> Self {
        Self::new(std::io::stdout().is_terminal())
    }

    /// Style for standard error.
    pub fn stderr() -> Self {
        Self::new(std::io::stderr().is_terminal())
    }

    /// No colours (tests compare plain text).
    #[cfg(test)]
    pub fn plain() -> Self {
        Self { color: false }
    }

    fn new(is_terminal: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            color: is_terminal && !no_color,
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    /// Bold text (headings).
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// Green text (success).
    pub fn ok(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// Red text (failure).
    pub fn bad(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// Dim text (details).
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }
}
