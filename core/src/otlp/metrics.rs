//! OTLP metrics: a [`Collection`] to `ExportMetricsServiceRequest`s under
//! the pipeline's Resource and Scope, split by data points so no request
//! exceeds the size limit. Exports are few (one per interval), so they are
//! built as prost messages and encoded by prost (and serde for OTLP JSON).

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, metric, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::WireFormat;
use super::batch::{Batch, Signal};
use crate::metrics::aggregation::{Aggregate, OwnedMetricValue, Series};
use crate::metrics::instruments::{Instrument, InstrumentKind};
use crate::metrics::temporality::Collection;
use crate::time::unix_nanos;

/// Encodes collected metrics into batches for one exporter.
#[derive(Debug, Clone)]
pub struct MetricsEncoder {
    resource: Resource,
    scope: InstrumentationScope,
    prefix: String,
    max_request_bytes: usize,
}

impl MetricsEncoder {
    /// An encoder whose requests carry `resource` and `scope`, name the
    /// catalog's instruments under `prefix`, and stay under
    /// `max_request_bytes`.
    pub fn new(
        resource: Resource,
        scope: InstrumentationScope,
        prefix: &str,
        max_request_bytes: usize,
    ) -> Self {
        Self {
            resource,
            scope,
            prefix: prefix.to_owned(),
            max_request_bytes,
        }
    }

    /// The collection as one or more batches in `format`; a batch's
    /// records are its data points. An instrument whose points do not fit
    /// in one request continues in the next.
    pub fn encode(&self, collection: &Collection, format: WireFormat) -> Vec<Batch> {
        let mut batches = Vec::new();
        let mut metrics: Vec<Metric> = Vec::new();
        let mut points = 0usize;
        let mut size = 0usize;
        for (instrument, series) in &collection.metrics {
            let mut current = self.metric(instrument, collection);
            // The metric's own fields are paid once per request it is in.
            let header = current.encoded_len() + 8;
            size += header;
            for one in series {
                let point = data_point(instrument, one, collection);
                let point_size = point.encoded_len() + 8;
                if points > 0 && size + point_size > self.max_request_bytes {
                    if has_points(&current) {
                        let next = self.metric(instrument, collection);
                        metrics.push(std::mem::replace(&mut current, next));
                    }
                    batches.push(self.batch(std::mem::take(&mut metrics), points, format));
                    points = 0;
                    size = header;
                }
                point.push_to(&mut current);
                points += 1;
                size += point_size;
            }
            metrics.push(current);
        }
        if points > 0 {
            batches.push(self.batch(metrics, points, format));
        }
        batches
    }

    /// An instrument's metric with no data points yet.
    fn metric(&self, instrument: &Instrument, collection: &Collection) -> Metric {
        let temporality = if collection.delta {
            AggregationTemporality::Delta
        } else {
            AggregationTemporality::Cumulative
        } as i32;
        let data = match instrument.kind {
            InstrumentKind::Counter => metric::Data::Sum(Sum {
                data_points: Vec::new(),
                aggregation_temporality: temporality,
                is_monotonic: true,
            }),
            InstrumentKind::Histogram(_) => metric::Data::Histogram(Histogram {
                data_points: Vec::new(),
                aggregation_temporality: temporality,
            }),
        };
        Metric {
            name: instrument.full_name(&self.prefix),
            description: instrument.description.to_owned(),
            unit: instrument.unit.to_owned(),
            data: Some(data),
            ..Metric::default()
        }
    }

    fn batch(&self, metrics: Vec<Metric>, points: usize, format: WireFormat) -> Batch {
        let request = ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(self.resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(self.scope.clone()),
                    metrics,
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        };
        // Serializing plain prost structs into a Vec cannot fail.
        let json =
            (format == WireFormat::Json).then(|| serde_json::to_vec(&request).unwrap_or_default());
        Batch::from_encoded_parts(Signal::Metrics, request.encode_to_vec(), json, points)
    }
}

fn has_points(metric: &Metric) -> bool {
    match &metric.data {
        Some(metric::Data::Sum(sum)) => !sum.data_points.is_empty(),
        Some(metric::Data::Histogram(histogram)) => !histogram.data_points.is_empty(),
        _ => false,
    }
}

/// One series as the data point of its instrument's kind, built once.
enum DataPoint {
    Number(NumberDataPoint),
    Histogram(HistogramDataPoint),
}

impl DataPoint {
    fn encoded_len(&self) -> usize {
        match self {
            DataPoint::Number(point) => point.encoded_len(),
            DataPoint::Histogram(point) => point.encoded_len(),
        }
    }

