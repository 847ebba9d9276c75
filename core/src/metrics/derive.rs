//! Measurements derived from events on the worker: each catalog event
//! updates the instruments DESIGN.md's table maps it to, with the
//! session's `model`, `app.version` and `auth_mode` (never
//! `conversation.id`: it would make every session its own series).

use std::collections::HashSet;
use std::time::SystemTime;

use super::aggregation::{Aggregator, Attributes, Measurement, MetricValue};
use super::instruments::InstrumentId;
use super::temporality::{Collection, IntervalClock};
use super::{MetricsOptions, Temporality};
use crate::catalog;
use crate::event::{Event, EventBody, SessionMetadata, SessionRef, TokenCounts, api_error_type};

/// Attribute sets are short: the common three plus at most four.
const MAX_ATTRIBUTES: usize = 8;

/// Turns events into aggregated measurements and collects them per
/// export interval.
#[derive(Debug)]
pub(crate) struct MetricDeriver {
    aggregator: Aggregator,
    clock: IntervalClock,
    temporality: Temporality,
    /// Sessions counted in `session.count` (forgotten when retired).
    sessions: HashSet<u64>,
}

impl MetricDeriver {
    /// A deriver aggregating as `options` says, its first interval starting
    /// at `start`.
    pub(crate) fn new(options: &MetricsOptions, start: SystemTime) -> Self {
        Self {
            aggregator: Aggregator::new(options.cardinality_limit),
            clock: IntervalClock::new(start),
            temporality: options.temporality,
            sessions: HashSet::new(),
        }
    }

