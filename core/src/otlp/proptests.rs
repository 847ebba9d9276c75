//! Property tests of both writers over random events: the hand-written
//! protobuf is byte-for-byte what prost writes for the decoded request, and
//! the hand-written JSON parses (with the official serde mapping) to the
//! same request.

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use proptest::prelude::*;
use prost::Message;

use super::{OtlpEncoder, WireFormat};
use crate::attribute::{AttributeLimits, AttributeValue, PackedAttributes};
use crate::event::{Event, SessionMetadata, SessionRef, ToolResult};
use crate::{ContentPolicy, EventData, TelemetryOptions};

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter)
}

fn value() -> impl Strategy<Value = AttributeValue> {
    let leaf = prop_oneof![
        text().prop_map(AttributeValue::String),
        any::<i64>().prop_map(AttributeValue::Int),
        any::<f64>()
            .prop_filter("finite (NaN has no JSON number)", |d| d.is_finite())
            .prop_map(AttributeValue::Double),
        any::<bool>().prop_map(AttributeValue::Bool),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(AttributeValue::Array),
            prop::collection::vec((text(), inner), 0..4).prop_map(AttributeValue::Map),
        ]
    })
}

/// A custom event (name, attributes) or a tool_result with random strings.
#[derive(Debug, Clone)]
enum RandomEvent {
    Custom(String, Vec<(String, AttributeValue)>),
    Tool(String, String, u64),
}

fn event() -> impl Strategy<Value = RandomEvent> {
    prop_oneof![
        (text(), prop::collection::vec((text(), value()), 0..8))
            .prop_map(|(name, attrs)| RandomEvent::Custom(name, attrs)),
        (text(), text(), any::<u64>()).prop_map(|(a, b, d)| RandomEvent::Tool(a, b, d)),
    ]
}

fn build(events: &[RandomEvent], session: &Arc<SessionMetadata>) -> Vec<Event> {
    let at = UNIX_EPOCH + Duration::from_millis(1_764_025_614_123);
    events
        .iter()
        .map(|e| match e {
            RandomEvent::Custom(name, attrs) => {
                let mut packed = PackedAttributes::new(name);
                for (key, value) in attrs {
                    packed.value(key, value);
                }
                Event::custom(at, SessionRef::Metadata(Arc::clone(session)), packed)
            }
            RandomEvent::Tool(name, output, ms) => Event::new(
                at,
                Arc::clone(session),
                EventData::ToolResult(ToolResult {
                    tool_name: name,
                    call_id: "c",
                    arguments: output,
                    duration: Duration::from_millis(*ms),
                    success: ms % 2 == 0,
                    output,
                }),
                ContentPolicy::EXPORT_ALL,
            ),
        })
        .collect()
}

fn without_observed_time(mut request: ExportLogsServiceRequest) -> ExportLogsServiceRequest {
    for rl in &mut request.resource_logs {
        for sl in &mut rl.scope_logs {
            for lr in &mut sl.log_records {
                lr.observed_time_unix_nano = 0;
            }
        }
    }
    request
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn both_writers_match_the_official_types(
        events in prop::collection::vec(event(), 1..6),
        session_attrs in prop::collection::vec((text(), value()), 0..4),
        value_length in prop::option::of(0usize..16),
        count in 0usize..20,
    ) {
        let session = Arc::new(SessionMetadata {
            conversation_id: "c".into(),
            attributes: session_attrs,
            ..SessionMetadata::default()
        });
        let options = TelemetryOptions {
            attribute_limits: AttributeLimits { value_length, count },
            ..TelemetryOptions::default()
        };
        let encoder = OtlpEncoder::new(&options, 1 << 20);
        let events = build(&events, &session);
        let protobuf = encoder.encode_as(&events, WireFormat::Protobuf);
        let json = encoder.encode_as(&events, WireFormat::Json);
        prop_assert_eq!(protobuf.len(), json.len());
        for (p, j) in protobuf.iter().zip(&json) {
            let decoded = ExportLogsServiceRequest::decode(p.protobuf().clone())
                .expect("protobuf decodes");
            prop_assert_eq!(decoded.encode_to_vec(), p.protobuf().to_vec());
            let from_json: ExportLogsServiceRequest =
                serde_json::from_slice(j.json()).expect("JSON parses as OTLP JSON");
            prop_assert_eq!(without_observed_time(from_json), without_observed_time(decoded));
        }
    }
}
