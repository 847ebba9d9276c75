//! What arrived as metrics, for `collect` and `demo`: tokens by type
//! (`<prefix>.token.usage`) and the API latency histogram
//! (`<prefix>.api_request.duration_ms`), merged over every export. Fixed
//! memory: a bounded number of series, saturating sums; delta points are
//! added, a cumulative point replaces its series' previous one.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use agent_otel_collector::ReceivedMetric;
use agent_otel_core::catalog;
use agent_otel_core::opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use agent_otel_core::opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, metric, number_data_point,
};

use crate::style::Style;
use crate::summary::escape_control;

/// Series kept, at most; later ones are counted, not summed.
const MAX_SERIES: usize = 1024;
/// Width of the longest histogram bar.
const BAR: u64 = 30;

/// A token counter series: its `type`, and its value.
#[derive(Debug, Clone, Default)]
struct TokenSeries {
    kind: String,
    value: u64,
}

/// A latency histogram series: bounds and bucket counts.
#[derive(Debug, Clone, Default)]
struct LatencySeries {
    bounds: Vec<f64>,
    counts: Vec<u64>,
}

/// Token and latency metrics merged over every export received.
#[derive(Debug, Clone, Default)]
pub struct MetricsSummary {
    tokens: BTreeMap<String, TokenSeries>,
    latency: BTreeMap<String, LatencySeries>,
    data_points: u64,
    /// Series beyond [`MAX_SERIES`], not summed.
    skipped: u64,
}

/// A series' identity: its attribute set, rendered.
fn series_key(attributes: &[KeyValue]) -> String {
    let mut key = String::new();
    for kv in attributes {
        let _ = write!(key, "{}={:?};", kv.key, kv.value.as_ref().map(|v| &v.value));
    }
    key
}

fn str_attr<'a>(attributes: &'a [KeyValue], name: &str) -> Option<&'a str> {
    attributes.iter().find(|kv| kv.key == name).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            any_value::Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

impl MetricsSummary {
    /// Merges the metrics of one export.
    pub fn add(&mut self, metric: &ReceivedMetric) {
        let name = metric.name();
        match &metric.metric.data {
            Some(metric::Data::Sum(sum)) if name.ends_with(".token.usage") => {
                let cumulative =
                    sum.aggregation_temporality == AggregationTemporality::Cumulative as i32;
                for point in &sum.data_points {
                    self.data_points = self.data_points.saturating_add(1);
                    let value = match point.value {
                        Some(number_data_point::Value::AsInt(v)) => u64::try_from(v).unwrap_or(0),
                        Some(number_data_point::Value::AsDouble(v)) if v > 0.0 => v as u64,
                        _ => 0,
                    };
                    let key = format!("{name}|{}", series_key(&point.attributes));
                    let kind = str_attr(&point.attributes, catalog::TOKEN_TYPE)
                        .or_else(|| {
                            str_attr(&point.attributes, catalog::OTEL_METRIC_OVERFLOW)
                                .map(|_| "(overflow)")
                        })
                        .unwrap_or("(untyped)")
                        .to_owned();
                    if self.has_room(self.tokens.contains_key(&key)) {
                        let series = self.tokens.entry(key).or_default();
                        series.kind = kind;
                        series.value = if cumulative {
                            value
                        } else {
                            series.value.saturating_add(value)
                        };
                    }
                }
            }
            Some(metric::Data::Histogram(histogram))
                if name.ends_with(".api_request.duration_ms") =>
            {
                let cumulative =
                    histogram.aggregation_temporality == AggregationTemporality::Cumulative as i32;
                for point in &histogram.data_points {
                    self.data_points = self.data_points.saturating_add(1);
                    if point.bucket_counts.len() != point.explicit_bounds.len() + 1 {
                        continue;
                    }
                    let key = format!("{name}|{}", series_key(&point.attributes));
                    if self.has_room(self.latency.contains_key(&key)) {
                        let series = self.latency.entry(key).or_default();
                        if cumulative || series.bounds != point.explicit_bounds {
                            series.bounds.clone_from(&point.explicit_bounds);
                            series.counts.clone_from(&point.bucket_counts);
                        } else {
                            for (total, n) in series.counts.iter_mut().zip(&point.bucket_counts) {
                                *total = total.saturating_add(*n);
                            }
                        }
                    }
                }
            }
            Some(metric::Data::Sum(sum)) => {
                self.data_points = self
                    .data_points
                    .saturating_add(sum.data_points.len() as u64);
            }
            Some(metric::Data::Histogram(histogram)) => {
                self.data_points = self
                    .data_points
                    .saturating_add(histogram.data_points.len() as u64);
            }
            _ => {
                self.data_points = self
                    .data_points
                    .saturating_add(metric.data_point_count() as u64);
            }
        }
    }

    /// True when a series may be updated: it exists, or there is room
    /// for a new one (else it is counted as skipped).
    fn has_room(&mut self, exists: bool) -> bool {
        if exists || self.tokens.len() + self.latency.len() < MAX_SERIES {
            return true;
        }
        self.skipped = self.skipped.saturating_add(1);
        false
    }

    /// Token totals by type.
    pub fn tokens_by_type(&self) -> BTreeMap<String, u64> {
        let mut totals: BTreeMap<String, u64> = BTreeMap::new();
        for series in self.tokens.values() {
            let total = totals.entry(series.kind.clone()).or_default();
            *total = total.saturating_add(series.value);
        }
        totals
    }

