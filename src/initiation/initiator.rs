//! Sending one request to N8N, from reading it to recording the outcome.
//!
//! The steps, all under the request's lock (shared with the callback
//! pipeline, see [`crate::locks`]):
//!
//! 1. read the request; anything but `queued` is skipped;
//! 2. find the webhook URL and API key ([`SystemParameters`]); when one is
//!    missing the request becomes `initiation_failed` at once;
//! 3. **claim** it: write `processing` (clearing an old `error_details`);
//! 4. POST the payload, retrying transient failures with backoff
//!    (`initiation.attempts`, `initiation.retry_backoff`);
//! 5. on success it stays `processing`; on failure it becomes
//!    `initiation_failed` with what happened; when stopped by shutdown
//!    before N8N took it, it goes back to `queued` for the next start.
//!
//! Why claim before sending rather than write `processing` after N8N's 2xx:
//! within the daemon the lock already serializes everything, but `initiate`
//! on the command line is another process. There the only guard is the
//! status in Odoo, and claiming first shrinks the window in which two
//! processes can both see `queued` from the whole N8N exchange (up to
//! attempts × `n8n.timeout`) to one Odoo read and write. It also means
//! N8N's callback, which may arrive before the 2xx does, never finds the
//! request still `queued`, and no later write can overwrite its result. The
//! cost: a bridge killed between the claim and the send leaves the request
//! `processing` without a generation (as a lost N8N execution would).
//!
//! Status writes are retried while Odoo's failure is transient; before
//! writing a failure (or un-claiming), the status is read again, and a
//! request that is no longer `processing` (another process's callback
//! completed it) is left alone.

use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::{InitiationError, Outcome, Via};
use crate::config::{Config, SendIdAs};
use crate::locks::RequestLocks;
use crate::n8n::{self, InitiationPayload, N8nClient, N8nError, Webhook};
use crate::odoo::records::{AiImageRequest, RequestStatus};
use crate::odoo::{OdooClient, OdooError};
use crate::parameters::{
    API_KEY_PARAMETER, EffectiveN8n, ParameterState, SystemParameters, WEBHOOK_URL_PARAMETER,
};
use crate::retry::Backoff;

/// Tries of one Odoo read or status write while its failure is transient.
const ODOO_ATTEMPTS: u32 = 5;
/// The pauses between them.
const ODOO_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));

/// Sends requests to N8N; cheap to clone.
#[derive(Debug, Clone)]
pub struct Initiator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    odoo: OdooClient,
    n8n: N8nClient,
    parameters: SystemParameters,
    locks: RequestLocks,
    /// Calls to N8N in flight (`initiation.max_concurrent`).
    permits: Semaphore,
}

/// How the N8N exchange ended.
enum Exchange {
    Accepted { http_status: u16, attempts: u32 },
    Refused { error: N8nError, attempts: u32 },
    Stopped { error: N8nError },
}

impl Initiator {
    /// `locks` is the daemon's shared lock map (a fresh one on the command line).
    pub fn new(odoo: OdooClient, locks: RequestLocks, config: &Config) -> Result<Self, N8nError> {
        Ok(Self {
            inner: Arc::new(Inner {
                n8n: N8nClient::new()?,
                parameters: SystemParameters::new(odoo.clone()),
                odoo,
                locks,
                permits: Semaphore::new(config.initiation.max_concurrent),
            }),
        })
    }

    /// The Odoo session.
    pub fn odoo(&self) -> &OdooClient {
        &self.inner.odoo
    }

    /// The N8N settings in force (TOML, else Odoo's system parameters).
    pub fn parameters(&self) -> &SystemParameters {
        &self.inner.parameters
    }

    /// Sends request `id` to N8N if it is `queued`; see the module docs.
    /// `stop` ends the retries early (shutdown).
    pub async fn initiate(
        &self,
        config: &Config,
        id: i64,
        via: Via,
        stop: &CancellationToken,
    ) -> Result<Outcome, InitiationError> {
        let span = tracing::info_span!(
            "initiation",
            ai_generation_request_id = id,
            via = via.as_str()
        );
        let result = self
            .initiate_locked(config, id, stop)
            .instrument(span.clone())
            .await;
        span.in_scope(|| match &result {
            Ok(outcome @ Outcome::Sent { .. }) => tracing::info!(%outcome, "initiation done"),
            Ok(outcome @ (Outcome::Failed { .. } | Outcome::Deferred { .. })) => {
                tracing::warn!(%outcome, "initiation done")
            }
            Ok(outcome) => tracing::info!(%outcome, "nothing to send"),
            Err(error) => tracing::error!(%error, "initiation stopped"),
        });
        result
    }