    /// Records the measurements of one event of `session`. A session is
    /// counted once, at the first event (or turn marker) of it seen.
    pub(crate) fn observe<'a>(&mut self, event: &'a Event, session: &'a SessionMetadata) {
        let mut set = [("", MetricValue::Bool(false)); MAX_ATTRIBUTES];
        let mut base = 0;
        let common = [
            (catalog::MODEL, session.model.as_str()),
            (catalog::APP_VERSION, session.app_version.as_str()),
            (
                catalog::AUTH_MODE,
                session.auth_mode.as_deref().unwrap_or_default(),
            ),
        ];
        for (key, value) in common {
            if !value.is_empty() {
                set[base] = (key, MetricValue::Str(value));
                base += 1;
            }
        }
        if let SessionRef::Id(id) = event.session
            && self.sessions.insert(id)
        {
            self.add(InstrumentId::SessionCount, &set[..base], 1);
        }
        self.observe_body(&event.body, session, &mut set, base);
    }

    fn observe_body<'a>(
        &mut self,
        body: &'a EventBody,
        session: &'a SessionMetadata,
        set: &mut [(&'static str, MetricValue<'a>); MAX_ATTRIBUTES],
        base: usize,
    ) {
        let extend = |set: &mut [(&'static str, MetricValue<'a>); MAX_ATTRIBUTES],
                      extra: &[(&'static str, MetricValue<'a>)]| {
            set[base..base + extra.len()].copy_from_slice(extra);
            base + extra.len()
        };
        match body {
            EventBody::ApiRequest {
                duration_ms,
                status_code,
                strings,
                ..
            } => {
                let error_type = api_error_type(*status_code, strings.get(1));
                let success = (
                    catalog::SUCCESS,
                    MetricValue::Str(bool_str(error_type.is_none())),
                );
                let len = match status_code {
                    Some(status) => extend(
                        set,
                        &[
                            (
                                catalog::HTTP_RESPONSE_STATUS_CODE,
                                MetricValue::Int(i64::from(*status)),
                            ),
                            success,
                        ],
                    ),
                    None => extend(set, &[success]),
                };
                self.add(InstrumentId::ApiRequest, &set[..len], 1);
                let len = extend(set, &[success]);
                self.record(
                    InstrumentId::ApiRequestDuration,
                    &set[..len],
                    *duration_ms as f64,
                );
                let (mut gen_ai, mut len) = gen_ai_attributes(session, set, base);
                if let Some(error_type) = &error_type {
                    gen_ai[len] = (catalog::ERROR_TYPE, MetricValue::Str(error_type));
                    len += 1;
                }
                self.record(
                    InstrumentId::GenAiOperationDuration,
                    &gen_ai[..len],
                    *duration_ms as f64 / 1000.0,
                );
            }
            EventBody::SseEvent {
                tokens, strings, ..
            } => {
                let len = extend(
                    set,
                    &[
                        (catalog::EVENT_KIND, MetricValue::Str(strings.str(0))),
                        (
                            catalog::SUCCESS,
                            MetricValue::Str(bool_str(strings.get(1).is_none())),
                        ),
                    ],
                );
                self.add(InstrumentId::SseEvent, &set[..len], 1);
                if let Some(tokens) = tokens {
                    self.tokens(tokens, session, set, base);
                }
            }
            EventBody::UserPrompt { .. } => {
                self.add(InstrumentId::UserPrompt, &set[..base], 1);
            }
            EventBody::ToolDecision {
                decision,
                source,
                strings,
            } => {
                let len = extend(
                    set,
                    &[
                        (catalog::TOOL_NAME, MetricValue::Str(strings.str(0))),
                        (catalog::DECISION, MetricValue::Str(decision.as_str())),
                        (catalog::SOURCE, MetricValue::Str(source.as_str())),
                    ],
                );
                self.add(InstrumentId::ToolDecision, &set[..len], 1);
            }
            EventBody::ToolResult {
                duration_ms,
                success,
                strings,
            } => {
                let len = extend(
                    set,
                    &[
                        (catalog::TOOL_NAME, MetricValue::Str(strings.str(0))),
                        (catalog::SUCCESS, MetricValue::Str(bool_str(*success))),
                    ],
                );
                self.add(InstrumentId::ToolCall, &set[..len], 1);
                self.record(
                    InstrumentId::ToolCallDuration,
                    &set[..len],
                    *duration_ms as f64,
                );
            }
            EventBody::Custom(_) | EventBody::TurnStart { .. } | EventBody::TurnEnd => {}
        }
    }

    /// A completion's token counts: `token.usage` by type, and the GenAI
    /// token histogram for input and output.
    fn tokens<'a>(
        &mut self,
        tokens: &TokenCounts,
        session: &'a SessionMetadata,
        set: &mut [(&'static str, MetricValue<'a>); MAX_ATTRIBUTES],
        base: usize,
    ) {
        let by_type = [
            ("input", Some(tokens.input)),
            ("output", Some(tokens.output)),
            ("cached", tokens.cached),
            ("reasoning", tokens.reasoning),
            ("tool", Some(tokens.tool)),
        ];
        for (kind, count) in by_type {
            if let Some(count) = count {
                set[base] = (catalog::TOKEN_TYPE, MetricValue::Str(kind));
                self.add(InstrumentId::TokenUsage, &set[..=base], count);
            }
        }
        let (mut gen_ai, len) = gen_ai_attributes(session, set, base);
        for (kind, count) in [("input", tokens.input), ("output", tokens.output)] {
            gen_ai[len] = (catalog::GEN_AI_TOKEN_TYPE, MetricValue::Str(kind));
            self.record(InstrumentId::GenAiTokenUsage, &gen_ai[..=len], count as f64);
        }
    }

    fn add(&mut self, id: InstrumentId, attributes: &Attributes<'_>, n: u64) {
        self.aggregator.record(id, attributes, Measurement::Add(n));
    }

    fn record(&mut self, id: InstrumentId, attributes: &Attributes<'_>, value: f64) {
        self.aggregator
            .record(id, attributes, Measurement::Record(value));
    }

    /// Forgets retired sessions (they were counted already).
    pub(crate) fn retire(&mut self, ids: &[u64]) {
        for id in ids {
            self.sessions.remove(id);
        }
    }

    /// What to export at `now`, by the configured temporality; `None` when
    /// there is nothing (a delta interval without data).
    pub(crate) fn collect(&mut self, now: SystemTime) -> Option<Collection> {
        self.clock
            .collect(&mut self.aggregator, self.temporality, now)
    }

    /// Measurements recorded in overflow series since the last call.
    pub(crate) fn take_overflowed(&mut self) -> u64 {
        self.aggregator.take_overflowed()
    }
}

fn bool_str(value: bool) -> &'static str {
    if value { "true" } else { "false" }
}

/// The GenAI instruments' attributes: the operation, provider and model
/// (in place of `model`), then `app.version` and `auth_mode` when known.
fn gen_ai_attributes<'a>(
    session: &'a SessionMetadata,
    common: &[(&'static str, MetricValue<'a>); MAX_ATTRIBUTES],
    base: usize,
) -> ([(&'static str, MetricValue<'a>); MAX_ATTRIBUTES], usize) {
    let mut attributes = [("", MetricValue::Bool(false)); MAX_ATTRIBUTES];
    let mut len = 0;
    let mut push = |attribute| {
        attributes[len] = attribute;
        len += 1;
    };
    push((catalog::GEN_AI_OPERATION_NAME, MetricValue::Str("chat")));
    if !session.slug.is_empty() {
        push((
            catalog::GEN_AI_PROVIDER_NAME,
            MetricValue::Str(&session.slug),
        ));
    }
    push((
        catalog::GEN_AI_REQUEST_MODEL,
        MetricValue::Str(&session.model),
    ));
    for attribute in common[..base]
        .iter()
        .filter(|(key, _)| *key != catalog::MODEL)
    {
        push(*attribute);
    }
    (attributes, len)
}
