//! Applying a result through the companion addon
//! (`examples/odoo/influence_gen_bridge`): one `bridge_apply_result` call, one
//! Odoo transaction under a row lock, so a retry of a call whose answer was
//! lost answers `duplicate`: no bridge lock, no wait after an unknown outcome.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Applied, Kind, Pipeline, PipelineError, Stored, unknown};
use crate::image::VerifiedImage;
use crate::odoo::OdooError;
use crate::odoo::records::REQUEST_MODEL;
use crate::odoo::value::false_as_none;

pub const APPLY_METHOD: &str = "bridge_apply_result";

/// `{"field": "id", "value": 42}` or `{"field": "uuid", "value": "…"}`.
fn reference_of(reference: &str) -> serde_json::Value {
    match super::as_id(reference) {
        Some(id) => json!({ "field": "id", "value": id }),
        None => json!({ "field": super::UUID_FIELD, "value": reference }),
    }
}

/// The success payload; `image_base64` is written from the bytes.
#[derive(Serialize)]
struct SuccessResult<'a> {
    kind: Kind,
    #[serde(serialize_with = "crate::callback::serialize_base64")]
    image_base64: &'a [u8],
    sha256: &'a str,
    mimetype: &'static str,
    file_format: &'static str,
    width: u32,
    height: u32,
    file_size: usize,
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
        #[serde(default, deserialize_with = "false_as_none")]
        checksum: Option<String>,
        #[serde(default, deserialize_with = "false_as_none")]
        stored_size: Option<u64>,
    },
    FailureRecorded {
        request_id: i64,
    },
}

impl Pipeline {
    pub(super) async fn companion_success(
        &self,
        reference: &str,
        image: VerifiedImage,
    ) -> Result<Applied, PipelineError> {
        let result = SuccessResult {
            kind: Kind::Success,
            image_base64: &image.bytes,
            sha256: &image.sha256_hex,
            mimetype: image.format.mimetype(),
            file_format: image.format.extension(),
            width: image.width,
            height: image.height,
            file_size: image.bytes.len(),
        };
        let answer = self.companion_call(reference, &result).await?;
        self.companion_answer(reference, answer, Kind::Success, Some(image))
    }

    pub(super) async fn companion_failure(
        &self,
        reference: &str,
        error_details: &str,
        kind: Kind,
    ) -> Result<Applied, PipelineError> {
        let result = json!({ "kind": kind, "error_details": error_details });
        let answer = self.companion_call(reference, &result).await?;
        self.companion_answer(reference, answer, kind, None)
    }

    async fn companion_call<R: Serialize + Sync>(
        &self,
        reference: &str,
        result: &R,
    ) -> Result<Answer, OdooError> {
        let args = (reference_of(reference), result);
        let answer: Option<Answer> = self
            .odoo
            .execute_kw(REQUEST_MODEL, APPLY_METHOD, &args, &json!({}))
            .await?;
        answer.ok_or_else(|| OdooError::InvalidResponse(format!("{APPLY_METHOD} returned nothing")))
    }

    fn companion_answer(
        &self,
        reference: &str,
        answer: Answer,
        kind: Kind,
        image: Option<VerifiedImage>,
    ) -> Result<Applied, PipelineError> {
        match (answer, image) {
            (Answer::UnknownRequest, _) => Err(unknown(reference)),
            (Answer::Conflict { request_id }, _) => Err(kind.conflict(request_id)),
            (Answer::Duplicate { request_id }, _) => Ok(Applied::Duplicate { request_id }),
            (Answer::FailureRecorded { request_id }, None) => {
                Ok(Applied::FailureRecorded { request_id })
            }
            (
                Answer::Completed {
                    request_id,
                    image_id,
                    attachment_id,
                    checksum,
                    stored_size,
                },
                Some(image),
            ) => {
                let stored_size = stored_size.unwrap_or(image.bytes.len() as u64);
                let altered_by_odoo = Stored::altered(&image, stored_size, checksum.as_deref());
                let stored = Stored {
                    request_id,
                    image_id,
                    attachment_id,
                    stored_size,
                    altered_by_odoo,
                };
                Ok(self.completed(image, stored))
            }
            (other, _) => Err(OdooError::InvalidResponse(format!(
                "{APPLY_METHOD} answered {other:?} to a {kind:?} result"
            ))
            .into()),
        }
    }
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
        assert_eq!(
            checksum.as_deref(),
            Some(super::super::sha1_hex(b"").as_str())
        );
        assert_eq!(stored_size, Some(0));
    }

    #[test]
    fn digits_are_ids_and_anything_else_the_uuid() {
        assert_eq!(reference_of("42"), json!({"field": "id", "value": 42}));
        assert_eq!(
            reference_of("ab-12"),
            json!({"field": "uuid", "value": "ab-12"})
        );
    }

    #[test]
    fn the_image_travels_as_base64_of_the_bytes() {
        let result = SuccessResult {
            kind: Kind::Success,
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