    async fn initiate_locked(
        &self,
        config: &Config,
        id: i64,
        stop: &CancellationToken,
    ) -> Result<Outcome, InitiationError> {
        let _lock = self.inner.locks.lock(id).await;
        let Some(request) = self.read(config, id).await? else {
            return Ok(Outcome::NotFound { request_id: id });
        };
        if request.status != RequestStatus::Queued {
            return Ok(Outcome::Skipped {
                request_id: id,
                status: request.status.as_str().to_owned(),
            });
        }
        let n8n = self.inner.parameters.effective(config).await;
        let (url, api_key) = match (&n8n.webhook_url, &n8n.api_key) {
            (Some(url), Some(key)) => (url.value.clone(), key.value.clone()),
            _ => return self.fail_unsent(config, id, &missing_settings(&n8n)).await,
        };
        let Some(reference) = n8n::request_reference(
            &request,
            config.initiation.send_id_as,
            &config.odoo.uuid_field,
        ) else {
            let details = format!(
                "The request has no {} to send to N8N (initiation.send_id_as = \"uuid\")",
                config.odoo.uuid_field
            );
            return self.fail_unsent(config, id, &details).await;
        };
        let payload = InitiationPayload {
            ai_generation_request_id: reference,
            params: n8n::params(&request),
            odoo_callback_url: config.server.callback_url(),
            security_token: n8n
                .outbound_token
                .map(|token| token.value)
                .unwrap_or_else(|| SecretString::from(String::new())),
        };
        self.write(
            config,
            id,
            &json!({ "status": RequestStatus::Processing.as_str(), "error_details": false }),
        )
        .await
        .map_err(|source| InitiationError::Claim {
            request_id: id,
            source,
        })?;
        let webhook = Webhook {
            url: &url,
            api_key_header: &config.n8n.api_key_header,
            api_key: &api_key,
            timeout: config.n8n.timeout,
        };
        match self.exchange(config, webhook, &payload, stop).await {
            Exchange::Accepted {
                http_status,
                attempts,
            } => Ok(Outcome::Sent {
                request_id: id,
                http_status,
                attempts,
            }),
            Exchange::Refused { error, attempts } => {
                let details = if attempts > 1 {
                    format!("{error} (after {attempts} attempts)")
                } else {
                    error.to_string()
                };
                let vals = json!({
                    "status": RequestStatus::InitiationFailed.as_str(),
                    "error_details": details,
                });
                self.finish(config, id, &vals, &details).await?;
                Ok(Outcome::Failed {
                    request_id: id,
                    details,
                    attempts,
                })
            }
            Exchange::Stopped { error } => {
                let reason = format!("the bridge is stopping and N8N has not taken it ({error})");
                let vals = json!({ "status": RequestStatus::Queued.as_str() });
                self.finish(config, id, &vals, &reason).await?;
                Ok(Outcome::Deferred {
                    request_id: id,
                    reason,
                })
            }
        }
    }

