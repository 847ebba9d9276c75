//! Typed attribute values (OTLP `AnyValue`), the content policy that
//! redacts sensitive ones, the OpenTelemetry attribute limits, and the
//! compact packed form a custom event carries through the queue.
//!
//! A custom event's name and attributes are packed on the caller's thread
//! into one byte buffer (one allocation, no encoding, no lock); the worker
//! unpacks them into borrowed [`ValueRef`]s while it encodes.

use std::borrow::Cow;

/// A typed attribute value: string, integer, double, boolean, or arrays and
/// maps of them (OTLP `AnyValue` array / kvlist).
#[derive(Debug, Clone, PartialEq)]
pub enum AttributeValue {
    /// `stringValue`.
    String(String),
    /// `intValue`.
    Int(i64),
    /// `doubleValue`.
    Double(f64),
    /// `boolValue`.
    Bool(bool),
    /// `arrayValue`.
    Array(Vec<AttributeValue>),
    /// `kvlistValue`, in order.
    Map(Vec<(String, AttributeValue)>),
}

impl From<&str> for AttributeValue {
    fn from(value: &str) -> Self {
        Self::String(value.to_owned())
    }
}

impl From<String> for AttributeValue {
    fn from(value: String) -> Self {
        Self::String(value)
    }
}

impl From<i64> for AttributeValue {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl From<f64> for AttributeValue {
    fn from(value: f64) -> Self {
        Self::Double(value)
    }
}

impl From<bool> for AttributeValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl<T: Into<AttributeValue>> From<Vec<T>> for AttributeValue {
    fn from(values: Vec<T>) -> Self {
        Self::Array(values.into_iter().map(Into::into).collect())
    }
}

/// Which content policy a sensitive attribute follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sensitivity {
    /// User-typed content: exported only with `log_user_prompt`.
    Prompt,
    /// Tool arguments and output: exported unless `log_tool_content = false`.
    Tool,
}

impl Sensitivity {
    /// Parses the class name used in config and `emit` input (`prompt`, `tool`).
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "prompt" => Some(Self::Prompt),
            "tool" => Some(Self::Tool),
            _ => None,
        }
    }
}

/// What content leaves the process. Applied on the caller's thread: a
/// redacted value is never copied into the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentPolicy {
    /// Export prompt text (`user_prompt.prompt`, custom `prompt` attributes).
    pub log_user_prompt: bool,
    /// Export tool content (`tool_result.arguments`/`output`, custom `tool`
    /// attributes).
    pub log_tool_content: bool,
}

impl Default for ContentPolicy {
    /// Prompts redacted, tool content kept (the seed's behaviour).
    fn default() -> Self {
        Self {
            log_user_prompt: false,
            log_tool_content: true,
        }
    }
}

impl ContentPolicy {
    /// Everything exported (tests, local tools).
    pub const EXPORT_ALL: Self = Self {
        log_user_prompt: true,
        log_tool_content: true,
    };

    /// True when values of `class` are exported.
    pub fn allows(self, class: Sensitivity) -> bool {
        match class {
            Sensitivity::Prompt => self.log_user_prompt,
            Sensitivity::Tool => self.log_tool_content,
        }
    }
}

/// The OpenTelemetry attribute limits of log records
/// (`OTEL_[LOGRECORD_]ATTRIBUTE_VALUE_LENGTH_LIMIT`, `..._COUNT_LIMIT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttributeLimits {
    /// Longest string value, in characters; longer ones are cut on a
    /// character boundary with a `…[truncated N bytes]` marker. `None`: no
    /// limit but the request-size ceiling.
    pub value_length: Option<usize>,
    /// Most attributes on one record (default 128, as the OTel SDKs);
    /// the rest are dropped and counted in `dropped_attributes_count`.
    pub count: usize,
}

impl Default for AttributeLimits {
    fn default() -> Self {
        Self {
            value_length: None,
            count: DEFAULT_ATTRIBUTE_COUNT_LIMIT,
        }
    }
}

