//! Applying a result through the companion addon: one `bridge_apply_result`
//! call, one Odoo transaction, whatever the outcome.
//!
//! Odoo locks the request row (`SELECT … FOR UPDATE`), then decides
//! duplicate / conflict / apply by the same rules as the generic steps and
//! writes everything (attachment stored byte for byte, generated image,
//! request status, chatter note) before it commits. So a retry of a call
//! whose answer was lost waits on the row lock and then answers
//! `duplicate`, and any number of bridges may deliver the same result: the
//! bridge needs neither its own lock nor a wait after an unknown outcome.
//! The contract is in the addon (`examples/odoo/influence_gen_bridge`).

use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha1::{Digest, Sha1};

use super::PipelineError;
use super::lookup::{self, Lookup};
use crate::config::OdooConfig;
use crate::image::VerifiedImage;
use crate::odoo::records::UUID_FIELD;
use crate::odoo::{OdooClient, OdooError};

/// The addon method that applies one result.
pub const APPLY_METHOD: &str = "bridge_apply_result";

/// Which kind of result is applied, and so which conflict it can meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Success,
    Failure,
    /// An unusable image: recorded as a failure.
    Rejected,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Rejected => "rejected",
        }
    }

    /// What the completed request already has that this result would change.
    fn conflict_reason(self) -> &'static str {
        match self {
            Self::Success => "a different image",
            Self::Failure => "an image; a failure cannot replace it",
            Self::Rejected => "an image; an unusable one cannot replace it",
        }
    }
}

/// What Odoo did with the result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Completed(Stored),
    FailureRecorded { request_id: i64 },
    Duplicate { request_id: i64 },
}

/// The records a completion created, and what Odoo says it stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub request_id: i64,
    pub image_id: i64,
    pub attachment_id: i64,
    /// Odoo stored other bytes than it was sent (it should not: the addon
    /// creates the attachment with `image_no_postprocess`).
    pub altered_by_odoo: bool,
    pub stored_size: u64,
}

/// `{"field": "id", "value": 42}` or `{"field": "<uuid field>", "value": "…"}`:
/// the lookup resolved here, so the addon needs no configuration.
fn reference_of(reference: &str) -> serde_json::Value {
    match lookup::plan(reference) {
        Lookup::Id(id) => json!({ "field": "id", "value": id }),
        Lookup::Uuid(uuid) => json!({ "field": UUID_FIELD, "value": uuid }),
    }
}

/// The success payload, `image_base64` written straight from the bytes into
/// the request (no intermediate base64 string).
#[derive(Serialize)]
struct SuccessResult<'a> {
    kind: &'static str,
    #[serde(serialize_with = "base64_of")]
    image_base64: &'a [u8],
    sha256: &'a str,
    mimetype: &'static str,
    file_format: &'static str,
    width: u32,
    height: u32,
    file_size: usize,
}

fn base64_of<S: serde::Serializer>(bytes: &&[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&base64::display::Base64Display::new(bytes, &STANDARD))
}

/// What `bridge_apply_result` answers.
#[derive(Debug, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum Answer {
    UnknownRequest,
    Duplicate {
        request_id: i64,
    },
    Conflict {
        request_id: i64,
    },
    Completed {
        request_id: i64,
        image_id: i64,
        attachment_id: i64,
        #[serde(default, deserialize_with = "crate::odoo::value::false_as_none")]
        checksum: Option<String>,
        #[serde(default, deserialize_with = "crate::odoo::value::false_as_none")]
        stored_size: Option<u64>,
    },
    FailureRecorded {
        request_id: i64,
    },
}

/// Stores `image` and completes the request, in one call.
pub async fn apply_success(
    odoo: &OdooClient,
    config: &OdooConfig,
    reference: &str,
    image: &VerifiedImage,
) -> Result<Done, PipelineError> {
    let result = SuccessResult {
        kind: Kind::Success.as_str(),
        image_base64: &image.bytes,
        sha256: &image.sha256_hex,
        mimetype: image.format.mimetype(),
        file_format: image.format.extension(),
        width: image.width,
        height: image.height,
        file_size: image.bytes.len(),
    };
    call(odoo, config, reference, &result, Kind::Success, Some(image)).await
}