    /// POSTs the payload, retrying transient failures.
    async fn exchange(
        &self,
        config: &Config,
        webhook: Webhook<'_>,
        payload: &InitiationPayload,
        stop: &CancellationToken,
    ) -> Exchange {
        // The semaphore is never closed.
        let _permit = self.inner.permits.acquire().await.ok();
        let attempts = config.initiation.attempts;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.inner.n8n.start(webhook, payload).await {
                Ok(accepted) => {
                    return Exchange::Accepted {
                        http_status: accepted.status,
                        attempts: attempt,
                    };
                }
                Err(error) if error.is_transient() && attempt < attempts => {
                    let delay = config.initiation.backoff.delay(attempt);
                    tracing::warn!(
                        attempt,
                        %error,
                        retry_in_ms = delay.as_millis() as u64,
                        "N8N did not take the request; retrying"
                    );
                    tokio::select! {
                        () = stop.cancelled() => return Exchange::Stopped { error },
                        () = tokio::time::sleep(delay) => {}
                    }
                }
                Err(error) => {
                    return Exchange::Refused {
                        error,
                        attempts: attempt,
                    };
                }
            }
        }
    }

    /// `initiation_failed` for a request that was never claimed.
    async fn fail_unsent(
        &self,
        config: &Config,
        id: i64,
        details: &str,
    ) -> Result<Outcome, InitiationError> {
        let vals = json!({
            "status": RequestStatus::InitiationFailed.as_str(),
            "error_details": details,
        });
        self.write(config, id, &vals)
            .await
            .map_err(|source| InitiationError::Record {
                request_id: id,
                what: details.to_owned(),
                source,
            })?;
        Ok(Outcome::Failed {
            request_id: id,
            details: details.to_owned(),
            attempts: 0,
        })
    }

    /// Writes the final `vals` of a claimed request, unless something else
    /// moved it on from `processing` meanwhile.
    async fn finish(
        &self,
        config: &Config,
        id: i64,
        vals: &Value,
        what: &str,
    ) -> Result<(), InitiationError> {
        let record = |source| InitiationError::Record {
            request_id: id,
            what: what.to_owned(),
            source,
        };
        let current = self.read(config, id).await.map_err(|error| match error {
            InitiationError::Read { source, .. } => record(source),
            other => other,
        })?;
        match current.map(|request| request.status) {
            Some(RequestStatus::Processing) => self.write(config, id, vals).await.map_err(record),
            other => {
                let status = other.as_ref().map_or("deleted", RequestStatus::as_str);
                tracing::warn!(
                    status,
                    "the request moved on from processing while it was being sent; left as it is"
                );
                Ok(())
            }
        }
    }

    async fn read(
        &self,
        config: &Config,
        id: i64,
    ) -> Result<Option<AiImageRequest>, InitiationError> {
        let mut fields = n8n::INITIATION_FIELDS.to_vec();
        if config.initiation.send_id_as == SendIdAs::Uuid {
            fields.push(&config.odoo.uuid_field);
        }
        let (model, ids) = (&config.odoo.request_model, [id]);
        let odoo = &self.inner.odoo;
        retry_odoo("read", || odoo.read::<AiImageRequest>(model, &ids, &fields))
            .await
            .map(|mut found| found.pop())
            .map_err(|source| InitiationError::Read {
                request_id: id,
                source,
            })
    }

    async fn write(&self, config: &Config, id: i64, vals: &Value) -> Result<(), OdooError> {
        let (model, ids) = (&config.odoo.request_model, [id]);
        let odoo = &self.inner.odoo;
        retry_odoo("write", || odoo.write(model, &ids, vals)).await
    }
}

/// Runs `call` until it succeeds, fails for good, or [`ODOO_ATTEMPTS`] ran out.
async fn retry_odoo<T, F, Fut>(what: &str, mut call: F) -> Result<T, OdooError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OdooError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(error) if error.is_transient() && attempt < ODOO_ATTEMPTS => {
                let delay = ODOO_BACKOFF.delay(attempt);
                tracing::info!(attempt, %error, "Odoo {what} failed; retrying");
                tokio::time::sleep(delay).await;
            }
            result => return result,
        }
    }
}

/// The `error_details` when the webhook URL or API key is nowhere to be found.
fn missing_settings(n8n: &EffectiveN8n) -> String {
    let mut missing = Vec::new();
    if n8n.webhook_url.is_none() {
        missing.push(format!(
            "no N8N webhook URL is configured (n8n.webhook_url in the bridge's configuration, or the Odoo system parameter {WEBHOOK_URL_PARAMETER})"
        ));
    }
    if n8n.api_key.is_none() {
        missing.push(format!(
            "no N8N API key is configured (n8n.api_key in the bridge's configuration, or the Odoo system parameter {API_KEY_PARAMETER})"
        ));
    }
    let mut details = format!("Not sent to N8N: {}", missing.join("; "));
    match &n8n.parameters {
        ParameterState::Forbidden => {
            details.push_str("; the bridge's Odoo user may not read system parameters")
        }
        ParameterState::Unavailable(error) => details.push_str(&format!(
            "; Odoo's system parameters could not be read: {error}"
        )),
        ParameterState::NotNeeded | ParameterState::Read => {}
    }
    details
}
