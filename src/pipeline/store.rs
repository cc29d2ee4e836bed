//! The generic protocol: a result applied with plain ORM calls
//! (docs/protocol.md#applying-a-result). Each call is its own transaction, so
//! each step first finds what an interrupted attempt made: (1) the request's
//! `generated_image` with this SHA-256 (applied only if it is the request's
//! `generated_image_id`; else an orphan, finished while the request is open,
//! deleted once another image completed it); (2) else a new image; (3) its
//! `ir.attachment`, made and read back in one `web_save`; (4) the link,
//! `storage_identifier` (and `attachment_id` if the model has it).

use serde::Serialize;
use serde_json::json;

use super::{Applied, Kind, Pipeline, PipelineError, Stored, unknown};
use crate::image::VerifiedImage;
use crate::locks::RequestGuard;
use crate::odoo::records::{
    ATTACHMENT_MODEL, AiImageRequest, Attachment, IMAGE_MODEL, REQUEST_MODEL, RequestStatus,
};
use crate::odoo::{OdooError, SearchOptions};

/// Images of one request with the same hash, at most (each an interrupted attempt).
const MAX_SAME_HASH: u32 = 16;

#[derive(Debug, Clone, serde::Deserialize)]
struct ExistingImage {
    id: i64,
    #[serde(default, deserialize_with = "crate::odoo::value::blank_as_none")]
    storage_identifier: Option<String>,
}

impl Pipeline {
    /// Whether the image model has an `attachment_id` many2one (the example
    /// addon's; the SDS model has none), asked once (at login by the daemon).
    pub async fn has_attachment_field(&self) -> Result<bool, OdooError> {
        if let Some(known) = self.attachment_field.get() {
            return Ok(*known);
        }
        let fields = self.odoo.fields_get(IMAGE_MODEL).await?;
        let present = fields.get("attachment_id").is_some_and(|field| {
            field.field_type == "many2one" && field.relation.as_deref() == Some(ATTACHMENT_MODEL)
        });
        if !present {
            tracing::info!(
                model = IMAGE_MODEL,
                "the image model has no attachment_id; storage_identifier alone links the attachment"
            );
        }
        Ok(*self.attachment_field.get_or_init(|| present))
    }
}

/// The `ir.attachment` values; `datas` is base64 written from the bytes.
#[derive(Serialize)]
struct AttachmentVals<'a> {
    name: String,
    #[serde(serialize_with = "crate::callback::serialize_base64")]
    datas: &'a [u8],
    mimetype: &'static str,
    res_model: &'a str,
    res_id: i64,
}

/// A failed create: [`PipelineError::OutcomeUnknown`] if it may commit later.
fn create_failed(error: OdooError) -> PipelineError {
    if error.outcome_unknown() {
        PipelineError::OutcomeUnknown(error)
    } else {
        PipelineError::Odoo(error)
    }
}

impl Pipeline {
    /// The request, read under its lock, after any other delivery finished.
    async fn locked_request(
        &self,
        reference: &str,
    ) -> Result<(AiImageRequest, RequestGuard), PipelineError> {
        let id = self
            .resolve(reference)
            .await?
            .ok_or_else(|| unknown(reference))?;
        let guard = self.locks.lock(id).await;
        // A `search_read`: a missing id is an empty answer, not a MissingError.
        let domain = json!([["id", "=", id]]);
        let fields = [
            "id",
            "status",
            "error_details",
            "generated_image_id",
            "campaign_id",
        ];
        let options = SearchOptions {
            limit: Some(1),
            ..SearchOptions::default()
        };
        let mut found: Vec<AiImageRequest> = self
            .odoo
            .search_read(REQUEST_MODEL, &domain, &fields, &options)
            .await?;
        Ok((found.pop().ok_or_else(|| unknown(reference))?, guard))
    }

