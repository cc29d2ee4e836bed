//! `[initiation]` as written: how queued requests reach N8N (the trigger
//! route, the sweeper, retries). Validated by `validate::initiation`.

use serde::Deserialize;

/// `[initiation]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInitiation {
    pub send_id_as: Option<String>,
    pub trigger_secret: Option<String>,
    pub trigger_secret_file: Option<String>,
    pub trigger_visibility_timeout: Option<String>,
    pub max_pending_triggers: Option<u64>,
    pub sweep_interval: Option<String>,
    pub sweep_grace: Option<String>,
    pub sweep_batch: Option<u64>,
    pub max_concurrent: Option<u64>,
    pub attempts: Option<u64>,
    pub retry_backoff: Option<String>,
    pub retry_backoff_max: Option<String>,
    pub parameter_cache_ttl: Option<String>,
    pub result_timeout: Option<String>,
}

/// Odoo commits a request shortly after its trigger; a trigger whose record
/// is still invisible after this is dropped (the sweeper is the safety net).
pub const DEFAULT_TRIGGER_VISIBILITY_TIMEOUT: &str = "30s";
pub const DEFAULT_MAX_PENDING_TRIGGERS: u64 = 256;
pub const DEFAULT_SWEEP_INTERVAL: &str = "60s";
/// Longer than a trigger normally needs, so the sweeper does not race it.
pub const DEFAULT_SWEEP_GRACE: &str = "30s";
pub const DEFAULT_SWEEP_BATCH: u64 = 50;
pub const DEFAULT_INITIATION_MAX_CONCURRENT: u64 = 4;
pub const DEFAULT_ATTEMPTS: u64 = 3;
pub const DEFAULT_RETRY_BACKOFF: &str = "1s";
pub const DEFAULT_RETRY_BACKOFF_MAX: &str = "10s";
pub const DEFAULT_PARAMETER_CACHE_TTL: &str = "60s";
/// A request `processing` this long without a result is given up on
/// (`initiation_failed`): a generation takes minutes, not an hour.
pub const DEFAULT_RESULT_TIMEOUT: &str = "1h";
