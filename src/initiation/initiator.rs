//! Sending one request to N8N under the request's lock (shared with the
//! callback pipeline): claim it (`queued → processing`), POST, record the
//! outcome. Each accepted POST starts a paid generation, so only a failure
//! N8N surely did not start is retried; an unknown outcome stays
//! `processing` for the [`watchdog`](super::watchdog), and a stop between
//! tries puts it back to `queued`. The claim comes first so that `initiate`
//! (another process) and N8N's callback (which may beat the 2xx) never find
//! it `queued`; a bridge killed between claim and send leaves it to the watchdog.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::store::{Claim, Finish, Finished, RequestStore};
use super::watchdog::{Fact, Journal};
use super::{InitiationError, Outcome};
use crate::config::Config;
use crate::locks::RequestLocks;
use crate::metrics::Metrics;
use crate::n8n::{self, InitiationPayload, N8nClient, N8nError};
use crate::odoo::OdooClient;
use crate::odoo::records::AiImageRequest;
use crate::parameters::{
    API_KEY_PARAMETER, EffectiveN8n, ParameterState, SystemParameters, WEBHOOK_URL_PARAMETER,
};
use crate::pipeline::chatter::Chatter;
use crate::retry::Backoff;

/// The pauses between tries of a send N8N surely did not start: a busy N8N
/// recovers in seconds.
pub const RETRY_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));

/// Sends requests to N8N; a cheap handle on its [`Parts`].
#[derive(Debug, Clone)]
pub struct Initiator(Arc<Parts>);

#[derive(Debug)]
pub struct Parts {
    pub(super) store: RequestStore,
    n8n: N8nClient,
    /// The N8N settings in force (TOML, else Odoo's system parameters).
    pub parameters: SystemParameters,
    pub(super) locks: RequestLocks,
    pub(super) journal: Journal,
    /// Calls to N8N in flight (as many as calls to Odoo: each send makes some).
    permits: Semaphore,
    pub(super) metrics: Arc<Metrics>,
}

