//! Odoo's system parameters as the fallback of the `[n8n]` keys
//! (`docs/protocol.md#system-parameters`). A TOML value always wins; when
//! one is unset `ir.config_parameter` is read once for all callers and
//! reused for [`CACHE_TTL`] (a `PLACEHOLDER…` value counts as unset). When
//! Odoo cannot be asked the last values are kept. Fail closed: a callback
//! token only in Odoo refuses every callback until Odoo first answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio::time::Instant;
use url::Url;

use crate::config::Config;
use crate::config::secret::is_unset;
use crate::odoo::records::CONFIG_PARAMETER_MODEL;
use crate::odoo::{OdooClient, SearchOptions, ServerErrorKind};

/// The system parameters of `n8n.webhook_url`, `api_key`, `outbound_token`
/// and `callback_token`.
pub const WEBHOOK_URL_PARAMETER: &str = "influence_gen.n8n_webhook_url";
pub const API_KEY_PARAMETER: &str = "influence_gen.n8n_api_key";
pub const OUTBOUND_TOKEN_PARAMETER: &str = "influence_gen.odoo_to_n8n_secret_token";
pub const CALLBACK_TOKEN_PARAMETER: &str = "influence_gen.n8n_callback_token";
const PARAMETERS: [&str; 4] = [
    WEBHOOK_URL_PARAMETER,
    API_KEY_PARAMETER,
    OUTBOUND_TOKEN_PARAMETER,
    CALLBACK_TOKEN_PARAMETER,
];
/// How long values read from Odoo are reused: an admin's change takes
/// effect within a minute, at one small read a minute.
const CACHE_TTL: Duration = Duration::from_secs(60);
/// After a failed read the next is due this soon, so a token held only in
/// Odoo is known again shortly after Odoo is back.
pub const RETRY_AFTER_ERROR: Duration = Duration::from_secs(5);

/// Where a value came from: the TOML (or its environment variable or
/// credential), or Odoo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Config,
    Odoo,
}

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    /// "n8n.webhook_url" or "Odoo system parameter influence_gen.n8n_webhook_url".
    pub fn origin(&self, config_key: &str, parameter: &str) -> String {
        match self.source {
            Source::Config => config_key.to_owned(),
            Source::Odoo => format!("Odoo system parameter {parameter}"),
        }
    }
}

/// The N8N settings in force: the TOML's, completed from Odoo.
#[derive(Debug, Clone)]
pub struct EffectiveN8n {
    pub webhook_url: Option<Sourced<Url>>,
    pub api_key: Option<Sourced<SecretString>>,
    pub outbound_token: Option<Sourced<SecretString>>,
    pub callback_token: Option<Sourced<SecretString>>,
    /// How the system parameters were (or were not) read.
    pub parameters: ParameterState,
}

/// The outcome of the last read: not needed (every value is in the TOML),
/// read, forbidden to the bridge's Odoo user, or failed (the last values
/// Odoo gave, if any, are used).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParameterState {
    NotNeeded,
    Read,
    Forbidden,
    Unavailable(String),
}

/// The cached system parameters of one Odoo database.
#[derive(Debug)]
pub struct SystemParameters {
    odoo: OdooClient,
    cache: Mutex<Cache>,
    forbidden_said: AtomicBool,
    invalid_url_said: AtomicBool,
}

#[derive(Debug, Default)]
struct Cache {
    /// The last real (not placeholder) values Odoo gave, by key.
    values: HashMap<&'static str, SecretString>,
    /// How the last read went, and when the next is due (none before the first).
    last: Option<(ParameterState, Instant)>,
}

impl SystemParameters {
    /// Nothing is read until a value is asked for.
    pub fn new(odoo: OdooClient) -> Self {
        Self {
            odoo,
            cache: Mutex::default(),
            forbidden_said: AtomicBool::new(false),
            invalid_url_said: AtomicBool::new(false),
        }
    }

