//! Logging setup: `tracing` to stderr, as text for terminals or JSON for
//! journald and log shippers.
//!
//! The filter comes from `RUST_LOG` when set, else from `[log] level`.
//! Nothing in the bridge logs a secret; values that could carry one (Odoo
//! call arguments, request bodies) are never logged at any level.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    // Err only if a subscriber exists already (tests): keep that one.
    let _ = result;
}
