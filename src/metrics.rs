//! Prometheus metrics (the `prometheus-client` crate), exposed at
//! `GET /metrics` in the text exposition format.
//!
//! One [`Metrics`] per daemon, shared as `Arc<Metrics>` by the parts that
//! count. Names follow Prometheus conventions: a unit suffix (`_seconds`,
//! `_bytes`), `_total` on counters (added by the encoder), and labels with
//! few values (routes, outcomes, Odoo method names, error kinds — never ids).
//! Gauges of the spool are set from its state at each scrape.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

/// Labels of a callback answer.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallbackLabels {
    pub route: &'static str,
    pub outcome: &'static str,
}

/// Labels of an HTTP route.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub route: &'static str,
}

/// Labels of an Odoo call.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OdooCallLabels {
    pub method: String,
    /// `ok`, or the error's kind (`timeout`, `access_error`, …).
    pub result: &'static str,
}

/// Labels of an Odoo method.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OdooMethodLabels {
    pub method: String,
}

/// Labels of an outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// Labels of a reason (why Odoo refuses the bridge).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

/// Labels of the build.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// Every metric of the daemon.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub callbacks: Family<CallbackLabels, Counter>,
    pub callback_duration: Family<RouteLabels, Histogram>,
    pub odoo_calls: Family<OdooCallLabels, Counter>,
    pub odoo_call_duration: Family<OdooMethodLabels, Histogram>,
    pub image_download_bytes: Counter,
    pub image_data_decoded_bytes: Counter,
    pub image_download_duration: Histogram,
    pub images_altered_by_odoo: Counter,
    pub initiations: Family<OutcomeLabels, Counter>,
    pub odoo_refused: Family<ReasonLabels, Gauge>,
    pub spool_pending: Gauge,
    pub spool_dead: Gauge,
    pub spool_oldest_age: Gauge,
    pub spool_bytes: Gauge,
}

fn latency_histogram() -> Histogram {
    // 1 ms … ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// All metrics, registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("influence_gen_bridge");
        let callbacks = Family::<CallbackLabels, Counter>::default();
        registry.register(
            "callbacks",
            "Requests to the callback and trigger routes, by route and outcome",
            callbacks.clone(),
        );
        let callback_duration = Family::<RouteLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "callback_duration",
            "Time from request to answer on the callback and trigger routes",
            Unit::Seconds,
            callback_duration.clone(),
        );
        let odoo_calls = Family::<OdooCallLabels, Counter>::default();
        registry.register(
            "odoo_calls",
            "JSON-RPC calls to Odoo, by method and result",
            odoo_calls.clone(),
        );
        let odoo_call_duration = Family::<OdooMethodLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register_with_unit(
            "odoo_call_duration",
            "Duration of JSON-RPC calls to Odoo",
            Unit::Seconds,
            odoo_call_duration.clone(),
        );
        let image_download_bytes = Counter::default();
        registry.register_with_unit(
            "image_download",
            "Image bytes downloaded from image_url",
            Unit::Bytes,
            image_download_bytes.clone(),
        );
        let image_data_decoded_bytes = Counter::default();
        registry.register_with_unit(
            "image_data_decoded",
            "Image bytes decoded from callbacks' image_data (only ever after authentication)",
            Unit::Bytes,
            image_data_decoded_bytes.clone(),
        );
        let image_download_duration = latency_histogram();
        registry.register_with_unit(
            "image_download_duration",
            "Duration of image downloads",
            Unit::Seconds,
            image_download_duration.clone(),
        );
        let images_altered_by_odoo = Counter::default();
        registry.register(
            "images_altered_by_odoo",
            "Images Odoo stored with other bytes than sent (base.image_autoresize_max_px)",
            images_altered_by_odoo.clone(),
        );
        let initiations = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "initiations",
            "Requests sent (or not) to N8N, by outcome: sent, failed, unknown (N8N may or may not have started it), deferred, skipped, not_found, error, and gave_up (the watchdog)",
            initiations.clone(),
        );
        let odoo_refused = Family::<ReasonLabels, Gauge>::default();
        for refusal in crate::odoo::Refusal::ALL {
            odoo_refused
                .get_or_create(&ReasonLabels {
                    reason: refusal.label(),
                })
                .set(0);
        }
        registry.register(
            "odoo_refused",
            "1 while Odoo refuses the bridge itself for this reason (login, session, not JSON-RPC); callbacks then wait in the spool",
            odoo_refused.clone(),
        );
        let spool_pending = Gauge::default();
        registry.register(
            "spool_pending_entries",
            "Accepted callbacks not yet applied to Odoo",
            spool_pending.clone(),
        );
        let spool_dead = Gauge::default();
        registry.register(
            "spool_dead_letters",
            "Spooled callbacks that can never apply, kept for an admin",
            spool_dead.clone(),
        );
        let spool_oldest_age = Gauge::default();
        registry.register_with_unit(
            "spool_oldest_entry_age",
            "Age of the oldest pending spool entry (0 when none)",
            Unit::Seconds,
            spool_oldest_age.clone(),
        );
        let spool_bytes = Gauge::default();
        registry.register_with_unit(
            "spool",
            "Bytes on disk in the spool",
            Unit::Bytes,
            spool_bytes.clone(),
        );
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The running version (value 1)", build_info);
        Self {
            registry,
            callbacks,
            callback_duration,
            odoo_calls,
            odoo_call_duration,
            image_download_bytes,
            image_data_decoded_bytes,
            image_download_duration,
            images_altered_by_odoo,
            initiations,
            odoo_refused,
            spool_pending,
            spool_dead,
            spool_oldest_age,
            spool_bytes,
        }
    }

    /// Counts one answer of `route` with `outcome`, after `elapsed`.
    pub fn callback_answered(&self, route: &'static str, outcome: &'static str, elapsed: Duration) {
        self.callbacks
            .get_or_create(&CallbackLabels { route, outcome })
            .inc();
        self.callback_duration
            .get_or_create(&RouteLabels { route })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one initiation (or watchdog verdict) ending in `outcome`.
    pub fn initiation(&self, outcome: &'static str) {
        self.initiations
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }

    /// Counts one Odoo call.
    pub fn odoo_call(&self, method: &str, result: &'static str, elapsed: Duration) {
        self.odoo_calls
            .get_or_create(&OdooCallLabels {
                method: method.to_owned(),
                result,
            })
            .inc();
        self.odoo_call_duration
            .get_or_create(&OdooMethodLabels {
                method: method.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// The text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The `Content-Type` of the text exposition format.
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
