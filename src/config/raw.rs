//! The configuration file exactly as written: the first of two stages.
//!
//! Every struct here mirrors one TOML table. Unknown keys are refused
//! (`deny_unknown_fields`) so a typo never silently falls back to a default.
//! Values stay loosely typed (durations as strings, URLs as strings) so that
//! [`super::validate`] can report *every* problem with the key it belongs to,
//! instead of serde stopping at the first one. Defaults are named
//! constants so `config.example.toml` and the code can be compared side by side.

use serde::Deserialize;

pub mod initiation;
mod security;
pub use security::*;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub odoo: RawOdoo,
    #[serde(default)]
    pub n8n: RawN8n,
    #[serde(default)]
    pub images: RawImages,
    #[serde(default)]
    pub initiation: initiation::RawInitiation,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub spool: RawSpool,
    #[serde(default)]
    pub auth: RawAuth,
    #[serde(default)]
    pub limits: RawLimits,
    #[serde(default)]
    pub tls: RawTls,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub listen: Option<String>,
    pub public_url: Option<String>,
    pub max_body_bytes: Option<u64>,
    pub body_read_timeout: Option<String>,
    pub shutdown_grace: Option<String>,
    pub start_degraded: Option<bool>,
    pub metrics_listen: Option<String>,
}

pub const DEFAULT_LISTEN: &str = "127.0.0.1:8787";
/// 64 MiB: a 40 MB image as base64 plus the JSON around it.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;
pub const DEFAULT_BODY_READ_TIMEOUT: &str = "30s";
pub const DEFAULT_SHUTDOWN_GRACE: &str = "20s";

/// `[odoo]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOdoo {
    pub url: Option<String>,
    pub database: Option<String>,
    pub login: Option<String>,
    pub password: Option<String>,
    pub password_file: Option<String>,
    pub timeout: Option<String>,
    pub max_concurrent_calls: Option<u64>,
    pub max_request_bytes: Option<u64>,
    pub max_response_bytes: Option<u64>,
    pub request_model: Option<String>,
    pub image_model: Option<String>,
    pub lookup: Option<String>,
    pub uuid_field: Option<String>,
    pub api: Option<String>,
    pub protocol: Option<String>,
    pub unknown_outcome_wait: Option<String>,
}

pub const DEFAULT_ODOO_TIMEOUT: &str = "30s";
/// Odoo's prefork default is a handful of workers; more concurrent calls than
/// workers only queue up in its listen backlog (see DESIGN.md).
pub const DEFAULT_ODOO_MAX_CONCURRENT_CALLS: u64 = 4;
/// 128 MiB: Werkzeug 3's own request limit, and far above Werkzeug 2's
/// practical one, so the bridge never refuses what Odoo would take.
pub const DEFAULT_ODOO_MAX_REQUEST_BYTES: u64 = 128 * 1024 * 1024;
pub const DEFAULT_ODOO_MAX_RESPONSE_BYTES: u64 = 32 * 1024 * 1024;
pub const DEFAULT_REQUEST_MODEL: &str = "influence_gen.ai_image_request";
pub const DEFAULT_IMAGE_MODEL: &str = "influence_gen.generated_image";
pub const DEFAULT_LOOKUP: &str = "both";
pub const DEFAULT_UUID_FIELD: &str = "uuid";
/// Detect the API at login: `/json/2` where Odoo has it (19 and later),
/// `/jsonrpc` on Odoo 16-18.
pub const DEFAULT_ODOO_API: &str = "auto";
pub const DEFAULT_ODOO_PROTOCOL: &str = "auto";
/// Longer than Odoo's default `limit_time_real` (120 s): by then a call whose
/// answer was lost has committed or been killed.
pub const DEFAULT_UNKNOWN_OUTCOME_WAIT: &str = "150s";

/// `[n8n]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawN8n {
    pub webhook_url: Option<String>,
    pub api_key: Option<String>,
    pub api_key_file: Option<String>,
    pub api_key_header: Option<String>,
    pub callback_token: Option<String>,
    pub callback_token_file: Option<String>,
    pub outbound_token: Option<String>,
    pub outbound_token_file: Option<String>,
    pub timeout: Option<String>,
}

pub const DEFAULT_N8N_TIMEOUT: &str = "10s";
pub const DEFAULT_API_KEY_HEADER: &str = "X-N8N-Api-Key";

/// `[images]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawImages {
    pub max_bytes: Option<u64>,
    pub max_pixels: Option<u64>,
    pub download_timeout: Option<String>,
    pub max_redirects: Option<u64>,
    pub allowed_hosts: Option<Vec<String>>,
    pub allow_private_networks: Option<bool>,
    /// Signed so that a negative or oversized port is reported by
    /// [`super::validate`] under its key rather than by serde.
    pub allowed_ports: Option<Vec<i64>>,
}

/// 40 MB: well above what image models produce, far below Odoo's limits.
pub const DEFAULT_IMAGE_MAX_BYTES: u64 = 40 * 1024 * 1024;
/// 40 megapixels: an 8K image (33 MP) fits; a header claiming more is
/// treated as a decompression bomb.
pub const DEFAULT_IMAGE_MAX_PIXELS: u64 = 40_000_000;
pub const DEFAULT_DOWNLOAD_TIMEOUT: &str = "60s";
pub const DEFAULT_MAX_REDIRECTS: u64 = 3;
/// The standard HTTP and HTTPS ports; image hosts rarely use others.
pub const DEFAULT_ALLOWED_PORTS: [u16; 2] = [80, 443];

/// `[log]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    pub level: Option<String>,
    pub format: Option<String>,
}

pub const DEFAULT_LOG_LEVEL: &str = "info";
pub const DEFAULT_LOG_FORMAT: &str = "text";

/// `[spool]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpool {
    pub dir: Option<String>,
    pub wait: Option<String>,
    pub fsync: Option<bool>,
    pub retry_initial: Option<String>,
    pub retry_max: Option<String>,
    pub max_attempts: Option<u64>,
    pub max_age: Option<String>,
    pub max_bytes: Option<u64>,
    pub max_entries: Option<u64>,
    pub max_concurrent: Option<u64>,
    pub poll_interval: Option<String>,
}

pub const DEFAULT_SPOOL_DIR: &str = "/var/lib/influence-gen-bridge/spool";
/// N8N waits for the answer; a few seconds covers a healthy Odoo.
pub const DEFAULT_SPOOL_WAIT: &str = "5s";
pub const DEFAULT_SPOOL_RETRY_INITIAL: &str = "1s";
pub const DEFAULT_SPOOL_RETRY_MAX: &str = "5m";
pub const DEFAULT_SPOOL_MAX_ATTEMPTS: u64 = 5000;
pub const DEFAULT_SPOOL_MAX_AGE: &str = "7days";
/// 4 GiB: a hundred full-size images, or a day of results during an outage.
pub const DEFAULT_SPOOL_MAX_BYTES: u64 = 4 * 1024 * 1024 * 1024;
pub const DEFAULT_SPOOL_MAX_ENTRIES: u64 = 100_000;
pub const DEFAULT_SPOOL_MAX_CONCURRENT: u64 = 4;
pub const DEFAULT_SPOOL_POLL_INTERVAL: &str = "5s";
