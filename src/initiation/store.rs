//! The Odoo side of an initiation: claiming a request (`queued →
//! processing`), recording how its send ended, and notes in its chatter,
//! in the protocol Odoo speaks ([`Protocol`]).
//!
//! - **companion**: one call each, `bridge_claim` and
//!   `bridge_finish_initiation` ([`super::companion`]): Odoo decides under
//!   the row lock, so any number of bridges claim a request exactly once.
//! - **generic**: a claim reads the request and writes `processing` if it
//!   is `queued`; a finish reads it again and writes only while it is still
//!   `processing` (a callback may have completed it meanwhile). The callers
//!   hold the request's lock, so within the daemon nothing else changes it
//!   between the read and the write; across processes the window is one
//!   Odoo round trip.
//!
//! Every call is retried while Odoo's failure is transient (a few tries with
//! backoff). A retried claim whose first try committed finds the request
//! `processing` and does not send it: never twice.

use std::time::Duration;

use serde_json::{Value, json};

use super::InitiationError;
use super::companion::{self, ClaimAnswer, FinishAnswer, FinishOutcome};
use crate::config::Config;
use crate::n8n;
use crate::odoo::records::{AiImageRequest, RequestStatus};
use crate::odoo::{OdooClient, OdooError, Protocol};
use crate::pipeline::chatter::Chatter;
use crate::retry::Backoff;

/// Tries of one Odoo read or status write while its failure is transient.
const ODOO_ATTEMPTS: u32 = 5;
/// The pauses between them.
const ODOO_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));

/// What a claim found.
#[derive(Debug)]
pub enum Claim {
    /// Now `processing`, ours to send.
    Claimed(Box<AiImageRequest>),
    NotFound,
    /// Not `queued` (or held by another claim): its status.
    NotQueued(String),
}