    /// Appends the point to `metric` (made by [`MetricsEncoder::metric`]
    /// for the same instrument, so the kinds match).
    fn push_to(self, metric: &mut Metric) {
        match (&mut metric.data, self) {
            (Some(metric::Data::Sum(sum)), DataPoint::Number(point)) => sum.data_points.push(point),
            (Some(metric::Data::Histogram(histogram)), DataPoint::Histogram(point)) => {
                histogram.data_points.push(point);
            }
            _ => {}
        }
    }
}

fn data_point(instrument: &Instrument, series: &Series, collection: &Collection) -> DataPoint {
    let attributes = attributes(series);
    let start_time_unix_nano = unix_nanos(collection.start);
    let time_unix_nano = unix_nanos(collection.time);
    match &series.aggregate {
        Aggregate::Histogram(point) => {
            // A histogram series belongs to a histogram instrument.
            let bounds = match instrument.kind {
                InstrumentKind::Histogram(bounds) => bounds,
                InstrumentKind::Counter => &[],
            };
            DataPoint::Histogram(HistogramDataPoint {
                attributes,
                start_time_unix_nano,
                time_unix_nano,
                count: point.count,
                sum: Some(point.sum),
                bucket_counts: point.bucket_counts.clone(),
                explicit_bounds: bounds.to_vec(),
                min: (point.count > 0).then_some(point.min),
                max: (point.count > 0).then_some(point.max),
                ..HistogramDataPoint::default()
            })
        }
        Aggregate::Sum(value) => DataPoint::Number(NumberDataPoint {
            attributes,
            start_time_unix_nano,
            time_unix_nano,
            value: Some(number_data_point::Value::AsInt(
                i64::try_from(*value).unwrap_or(i64::MAX),
            )),
            ..NumberDataPoint::default()
        }),
    }
}

fn attributes(series: &Series) -> Vec<KeyValue> {
    series
        .attributes
        .iter()
        .map(|(key, value)| KeyValue {
            key: (*key).to_owned(),
            value: Some(AnyValue {
                value: Some(match value {
                    OwnedMetricValue::Str(s) => any_value::Value::StringValue(s.to_string()),
                    OwnedMetricValue::Int(i) => any_value::Value::IntValue(*i),
                    OwnedMetricValue::Bool(b) => any_value::Value::BoolValue(*b),
                }),
            }),
            ..KeyValue::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::metrics::aggregation::{Aggregate, OwnedMetricValue, Series};
    use crate::metrics::instruments::{TOOL_CALL, TOOL_CALL_DURATION};

    #[test]
    fn large_collections_are_split_by_data_points_under_the_limit() {
        let series = |aggregate: &Aggregate| -> Vec<Series> {
            (0..300)
                .map(|i| Series {
                    attributes: vec![(
                        "tool_name",
                        OwnedMetricValue::Str(format!("tool-{i:04}").into()),
                    )],
                    aggregate: aggregate.clone(),
                })
                .collect()
        };
        let histogram = Aggregate::Histogram(crate::metrics::HistogramPoint {
            bucket_counts: vec![1; 21],
            count: 21,
            sum: 1.0,
            min: 1.0,
            max: 1.0,
        });
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1);
        let collection = Collection {
            delta: true,
            start,
            time: start + Duration::from_secs(60),
            metrics: vec![
                (&TOOL_CALL, series(&Aggregate::Sum(2))),
                (&TOOL_CALL_DURATION, series(&histogram)),
            ],
        };
        let limit = 16 * 1024;
        let encoder = MetricsEncoder::new(
            Resource::default(),
            InstrumentationScope::default(),
            "codex",
            limit,
        );
        let batches = encoder.encode(&collection, WireFormat::Protobuf);
        assert!(batches.len() > 2, "{} batches", batches.len());
        let mut points = 0;
        for batch in &batches {
            assert!(
                batch.protobuf().len() <= limit,
                "{}",
                batch.protobuf().len()
            );
            let request =
                ExportMetricsServiceRequest::decode(batch.protobuf().clone()).expect("decodes");
            let in_batch: usize = request
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics)
                .map(|m| match &m.data {
                    Some(metric::Data::Sum(s)) => s.data_points.len(),
                    Some(metric::Data::Histogram(h)) => h.data_points.len(),
                    _ => 0,
                })
                .sum();
            assert_eq!(in_batch, batch.len());
            points += in_batch;
        }
        assert_eq!(points, 600, "every point once");
    }
}
