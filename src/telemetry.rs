//! Logging setup: `tracing` to stderr, as text for terminals or JSON for
//! journald and log shippers.
//!
//! Text is coloured only when stderr is a terminal and `NO_COLOR` is unset
//! or empty (<https://no-color.org>): logs redirected to a file or read by a
//! supervisor without a TTY carry no ANSI escape codes.
//!
//! The filter comes from `RUST_LOG` when set, else from `[log] level`, and
//! can be changed at run time ([`set_level`], on SIGHUP). JSON lines carry
//! the fields of every enclosing span (`spans`), so each line about a request
//! has its `request_id`, and each line about a callback its
//! `ai_generation_request_id`. Nothing in the bridge logs a secret; values
//! that could carry one (Odoo call arguments, request bodies) are never
//! logged at any level.

use std::io::IsTerminal;
use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Registry, reload};

use crate::config::LogFormat;

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// jsonrpsee writes every response body it reads at TRACE under the target
/// `jsonrpsee-http`: Odoo's answers carry system parameter values (the
/// `influence_gen.*` secrets) and whole images. That target is capped at
/// DEBUG whatever the filter says.
const RESPONSE_BODY_CAP: &str = "jsonrpsee-http=debug";

fn cap_response_bodies(filter: EnvFilter) -> EnvFilter {
    match RESPONSE_BODY_CAP.parse() {
        Ok(cap) => filter.add_directive(cap),
        Err(_) => filter,
    }
}

/// Whether text logs may be coloured: on a terminal, unless `NO_COLOR` asks
/// otherwise.
fn colour() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(level: &str, format: LogFormat) {
    let from_env = std::env::var_os("RUST_LOG").is_some();
    let filter = if from_env {
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level))
    } else {
        EnvFilter::new(level)
    };
    let (filter, handle) = reload::Layer::new(cap_response_bodies(filter));
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(colour())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_ansi(false)
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
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
    handle
        .reload(cap_response_bodies(filter))
        .map_err(|e| e.to_string())
}