    /// The API latency histogram, all series with the most common bounds
    /// merged: `(upper bound, count)` per bucket, the last bound `None`
    /// (+Inf).
    pub fn latency_buckets(&self) -> Vec<(Option<f64>, u64)> {
        let Some(bounds) = self.latency.values().map(|s| &s.bounds).next() else {
            return Vec::new();
        };
        let mut counts = vec![0u64; bounds.len() + 1];
        for series in self.latency.values().filter(|s| &s.bounds == bounds) {
            for (total, n) in counts.iter_mut().zip(&series.counts) {
                *total = total.saturating_add(*n);
            }
        }
        counts
            .into_iter()
            .enumerate()
            .map(|(i, n)| (bounds.get(i).copied(), n))
            .collect()
    }

    /// The summary as text (received values escaped).
    pub fn render(&self, style: &Style) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{}", style.bold("Metrics received"));
        let _ = writeln!(out, "  data points {}", self.data_points);
        let tokens = self.tokens_by_type();
        if tokens.is_empty() {
            let _ = writeln!(out, "  tokens: none reported");
        } else {
            let line: Vec<String> = tokens
                .iter()
                .map(|(kind, n)| format!("{} {n}", escape_control(kind)))
                .collect();
            let _ = writeln!(out, "  tokens by type: {}", line.join("  "));
        }
        let buckets = self.latency_buckets();
        let total: u64 = buckets.iter().map(|(_, n)| n).sum();
        if total == 0 {
            let _ = writeln!(out, "  API latency histogram: no requests");
        } else {
            let _ = writeln!(out, "  API latency histogram ({total} requests):");
            let max = buckets.iter().map(|(_, n)| *n).max().unwrap_or(1).max(1);
            let mut lower = 0.0;
            for (upper, n) in buckets {
                if n > 0 {
                    let range = match upper {
                        Some(upper) => format!("{lower}–{upper} ms"),
                        None => format!("> {lower} ms"),
                    };
                    let width = usize::try_from((n * BAR).div_ceil(max)).unwrap_or(0);
                    let _ = writeln!(out, "    {range:>18} {} {n}", "█".repeat(width));
                }
                if let Some(upper) = upper {
                    lower = upper;
                }
            }
        }
        if self.skipped > 0 {
            let _ = writeln!(out, "  {} series not summed (too many)", self.skipped);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use agent_otel_collector::Transport;
    use agent_otel_core::opentelemetry_proto::tonic::common::v1::AnyValue;
    use agent_otel_core::opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric, NumberDataPoint, Sum,
    };

    use super::*;

    fn kv(key: &str, value: &str) -> KeyValue {
        KeyValue {
            key: key.to_owned(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(value.to_owned())),
            }),
            ..KeyValue::default()
        }
    }

    fn received(metric: Metric) -> ReceivedMetric {
        ReceivedMetric {
            transport: Transport::Http,
            resource_attributes: Vec::new(),
            scope_name: String::new(),
            scope_version: String::new(),
            metric,
        }
    }

    fn tokens(temporality: AggregationTemporality, kind: &str, value: i64) -> ReceivedMetric {
        received(Metric {
            name: "codex.token.usage".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![NumberDataPoint {
                    attributes: vec![kv("type", kind)],
                    value: Some(number_data_point::Value::AsInt(value)),
                    ..NumberDataPoint::default()
                }],
                aggregation_temporality: temporality as i32,
                is_monotonic: true,
            })),
            ..Metric::default()
        })
    }

    #[test]
    fn delta_points_add_up_and_cumulative_points_replace() {
        let mut summary = MetricsSummary::default();
        summary.add(&tokens(AggregationTemporality::Delta, "input", 10));
        summary.add(&tokens(AggregationTemporality::Delta, "input", 5));
        summary.add(&tokens(AggregationTemporality::Delta, "output", 2));
        assert_eq!(
            summary.tokens_by_type(),
            BTreeMap::from([("input".to_owned(), 15), ("output".to_owned(), 2)])
        );
        let mut cumulative = MetricsSummary::default();
        cumulative.add(&tokens(AggregationTemporality::Cumulative, "input", 10));
        cumulative.add(&tokens(AggregationTemporality::Cumulative, "input", 25));
        assert_eq!(cumulative.tokens_by_type()["input"], 25);
    }

    #[test]
    fn latency_buckets_merge_and_received_names_are_escaped() {
        let mut summary = MetricsSummary::default();
        for _ in 0..2 {
            summary.add(&received(Metric {
                name: "codex.api_request.duration_ms".into(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        explicit_bounds: vec![100.0, 1000.0],
                        bucket_counts: vec![1, 3, 0],
                        count: 4,
                        ..HistogramDataPoint::default()
                    }],
                    aggregation_temporality: AggregationTemporality::Delta as i32,
                })),
                ..Metric::default()
            }));
        }
        assert_eq!(
            summary.latency_buckets(),
            [(Some(100.0), 2), (Some(1000.0), 6), (None, 0)]
        );
        summary.add(&tokens(AggregationTemporality::Delta, "in\u{1b}[2Jput", 1));
        let text = summary.render(&Style::plain());
        assert!(text.contains("in\\u{1b}[2Jput 1"), "{text}");
        assert!(
            text.contains("API latency histogram (8 requests)"),
            "{text}"
        );
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn series_past_the_cap_are_counted_not_kept() {
        let mut summary = MetricsSummary::default();
        for i in 0..MAX_SERIES + 5 {
            summary.add(&tokens(AggregationTemporality::Delta, &format!("t{i}"), 1));
        }
        assert_eq!(summary.tokens_by_type().len(), MAX_SERIES);
        assert_eq!(summary.skipped, 5);
    }
}