    pub(super) async fn generic_failure(
        &self,
        reference: &str,
        error_details: &str,
        kind: Kind,
    ) -> Result<Applied, PipelineError> {
        let (request, _guard) = self.locked_request(reference).await?;
        let request_id = request.id;
        if request.status == RequestStatus::Completed {
            return Err(kind.conflict(request_id));
        }
        if request.status == RequestStatus::Failed
            && request.error_details.as_deref() == Some(error_details)
        {
            return Ok(Applied::Duplicate { request_id });
        }
        let vals =
            json!({ "status": RequestStatus::Failed.as_str(), "error_details": error_details });
        self.odoo.write(REQUEST_MODEL, &[request_id], &vals).await?;
        let first_line = error_details.lines().next().unwrap_or_default();
        let note = format!("AI image generation failed: {first_line}");
        self.chatter
            .post(&self.odoo, REQUEST_MODEL, request_id, &note)
            .await;
        Ok(Applied::FailureRecorded { request_id })
    }

    pub(super) async fn generic_success(
        &self,
        reference: &str,
        image: VerifiedImage,
    ) -> Result<Applied, PipelineError> {
        let (request, _guard) = self.locked_request(reference).await?;
        let domain = json!([
            ["request_id", "=", request.id],
            ["hash_value", "=", image.sha256_hex]
        ]);
        let options = SearchOptions {
            limit: Some(MAX_SAME_HASH),
            order: Some("id asc".into()),
            ..SearchOptions::default()
        };
        let found: Vec<ExistingImage> = self
            .odoo
            .search_read(
                IMAGE_MODEL,
                &domain,
                &["id", "storage_identifier"],
                &options,
            )
            .await?;
        if request.status == RequestStatus::Completed {
            return self.settle_completed(&request, found).await;
        }
        // An image of an interrupted attempt is finished, not made again.
        let stored = self
            .store(&request, &image, found.into_iter().next())
            .await?;
        let vals = json!({ "status": RequestStatus::Completed.as_str(), "generated_image_id": stored.image_id, "error_details": false });
        self.odoo.write(REQUEST_MODEL, &[request.id], &vals).await?;
        let note = format!(
            "AI image stored: {}×{} {}, {} bytes, SHA-256 {}",
            image.width,
            image.height,
            image.format.extension().to_uppercase(),
            image.bytes.len(),
            &image.sha256_hex[..16.min(image.sha256_hex.len())]
        );
        self.chatter
            .post(&self.odoo, REQUEST_MODEL, request.id, &note)
            .await;
        Ok(self.completed(image, stored))
    }

    /// A success for a completed request: a duplicate only if its image is the
    /// linked one. Unlinked ones are orphans, deleted best effort.
    async fn settle_completed(
        &self,
        request: &AiImageRequest,
        found: Vec<ExistingImage>,
    ) -> Result<Applied, PipelineError> {
        let linked = request.generated_image_id.as_ref().map(|image| image.id);
        let (applied, orphans): (Vec<i64>, Vec<i64>) = found
            .into_iter()
            .map(|image| image.id)
            .partition(|id| Some(*id) == linked);
        if !orphans.is_empty() {
            let done: Result<Option<bool>, _> = self
                .odoo
                .execute_kw(IMAGE_MODEL, "unlink", &json!([orphans]), &json!({}))
                .await;
            let request_id = request.id;
            match done {
                Ok(_) => {
                    tracing::info!(ai_generation_request_id = request_id, images = ?orphans, "deleted generated images an interrupted attempt left unlinked")
                }
                Err(error) => {
                    tracing::warn!(ai_generation_request_id = request_id, images = ?orphans, %error, "generated images an interrupted attempt left unlinked remain; delete them in Odoo")
                }
            }
        }
        if applied.is_empty() {
            return Err(Kind::Success.conflict(request.id));
        }
        Ok(Applied::Duplicate {
            request_id: request.id,
        })
    }