impl std::ops::Deref for Initiator {
    type Target = Parts;

    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl Initiator {
    pub fn new(
        odoo: OdooClient,
        locks: RequestLocks,
        config: &Config,
        metrics: Arc<Metrics>,
    ) -> Result<Self, N8nError> {
        Ok(Self(Arc::new(Parts {
            n8n: N8nClient::new()?,
            parameters: SystemParameters::new(odoo.clone()),
            store: RequestStore {
                odoo,
                chatter: Chatter::default(),
            },
            locks,
            journal: Journal::default(),
            permits: Semaphore::new(config.odoo.max_concurrent_calls),
            metrics,
        })))
    }

    pub fn odoo(&self) -> &OdooClient {
        &self.store.odoo
    }

    /// Sends request `id` to N8N if it is `queued`. `via` names the way in
    /// (a log field), `stop` ends the retries early (shutdown).
    pub async fn initiate(
        &self,
        config: &Config,
        id: i64,
        via: &'static str,
        stop: &CancellationToken,
    ) -> Result<Outcome, InitiationError> {
        self.observed(id, via, async {
            let _lock = self.locks.lock(id).await;
            match self.store.claim(id).await? {
                Claim::Claimed { request } => self.send_claimed(config, &request, stop).await,
                Claim::UnknownRequest => Ok(Outcome::NotFound { id }),
                Claim::NotQueued { status } => Ok(Outcome::Skipped { id, status }),
            }
        })
        .await
    }

    /// Claims the oldest `queued` request and sends it (companion protocol
    /// only); `Ok(None)` when none is queued.
    pub async fn initiate_next(
        &self,
        config: &Config,
        via: &'static str,
        stop: &CancellationToken,
    ) -> Result<Option<Outcome>, InitiationError> {
        let Some(request) = self.store.claim_next().await? else {
            return Ok(None);
        };
        let outcome = self.observed(request.id, via, async {
            // A callback may be at work on it already (N8N is fast).
            let _lock = self.locks.lock(request.id).await;
            self.send_claimed(config, &request, stop).await
        });
        outcome.await.map(Some)
    }

    /// Runs `work` in the initiation's span, logs and counts how it ended.
    async fn observed(
        &self,
        id: i64,
        via: &'static str,
        work: impl Future<Output = Result<Outcome, InitiationError>>,
    ) -> Result<Outcome, InitiationError> {
        let span = tracing::info_span!("initiation", ai_generation_request_id = id, via);
        let result = work.instrument(span.clone()).await;
        span.in_scope(|| match &result {
            Ok(outcome @ Outcome::Sent { .. }) => tracing::info!(%outcome, "initiation done"),
            Ok(
                outcome @ (Outcome::Failed { .. }
                | Outcome::Deferred { .. }
                | Outcome::Unknown { .. }),
            ) => tracing::warn!(%outcome, "initiation done"),
            Ok(outcome) => tracing::info!(%outcome, "nothing to send"),
            Err(error) => tracing::error!(%error, "initiation stopped"),
        });
        self.metrics
            .initiation(result.as_ref().map_or("error", Outcome::label));
        result
    }

    /// Sends a request this process claimed and records how it ended.
    async fn send_claimed(
        &self,
        config: &Config,
        request: &AiImageRequest,
        stop: &CancellationToken,
    ) -> Result<Outcome, InitiationError> {
        let id = request.id;
        self.journal.note(id, Fact::Claimed);
        let n8n = self.parameters.effective(config).await;
        let (Some(url), Some(api_key)) = (&n8n.webhook_url, &n8n.api_key) else {
            return self.fail(id, missing_settings(&n8n)).await;
        };
        let payload = InitiationPayload {
            ai_generation_request_id: id.to_string(),
            params: n8n::params(request),
            odoo_callback_url: config.server.callback_url(),
            security_token: (n8n.outbound_token.as_ref())
                .map_or_else(|| String::new().into(), |token| token.value.clone()),
        };
        // The semaphore is never closed.
        let _permit = self.permits.acquire().await.ok();
        let (url, api_key, timeout) = (&url.value, &api_key.value, config.n8n.timeout);
        let mut attempts = 0;
        let error = loop {
            attempts += 1;
            let error = match self.n8n.start(url, api_key, timeout, &payload).await {
                Ok(http_status) => {
                    self.journal.note(id, Fact::Accepted(http_status));
                    return Ok(Outcome::Sent {
                        id,
                        http_status,
                        attempts,
                    });
                }
                Err(error) => error,
            };
            // A transient failure is one N8N surely did not start.
            if !error.transient() || attempts >= config.initiation.attempts {
                break error;
            }
            let delay = RETRY_BACKOFF.delay(attempts);
            let retry_in_ms = delay.as_millis() as u64;
            tracing::warn!(attempt = attempts, %error, retry_in_ms, "N8N did not take the request; retrying");
            tokio::select! {
                () = stop.cancelled() => return self.defer(id, error).await,
                () = tokio::time::sleep(delay) => {}
            }
        };
        let details = error.to_string();
        if !error.maybe_started() {
            let details = match attempts {
                1 => details,
                _ => format!("{details} (after {attempts} attempts)"),
            };
            self.journal.note(id, Fact::NotStarted(details.clone()));
            return self.fail(id, details).await;
        }
        self.journal.note(id, Fact::Unknown(details.clone()));
        let note = format!(
            "Sent to N8N, but the outcome is unknown: {details}. N8N may or may not have \
             started the generation, so the bridge does not send it again. The request stays \
             processing until its result arrives; without one within {} it becomes \
             initiation_failed.",
            humantime::format_duration(config.initiation.result_timeout)
        );
        self.store.finish(id, Finish::Unknown(&note)).await?;
        Ok(Outcome::Unknown { id, details })
    }

    /// Back to `queued`: the bridge stops, in a pause between tries.
    async fn defer(&self, id: i64, error: N8nError) -> Result<Outcome, InitiationError> {
        let reason = format!("the bridge is stopping and N8N has not taken it ({error})");
        let finished = self.store.finish(id, Finish::Retry(&reason)).await?;
        self.journal.forget(id);
        Ok(match finished {
            Finished::Written => Outcome::Deferred { id, reason },
            Finished::MovedOn(status) => Outcome::Skipped { id, status },
        })
    }

    /// `initiation_failed` for a claimed request N8N surely did not start.
    async fn fail(&self, id: i64, details: String) -> Result<Outcome, InitiationError> {
        self.store.finish(id, Finish::Failed(&details)).await?;
        self.journal.forget(id);
        Ok(Outcome::Failed { id, details })
    }
}

/// The `error_details` when the webhook URL or API key is nowhere to be found.
fn missing_settings(n8n: &EffectiveN8n) -> String {
    let mut missing = Vec::new();
    let (url, key) = (WEBHOOK_URL_PARAMETER, API_KEY_PARAMETER);
    if n8n.webhook_url.is_none() {
        missing.push(format!("no N8N webhook URL is configured (n8n.webhook_url in the bridge's configuration, or the Odoo system parameter {url})"));
    }
    if n8n.api_key.is_none() {
        missing.push(format!("no N8N API key is configured (n8n.api_key in the bridge's configuration, or the Odoo system parameter {key})"));
    }
    let why = match &n8n.parameters {
        ParameterState::Forbidden => {
            "; the bridge's Odoo user may not read system parameters".to_owned()
        }
        ParameterState::Unavailable(error) => {
            format!("; Odoo's system parameters could not be read: {error}")
        }
        ParameterState::NotNeeded | ParameterState::Read => String::new(),
    };
    format!("Not sent to N8N: {}{why}", missing.join("; "))
}
