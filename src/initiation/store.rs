//! The Odoo side of an initiation: claiming a request (`queued →
//! processing`) and recording how its send ended. With the companion addon
//! each is one call under Odoo's row lock, so any number of bridges claim a
//! request once. In the generic protocol it reads, then writes only if the
//! status is still the expected one (across processes the window is one
//! round trip). Transient failures are retried.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::InitiationError;
use crate::n8n::INITIATION_FIELDS;
use crate::odoo::records::{AiImageRequest, REQUEST_MODEL, RequestStatus};
use crate::odoo::{OdooClient, OdooError, Protocol};
use crate::pipeline::chatter::Chatter;
use crate::retry::Backoff;

/// Tries of one Odoo call while its failure is transient, and their pauses.
const ODOO_ATTEMPTS: u32 = 5;
const ODOO_BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(2));

/// What a claim found: the request, now ours to send; none; or its status.
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Claim {
    Claimed { request: Box<AiImageRequest> },
    UnknownRequest,
    NotQueued { status: String },
}

/// How a claimed request's send ended: `initiation_failed` with these
/// `error_details` (given up by the watchdog: also a chatter note), back to
/// `queued` for this reason, or `processing` with this chatter note.
#[derive(Debug, Clone, Copy)]
pub enum Finish<'a> {
    Failed(&'a str),
    GaveUp(&'a str),
    Retry(&'a str),
    Unknown(&'a str),
}

/// What `bridge_finish_initiation` answered.
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum FinishAnswer {
    Finished {},
    NotProcessing { status: String },
    UnknownRequest,
}

/// Whether the finish was recorded, or the request had moved on from
/// `processing` (or is gone) to this status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    Written,
    MovedOn(String),
}

/// Reads and writes requests for the initiation.
#[derive(Debug)]
pub struct RequestStore {
    pub odoo: OdooClient,
    pub chatter: Chatter,
}

impl RequestStore {
    /// Request `id` with the fields the payload needs and `also`.
    pub async fn read(&self, id: i64, also: &[&str]) -> Result<Option<AiImageRequest>, OdooError> {
        let (ids, fields) = ([id], [INITIATION_FIELDS, also].concat());
        let found = retry("read", || self.odoo.read(REQUEST_MODEL, &ids, &fields)).await?;
        Ok(found.into_iter().next())
    }

    async fn companion(&self) -> Result<bool, OdooError> {
        let protocol = self.odoo.protocol().await?;
        Ok(matches!(protocol, Protocol::Companion { .. }))
    }

    /// `queued → processing` (clearing an old `error_details`).
    pub async fn claim(&self, id: i64) -> Result<Claim, InitiationError> {
        let claim_error = |source| InitiationError::Claim { id, source };
        if self.companion().await.map_err(claim_error)? {
            let reference = json!({ "field": "id", "value": id });
            let args = (&reference, INITIATION_FIELDS);
            let answer = retry("claim", || self.call("bridge_claim", &args)).await;
            return answer.map_err(claim_error);
        }
        let Some(request) = self.read(id, &[]).await.map_err(claim_error)? else {
            return Ok(Claim::UnknownRequest);
        };
        if request.status != RequestStatus::Queued {
            let status = request.status.as_str().to_owned();
            return Ok(Claim::NotQueued { status });
        }
        let vals = json!({ "status": RequestStatus::Processing.as_str(), "error_details": false });
        self.write(id, &vals).await.map_err(claim_error)?;
        Ok(Claim::Claimed {
            request: Box::new(request),
        })
    }

    /// The oldest `queued` request, now `processing` (companion only). Tried
    /// once: a retry after a lost answer would claim another request.
    pub async fn claim_next(&self) -> Result<Option<AiImageRequest>, InitiationError> {
        let claimed: Option<Vec<AiImageRequest>> = self
            .call("bridge_claim_queued", &(1, INITIATION_FIELDS))
            .await
            .map_err(InitiationError::ClaimNext)?;
        Ok(claimed.unwrap_or_default().into_iter().next())
    }

    /// Records how the send of claimed request `id` ended, unless something
    /// else moved it on from `processing` meanwhile.
    pub async fn finish(&self, id: i64, finish: Finish<'_>) -> Result<Finished, InitiationError> {
        let (outcome, text, status) = match finish {
            Finish::Failed(text) | Finish::GaveUp(text) => {
                ("failed", text, RequestStatus::InitiationFailed)
            }
            Finish::Retry(text) => ("retry", text, RequestStatus::Queued),
            Finish::Unknown(text) => ("unknown", text, RequestStatus::Processing),
        };
        let record = |source| InitiationError::Record {
            id,
            what: text.to_owned(),
            source,
        };
        if self.companion().await.map_err(record)? {
            let args = (id, outcome, text);
            let answer = retry("finish", || self.call("bridge_finish_initiation", &args)).await;
            return Ok(match answer.map_err(record)? {
                FinishAnswer::Finished {} => Finished::Written,
                FinishAnswer::NotProcessing { status } => moved_on(&status),
                FinishAnswer::UnknownRequest => moved_on("deleted"),
            });
        }
        if let Finish::Unknown(note) = finish {
            self.chatter.post(&self.odoo, REQUEST_MODEL, id, note).await;
            return Ok(Finished::Written);
        }
        let current = self.read(id, &[]).await.map_err(record)?.map(|r| r.status);
        if current != Some(RequestStatus::Processing) {
            return Ok(moved_on(
                current.as_ref().map_or("deleted", RequestStatus::as_str),
            ));
        }
        let mut vals = json!({ "status": status.as_str() });
        if status == RequestStatus::InitiationFailed {
            vals["error_details"] = json!(text);
        }
        self.write(id, &vals).await.map_err(record)?;
        if let Finish::GaveUp(reason) = finish {
            let note = format!("AI image generation given up: {reason}");
            self.chatter
                .post(&self.odoo, REQUEST_MODEL, id, &note)
                .await;
        }
        Ok(Finished::Written)
    }

    async fn write(&self, id: i64, vals: &Value) -> Result<(), OdooError> {
        let ids = [id];
        retry("write", || self.odoo.write(REQUEST_MODEL, &ids, vals)).await
    }

    /// A companion addon method on the request model; it always answers.
    async fn call<T, A>(&self, method: &str, args: &A) -> Result<T, OdooError>
    where
        T: serde::de::DeserializeOwned,
        A: serde::Serialize + Sync,
    {
        let answer: Option<T> = self
            .odoo
            .execute_kw(REQUEST_MODEL, method, args, &json!({}))
            .await?;
        answer.ok_or_else(|| OdooError::InvalidResponse(format!("{method} returned nothing")))
    }
}

fn moved_on(status: &str) -> Finished {
    tracing::warn!(
        status,
        "the request moved on from processing meanwhile; left as it is"
    );
    Finished::MovedOn(status.to_owned())
}

/// Runs `call` until it succeeds, fails for good, or [`ODOO_ATTEMPTS`] ran out.
async fn retry<T, Fut>(what: &str, mut call: impl FnMut() -> Fut) -> Result<T, OdooError>
where
    Fut: Future<Output = Result<T, OdooError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match call().await {
            Err(error) if error.is_transient() && attempt < ODOO_ATTEMPTS => {
                tracing::info!(attempt, %error, "Odoo {what} failed; retrying");
                tokio::time::sleep(ODOO_BACKOFF.delay(attempt)).await;
            }
            result => return result,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_answer_decodes() {
        let claimed: Claim = serde_json::from_value(json!({
            "outcome": "claimed",
            "request": {"id": 7, "status": "processing", "prompt": "a lighthouse"}
        }))
        .unwrap();
        let Claim::Claimed { request } = claimed else {
            panic!("claimed")
        };
        assert_eq!(
            (request.id, request.prompt.as_deref()),
            (7, Some("a lighthouse"))
        );
        assert!(matches!(
            serde_json::from_value(json!({"outcome": "unknown_request"})).unwrap(),
            Claim::UnknownRequest
        ));
        let not_queued: Claim =
            serde_json::from_value(json!({"outcome": "not_queued", "status": "completed"}))
                .unwrap();
        assert!(matches!(not_queued, Claim::NotQueued { status } if status == "completed"));
        let finished: FinishAnswer =
            serde_json::from_value(json!({"outcome": "finished", "status": "initiation_failed"}))
                .unwrap();
        assert!(matches!(finished, FinishAnswer::Finished {}));
        let not_processing: FinishAnswer =
            serde_json::from_value(json!({"outcome": "not_processing", "status": "completed"}))
                .unwrap();
        assert!(matches!(not_processing, FinishAnswer::NotProcessing { .. }));
    }
}
