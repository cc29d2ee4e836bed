//! The security sections as written: `[auth]`, `[limits]`, `[tls]`.

use serde::Deserialize;

/// `[auth]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAuth {
    pub mode: Option<String>,
    pub signing_secrets: Option<Vec<String>>,
    pub signing_secrets_file: Option<String>,
    pub timestamp_tolerance: Option<String>,
}

pub const DEFAULT_AUTH_MODE: &str = "token";
/// The Standard Webhooks recommendation.
pub const DEFAULT_TIMESTAMP_TOLERANCE: &str = "5m";

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub header_read_timeout: Option<String>,
    pub max_header_bytes: Option<u64>,
    pub max_connections: Option<u64>,
    pub rate_limit_per_minute: Option<u64>,
    pub rate_limit_burst: Option<u64>,
    pub trusted_proxies: Option<Vec<String>>,
}

pub const DEFAULT_HEADER_READ_TIMEOUT: &str = "10s";
/// 16 KiB: N8N's and Odoo's requests carry a few hundred bytes of headers;
/// nginx's default buffers hold 8 KiB per header line.
pub const DEFAULT_MAX_HEADER_BYTES: u64 = 16 * 1024;
/// With `server.max_body_bytes` of 64 MiB, 64 connections bound the bodies
/// held at once to 4 GiB in the worst case.
pub const DEFAULT_MAX_CONNECTIONS: u64 = 64;
/// 100 a second on average: a flood guard, not a throttle. One N8N delivers
/// one callback per image (plus at most 2 retries, 1 s apart), far below
/// this; and a refused callback is a result N8N may give up on, while the
/// spool absorbs any burst the bridge accepts.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u64 = 6000;
/// 300 at once: a batch of results finishing together is not refused.
pub const DEFAULT_RATE_LIMIT_BURST: u64 = 300;

/// `[tls]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub cert_file: Option<String>,
    pub key_file: Option<String>,
}
