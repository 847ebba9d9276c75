//! Collection intervals: delta intervals follow each other with no gap and
//! no overlap (each starts where the previous one ended, sent or not);
//! cumulative points all start when the aggregation started.

use std::time::SystemTime;

use super::Temporality;
use super::aggregation::{Aggregator, Series};
use super::instruments::Instrument;

/// The metrics of one export.
#[derive(Debug, Clone, PartialEq)]
pub struct Collection {
    /// True for delta points, false for cumulative ones.
    pub delta: bool,
    /// Start of the points' interval.
    pub start: SystemTime,
    /// End of the interval: when it was collected.
    pub time: SystemTime,
    /// Every instrument with data, and its series.
    pub metrics: Vec<(&'static Instrument, Vec<Series>)>,
}

impl Collection {
    /// Number of data points (series) in the collection.
    pub fn points(&self) -> usize {
        self.metrics.iter().map(|(_, series)| series.len()).sum()
    }
}

/// Where the current interval starts.
#[derive(Debug)]
pub(crate) struct IntervalClock {
    /// When aggregation started: the start of every cumulative point.
    started: SystemTime,
    /// Where the current delta interval starts: the previous collection.
    interval_start: SystemTime,
}

impl IntervalClock {
    pub(crate) fn new(start: SystemTime) -> Self {
        Self {
            started: start,
            interval_start: start,
        }
    }

    /// Collects `aggregator` at `now` (never before the previous
    /// collection, even if the wall clock stepped back); `None` when there
    /// is nothing to send.
    pub(crate) fn collect(
        &mut self,
        aggregator: &mut Aggregator,
        temporality: Temporality,
        now: SystemTime,
    ) -> Option<Collection> {
        let now = now.max(self.interval_start);
        let start = std::mem::replace(&mut self.interval_start, now);
        let (delta, start, metrics) = if temporality.is_delta() {
            (true, start, aggregator.take())
        } else {
            (false, self.started, aggregator.snapshot())
        };
        (!metrics.is_empty()).then_some(Collection {
            delta,
            start,
            time: now,
            metrics,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::metrics::aggregation::{Measurement, MetricValue};
    use crate::metrics::instruments::InstrumentId;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 + seconds)
    }

    fn add(aggregator: &mut Aggregator) {
        aggregator.record(
            InstrumentId::UserPrompt,
            &[("model", MetricValue::Str("m"))],
            Measurement::Add(1),
        );
    }

    #[test]
    fn delta_intervals_chain_and_empty_ones_send_nothing() {
        let mut aggregator = Aggregator::new(10);
        let mut clock = IntervalClock::new(at(0));
        add(&mut aggregator);
        let first = clock
            .collect(&mut aggregator, Temporality::Delta, at(10))
            .expect("data");
        assert_eq!(
            (first.start, first.time, first.delta),
            (at(0), at(10), true)
        );
        assert!(
            clock
                .collect(&mut aggregator, Temporality::Delta, at(20))
                .is_none()
        );
        add(&mut aggregator);
        let third = clock
            .collect(&mut aggregator, Temporality::LowMemory, at(30))
            .expect("data");
        assert_eq!((third.start, third.time), (at(20), at(30)));
        // A clock stepping back never makes an interval end before it starts.
        add(&mut aggregator);
        let fourth = clock
            .collect(&mut aggregator, Temporality::Delta, at(25))
            .expect("data");
        assert_eq!((fourth.start, fourth.time), (at(30), at(30)));
    }

    #[test]
    fn cumulative_points_start_at_the_start_and_keep_counting() {
        let mut aggregator = Aggregator::new(10);
        let mut clock = IntervalClock::new(at(0));
        add(&mut aggregator);
        let first = clock
            .collect(&mut aggregator, Temporality::Cumulative, at(10))
            .expect("data");
        let second = clock
            .collect(&mut aggregator, Temporality::Cumulative, at(20))
            .expect("unchanged data is sent again");
        assert_eq!(
            (second.start, second.time, second.delta),
            (at(0), at(20), false)
        );
        assert_eq!(first.metrics, second.metrics);
    }
}
