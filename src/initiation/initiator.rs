//! Sending one request to N8N, from reading it to recording the outcome.
//!
//! The steps, all under the request's lock (shared with the callback
//! pipeline, see [`crate::locks`]):
//!
//! 1. read the request; anything but `queued` is skipped;
//! 2. find the webhook URL and API key ([`SystemParameters`]); when one is
//!    missing the request becomes `initiation_failed` at once;
//! 3. **claim** it: write `processing` (clearing an old `error_details`);
//! 4. POST the payload. Sending is not idempotent: every POST N8N accepts
//!    starts a paid generation. So only a failure after which N8N surely
//!    did not start the workflow is retried (`initiation.attempts`,
//!    `initiation.retry_backoff`; see [`crate::n8n::Delivery`]);
//! 5. a 2xx leaves it `processing`; a failure N8N surely did not start
//!    makes it `initiation_failed` with what happened; an **unknown
//!    outcome** (a timeout or a broken connection after the body went out)
//!    leaves it `processing`, says so in the log and in the request's
//!    chatter, and the [`watchdog`](super::watchdog) gives up on it after
//!    `initiation.result_timeout` if no result arrives. A stop during the
//!    pause between tries (N8N surely started nothing) puts it back to
//!    `queued`; a stop during a try lets the try end, bounded by the
//!    daemon's stop deadline, and never puts it back to `queued`.
//!
//! So a request is sent at most once by this bridge: at-most-once toward
//! N8N, with the unknown outcomes said out loud rather than repeated.
//!
//! Why claim before sending rather than write `processing` after N8N's 2xx:
//! within the daemon the lock already serializes everything, but `initiate`
//! on the command line is another process. There the only guard is the
//! status in Odoo, and claiming first shrinks the window in which two
//! processes can both see `queued` from the whole N8N exchange to one Odoo
//! read and write. It also means N8N's callback, which may arrive before the
//! 2xx does, never finds the request still `queued`, and no later write can
//! overwrite its result. The cost: a bridge killed between the claim and the
//! send leaves the request `processing` until the watchdog gives up on it.

use std::sync::Arc;

use secrecy::SecretString;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::journal::{Fact, Journal};
use super::store::{Claim, Finish, Finished, RequestStore};
use super::{InitiationError, Outcome, Via};
use crate::config::Config;
use crate::locks::RequestLocks;
use crate::metrics::Metrics;
use crate::n8n::{self, Delivery, InitiationPayload, N8nClient, N8nError, Webhook};
use crate::odoo::OdooClient;
use crate::odoo::records::AiImageRequest;
use crate::parameters::{
    API_KEY_PARAMETER, EffectiveN8n, ParameterState, SystemParameters, WEBHOOK_URL_PARAMETER,
};

/// Sends requests to N8N; cheap to clone.
#[derive(Debug, Clone)]
pub struct Initiator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: RequestStore,
    n8n: N8nClient,
    parameters: SystemParameters,
    locks: RequestLocks,
    journal: Journal,
    /// Calls to N8N in flight ([`super::MAX_CONCURRENT_SENDS`]).
    permits: Semaphore,
    /// The daemon's metrics (none on the command line).
    metrics: Option<Arc<Metrics>>,
}

/// How the N8N exchange ended.
enum Exchange {
    Accepted {
        http_status: u16,
        attempts: u32,
    },
    /// N8N surely did not start it.
    Refused {
        error: N8nError,
        attempts: u32,
    },
    /// N8N may or may not have started it.
    Unknown {
        error: N8nError,
        attempts: u32,
    },
    /// Shutdown, in a pause between tries: N8N surely did not start it.
    Stopped {
        error: N8nError,
    },
}

impl Initiator {
    /// `locks` is the daemon's shared lock map (a fresh one on the command line).
    pub fn new(odoo: OdooClient, locks: RequestLocks, _config: &Config) -> Result<Self, N8nError> {
        Ok(Self {
            inner: Arc::new(Inner {
                n8n: N8nClient::new()?,
                parameters: SystemParameters::new(odoo.clone()),
                store: RequestStore::new(odoo),
                locks,
                journal: Journal::default(),
                permits: Semaphore::new(super::MAX_CONCURRENT_SENDS),
                metrics: None,
            }),
        })
    }

