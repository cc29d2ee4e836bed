//! Prometheus metrics at `GET /metrics`: conventional names (a unit suffix,
//! `_total` on counters) and labels with few values (never ids). The spool's
//! gauges are set at each scrape.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Why Odoo refuses the bridge.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

type Labels<V, const N: usize> = [(&'static str, V); N];
type Latencies<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Declares every metric once: field, type, initial value, name, help, unit.
macro_rules! metrics {
    ($($field:ident: $type:ty = $init:expr, $name:literal, $help:literal $(, $unit:ident)?;)*) => {
        #[derive(Debug)]
        pub struct Metrics {
            registry: Registry,
            $(pub $field: $type,)*
        }

        impl Metrics {
            pub fn new() -> Self {
                let mut registry = Registry::with_prefix("influence_gen_bridge");
                $(
                    let $field: $type = $init;
                    let unit: Option<Unit> = None $(.or(Some(Unit::$unit)))?;
                    match unit {
                        Some(unit) => registry.register_with_unit($name, $help, unit, $field.clone()),
                        None => registry.register($name, $help, $field.clone()),
                    }
                )*
                let build_info = Family::<Labels<&'static str, 1>, Gauge>::default();
                build_info.get_or_create(&[("version", env!("CARGO_PKG_VERSION"))]).set(1);
                registry.register("build_info", "The running version (value 1)", build_info);
                let metrics = Self { registry, $($field,)* };
                for refusal in crate::odoo::Refusal::ALL {
                    let reason = ReasonLabels { reason: refusal.label() };
                    metrics.odoo_refused.get_or_create(&reason).set(0);
                }
                metrics
            }
        }
    };
}

metrics! {
    callbacks: Family<Labels<&'static str, 2>, Counter> = Family::default(),
        "callbacks", "Requests to the callback and trigger routes, by route and outcome";
    callback_duration: Latencies<Labels<&'static str, 1>> = Family::new_with_constructor(latency_histogram),
        "callback_duration", "Time from request to answer on the callback and trigger routes", Seconds;
    odoo_calls: Family<Labels<String, 2>, Counter> = Family::default(),
        "odoo_calls", "JSON-RPC calls to Odoo, by method and result";
    odoo_call_duration: Latencies<Labels<String, 1>> = Family::new_with_constructor(latency_histogram),
        "odoo_call_duration", "Duration of JSON-RPC calls to Odoo", Seconds;
    image_download_bytes: Counter = Counter::default(),
        "image_download", "Image bytes downloaded from image_url", Bytes;
    image_data_decoded_bytes: Counter = Counter::default(),
        "image_data_decoded", "Image bytes decoded from callbacks' image_data (only ever after authentication)", Bytes;
    image_download_duration: Histogram = latency_histogram(),
        "image_download_duration", "Duration of image downloads", Seconds;
    images_altered_by_odoo: Counter = Counter::default(),
        "images_altered_by_odoo", "Images Odoo stored with other bytes than sent (base.image_autoresize_max_px)";
    initiations: Family<Labels<&'static str, 1>, Counter> = Family::default(),
        "initiations", "Requests sent (or not) to N8N, by outcome: sent, failed, unknown (N8N may or may not have started it), deferred, skipped, not_found, error, and gave_up (the watchdog)";
    odoo_refused: Family<ReasonLabels, Gauge> = Family::default(),
        "odoo_refused", "1 while Odoo refuses the bridge itself for this reason (login, session, not JSON-RPC); callbacks then wait in the spool";
    spool_pending: Gauge = Gauge::default(),
        "spool_pending_entries", "Accepted callbacks not yet applied to Odoo";
    spool_dead: Gauge = Gauge::default(),
        "spool_dead_letters", "Spooled callbacks that can never apply, kept for an admin";
    spool_oldest_age: Gauge = Gauge::default(),
        "spool_oldest_entry_age", "Age of the oldest pending spool entry (0 when none)", Seconds;
    spool_bytes: Gauge = Gauge::default(),
        "spool", "Bytes on disk in the spool", Bytes;
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Counts one answer of `route` with `outcome`, after `elapsed`.
    pub fn callback_answered(&self, route: &'static str, outcome: &'static str, elapsed: Duration) {
        let labels = [("route", route), ("outcome", outcome)];
        self.callbacks.get_or_create(&labels).inc();
        self.callback_duration
            .get_or_create(&[("route", route)])
            .observe(elapsed.as_secs_f64());
    }

    pub fn initiation(&self, outcome: &'static str) {
        self.initiations
            .get_or_create(&[("outcome", outcome)])
            .inc();
    }

    pub fn odoo_call(&self, method: &str, result: &'static str, elapsed: Duration) {
        let labels = [("method", method.to_owned()), ("result", result.to_owned())];
        self.odoo_calls.get_or_create(&labels).inc();
        self.odoo_call_duration
            .get_or_create(&[("method", method.to_owned())])
            .observe(elapsed.as_secs_f64());
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_conventional_names() {
        let metrics = Metrics::new();
        metrics.callback_answered("callback", "applied", Duration::from_millis(12));
        metrics.odoo_call("search_read", "ok", Duration::from_millis(3));
        metrics.image_download_bytes.inc_by(1024);
        let text = metrics.encode();
        for name in [
            "influence_gen_bridge_callbacks_total{route=\"callback\",outcome=\"applied\"} 1",
            "influence_gen_bridge_callback_duration_seconds_bucket",
            "influence_gen_bridge_odoo_calls_total{method=\"search_read\",result=\"ok\"} 1",
            "influence_gen_bridge_odoo_call_duration_seconds_count{method=\"search_read\"} 1",
            "influence_gen_bridge_image_download_bytes_total 1024",
            "influence_gen_bridge_spool_pending_entries 0",
            "influence_gen_bridge_spool_oldest_entry_age_seconds 0",
            "influence_gen_bridge_build_info{version=",
        ] {
            assert!(text.contains(name), "{name} missing from:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