    /// Steps 2–4 for a request that has no completed image yet.
    async fn store(
        &self,
        request: &AiImageRequest,
        image: &VerifiedImage,
        existing: Option<ExistingImage>,
    ) -> Result<Stored, PipelineError> {
        let (image_id, linked_attachment) = match &existing {
            Some(found) => (
                found.id,
                found
                    .storage_identifier
                    .as_deref()
                    .and_then(|s| s.parse().ok()),
            ),
            None => (self.create_image(request, image).await?, None),
        };
        let earlier_attachment = match linked_attachment {
            Some(id) => Some(id),
            None if existing.is_some() => self.find_attachment(image_id).await?,
            None => None,
        };
        let attachment = match earlier_attachment {
            Some(id) => self.read_back(id).await?,
            None => self
                .create_attachment(request.id, image_id, image)
                .await
                .map_err(create_failed)?,
        };
        let stored_size = attachment
            .file_size
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(image.bytes.len() as u64);
        let altered_by_odoo = attachment.checksum.is_none()
            || Stored::altered(image, stored_size, attachment.checksum.as_deref());
        if linked_attachment.is_none() || altered_by_odoo {
            let mut vals = json!({ "storage_identifier": attachment.id.to_string() });
            if self.has_attachment_field().await? {
                vals["attachment_id"] = json!(attachment.id);
            }
            if altered_by_odoo {
                vals["file_size"] = json!(stored_size);
            }
            self.odoo.write(IMAGE_MODEL, &[image_id], &vals).await?;
        }
        Ok(Stored {
            request_id: request.id,
            image_id,
            attachment_id: attachment.id,
            stored_size,
            altered_by_odoo,
        })
    }

    async fn create_image(
        &self,
        request: &AiImageRequest,
        image: &VerifiedImage,
    ) -> Result<i64, PipelineError> {
        let retention_category = match &request.campaign_id {
            Some(campaign) => format!("campaign_asset_{}", campaign.id),
            None => "personal_generation".to_owned(),
        };
        let vals = json!({
            "request_id": request.id,
            "storage_type": "ir.attachment",
            "file_format": image.format.extension(),
            "file_size": image.bytes.len(),
            "width": image.width,
            "height": image.height,
            "hash_value": image.sha256_hex,
            "retention_category": retention_category,
        });
        self.odoo
            .create(IMAGE_MODEL, &vals)
            .await
            .map_err(create_failed)
    }

    async fn find_attachment(&self, image_id: i64) -> Result<Option<i64>, OdooError> {
        let domain = json!([["res_model", "=", IMAGE_MODEL], ["res_id", "=", image_id]]);
        let options = SearchOptions {
            limit: Some(1),
            order: Some("id asc".into()),
            ..SearchOptions::default()
        };
        let ids = self
            .odoo
            .search(ATTACHMENT_MODEL, &domain, &options)
            .await?;
        Ok(ids.first().copied())
    }

    /// Creates the attachment and reads back what Odoo stored (`web_save`).
    async fn create_attachment(
        &self,
        request_id: i64,
        image_id: i64,
        image: &VerifiedImage,
    ) -> Result<Attachment, OdooError> {
        let vals = AttachmentVals {
            name: format!("ai_gen_{request_id}_{}", image.format.extension()),
            datas: &image.bytes,
            mimetype: image.format.mimetype(),
            res_model: IMAGE_MODEL,
            res_id: image_id,
        };
        // Without `image_no_postprocess` Odoo resizes (and re-encodes) images
        // larger than `base.image_autoresize_max_px`, 1920 px by default.
        let kwargs = json!({
            "specification": { "checksum": {}, "file_size": {} },
            "context": { "image_no_postprocess": true },
        });
        let saved: Option<Vec<Attachment>> = self
            .odoo
            .execute_kw(ATTACHMENT_MODEL, "web_save", &(json!([]), &vals), &kwargs)
            .await?;
        match saved {
            Some(mut rows) if rows.len() == 1 => Ok(rows.remove(0)),
            other => Err(OdooError::InvalidResponse(format!(
                "web_save answered {other:?}"
            ))),
        }
    }

    async fn read_back(&self, id: i64) -> Result<Attachment, OdooError> {
        let fields = ["checksum", "file_size"];
        let mut found: Vec<Attachment> = self.odoo.read(ATTACHMENT_MODEL, &[id], &fields).await?;
        found.pop().ok_or_else(|| {
            OdooError::InvalidResponse(format!("attachment {id} vanished after its creation"))
        })
    }
}
