//! Validation of `[initiation]`, including its agreement with `odoo.lookup`:
//! the callback must be able to find a request by what was sent to N8N.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::Checker;
use crate::config::RequestLookup;
use crate::config::initiation::{InitiationConfig, SendIdAs};
use crate::config::raw::initiation::{self as raw, RawInitiation};
use crate::config::secret::SecretSpec;
use crate::retry::Backoff;

/// A trigger secret travels in a URL path: long enough not to be guessed,
/// and only characters that need no escaping (RFC 3986 "unreserved").
const MIN_TRIGGER_SECRET_CHARS: usize = 16;
const MAX_TRIGGER_SECRET_CHARS: usize = 256;
/// The value the example addon ships in its automation rule's URL.
const ADDON_PLACEHOLDER_SECRET: &str = "CHANGE-ME-SECRET";
const DAY: Duration = Duration::from_secs(86_400);
/// The longest `initiation.result_timeout`.
const MAX_RESULT_TIMEOUT: Duration = Duration::from_secs(30 * 86_400);

impl Checker<'_> {
    /// `[initiation]`; `lookup` is `odoo.lookup` when it was valid. Invalid
    /// values are recorded as problems and replaced by their defaults.
    pub(super) fn initiation(
        &mut self,
        raw: &RawInitiation,
        lookup: Option<RequestLookup>,
    ) -> InitiationConfig {
        let send_id_as = self.send_id_as(raw.send_id_as.as_deref(), lookup);
        let trigger_secret = self.trigger_secret(raw);
        let trigger_visibility_timeout = self.duration(
            "initiation.trigger_visibility_timeout",
            raw.trigger_visibility_timeout.as_deref(),
            raw::DEFAULT_TRIGGER_VISIBILITY_TIMEOUT,
            (Duration::from_millis(100), Duration::from_secs(600)),
        );
        let max_pending_triggers = self.count(
            "initiation.max_pending_triggers",
            raw.max_pending_triggers,
            raw::DEFAULT_MAX_PENDING_TRIGGERS,
            (1, 100_000),
        );
        let sweep_interval = self.duration(
            "initiation.sweep_interval",
            raw.sweep_interval.as_deref(),
            raw::DEFAULT_SWEEP_INTERVAL,
            (Duration::ZERO, DAY),
        );
        let sweep_grace = self.duration(
            "initiation.sweep_grace",
            raw.sweep_grace.as_deref(),
            raw::DEFAULT_SWEEP_GRACE,
            (Duration::ZERO, DAY),
        );
        let sweep_batch = self.count(
            "initiation.sweep_batch",
            raw.sweep_batch,
            raw::DEFAULT_SWEEP_BATCH,
            (1, 1000),
        );
        let max_concurrent = self.count(
            "initiation.max_concurrent",
            raw.max_concurrent,
            raw::DEFAULT_INITIATION_MAX_CONCURRENT,
            (1, 256),
        );
        let attempts = self.count(
            "initiation.attempts",
            raw.attempts,
            raw::DEFAULT_ATTEMPTS,
            (1, 10),
        );
        let backoff = self.backoff(raw);
        let parameter_cache_ttl = self.duration(
            "initiation.parameter_cache_ttl",
            raw.parameter_cache_ttl.as_deref(),
            raw::DEFAULT_PARAMETER_CACHE_TTL,
            (Duration::ZERO, Duration::from_secs(3600)),
        );
        let result_timeout = self.duration(
            "initiation.result_timeout",
            raw.result_timeout.as_deref(),
            raw::DEFAULT_RESULT_TIMEOUT,
            (Duration::from_secs(1), MAX_RESULT_TIMEOUT),
        );
        InitiationConfig {
            send_id_as,
            trigger_secret,
            trigger_visibility_timeout,
            max_pending_triggers,
            sweep_interval: (!sweep_interval.is_zero()).then_some(sweep_interval),
            sweep_grace,
            // Both were bounded above.
            sweep_batch: u32::try_from(sweep_batch).unwrap_or(1000),
            max_concurrent,
            attempts: u32::try_from(attempts).unwrap_or(1),
            backoff,
            parameter_cache_ttl,
            result_timeout,
        }
    }

    /// `initiation.result_timeout` must outlast the longest send: every
    /// attempt taking all of `n8n.timeout`, with the longest pause between
    /// them. Otherwise the watchdog could give up on a request another
    /// process is still sending.
    pub(super) fn result_timeout_outlasts_a_send(
        &mut self,
        initiation: &InitiationConfig,
        n8n_timeout: Duration,
    ) {
        let pauses = initiation.attempts.saturating_sub(1);
        let longest = n8n_timeout * initiation.attempts + initiation.backoff.max * pauses;
        if initiation.result_timeout <= longest {
            self.problems.push(
                "initiation.result_timeout",
                format!(
                    "{} does not outlast the longest send to N8N ({}: initiation.attempts × n8n.timeout \
                     plus the pauses of initiation.retry_backoff_max)",
                    humantime::format_duration(initiation.result_timeout),
                    humantime::format_duration(longest)
                ),
            );
        }
    }

    /// Unset, it follows `odoo.lookup` (`uuid` only when the callback looks
    /// requests up by UUID alone); set, it must be something the callback's
    /// lookup accepts.
    fn send_id_as(&mut self, value: Option<&str>, lookup: Option<RequestLookup>) -> SendIdAs {
        let following_lookup = match lookup {
            Some(RequestLookup::Uuid) => SendIdAs::Uuid,
            _ => SendIdAs::Id,
        };
        let Some(text) = value else {
            return following_lookup;
        };
        let Some(send_id_as) = SendIdAs::parse(text) else {
            self.problems.push(
                "initiation.send_id_as",
                format!("`{text}` is not one of `id`, `uuid`"),
            );
            return following_lookup;
        };
        let accepted = matches!(
            (send_id_as, lookup),
            (_, None | Some(RequestLookup::Both))
                | (SendIdAs::Id, Some(RequestLookup::Id))
                | (SendIdAs::Uuid, Some(RequestLookup::Uuid))
        );
        if !accepted {
            let lookup = match lookup {
                Some(RequestLookup::Id) => "id",
                _ => "uuid",
            };
            self.problems.push(
                "initiation.send_id_as",
                format!(
                    "`{text}` is sent to N8N as ai_generation_request_id, but odoo.lookup = \"{lookup}\" \
                     cannot find a request by it when N8N calls back; set odoo.lookup = \"both\" or \
                     initiation.send_id_as = \"{lookup}\""
                ),
            );
            return following_lookup;
        }
        send_id_as
    }

    fn trigger_secret(&mut self, raw: &RawInitiation) -> Option<SecretString> {
        let secret = self.secret(SecretSpec {
            section: "initiation",
            key: "trigger_secret",
            inline: raw.trigger_secret.as_deref(),
            file: raw.trigger_secret_file.as_deref(),
        })?;
        // The value is never echoed: only what is wrong with it.
        let text = secret.expose_secret();
        let length = text.chars().count();
        let reason = if text.eq_ignore_ascii_case(ADDON_PLACEHOLDER_SECRET) {
            Some("is the example addon's placeholder; generate a secret, e.g. `openssl rand -hex 24`".to_owned())
        } else if !(MIN_TRIGGER_SECRET_CHARS..=MAX_TRIGGER_SECRET_CHARS).contains(&length) {
            Some(format!(
                "must be {MIN_TRIGGER_SECRET_CHARS} to {MAX_TRIGGER_SECRET_CHARS} characters long (it has {length})"
            ))
        } else if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            Some("may hold only letters, digits and - . _ ~ (it travels in a URL path)".to_owned())
        } else {
            None
        };
        match reason {
            Some(reason) => {
                self.problems.push("initiation.trigger_secret", reason);
                None
            }
            None => Some(secret),
        }
    }

    fn backoff(&mut self, raw: &RawInitiation) -> Backoff {
        let initial = self.duration(
            "initiation.retry_backoff",
            raw.retry_backoff.as_deref(),
            raw::DEFAULT_RETRY_BACKOFF,
            (Duration::from_millis(1), Duration::from_secs(60)),
        );
        let max = self.duration(
            "initiation.retry_backoff_max",
            raw.retry_backoff_max.as_deref(),
            raw::DEFAULT_RETRY_BACKOFF_MAX,
            (Duration::from_millis(1), Duration::from_secs(600)),
        );
        if max < initial {
            self.problems.push(
                "initiation.retry_backoff_max",
                format!(
                    "{} is shorter than initiation.retry_backoff ({})",
                    humantime::format_duration(max),
                    humantime::format_duration(initial)
                ),
            );
        }
        Backoff::new(initial, max.max(initial))
    }
}
