//! `[initiation]`, validated: how queued requests are sent to N8N.

use std::time::Duration;

use secrecy::SecretString;

use crate::retry::Backoff;

/// `[initiation]`: the trigger route, the sweeper and the retries toward N8N.
#[derive(Debug, Clone)]
pub struct InitiationConfig {
    /// What `ai_generation_request_id` carries in the payload to N8N.
    pub send_id_as: SendIdAs,
    /// The path secret of `POST /influence_gen/trigger/<secret>`; `None`
    /// turns the route off (it answers 404).
    pub trigger_secret: Option<SecretString>,
    /// How long a trigger waits for its record to become readable.
    pub trigger_visibility_timeout: Duration,
    /// Triggers waiting or being sent at once; more are answered 503.
    pub max_pending_triggers: usize,
    /// `None` when the sweeper is off (`sweep_interval = "0s"`).
    pub sweep_interval: Option<Duration>,
    /// The sweeper leaves requests younger than this to their trigger.
    pub sweep_grace: Duration,
    /// Requests read per sweeper query.
    pub sweep_batch: u32,
    /// Calls to N8N in flight at once.
    pub max_concurrent: usize,
    /// Tries per initiation for transient failures (1 = no retry).
    pub attempts: u32,
    /// The pause between tries.
    pub backoff: Backoff,
    /// How long values read from Odoo's `ir.config_parameter` are reused.
    pub parameter_cache_ttl: Duration,
    /// How long a request may stay `processing` (since its last change)
    /// without a result before the watchdog makes it `initiation_failed`.
    pub result_timeout: Duration,
}

/// What identifies a request toward N8N (and so in its callback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendIdAs {
    /// The Odoo id, as a decimal string.
    Id,
    /// The request's UUID field (`odoo.uuid_field`).
    Uuid,
}

impl SendIdAs {
    pub(super) fn parse(value: &str) -> Option<Self> {
        match value {
            "id" => Some(Self::Id),
            "uuid" => Some(Self::Uuid),
            _ => None,
        }
    }

    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Uuid => "uuid",
        }
    }
}