/// The OpenTelemetry SDKs' default attribute count limit.
pub const DEFAULT_ATTRIBUTE_COUNT_LIMIT: usize = 128;

/// Deepest nesting of arrays and maps kept; deeper values are dropped.
pub const MAX_VALUE_DEPTH: usize = 8;

/// Cuts `value` to at most `max_chars` characters and `max_bytes` bytes on a
/// character boundary, appending `…[truncated N bytes]`; borrows when it fits.
pub fn limit_text(value: &str, max_chars: Option<usize>, max_bytes: usize) -> Cow<'_, str> {
    let mut cut = value.len().min(max_bytes);
    if let Some(chars) = max_chars
        && value.len() > chars
        && let Some((at, _)) = value.char_indices().nth(chars)
    {
        cut = cut.min(at);
    }
    if cut >= value.len() {
        return Cow::Borrowed(value);
    }
    while !value.is_char_boundary(cut) {
        cut -= 1;
    }
    Cow::Owned(format!(
        "{}…[truncated {} bytes]",
        &value[..cut],
        value.len() - cut
    ))
}

/// A value unpacked from a custom event, borrowing its strings.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueRef<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Double(f64),
    Bool(bool),
    Array(Vec<ValueRef<'a>>),
    Map(Vec<(&'a str, ValueRef<'a>)>),
}

impl AttributeValue {
    /// The borrowed form the encoder writes.
    pub(crate) fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            AttributeValue::String(s) => ValueRef::Str(Cow::Borrowed(s)),
            AttributeValue::Int(i) => ValueRef::Int(*i),
            AttributeValue::Double(d) => ValueRef::Double(*d),
            AttributeValue::Bool(b) => ValueRef::Bool(*b),
            AttributeValue::Array(items) => {
                ValueRef::Array(items.iter().map(Self::as_value_ref).collect())
            }
            AttributeValue::Map(entries) => ValueRef::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_value_ref()))
                    .collect(),
            ),
        }
    }

    /// Nesting depth: 0 for a scalar.
    fn depth(&self) -> usize {
        match self {
            AttributeValue::Array(items) => 1 + items.iter().map(Self::depth).max().unwrap_or(0),
            AttributeValue::Map(entries) => {
                1 + entries.iter().map(|(_, v)| v.depth()).max().unwrap_or(0)
            }
            _ => 0,
        }
    }
}

// Tags of the packed form.
const TAG_STR: u8 = 0;
const TAG_INT: u8 = 1;
const TAG_DOUBLE: u8 = 2;
const TAG_BOOL: u8 = 3;
const TAG_ARRAY: u8 = 4;
const TAG_MAP: u8 = 5;
const TAG_REDACTED: u8 = 6;

/// Bytes a custom event's buffer starts with: typical events (a name and
/// up to ~8 small attributes) fit without growing it.
const INITIAL_PACKED_BYTES: usize = 384;

/// A custom event's name and attributes in one buffer:
/// `name_len u32 | name | (key_len u32 | key | value)*`, where a value is a
/// tag byte then its payload (`u32` length + bytes, 8 bytes LE, one byte, or
/// a `u32` count of nested values / key-value pairs).
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedAttributes {
    bytes: Vec<u8>,
    /// Attributes refused on the caller's thread (too deeply nested, empty key).
    refused: u32,
}

impl PackedAttributes {
    /// A buffer holding `name`, ready for attributes.
    pub(crate) fn new(name: &str) -> Self {
        let mut bytes = Vec::with_capacity(INITIAL_PACKED_BYTES.max(name.len() + 64));
        put_str(&mut bytes, name);
        Self { bytes, refused: 0 }
    }

    /// Appends a string attribute.
    pub(crate) fn str(&mut self, key: &str, value: &str) {
        if self.key(key) {
            self.bytes.push(TAG_STR);
            put_str(&mut self.bytes, value);
        }
    }

