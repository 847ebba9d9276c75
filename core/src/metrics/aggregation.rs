//! Aggregation of measurements per instrument and attribute set: sums for
//! counters, explicit-bucket histograms (sum, count, min, max), with a
//! cardinality limit per instrument past which measurements go to one
//! `otel.metric.overflow=true` series.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};

use super::instruments::{ALL, Instrument, InstrumentId, InstrumentKind};

/// A metric attribute value, borrowed from the event being measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum MetricValue<'a> {
    /// A string.
    Str(&'a str),
    /// An integer (`http.response.status_code`).
    Int(i64),
    /// A boolean (`otel.metric.overflow`).
    Bool(bool),
}

/// A metric attribute value as kept in a series.
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedMetricValue {
    /// A string.
    Str(Box<str>),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
}

impl OwnedMetricValue {
    fn matches(&self, value: &MetricValue<'_>) -> bool {
        match (self, value) {
            (OwnedMetricValue::Str(a), MetricValue::Str(b)) => **a == **b,
            (OwnedMetricValue::Int(a), MetricValue::Int(b)) => a == b,
            (OwnedMetricValue::Bool(a), MetricValue::Bool(b)) => a == b,
            _ => false,
        }
    }
}

impl From<MetricValue<'_>> for OwnedMetricValue {
    fn from(value: MetricValue<'_>) -> Self {
        match value {
            MetricValue::Str(s) => OwnedMetricValue::Str(s.into()),
            MetricValue::Int(i) => OwnedMetricValue::Int(i),
            MetricValue::Bool(b) => OwnedMetricValue::Bool(b),
        }
    }
}

/// An attribute set, borrowed: keys are catalog constants, in the order
/// the deriving code always writes them.
pub(crate) type Attributes<'a> = [(&'static str, MetricValue<'a>)];

/// An attribute set as kept in a series.
pub type OwnedAttributes = Vec<(&'static str, OwnedMetricValue)>;

/// The aggregated value of one series.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// A counter's sum.
    Sum(u64),
    /// A histogram.
    Histogram(HistogramPoint),
}

/// An explicit-bucket histogram's state.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramPoint {
    /// Count per bucket: `bounds.len() + 1` buckets, bucket `i` holding
    /// values in `(bounds[i-1], bounds[i]]`.
    pub bucket_counts: Vec<u64>,
    /// Values recorded.
    pub count: u64,
    /// Their sum.
    pub sum: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl HistogramPoint {
    fn new(buckets: usize) -> Self {
        Self {
            bucket_counts: vec![0; buckets],
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
        }
    }

    fn record(&mut self, bounds: &[f64], value: f64) {
        let bucket = bounds.partition_point(|bound| *bound < value);
        if let Some(slot) = self.bucket_counts.get_mut(bucket) {
            *slot += 1;
        }
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
    }
}

/// One series: an attribute set and its aggregate.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The attribute set.
    pub attributes: OwnedAttributes,
    /// Its value.
    pub aggregate: Aggregate,
}

impl Series {
    fn new(attributes: OwnedAttributes, kind: InstrumentKind) -> Self {
        let aggregate = match kind {
            InstrumentKind::Counter => Aggregate::Sum(0),
            InstrumentKind::Histogram(bounds) => {
                Aggregate::Histogram(HistogramPoint::new(bounds.len() + 1))
            }
        };
        Self {
            attributes,
            aggregate,
        }
    }

    fn record(&mut self, kind: InstrumentKind, value: Measurement) {
        match (&mut self.aggregate, value) {
            (Aggregate::Sum(sum), Measurement::Add(n)) => *sum = sum.saturating_add(n),
            (Aggregate::Histogram(point), Measurement::Record(v)) => {
                if let InstrumentKind::Histogram(bounds) = kind {
                    point.record(bounds, v);
                }
            }
            // The deriving code pairs each instrument with its own kind.
            _ => {}
        }
    }
}

/// One measurement: an increment of a counter or a histogram value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Measurement {
    /// Add to a counter.
    Add(u64),
    /// Record in a histogram.
    Record(f64),
}

/// The series of one instrument.
#[derive(Debug)]
struct InstrumentState {
    instrument: &'static Instrument,
    series: Vec<Series>,
    /// Attribute-set hash -> positions in `series` with that hash.
    index: HashMap<u64, Vec<usize>>,
    overflow: Option<Series>,
}

impl InstrumentState {
    fn new(instrument: &'static Instrument) -> Self {
        Self {
            instrument,
            series: Vec::new(),
            index: HashMap::new(),
            overflow: None,
        }
    }
}

/// Every instrument's series since the last [`Aggregator::take`] (delta)
/// or since start (cumulative).
#[derive(Debug)]
pub(crate) struct Aggregator {
    instruments: Vec<InstrumentState>,
    cardinality_limit: usize,
    hasher: RandomState,
    /// Measurements recorded in an overflow series since the last read.
    overflowed: u64,
}