    /// Counts outcomes in `metrics` (call before cloning).
    pub fn observed(mut self, metrics: Arc<Metrics>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.metrics = Some(metrics);
        }
        self
    }

    /// Counts one outcome, if observed.
    pub(super) fn count(&self, outcome: &'static str) {
        if let Some(metrics) = &self.inner.metrics {
            metrics.initiation(outcome);
        }
    }

    /// The Odoo session.
    pub fn odoo(&self) -> &OdooClient {
        self.inner.store.odoo()
    }

    /// The N8N settings in force (TOML, else Odoo's system parameters).
    pub fn parameters(&self) -> &SystemParameters {
        &self.inner.parameters
    }

    pub(super) fn store(&self) -> &RequestStore {
        &self.inner.store
    }

    pub(super) fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    pub(super) fn locks(&self) -> &RequestLocks {
        &self.inner.locks
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
        let span = initiation_span(id, via);
        let work = async {
            let _lock = self.inner.locks.lock(id).await;
            match self.inner.store.claim(config, id).await? {
                Claim::Claimed(request) => self.send_claimed(config, &request, stop).await,
                Claim::NotFound => Ok(Outcome::NotFound { request_id: id }),
                Claim::NotQueued(status) => Ok(Outcome::Skipped {
                    request_id: id,
                    status,
                }),
            }
        };
        let result = work.instrument(span.clone()).await;
        log_result(&span, &result);
        self.count(result.as_ref().map_or("error", Outcome::label));
        result
    }

    /// Claims the oldest `queued` request and sends it, in one Odoo call
    /// (companion protocol only: `bridge_claim_queued`); `Ok(None)` when
    /// none is queued.
    pub async fn initiate_next(
        &self,
        config: &Config,
        via: Via,
        stop: &CancellationToken,
    ) -> Result<Option<Outcome>, InitiationError> {
        let Some(request) = self.inner.store.claim_next(config).await? else {
            return Ok(None);
        };
        let span = initiation_span(request.id, via);
        let work = async {
            // A callback may be at work on it already (N8N is fast).
            let _lock = self.inner.locks.lock(request.id).await;
            self.send_claimed(config, &request, stop).await
        };
        let result = work.instrument(span.clone()).await;
        log_result(&span, &result);
        self.count(result.as_ref().map_or("error", Outcome::label));
        result.map(Some)
    }

    /// Sends a request this process claimed and records how it ended.
    async fn send_claimed(
        &self,
        config: &Config,
        request: &AiImageRequest,
        stop: &CancellationToken,
    ) -> Result<Outcome, InitiationError> {
        let id = request.id;
        self.inner.journal.note(id, Fact::Claimed);
        let n8n = self.inner.parameters.effective(config).await;
        let (url, api_key) = match (&n8n.webhook_url, &n8n.api_key) {
            (Some(url), Some(key)) => (url.value.clone(), key.value.clone()),
            _ => return self.fail_unsent(config, id, &missing_settings(&n8n)).await,
        };
        let uuid_field = crate::odoo::records::UUID_FIELD;
        let Some(reference) = n8n::request_reference(request, n8n::SEND_ID_AS, uuid_field) else {
            let details = format!("The request has no {uuid_field} to send to N8N");
            return self.fail_unsent(config, id, &details).await;
        };
        let payload = InitiationPayload {
            ai_generation_request_id: reference,
            params: n8n::params(request),
            odoo_callback_url: config.server.callback_url(),
            security_token: n8n
                .outbound_token
                .map(|token| token.value)
                .unwrap_or_else(|| SecretString::from(String::new())),
        };
        let webhook = Webhook {
            url: &url,
            api_key_header: &n8n::API_KEY_HEADER,
            api_key: &api_key,
            timeout: config.n8n.timeout,
        };
        let exchange = self.exchange(config, webhook, &payload, stop).await;
        self.record(config, id, exchange).await
    }

    /// Records how the exchange ended, in Odoo and in the journal.
    async fn record(
        &self,
        config: &Config,
        id: i64,
        exchange: Exchange,
    ) -> Result<Outcome, InitiationError> {
        let (journal, store) = (&self.inner.journal, &self.inner.store);
        match exchange {
            Exchange::Accepted {
                http_status,
                attempts,
            } => {
                journal.note(id, Fact::Accepted { http_status });
                Ok(Outcome::Sent {
                    request_id: id,
                    http_status,
                    attempts,
                })
            }
            Exchange::Refused { error, attempts } => {
                let details = if attempts > 1 {
                    format!("{error} (after {attempts} attempts)")
                } else {
                    error.to_string()
                };
                let fact = Fact::NotStarted {
                    error: details.clone(),
                };
                journal.note(id, fact);
                store.finish(config, id, Finish::Failed(&details)).await?;
                journal.forget(id);
                Ok(Outcome::Failed {
                    request_id: id,
                    details,
                    attempts,
                })
            }
            Exchange::Unknown { error, attempts } => {
                let details = error.to_string();
                let fact = Fact::Unknown {
                    error: details.clone(),
                };
                journal.note(id, fact);
                let note = unknown_note(config, &details);
                store.finish(config, id, Finish::Unknown(&note)).await?;
                Ok(Outcome::Unknown {
                    request_id: id,
                    details,
                    attempts,
                })
            }
            Exchange::Stopped { error } => {
                let reason = format!("the bridge is stopping and N8N has not taken it ({error})");
                let finished = store.finish(config, id, Finish::Retry(&reason)).await?;
                journal.forget(id);
                Ok(match finished {
                    Finished::Written => Outcome::Deferred {
                        request_id: id,
                        reason,
                    },
                    Finished::MovedOn(status) => Outcome::Skipped {
                        request_id: id,
                        status,
                    },
                })
            }
        }
    }

    /// POSTs the payload, retrying only what N8N surely did not start.
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
            let error = match self.inner.n8n.start(webhook, payload).await {
                Ok(accepted) => {
                    return Exchange::Accepted {
                        http_status: accepted.status,
                        attempts: attempt,
                    };
                }
                Err(error) => error,
            };
            match error.delivery() {
                Delivery::Unknown => {
                    return Exchange::Unknown {
                        error,
                        attempts: attempt,
                    };
                }
                Delivery::NotStartedTransient if attempt < attempts => {
                    let delay = super::RETRY_BACKOFF.delay(attempt);
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
                Delivery::NotStartedTransient | Delivery::NotStartedPermanent => {
                    return Exchange::Refused {
                        error,
                        attempts: attempt,
                    };
                }
            }
        }
    }

    /// `initiation_failed` for a claimed request that could not be sent.
    async fn fail_unsent(
        &self,
        config: &Config,
        id: i64,
        details: &str,
    ) -> Result<Outcome, InitiationError> {
        let store = &self.inner.store;
        store.finish(config, id, Finish::Failed(details)).await?;
        self.inner.journal.forget(id);
        Ok(Outcome::Failed {
            request_id: id,
            details: details.to_owned(),
            attempts: 0,
        })
    }
}

fn initiation_span(id: i64, via: Via) -> tracing::Span {
    tracing::info_span!(
        "initiation",
        ai_generation_request_id = id,
        via = via.as_str()
    )
}

/// One line per initiation: what it ended in.
fn log_result(span: &tracing::Span, result: &Result<Outcome, InitiationError>) {
    span.in_scope(|| match result {
        Ok(outcome @ Outcome::Sent { .. }) => tracing::info!(%outcome, "initiation done"),
        Ok(
            outcome @ (Outcome::Failed { .. } | Outcome::Deferred { .. } | Outcome::Unknown { .. }),
        ) => tracing::warn!(%outcome, "initiation done"),
        Ok(outcome) => tracing::info!(%outcome, "nothing to send"),
        Err(error) => tracing::error!(%error, "initiation stopped"),
    });
}

/// The chatter note of a send whose outcome is unknown (one line: the
/// companion addon notes the first line).
fn unknown_note(config: &Config, details: &str) -> String {
    format!(
        "Sent to N8N, but the outcome is unknown: {details}. N8N may or may not have started the \
         generation, so the bridge does not send it again. The request stays processing until its \
         result arrives; without one within {} it becomes initiation_failed.",
        humantime::format_duration(config.initiation.result_timeout)
    )
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
