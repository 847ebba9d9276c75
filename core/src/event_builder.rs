//! [`EventBuilder`]: a custom event with typed attributes, built on the
//! caller's thread into one packed buffer and queued like any other event.

use std::time::SystemTime;

use crate::attribute::{AttributeValue, ContentPolicy, PackedAttributes, Sensitivity};
use crate::event::TraceLink;
use crate::telemetry::Session;

/// A custom event being built; see [`Session::event`].
///
/// ```
/// # let session = agent_otel_core::Telemetry::disabled().session(Default::default());
/// use agent_otel_core::Sensitivity;
/// session
///     .event("codex.sandbox_outcome")
///     .str("outcome", "allowed")
///     .int("initial_duration_ms", 12)
///     .bool("escalated", false)
///     .value("paths", vec!["src/a.rs", "src/b.rs"])
///     .sensitive("command", "rm -rf target", Sensitivity::Tool)
///     .emit();
/// ```
///
/// Nothing is encoded here: attributes are appended to one buffer (one
/// allocation for a typical event, none when telemetry is disabled), and a
/// sensitive value the content policy redacts is never copied. Later values
/// of a key replace earlier ones. Keys that collide with a common attribute
/// are dropped (and counted) on the worker.
#[must_use = "an event is sent only by `emit`"]
pub struct EventBuilder<'s> {
    session: &'s Session,
    /// `None` when telemetry is disabled.
    packed: Option<PackedAttributes>,
    content: ContentPolicy,
    time: Option<SystemTime>,
    trace: Option<TraceLink>,
}

impl std::fmt::Debug for EventBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Attribute values may be sensitive: show only the name.
        let name = self.packed.as_ref().map(|p| p.unpack().0.to_owned());
        f.debug_struct("EventBuilder")
            .field("name", &name)
            .finish_non_exhaustive()
    }
}

impl<'s> EventBuilder<'s> {
    pub(crate) fn new(session: &'s Session, name: &str, content: ContentPolicy) -> Self {
        Self {
            session,
            packed: Some(PackedAttributes::new(name)),
            content,
            time: None,
            trace: None,
        }
    }

    pub(crate) fn disabled(session: &'s Session) -> Self {
        Self {
            session,
            packed: None,
            content: ContentPolicy::default(),
            time: None,
            trace: None,
        }
    }

    /// Places the event in a turn's trace.
    pub(crate) fn in_trace(mut self, link: TraceLink) -> Self {
        self.trace = Some(link);
        self
    }

    /// A string attribute.
    #[inline]
    pub fn str(mut self, key: &str, value: &str) -> Self {
        if let Some(packed) = &mut self.packed {
            packed.str(key, value);
        }
        self
    }

    /// An integer attribute.
    #[inline]
    pub fn int(mut self, key: &str, value: i64) -> Self {
        if let Some(packed) = &mut self.packed {
            packed.int(key, value);
        }
        self
    }

    /// A floating-point attribute.
    #[inline]
    pub fn double(mut self, key: &str, value: f64) -> Self {
        if let Some(packed) = &mut self.packed {
            packed.double(key, value);
        }
        self
    }

    /// A boolean attribute.
    #[inline]
    pub fn bool(mut self, key: &str, value: bool) -> Self {
        if let Some(packed) = &mut self.packed {
            packed.bool(key, value);
        }
        self
    }

    /// An attribute of any shape: arrays and maps of values, nested up to
    /// [`MAX_VALUE_DEPTH`](crate::attribute::MAX_VALUE_DEPTH) levels
    /// (a deeper one is dropped and counted).
    pub fn value(mut self, key: &str, value: impl Into<AttributeValue>) -> Self {
        if let Some(packed) = &mut self.packed {
            packed.value(key, &value.into());
        }
        self
    }

    /// A sensitive string attribute: exported as `[REDACTED]` unless the
    /// content policy allows its class (`prompt`: `log_user_prompt`;
    /// `tool`: `log_tool_content`). A redacted value is never copied.
    #[inline]
    pub fn sensitive(mut self, key: &str, value: &str, class: Sensitivity) -> Self {
        if let Some(packed) = &mut self.packed {
            if self.content.allows(class) {
                packed.str(key, value);
            } else {
                packed.redacted(key);
            }
        }
        self
    }

    /// A sensitive attribute of any shape (see [`EventBuilder::sensitive`]).
    pub fn sensitive_value(
        mut self,
        key: &str,
        value: impl Into<AttributeValue>,
        class: Sensitivity,
    ) -> Self {
        if let Some(packed) = &mut self.packed {
            if self.content.allows(class) {
                packed.value(key, &value.into());
            } else {
                packed.redacted(key);
            }
        }
        self
    }

    /// Stamps the event with `time` instead of the time of [`emit`](Self::emit)
    /// (to backfill a past event).
    pub fn at(mut self, time: SystemTime) -> Self {
        self.time = Some(time);
        self
    }

    /// Queues the event. Never blocks; a full queue drops it and counts it.
    #[inline]
    pub fn emit(self) {
        if let Some(packed) = self.packed {
            let time = self.time.unwrap_or_else(SystemTime::now);
            self.session.enqueue_custom(time, packed, self.trace);
        }
    }
}
