//! The Odoo side of an initiation: reading a request, claiming it
//! (`queued → processing`), recording how the send ended, and notes in the
//! request's chatter.
//!
//! Every call is retried while Odoo's failure is transient (a few tries with
//! backoff). Before a request's final status is written, it is read again:
//! one that is no longer `processing` (a callback completed it meanwhile)
//! is left alone. The callers hold the request's lock, so within the daemon
//! nothing else changes it between that read and the write.

use std::time::Duration;

use serde_json::{Value, json};

use super::InitiationError;
use crate::config::{Config, SendIdAs};
use crate::n8n;
use crate::odoo::records::{AiImageRequest, RequestStatus};
use crate::odoo::{OdooClient, OdooError};
use crate::pipeline::chatter::Chatter;
use crate::retry::Backoff;

/// Tries of one Odoo read or status write while its failure is transient.
const ODOO_ATTEMPTS: u32 = 5;
/// The pauses between them.
const ODOO_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));

/// Whether a final status was written.
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
        let mut fields = n8n::INITIATION_FIELDS.to_vec();
        if config.initiation.send_id_as == SendIdAs::Uuid {
            fields.push(&config.odoo.uuid_field);
        }
        fields.extend_from_slice(also);
        let (model, ids) = (&config.odoo.request_model, [id]);
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

    /// `queued → processing`, clearing an old `error_details`.
    pub async fn claim(&self, config: &Config, id: i64) -> Result<(), InitiationError> {
        let vals = json!({ "status": RequestStatus::Processing.as_str(), "error_details": false });
        self.write(config, id, &vals)
            .await
            .map_err(|source| InitiationError::Claim {
                request_id: id,
                source,
            })
    }

    /// `initiation_failed` with `details`, for a request never claimed.
    pub async fn fail_unclaimed(
        &self,
        config: &Config,
        id: i64,
        details: &str,
    ) -> Result<(), InitiationError> {
        let vals = json!({
            "status": RequestStatus::InitiationFailed.as_str(),
            "error_details": details,
        });
        self.write(config, id, &vals)
            .await
            .map_err(|source| record_error(id, details, source))
    }

    /// Writes the final `vals` of a claimed request, unless something else
    /// moved it on from `processing` meanwhile; `what` names it in errors.
    pub async fn finish(
        &self,
        config: &Config,
        id: i64,
        vals: &Value,
        what: &str,
    ) -> Result<Finished, InitiationError> {
        let current = self
            .read(config, id, &[])
            .await
            .map_err(|error| match error {
                InitiationError::Read { source, .. } => record_error(id, what, source),
                other => other,
            })?;
        match current.map(|request| request.status) {
            Some(RequestStatus::Processing) => {
                self.write(config, id, vals)
                    .await
                    .map_err(|source| record_error(id, what, source))?;
                Ok(Finished::Written)
            }
            other => {
                let status = other.as_ref().map_or("deleted", RequestStatus::as_str);
                tracing::warn!(
                    status,
                    "the request moved on from processing meanwhile; left as it is"
                );
                Ok(Finished::MovedOn(status.to_owned()))
            }
        }
    }

    /// An internal note on request `id` (skipped without a chatter; a
    /// failure is logged, never fatal).
    pub async fn note(&self, config: &Config, id: i64, note: &str) {
        self.chatter
            .post(&self.odoo, &config.odoo.request_model, id, note)
            .await;
    }

    async fn write(&self, config: &Config, id: i64, vals: &Value) -> Result<(), OdooError> {
        let (model, ids) = (&config.odoo.request_model, [id]);
        retry_odoo("write", || self.odoo.write(model, &ids, vals)).await
    }
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
