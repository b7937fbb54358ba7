//! Metrics in CloudWatch's Embedded Metric Format: each invocation writes one JSON
//! line to the function's log, which CloudWatch turns into metrics in the `Stowage` namespace
//! (no API call, nothing to flush after the invocation). Every metric is published by
//! `Function`, and a route's also by `Function` and `Route`.
//!
//! A document: `{"_aws": {"Timestamp": <ms>, "CloudWatchMetrics": [{"Namespace": "Stowage",
//! "Dimensions": [["Function"], ["Function", "Route"]], "Metrics": [{"Name", "Unit"}, …]}]},
//! "Function": …, "Route": …, "<metric>": <value>, …}`.

use std::sync::atomic::{AtomicBool, Ordering};

/// The metrics' CloudWatch namespace.
pub const NAMESPACE: &str = "Stowage";

/// A metric's unit, as CloudWatch names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Bytes,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
        }
    }
}

static COLD: AtomicBool = AtomicBool::new(true);

/// Running totals by (metric, function, route): what [`Invocation::record`] added.
type Totals = std::collections::BTreeMap<(String, String, String), (Unit, f64)>;
static TOTALS: std::sync::Mutex<Totals> = std::sync::Mutex::new(std::collections::BTreeMap::new());

/// The running totals in Prometheus' text format (version 0.0.4): each metric a counter
/// `stowage_<name>_<unit>_total` (`stowage_requests_total`, `stowage_latency_milliseconds_total`,
/// `stowage_bytes_uploaded_bytes_total`, `stowage_4xx_total`, …) with `function` and, for
/// routes, `route` labels.
pub fn prometheus() -> String {
    let totals = TOTALS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut by_metric: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for ((name, function, route), (unit, value)) in totals.iter() {
        let mut metric = format!("stowage_{}", snake(name));
        match unit {
            Unit::Count => {}
            Unit::Milliseconds => metric.push_str("_milliseconds"),
            Unit::Bytes => metric.push_str("_bytes"),
        }
        metric.push_str("_total");
        let mut labels = format!("function=\"{}\"", escape(function));
        if !route.is_empty() {
            labels.push_str(&format!(",route=\"{}\"", escape(route)));
        }
        by_metric
            .entry(metric.clone())
            .or_default()
            .push(format!("{metric}{{{labels}}} {value}"));
    }
    let mut text = String::new();
    for (metric, lines) in by_metric {
        text.push_str(&format!("# TYPE {metric} counter\n"));
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// `BytesUploaded` → `bytes_uploaded`; `4xx` stays `4xx`.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// `true` for this process's first invocation only: its cold start.
pub fn cold_start() -> bool {
    COLD.swap(false, Ordering::Relaxed)
}

/// One invocation's metrics.
#[derive(Debug)]
pub struct Invocation {
    function: String,
    route: Option<String>,
    values: Vec<(&'static str, Unit, f64)>,
}

impl Invocation {
    /// The metrics of an invocation of `function` (its binary's name).
    pub fn new(function: &str) -> Self {
        Invocation {
            function: function.to_owned(),
            route: None,
            values: Vec::new(),
        }
    }

    /// Also published by `Route` (`GET /files/{id}`).
    pub fn route(mut self, route: String) -> Self {
        self.route = Some(route);
        self
    }

    /// Adds `value` to the metric `name` (a metric added twice sums).
    pub fn add(&mut self, name: &'static str, unit: Unit, value: f64) {
        match self.values.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, _, sum)) => *sum += value,
            None => self.values.push((name, unit, value)),
        }
    }

    /// The EMF document at `timestamp_ms`, or `None` when nothing was recorded.
    pub fn document(&self, timestamp_ms: i64) -> Option<serde_json::Value> {
        if self.values.is_empty() {
            return None;
        }
        let mut dimensions = vec![serde_json::json!(["Function"])];
        let mut document = serde_json::Map::new();
        document.insert("Function".into(), self.function.clone().into());
        if let Some(route) = &self.route {
            dimensions.push(serde_json::json!(["Function", "Route"]));
            document.insert("Route".into(), route.clone().into());
        }
        let metrics: Vec<serde_json::Value> = self
            .values
            .iter()
            .map(|(name, unit, _)| serde_json::json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        for (name, _, value) in &self.values {
            document.insert((*name).into(), (*value).into());
        }
        document.insert(
            "_aws".into(),
            serde_json::json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": dimensions,
                    "Metrics": metrics,
                }]
            }),
        );
        Some(serde_json::Value::Object(document))
    }

    /// Adds the metrics to this process's running totals, which `stowage-local` serves at
    /// `GET /metrics` ([`prometheus`]).
    pub fn record(&self) {
        let mut totals = TOTALS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (name, unit, value) in &self.values {
            let key = (
                (*name).to_owned(),
                self.function.clone(),
                self.route.clone().unwrap_or_default(),
            );
            totals.entry(key).or_insert((*unit, 0.0)).1 += value;
        }
    }

    /// Writes the document to the log (stdout, one line), if anything was recorded.
    pub fn flush(self) {
        if let Some(document) = self.document(chrono::Utc::now().timestamp_millis()) {
            println!("{document}");
        }
    }
}