impl Aggregator {
    /// An aggregator keeping at most `cardinality_limit` attribute sets per
    /// instrument (plus the overflow series).
    pub(crate) fn new(cardinality_limit: usize) -> Self {
        Self {
            instruments: ALL.iter().map(InstrumentState::new).collect(),
            cardinality_limit: cardinality_limit.max(1),
            hasher: RandomState::new(),
            overflowed: 0,
        }
    }

    /// Records `value` for `attributes` on instrument `id`.
    pub(crate) fn record(
        &mut self,
        id: InstrumentId,
        attributes: &Attributes<'_>,
        value: Measurement,
    ) {
        let hash = {
            let mut hasher = self.hasher.build_hasher();
            for (key, value) in attributes {
                key.hash(&mut hasher);
                match value {
                    MetricValue::Str(s) => s.hash(&mut hasher),
                    MetricValue::Int(i) => i.hash(&mut hasher),
                    MetricValue::Bool(b) => b.hash(&mut hasher),
                }
            }
            hasher.finish()
        };
        let limit = self.cardinality_limit;
        let state = &mut self.instruments[id as usize];
        let kind = state.instrument.kind;
        let found = state.index.get(&hash).and_then(|positions| {
            positions
                .iter()
                .copied()
                .find(|&at| same_attributes(&state.series[at].attributes, attributes))
        });
        let series = match found {
            Some(at) => &mut state.series[at],
            None if state.series.len() < limit => {
                let owned = attributes
                    .iter()
                    .map(|(key, value)| (*key, OwnedMetricValue::from(*value)))
                    .collect();
                state
                    .index
                    .entry(hash)
                    .or_default()
                    .push(state.series.len());
                state.series.push(Series::new(owned, kind));
                let last = state.series.len() - 1;
                &mut state.series[last]
            }
            None => {
                self.overflowed += 1;
                state.overflow.get_or_insert_with(|| {
                    Series::new(
                        vec![(
                            crate::catalog::OTEL_METRIC_OVERFLOW,
                            OwnedMetricValue::Bool(true),
                        )],
                        kind,
                    )
                })
            }
        };
        series.record(kind, value);
    }

    /// Measurements that went to an overflow series since the last call.
    pub(crate) fn take_overflowed(&mut self) -> u64 {
        std::mem::take(&mut self.overflowed)
    }

    /// Every instrument with at least one series, and its series (the
    /// overflow series last); the aggregator starts afresh (delta).
    pub(crate) fn take(&mut self) -> Vec<(&'static Instrument, Vec<Series>)> {
        self.instruments
            .iter_mut()
            .filter_map(|state| {
                state.index.clear();
                let mut series = std::mem::take(&mut state.series);
                series.extend(state.overflow.take());
                (!series.is_empty()).then_some((state.instrument, series))
            })
            .collect()
    }

    /// Every instrument with at least one series, copied (cumulative: the
    /// aggregator keeps counting).
    pub(crate) fn snapshot(&self) -> Vec<(&'static Instrument, Vec<Series>)> {
        self.instruments
            .iter()
            .filter_map(|state| {
                let series: Vec<Series> = state
                    .series
                    .iter()
                    .chain(state.overflow.iter())
                    .cloned()
                    .collect();
                (!series.is_empty()).then_some((state.instrument, series))
            })
            .collect()
    }
}

fn same_attributes(owned: &OwnedAttributes, borrowed: &Attributes<'_>) -> bool {
    owned.len() == borrowed.len()
        && owned
            .iter()
            .zip(borrowed)
            .all(|((k1, v1), (k2, v2))| k1 == k2 && v1.matches(v2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_upper_inclusive() {
        let bounds = [1.0, 10.0];
        let mut point = HistogramPoint::new(3);
        for value in [0.5, 1.0, 1.5, 10.0, 11.0] {
            point.record(&bounds, value);
        }
        assert_eq!(point.bucket_counts, vec![2, 2, 1]);
        assert_eq!(
            (point.count, point.sum, point.min, point.max),
            (5, 24.0, 0.5, 11.0)
        );
    }

    #[test]
    fn sets_past_the_limit_go_to_one_overflow_series() {
        let mut aggregator = Aggregator::new(2);
        for tool in ["a", "b", "c", "d", "a"] {
            aggregator.record(
                InstrumentId::ToolCall,
                &[("tool_name", MetricValue::Str(tool))],
                Measurement::Add(1),
            );
        }
        assert_eq!(aggregator.take_overflowed(), 2);
        let taken = aggregator.take();
        let (_, series) = &taken[0];
        let sums: Vec<_> = series
            .iter()
            .map(|s| (s.attributes.clone(), s.aggregate.clone()))
            .collect();
        assert_eq!(
            sums,
            vec![
                (
                    vec![("tool_name", OwnedMetricValue::Str("a".into()))],
                    Aggregate::Sum(2)
                ),
                (
                    vec![("tool_name", OwnedMetricValue::Str("b".into()))],
                    Aggregate::Sum(1)
                ),
                (
                    vec![(
                        crate::catalog::OTEL_METRIC_OVERFLOW,
                        OwnedMetricValue::Bool(true)
                    )],
                    Aggregate::Sum(2)
                ),
            ]
        );
        assert!(aggregator.take().is_empty(), "take starts afresh");
    }
}