    /// The N8N settings in force under `config`.
    pub async fn effective(&self, config: &Config) -> EffectiveN8n {
        let n8n = &config.n8n;
        let needed = n8n.webhook_url.is_none()
            || n8n.api_key.is_none()
            || n8n.outbound_token.is_none()
            || n8n.callback_token.is_none();
        let (values, parameters) = if needed {
            self.read().await
        } else {
            (HashMap::new(), ParameterState::NotNeeded)
        };
        let secret = |toml: &Option<SecretString>, key| sourced(toml, || values.get(key).cloned());
        EffectiveN8n {
            webhook_url: sourced(&n8n.webhook_url, || {
                let text = values.get(WEBHOOK_URL_PARAMETER)?;
                self.webhook_url(text.expose_secret())
            }),
            api_key: secret(&n8n.api_key, API_KEY_PARAMETER),
            outbound_token: secret(&n8n.outbound_token, OUTBOUND_TOKEN_PARAMETER),
            callback_token: secret(&n8n.callback_token, CALLBACK_TOKEN_PARAMETER),
            parameters,
        }
    }

    /// `n8n.callback_token`, else Odoo's; `None` refuses every callback.
    pub async fn callback_token(&self, config: &Config) -> Option<SecretString> {
        if let Some(token) = &config.n8n.callback_token {
            return Some(token.clone());
        }
        self.read().await.0.remove(CALLBACK_TOKEN_PARAMETER)
    }

    /// The cached values, read again from Odoo when due.
    async fn read(&self) -> (HashMap<&'static str, SecretString>, ParameterState) {
        let mut cache = self.cache.lock().await;
        let now = Instant::now();
        if let Some((state, due)) = &cache.last
            && now < *due
        {
            return (cache.values.clone(), state.clone());
        }
        let (domain, fields) = (json!([["key", "in", PARAMETERS]]), ["key", "value"]);
        let (model, options) = (CONFIG_PARAMETER_MODEL, SearchOptions::default());
        let rows = self
            .odoo
            .search_read::<Value>(model, &domain, &fields, &options);
        let (state, next) = match rows.await {
            Ok(rows) => {
                cache.values = PARAMETERS
                    .into_iter()
                    .filter_map(|key| {
                        let row = rows.iter().find(|row| row["key"] == key)?;
                        let text = row["value"].as_str().filter(|text| !is_unset(text))?;
                        Some((key, SecretString::from(text.trim().to_owned())))
                    })
                    .collect();
                (ParameterState::Read, CACHE_TTL)
            }
            Err(error) if error.server_kind() == Some(ServerErrorKind::AccessError) => {
                cache.values.clear();
                if !self.forbidden_said.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        login = self.odoo.login(),
                        "the bridge's Odoo user may not read system parameters (ir.config_parameter \
                         needs Odoo's Settings group); the influence_gen.* parameters are ignored and \
                         only the [n8n] values of the configuration are used"
                    );
                }
                (ParameterState::Forbidden, CACHE_TTL)
            }
            Err(error) => {
                let kept = cache.values.len();
                tracing::warn!(%error, kept, "cannot read the influence_gen system parameters from Odoo; keeping the last known values");
                (
                    ParameterState::Unavailable(error.to_string()),
                    RETRY_AFTER_ERROR,
                )
            }
        };
        cache.last = Some((state.clone(), now + next));
        (cache.values.clone(), state)
    }

    /// A webhook URL from Odoo, checked as the TOML's would be.
    fn webhook_url(&self, text: &str) -> Option<Url> {
        let url = Url::parse(text.trim()).ok().filter(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some()
                && url.username().is_empty()
                && url.password().is_none()
        });
        if url.is_none() && !self.invalid_url_said.swap(true, Ordering::Relaxed) {
            // The text is not logged: a URL may carry credentials.
            tracing::warn!(
                parameter = WEBHOOK_URL_PARAMETER,
                "the Odoo system parameter is not an http(s) URL with a host (and without credentials); ignored"
            );
        }
        url
    }
}

/// The TOML's value, else Odoo's.
fn sourced<T: Clone>(toml: &Option<T>, odoo: impl FnOnce() -> Option<T>) -> Option<Sourced<T>> {
    let from = |source| move |value| Sourced { value, source };
    toml.clone()
        .map(from(Source::Config))
        .or_else(|| odoo().map(from(Source::Odoo)))
}

#[cfg(test)]
mod tests;