/// The metrics of one HTTP request to `route` of `function`: `Requests`, `4xx`, `5xx`,
/// `Latency`, and `ColdStart` on the process's first.
pub fn http_request(
    function: &str,
    route: String,
    status: u16,
    latency: std::time::Duration,
    cold: bool,
) -> Invocation {
    let mut metrics = Invocation::new(function).route(route);
    metrics.add("Requests", Unit::Count, 1.0);
    metrics.add(
        "4xx",
        Unit::Count,
        f64::from(u8::from((400..500).contains(&status))),
    );
    metrics.add("5xx", Unit::Count, f64::from(u8::from(status >= 500)));
    metrics.add(
        "Latency",
        Unit::Milliseconds,
        latency.as_secs_f64() * 1000.0,
    );
    if cold {
        metrics.add("ColdStart", Unit::Count, 1.0);
    }
    metrics
}

/// The metrics of one S3 notification handled by `function`: `UploadsCompleted` and
/// `BytesUploaded` for records it marked uploaded, `UploadsFailed` for those it marked failed
/// (a size other than the declared one), `ObjectEventsFailed` for records it could not handle
/// (retried by Lambda), and `ColdStart`.
pub fn object_events(
    function: &str,
    outcomes: &[crate::service::Outcome],
    failed: usize,
    cold: bool,
) -> Invocation {
    let mut metrics = Invocation::new(function);
    let (mut completed, mut bytes, mut refused) = (0u32, 0u64, 0u32);
    for outcome in outcomes {
        if let crate::service::Outcome::Updated(record) = outcome {
            match record.status {
                crate::model::FileStatus::Uploaded => {
                    completed += 1;
                    bytes += record.size.unwrap_or(0);
                }
                crate::model::FileStatus::Failed => refused += 1,
                crate::model::FileStatus::Pending => {}
            }
        }
    }
    metrics.add("UploadsCompleted", Unit::Count, f64::from(completed));
    metrics.add("UploadsFailed", Unit::Count, f64::from(refused));
    metrics.add("BytesUploaded", Unit::Bytes, bytes as f64);
    metrics.add("ObjectEventsFailed", Unit::Count, failed as f64);
    if cold {
        metrics.add("ColdStart", Unit::Count, 1.0);
    }
    metrics
}