/// Records a failure (or an unusable image) with `error_details`, in one call.
pub async fn apply_failure(
    odoo: &OdooClient,
    config: &OdooConfig,
    reference: &str,
    error_details: &str,
    kind: Kind,
) -> Result<Done, PipelineError> {
    let result = json!({ "kind": kind.as_str(), "error_details": error_details });
    call(odoo, config, reference, &result, kind, None).await
}

async fn call<R: Serialize + Sync>(
    odoo: &OdooClient,
    _config: &OdooConfig,
    reference: &str,
    result: &R,
    kind: Kind,
    image: Option<&VerifiedImage>,
) -> Result<Done, PipelineError> {
    let unknown = || PipelineError::UnknownRequest(reference.to_owned());
    let target = reference_of(reference);
    let answer: Option<Answer> = odoo
        .execute_kw(
            crate::odoo::records::REQUEST_MODEL,
            APPLY_METHOD,
            &(&target, result),
            &json!({}),
        )
        .await?;
    let answer = answer
        .ok_or_else(|| OdooError::InvalidResponse(format!("{APPLY_METHOD} returned nothing")))?;
    match answer {
        Answer::UnknownRequest => Err(unknown()),
        Answer::Conflict { request_id } => Err(PipelineError::Conflict {
            request_id,
            reason: kind.conflict_reason(),
        }),
        Answer::Duplicate { request_id } => Ok(Done::Duplicate { request_id }),
        Answer::FailureRecorded { request_id } if kind != Kind::Success => {
            Ok(Done::FailureRecorded { request_id })
        }
        Answer::Completed {
            request_id,
            image_id,
            attachment_id,
            checksum,
            stored_size,
        } if kind == Kind::Success => {
            let sent = image.map_or(&[][..], |image| &image.bytes[..]);
            let stored_size = stored_size.unwrap_or(sent.len() as u64);
            let altered_by_odoo = stored_size != sent.len() as u64
                || checksum.is_some_and(|checksum| checksum != sha1_hex(sent));
            Ok(Done::Completed(Stored {
                request_id,
                image_id,
                attachment_id,
                altered_by_odoo,
                stored_size,
            }))
        }
        other => Err(OdooError::InvalidResponse(format!(
            "{APPLY_METHOD} answered {other:?} to a {} result",
            kind.as_str()
        ))
        .into()),
    }
}

fn sha1_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    Sha1::digest(bytes)
        .iter()
        .fold(String::with_capacity(40), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(value: serde_json::Value) -> Answer {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn every_contract_answer_decodes() {
        assert!(matches!(
            answer(json!({"outcome": "unknown_request"})),
            Answer::UnknownRequest
        ));
        assert!(matches!(
            answer(
                json!({"outcome": "duplicate", "request_id": 4, "image_id": 9, "attachment_id": 11})
            ),
            Answer::Duplicate { request_id: 4 }
        ));
        assert!(matches!(
            answer(json!({"outcome": "conflict", "request_id": 4, "reason": "a different image"})),
            Answer::Conflict { request_id: 4 }
        ));
        assert!(matches!(
            answer(json!({"outcome": "failure_recorded", "request_id": 4})),
            Answer::FailureRecorded { request_id: 4 }
        ));
        let Answer::Completed {
            checksum,
            stored_size,
            ..
        } = answer(json!({
            "outcome": "completed", "request_id": 4, "image_id": 9, "attachment_id": 11,
            "checksum": "da39a3ee5e6b4b0d3255bfef95601890afd80709", "stored_size": 0
        }))
        else {
            panic!("not completed")
        };
        assert_eq!(checksum.as_deref(), Some(sha1_hex(b"").as_str()));
        assert_eq!(stored_size, Some(0));
    }

    #[test]
    fn references_follow_the_lookup_mode() {
        assert_eq!(reference_of("42"), json!({"field": "id", "value": 42}));
        assert_eq!(
            reference_of("ab-12"),
            json!({"field": "uuid", "value": "ab-12"})
        );
    }

    #[test]
    fn the_image_travels_as_base64_of_the_bytes() {
        let result = SuccessResult {
            kind: "success",
            image_base64: b"\x89PNG",
            sha256: "00",
            mimetype: "image/png",
            file_format: "png",
            width: 1,
            height: 1,
            file_size: 4,
        };
        let text = serde_json::to_value(&result).unwrap();
        assert_eq!(text["image_base64"], "iVBORw==");
        assert_eq!(text["kind"], "success");
    }
}
