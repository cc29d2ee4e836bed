//! Logging: `tracing` to stderr, as text (coloured only on a terminal without
//! `NO_COLOR`) or JSON lines with the fields of every enclosing span (so each
//! line has its `request_id`, `ai_generation_request_id`). The filter is
//! `RUST_LOG`, else `[log] level` (changed on reload). Odoo call arguments
//! and request bodies, which can carry secrets, are never logged.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::Layer;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::LogFormat;

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(level: &str, format: LogFormat) {
    let from_env = std::env::var_os("RUST_LOG").is_some();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let (filter, handle) = reload::Layer::new(filter);
    // <https://no-color.org>
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    let colour = !no_color && std::io::stderr().is_terminal();
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let layer = match format {
        LogFormat::Text => layer.with_ansi(colour).boxed(),
        LogFormat::Json => (layer.json().with_ansi(false).flatten_event(true))
            .with_current_span(false)
            .with_span_list(true)
            .boxed(),
    };
    let result = tracing_subscriber::registry()
        .with(filter)
        .with(layer)
        .try_init();
    // Err only if a subscriber exists already (tests): keep that one.
    if result.is_ok() && !from_env {
        let _ = FILTER.set(handle);
    }
}

/// Replaces the log filter (on reload). Does nothing when `RUST_LOG` set it:
/// the environment wins, as at start.
pub fn set_level(level: &str) -> Result<(), String> {
    let Some(handle) = FILTER.get() else {
        return Ok(());
    };
    let filter = EnvFilter::builder()
        .parse(level)
        .map_err(|e| e.to_string())?;
    handle.reload(filter).map_err(|e| e.to_string())
}