/// The metrics of one thumbnail job: `ThumbnailsMade` when the image got its thumbnails,
/// `ThumbnailsFailed` when it could not be read as an image or the job failed (retried by
/// Lambda); an image over the limits gets neither.
pub fn thumbnails(
    function: &str,
    state: Option<&crate::thumbnails::ThumbnailState>,
    job_failed: bool,
    cold: bool,
) -> Invocation {
    use crate::thumbnails::ThumbnailState;
    let mut metrics = Invocation::new(function);
    let made = matches!(state, Some(ThumbnailState::Ready { .. }));
    let failed = job_failed || matches!(state, Some(ThumbnailState::Failed { .. }));
    metrics.add("ThumbnailsMade", Unit::Count, f64::from(u8::from(made)));
    metrics.add("ThumbnailsFailed", Unit::Count, f64::from(u8::from(failed)));
    if cold {
        metrics.add("ColdStart", Unit::Count, 1.0);
    }
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The document as EMF's specification requires it (the JSON schema in the CloudWatch
    /// docs, "Specification: Embedded metric format"): `_aws` with an integer `Timestamp` and
    /// 1 `CloudWatchMetrics` directive whose `Namespace` is 1–1024 characters, `Dimensions` an
    /// array of at most 30-member arrays of dimension names each present at the root as a
    /// string, `Metrics` at most 100 `{Name, Unit}` with known units and each name's value at
    /// the root a number.
    fn check_emf(document: &serde_json::Value) {
        let aws = &document["_aws"];
        assert!(
            aws["Timestamp"].as_i64().is_some_and(|t| t > 0),
            "{document}"
        );
        let directives = aws["CloudWatchMetrics"].as_array().unwrap();
        assert_eq!(directives.len(), 1);
        let directive = &directives[0];
        let namespace = directive["Namespace"].as_str().unwrap();
        assert!((1..=1024).contains(&namespace.len()));
        for set in directive["Dimensions"].as_array().unwrap() {
            let set = set.as_array().unwrap();
            assert!((1..=30).contains(&set.len()));
            for name in set {
                let name = name.as_str().unwrap();
                assert!(document[name].is_string(), "dimension {name} at the root");
            }
        }
        let metrics = directive["Metrics"].as_array().unwrap();
        assert!((1..=100).contains(&metrics.len()));
        let units = ["Count", "Milliseconds", "Bytes"];
        for metric in metrics {
            let name = metric["Name"].as_str().unwrap();
            assert!((1..=1024).contains(&name.len()));
            assert!(units.contains(&metric["Unit"].as_str().unwrap()));
            assert!(document[name].is_number(), "metric {name} at the root");
        }
    }

    #[test]
    fn an_http_request_is_one_emf_document_by_function_and_route() {
        let metrics = http_request(
            "get-file",
            "GET /files/{id}".into(),
            404,
            std::time::Duration::from_micros(12_500),
            true,
        );
        let document = metrics.document(1_796_300_000_000).unwrap();
        check_emf(&document);
        assert_eq!(document["Function"], "get-file");
        assert_eq!(document["Route"], "GET /files/{id}");
        assert_eq!(document["Requests"], 1.0);
        assert_eq!(document["4xx"], 1.0);
        assert_eq!(document["5xx"], 0.0);
        assert_eq!(document["Latency"], 12.5);
        assert_eq!(document["ColdStart"], 1.0);
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Function"], ["Function", "Route"]])
        );
        let warm = http_request(
            "get-file",
            "GET /files/{id}".into(),
            503,
            Default::default(),
            false,
        )
        .document(1)
        .unwrap();
        check_emf(&warm);
        assert_eq!(warm["5xx"], 1.0);
        assert!(warm.get("ColdStart").is_none());
    }

    #[test]
    fn metrics_sum_and_an_empty_invocation_writes_nothing() {
        let mut metrics = Invocation::new("on-object-created");
        assert!(metrics.document(1).is_none());
        metrics.add("BytesUploaded", Unit::Bytes, 5.0);
        metrics.add("BytesUploaded", Unit::Bytes, 7.0);
        metrics.add("UploadsCompleted", Unit::Count, 2.0);
        let document = metrics.document(1).unwrap();
        check_emf(&document);
        assert_eq!(document["BytesUploaded"], 12.0);
        assert!(document.get("Route").is_none());
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            serde_json::json!([["Function"]])
        );
    }

    #[test]
    fn only_the_first_invocation_is_a_cold_start() {
        // Other tests in this process may have taken it; after one call it is gone for good.
        let _ = cold_start();
        assert!(!cold_start());
    }

    #[test]
    fn an_s3_notification_counts_uploads_bytes_and_failures() {
        use crate::model::{FileId, FileRecord, FileStatus, Timestamp};
        let record = |status, size| {
            let mut r = FileRecord::fixture("acme", FileId::generate(), Timestamp::from_millis(0));
            r.status = status;
            r.size = size;
            crate::service::Outcome::Updated(Box::new(r))
        };
        let outcomes = [
            record(FileStatus::Uploaded, Some(5)),
            record(FileStatus::Uploaded, Some(7)),
            record(FileStatus::Failed, Some(3)),
            crate::service::Outcome::Unchanged,
            crate::service::Outcome::OrphanDeleted,
        ];
        let document = object_events("on-object-created", &outcomes, 1, false)
            .document(1)
            .unwrap();
        check_emf(&document);
        assert_eq!(document["UploadsCompleted"], 2.0);
        assert_eq!(document["BytesUploaded"], 12.0);
        assert_eq!(document["UploadsFailed"], 1.0);
        assert_eq!(document["ObjectEventsFailed"], 1.0);
        assert!(document.get("ColdStart").is_none());
    }

    #[test]
    fn a_thumbnail_job_counts_as_made_or_failed() {
        use crate::thumbnails::ThumbnailState;
        let ready: ThumbnailState = serde_json::from_value(
            serde_json::json!({"state": "ready", "format": "png", "sizes": {"256": [256, 128]}}),
        )
        .unwrap();
        let unreadable = ThumbnailState::Failed {
            reason: "not a png".into(),
        };
        let large = ThumbnailState::None {
            reason: "over the limits".into(),
        };
        for (state, job_failed, made, failed) in [
            (Some(&ready), false, 1.0, 0.0),
            (Some(&unreadable), false, 0.0, 1.0),
            (Some(&large), false, 0.0, 0.0),
            (None, true, 0.0, 1.0),
        ] {
            let document = thumbnails("make-thumbnails", state, job_failed, false)
                .document(1)
                .unwrap();
            check_emf(&document);
            assert_eq!(document["ThumbnailsMade"], made, "{state:?}");
            assert_eq!(document["ThumbnailsFailed"], failed, "{state:?}");
        }
    }

    #[test]
    fn recorded_metrics_read_as_prometheus_counters() {
        let route = "GET /files/{id}".to_owned();
        http_request(
            "prom-test",
            route.clone(),
            200,
            std::time::Duration::from_millis(3),
            false,
        )
        .record();
        http_request(
            "prom-test",
            route,
            404,
            std::time::Duration::from_millis(5),
            false,
        )
        .record();
        let mut upload = Invocation::new("prom-test");
        upload.add("BytesUploaded", Unit::Bytes, 42.0);
        upload.record();
        let text = prometheus();
        let labels = "function=\"prom-test\",route=\"GET /files/{id}\"";
        for line in [
            "# TYPE stowage_requests_total counter".to_owned(),
            format!("stowage_requests_total{{{labels}}} 2"),
            format!("stowage_4xx_total{{{labels}}} 1"),
            format!("stowage_5xx_total{{{labels}}} 0"),
            format!("stowage_latency_milliseconds_total{{{labels}}} 8"),
            "stowage_bytes_uploaded_bytes_total{function=\"prom-test\"} 42".to_owned(),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
