//! Logging setup: `tracing` to stderr, as text for terminals or JSON for
//! journald and log shippers.
//!
//! The filter comes from `RUST_LOG` when set, else from `[log] level`.
//! Nothing in the bridge logs a secret; values that could carry one (Odoo
//! call arguments, request bodies) are never logged at any level.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// jsonrpsee writes every response body it reads at TRACE under the target
/// `jsonrpsee-http`: Odoo's answers carry system parameter values (the
/// `influence_gen.*` secrets) and whole images. That target is capped at
/// DEBUG whatever the filter says.
const RESPONSE_BODY_CAP: &str = "jsonrpsee-http=debug";

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let filter = match RESPONSE_BODY_CAP.parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    };
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