    /// Appends an integer attribute.
    pub(crate) fn int(&mut self, key: &str, value: i64) {
        if self.key(key) {
            self.bytes.push(TAG_INT);
            self.bytes.extend_from_slice(&value.to_le_bytes());
        }
    }

    /// Appends a double attribute.
    pub(crate) fn double(&mut self, key: &str, value: f64) {
        if self.key(key) {
            self.bytes.push(TAG_DOUBLE);
            self.bytes.extend_from_slice(&value.to_bits().to_le_bytes());
        }
    }

    /// Appends a boolean attribute.
    pub(crate) fn bool(&mut self, key: &str, value: bool) {
        if self.key(key) {
            self.bytes.push(TAG_BOOL);
            self.bytes.push(u8::from(value));
        }
    }

    /// Appends a value of any shape; one nested deeper than
    /// [`MAX_VALUE_DEPTH`] is refused and counted.
    pub(crate) fn value(&mut self, key: &str, value: &AttributeValue) {
        if value.depth() > MAX_VALUE_DEPTH {
            self.refused += 1;
            return;
        }
        if self.key(key) {
            put_value(&mut self.bytes, value);
        }
    }

    /// Appends the redaction marker in place of a sensitive value.
    pub(crate) fn redacted(&mut self, key: &str) {
        if self.key(key) {
            self.bytes.push(TAG_REDACTED);
        }
    }

    /// Writes `key`, or refuses an empty one (OTLP keys are non-empty).
    fn key(&mut self, key: &str) -> bool {
        if key.is_empty() {
            self.refused += 1;
            return false;
        }
        put_str(&mut self.bytes, key);
        true
    }

    /// Attributes refused while packing.
    pub(crate) fn refused(&self) -> u32 {
        self.refused
    }