/// How a claimed request's send ended.
#[derive(Debug, Clone, Copy)]
pub enum Finish<'a> {
    /// `initiation_failed` with these `error_details`.
    Failed(&'a str),
    /// `initiation_failed` by the watchdog, with this reason (and a note).
    GaveUp(&'a str),
    /// Back to `queued`: N8N surely started nothing (for this reason).
    Retry(&'a str),
    /// Stays `processing`; this note goes to the chatter.
    Unknown(&'a str),
}

impl Finish<'_> {
    fn text(&self) -> &str {
        match self {
            Self::Failed(text) | Self::GaveUp(text) | Self::Retry(text) | Self::Unknown(text) => {
                text
            }
        }
    }
}

/// Whether the finish was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    Written,
    /// The request had moved on from `processing` (or is gone): its status.
    MovedOn(String),
}

/// Reads and writes requests for the initiation.
#[derive(Debug)]
pub struct RequestStore {
    odoo: OdooClient,
    chatter: Chatter,
}

impl RequestStore {
    pub fn new(odoo: OdooClient) -> Self {
        Self {
            odoo,
            chatter: Chatter::default(),
        }
    }

    /// The Odoo session.
    pub fn odoo(&self) -> &OdooClient {
        &self.odoo
    }

    /// Request `id` with the fields the payload needs and `also`.
    pub async fn read(
        &self,
        config: &Config,
        id: i64,
        also: &[&str],
    ) -> Result<Option<AiImageRequest>, InitiationError> {
        let fields = payload_fields(config, also);
        let (model, ids) = (crate::odoo::records::REQUEST_MODEL, [id]);
        retry_odoo("read", || {
            self.odoo.read::<AiImageRequest>(model, &ids, &fields)
        })
        .await
        .map(|mut found| found.pop())
        .map_err(|source| InitiationError::Read {
            request_id: id,
            source,
        })
    }

    /// Whether Odoo speaks the companion protocol.
    async fn companion(&self) -> Result<bool, OdooError> {
        Ok(matches!(
            self.odoo.protocol().await?,
            Protocol::Companion { .. }
        ))
    }

    /// `queued → processing` (clearing an old `error_details`), returning
    /// the request as the payload needs it.
    pub async fn claim(&self, config: &Config, id: i64) -> Result<Claim, InitiationError> {
        let claim_error = |source| InitiationError::Claim {
            request_id: id,
            source,
        };
        if !self.companion().await.map_err(claim_error)? {
            return self.claim_generic(config, id).await;
        }
        let fields = payload_fields(config, &[]);
        let model = crate::odoo::records::REQUEST_MODEL;
        let answer = retry_odoo("claim", || companion::claim(&self.odoo, model, id, &fields))
            .await
            .map_err(claim_error)?;
        Ok(match answer {
            ClaimAnswer::Claimed { request } => Claim::Claimed(request),
            ClaimAnswer::UnknownRequest => Claim::NotFound,
            ClaimAnswer::NotQueued { status } => Claim::NotQueued(status),
        })
    }

    /// `bridge_claim_queued(1, fields)`: the oldest `queued` request nobody
    /// else holds, now `processing`. Companion protocol only. Tried once: a
    /// retry after a lost answer would claim another request and leave the
    /// first one `processing` unsent (the caller tries again later).
    pub async fn claim_next(
        &self,
        config: &Config,
    ) -> Result<Option<AiImageRequest>, InitiationError> {
        let fields = payload_fields(config, &[]);
        let model = crate::odoo::records::REQUEST_MODEL;
        let claimed = companion::claim_queued(&self.odoo, model, 1, &fields)
            .await
            .map_err(|source| InitiationError::ClaimNext { source })?;
        Ok(claimed.into_iter().next())
    }

    async fn claim_generic(&self, config: &Config, id: i64) -> Result<Claim, InitiationError> {
        let Some(request) = self.read(config, id, &[]).await? else {
            return Ok(Claim::NotFound);
        };
        if request.status != RequestStatus::Queued {
            return Ok(Claim::NotQueued(request.status.as_str().to_owned()));
        }
        let vals = json!({ "status": RequestStatus::Processing.as_str(), "error_details": false });
        self.write(config, id, &vals)
            .await
            .map_err(|source| InitiationError::Claim {
                request_id: id,
                source,
            })?;
        Ok(Claim::Claimed(Box::new(request)))
    }

    /// Records how the send of claimed request `id` ended, unless something
    /// else moved it on from `processing` meanwhile.
    pub async fn finish(
        &self,
        config: &Config,
        id: i64,
        finish: Finish<'_>,
    ) -> Result<Finished, InitiationError> {
        let what = finish.text();
        let record = |source| record_error(id, what, source);
        if !self.companion().await.map_err(record)? {
            return self.finish_generic(config, id, finish).await;
        }
        let (outcome, details) = match finish {
            Finish::Failed(details) | Finish::GaveUp(details) => (FinishOutcome::Failed, details),
            Finish::Retry(reason) => (FinishOutcome::Retry, reason),
            Finish::Unknown(note) => (FinishOutcome::Unknown, note),
        };
        let model = crate::odoo::records::REQUEST_MODEL;
        let answer = retry_odoo("finish", || {
            companion::finish(&self.odoo, model, id, outcome, details)
        })
        .await
        .map_err(record)?;
        Ok(match answer {
            FinishAnswer::Finished {} => Finished::Written,
            FinishAnswer::NotProcessing { status } => moved_on(status),
            FinishAnswer::UnknownRequest => moved_on("deleted".to_owned()),
        })
    }

    async fn finish_generic(
        &self,
        config: &Config,
        id: i64,
        finish: Finish<'_>,
    ) -> Result<Finished, InitiationError> {
        let what = finish.text();
        let vals = match finish {
            Finish::Failed(details) | Finish::GaveUp(details) => json!({
                "status": RequestStatus::InitiationFailed.as_str(),
                "error_details": details,
            }),
            Finish::Retry(_) => json!({ "status": RequestStatus::Queued.as_str() }),
            Finish::Unknown(note) => {
                self.note(config, id, note).await;
                return Ok(Finished::Written);
            }
        };
        let current = self
            .read(config, id, &[])
            .await
            .map_err(|error| match error {
                InitiationError::Read { source, .. } => record_error(id, what, source),
                other => other,
            })?;
        match current.map(|request| request.status) {
            Some(RequestStatus::Processing) => {
                self.write(config, id, &vals)
                    .await
                    .map_err(|source| record_error(id, what, source))?;
                if let Finish::GaveUp(reason) = finish {
                    let note = format!("AI image generation given up: {reason}");
                    self.note(config, id, &note).await;
                }
                Ok(Finished::Written)
            }
            other => Ok(moved_on(
                other
                    .as_ref()
                    .map_or("deleted", RequestStatus::as_str)
                    .to_owned(),
            )),
        }
    }

    /// An internal note on request `id` (skipped without a chatter; a
    /// failure is logged, never fatal).
    pub async fn note(&self, _config: &Config, id: i64, note: &str) {
        self.chatter
            .post(&self.odoo, crate::odoo::records::REQUEST_MODEL, id, note)
            .await;
    }

    async fn write(&self, _config: &Config, id: i64, vals: &Value) -> Result<(), OdooError> {
        let (model, ids) = (crate::odoo::records::REQUEST_MODEL, [id]);
        retry_odoo("write", || self.odoo.write(model, &ids, vals)).await
    }
}

/// The fields the payload needs, and `also`.
fn payload_fields<'a>(_config: &'a Config, also: &[&'a str]) -> Vec<&'a str> {
    let mut fields = n8n::INITIATION_FIELDS.to_vec();
    if n8n::SEND_ID_AS == n8n::SendIdAs::Uuid {
        fields.push(crate::odoo::records::UUID_FIELD);
    }
    fields.extend_from_slice(also);
    fields
}

fn moved_on(status: String) -> Finished {
    tracing::warn!(
        status,
        "the request moved on from processing meanwhile; left as it is"
    );
    Finished::MovedOn(status)
}

fn record_error(id: i64, what: &str, source: OdooError) -> InitiationError {
    InitiationError::Record {
        request_id: id,
        what: what.to_owned(),
        source,
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
