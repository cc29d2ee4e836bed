//! Claiming and finishing through the companion addon: `bridge_claim` and
//! `bridge_finish_initiation`, one Odoo call and one transaction each.
//!
//! Odoo takes the request's row lock (`FOR UPDATE SKIP LOCKED` for a claim)
//! before it looks at the status, so of any number of bridges and commands
//! claiming one request, exactly one gets it; and a finish only acts on a
//! request that is still `processing`. The contract is in the addon
//! (`examples/odoo/influence_gen_bridge`).

use serde::Deserialize;
use serde_json::json;

use crate::odoo::records::AiImageRequest;
use crate::odoo::{OdooClient, OdooError};

/// The addon method that claims the oldest queued requests.
pub const CLAIM_QUEUED_METHOD: &str = "bridge_claim_queued";
/// The addon method that claims one request.
pub const CLAIM_METHOD: &str = "bridge_claim";
/// The addon method that records how a send ended.
pub const FINISH_METHOD: &str = "bridge_finish_initiation";

/// What `bridge_claim` answered.
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ClaimAnswer {
    Claimed { request: Box<AiImageRequest> },
    UnknownRequest,
    NotQueued { status: String },
}

/// What `bridge_finish_initiation` answered.
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FinishAnswer {
    /// Recorded (the new status comes along; the caller knows it).
    Finished {},
    NotProcessing {
        status: String,
    },
    UnknownRequest,
}

/// How a send ended, as the addon names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishOutcome {
    /// `processing → initiation_failed`, `details` in `error_details`.
    Failed,
    /// `processing → queued`: N8N surely started nothing.
    Retry,
    /// Stays `processing`; a chatter note says N8N may have it.
    Unknown,
}

impl FinishOutcome {
    fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Retry => "retry",
            Self::Unknown => "unknown",
        }
    }
}

/// `bridge_claim({"field": "id", "value": id}, fields)`.
pub async fn claim(
    odoo: &OdooClient,
    model: &str,
    id: i64,
    fields: &[&str],
) -> Result<ClaimAnswer, OdooError> {
    let reference = json!({ "field": "id", "value": id });
    let answer: Option<ClaimAnswer> = odoo
        .execute_kw(model, CLAIM_METHOD, &(&reference, fields), &json!({}))
        .await?;
    answer.ok_or_else(|| OdooError::InvalidResponse(format!("{CLAIM_METHOD} returned nothing")))
}

/// `bridge_claim_queued(limit, fields)`: up to `limit` requests, each now
/// `processing`, oldest id first.
pub async fn claim_queued(
    odoo: &OdooClient,
    model: &str,
    limit: u32,
    fields: &[&str],
) -> Result<Vec<AiImageRequest>, OdooError> {
    let claimed: Option<Vec<AiImageRequest>> = odoo
        .execute_kw(model, CLAIM_QUEUED_METHOD, &(limit, fields), &json!({}))
        .await?;
    Ok(claimed.unwrap_or_default())
}

/// `bridge_finish_initiation(id, outcome, details)`.
pub async fn finish(
    odoo: &OdooClient,
    model: &str,
    id: i64,
    outcome: FinishOutcome,
    details: &str,
) -> Result<FinishAnswer, OdooError> {
    let args = (id, outcome.as_str(), details);
    let answer: Option<FinishAnswer> = odoo
        .execute_kw(model, FINISH_METHOD, &args, &json!({}))
        .await?;
    answer.ok_or_else(|| OdooError::InvalidResponse(format!("{FINISH_METHOD} returned nothing")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_contract_answer_decodes() {
        let claimed: ClaimAnswer = serde_json::from_value(json!({
            "outcome": "claimed",
            "request": {"id": 7, "status": "processing", "prompt": "a lighthouse"}
        }))
        .unwrap();
        let ClaimAnswer::Claimed { request } = claimed else {
            panic!("claimed")
        };
        assert_eq!(
            (request.id, request.prompt.as_deref()),
            (7, Some("a lighthouse"))
        );
        assert!(matches!(
            serde_json::from_value(json!({"outcome": "unknown_request"})).unwrap(),
            ClaimAnswer::UnknownRequest
        ));
        let not_queued: ClaimAnswer =
            serde_json::from_value(json!({"outcome": "not_queued", "status": "completed"}))
                .unwrap();
        assert!(matches!(not_queued, ClaimAnswer::NotQueued { status } if status == "completed"));
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