    /// The event name and its attributes, borrowed. Later duplicates of a
    /// key replace earlier ones (as setting an attribute twice does in the
    /// OpenTelemetry API). Only this module writes the buffer, so a short
    /// read (never expected) ends the list.
    pub(crate) fn unpack(&self) -> (&str, Vec<(&str, ValueRef<'_>)>) {
        let mut reader = Reader {
            bytes: &self.bytes,
            at: 0,
        };
        let name = reader.str().unwrap_or_default();
        let mut attributes: Vec<(&str, ValueRef<'_>)> = Vec::new();
        while reader.at < self.bytes.len() {
            let Some((key, value)) = reader.str().zip(reader.value()) else {
                break;
            };
            match attributes.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => attributes.push((key, value)),
            }
        }
        (name, attributes)
    }
}

fn put_len(bytes: &mut Vec<u8>, len: usize) {
    bytes.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(bytes: &mut Vec<u8>, text: &str) {
    // Strings over 4 GiB cannot be queued; keep the prefix that fits.
    let text = &text[..floor_char_boundary(text, u32::MAX as usize)];
    put_len(bytes, text.len());
    bytes.extend_from_slice(text.as_bytes());
}

fn floor_char_boundary(text: &str, max: usize) -> usize {
    let mut cut = text.len().min(max);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

fn put_value(bytes: &mut Vec<u8>, value: &AttributeValue) {
    match value {
        AttributeValue::String(s) => {
            bytes.push(TAG_STR);
            put_str(bytes, s);
        }
        AttributeValue::Int(i) => {
            bytes.push(TAG_INT);
            bytes.extend_from_slice(&i.to_le_bytes());
        }
        AttributeValue::Double(d) => {
            bytes.push(TAG_DOUBLE);
            bytes.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        AttributeValue::Bool(b) => {
            bytes.push(TAG_BOOL);
            bytes.push(u8::from(*b));
        }
        AttributeValue::Array(items) => {
            bytes.push(TAG_ARRAY);
            put_len(bytes, items.len());
            for item in items {
                put_value(bytes, item);
            }
        }
        AttributeValue::Map(entries) => {
            bytes.push(TAG_MAP);
            put_len(bytes, entries.len());
            for (key, item) in entries {
                put_str(bytes, key);
                put_value(bytes, item);
            }
        }
    }
}

/// Reads the packed form back.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }

    fn u32(&mut self) -> Option<usize> {
        let raw: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_le_bytes(raw) as usize)
    }

    fn u64(&mut self) -> Option<u64> {
        let raw: [u8; 8] = self.take(8)?.try_into().ok()?;
        Some(u64::from_le_bytes(raw))
    }

    fn str(&mut self) -> Option<&'a str> {
        let len = self.u32()?;
        std::str::from_utf8(self.take(len)?).ok()
    }

    fn value(&mut self) -> Option<ValueRef<'a>> {
        let tag = *self.take(1)?.first()?;
        Some(match tag {
            TAG_STR => ValueRef::Str(Cow::Borrowed(self.str()?)),
            TAG_INT => ValueRef::Int(self.u64()? as i64),
            TAG_DOUBLE => ValueRef::Double(f64::from_bits(self.u64()?)),
            TAG_BOOL => ValueRef::Bool(*self.take(1)?.first()? != 0),
            TAG_ARRAY => {
                let count = self.u32()?;
                let mut items = Vec::with_capacity(count.min(1024));
                for _ in 0..count {
                    items.push(self.value()?);
                }
                ValueRef::Array(items)
            }
            TAG_MAP => {
                let count = self.u32()?;
                let mut entries = Vec::with_capacity(count.min(1024));
                for _ in 0..count {
                    let key = self.str()?;
                    entries.push((key, self.value()?));
                }
                ValueRef::Map(entries)
            }
            TAG_REDACTED => ValueRef::Str(Cow::Borrowed(crate::otlp::REDACTED)),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_attributes_round_trip_every_shape() {
        let mut packed = PackedAttributes::new("codex.sandbox_outcome");
        packed.str("outcome", "allowed");
        packed.int("n", -3);
        packed.double("ratio", 0.25);
        packed.bool("escalated", false);
        packed.value(
            "paths",
            &AttributeValue::Array(vec!["a".into(), AttributeValue::Int(1)]),
        );
        packed.value(
            "map",
            &AttributeValue::Map(vec![("k".into(), AttributeValue::Bool(true))]),
        );
        packed.redacted("command");
        packed.str("outcome", "denied");
        packed.str("", "refused");
        let (name, attributes) = packed.unpack();
        assert_eq!(name, "codex.sandbox_outcome");
        assert_eq!(
            attributes,
            vec![
                ("outcome", ValueRef::Str("denied".into())),
                ("n", ValueRef::Int(-3)),
                ("ratio", ValueRef::Double(0.25)),
                ("escalated", ValueRef::Bool(false)),
                (
                    "paths",
                    ValueRef::Array(vec![ValueRef::Str("a".into()), ValueRef::Int(1)])
                ),
                ("map", ValueRef::Map(vec![("k", ValueRef::Bool(true))])),
                ("command", ValueRef::Str(crate::otlp::REDACTED.into())),
            ]
        );
        assert_eq!(packed.refused(), 1);
    }

    #[test]
    fn values_nested_too_deep_are_refused() {
        let mut deep = AttributeValue::Int(1);
        for _ in 0..=MAX_VALUE_DEPTH {
            deep = AttributeValue::Array(vec![deep]);
        }
        let mut packed = PackedAttributes::new("e");
        packed.value("deep", &deep);
        assert_eq!(packed.refused(), 1);
        assert!(packed.unpack().1.is_empty());
    }

    #[test]
    fn limit_text_counts_characters_and_bytes() {
        assert_eq!(limit_text("short", Some(10), 100), "short");
        assert_eq!(limit_text("ééé", Some(2), 100), "éé…[truncated 2 bytes]");
        assert_eq!(limit_text("ééé", None, 3), "é…[truncated 4 bytes]");
        assert_eq!(limit_text("abc", Some(3), 100), "abc");
    }
}
