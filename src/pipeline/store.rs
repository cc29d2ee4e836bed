//! Storing a verified image in Odoo (SDS §3.7, §8), one idempotent step at
//! a time.
//!
//! Every `execute_kw` is its own Odoo transaction, so a stop between two
//! calls leaves the earlier ones committed. Each step therefore first finds
//! what an earlier attempt made and reuses it:
//!
//! 1. the `generated_image` of this request with this SHA-256 (one search;
//!    the idempotency check of every success). A result counts as applied
//!    only when that image is the request's `generated_image_id`: an image
//!    with the hash that is not linked is an orphan of an interrupted
//!    attempt, finished here while the request is open, deleted
//!    ([`discard_orphans`]) once another image completed it;
//! 2. otherwise it is created with all its metadata;
//! 3. the `ir.attachment` is created already pointing at the image
//!    (`res_model`/`res_id`), so no separate link write is needed for it,
//!    and in the same call (`web_save`) its `checksum` and `file_size` are
//!    read back. It is created with the context `image_no_postprocess`, so
//!    Odoo stores the bytes as sent instead of resizing images beyond
//!    `base.image_autoresize_max_px`; an Odoo that alters them anyway is
//!    still detected from the checksum. When resuming an interrupted
//!    attempt, an attachment it made is found by `res_model`/`res_id`;
//! 4. the image gets `storage_identifier` (the attachment id) — the link —
//!    and, when the image model has it (the example addon's many2one,
//!    learnt once: [`ImageModel`]), `attachment_id` too.
//!
//! The base64 `datas` is written straight from the bytes into the JSON-RPC
//! request (no intermediate base64 string).
//!
//! A step's own search cannot see a row that a timed-out call commits
//! later, so a create whose outcome is unknown ends the attempt with
//! [`PipelineError::OutcomeUnknown`] and the caller waits before retrying.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::json;
use sha1::{Digest, Sha1};

use super::PipelineError;
use crate::config::OdooConfig;
use crate::image::VerifiedImage;
use crate::odoo::records::{ATTACHMENT_MODEL, Attachment};
use crate::odoo::{OdooClient, OdooError, SearchOptions, ServerErrorKind};

/// What was stored, and whether Odoo kept the bytes as sent.
#[derive(Debug, Clone)]
pub struct Stored {
    pub image_id: i64,
    pub attachment_id: i64,
    /// The size Odoo reports for the stored bytes.
    pub stored_size: u64,
    /// Odoo stored other bytes than it was sent (it resized the image).
    pub altered_by_odoo: bool,
}

/// An existing `generated_image` of the request with the same hash.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct ExistingImage {
    pub id: i64,
    #[serde(default, deserialize_with = "crate::odoo::value::blank_as_none")]
    pub storage_identifier: Option<String>,
}

/// Images of one request carrying the same hash, at most; more would take
/// as many interrupted attempts, each waiting out `odoo.timeout`.
const MAX_SAME_HASH: u32 = 16;

/// The images earlier deliveries of this result created, oldest first: the
/// one linked to the request, and orphans of interrupted attempts.
pub async fn find_images(
    odoo: &OdooClient,
    config: &OdooConfig,
    request_id: i64,
    sha256_hex: &str,
) -> Result<Vec<ExistingImage>, OdooError> {
    let domain = json!([
        ["request_id", "=", request_id],
        ["hash_value", "=", sha256_hex]
    ]);
    let options = SearchOptions {
        limit: Some(MAX_SAME_HASH),
        order: Some("id asc".into()),
        ..SearchOptions::default()
    };
    odoo.search_read(
        crate::odoo::records::IMAGE_MODEL,
        &domain,
        &["id", "storage_identifier"],
        &options,
    )
    .await
}

/// Deletes images an interrupted attempt left behind for a request that
/// another image completed (Odoo deletes their attachments with them).
/// Best effort: the result's answer does not depend on it; when the
/// bridge's user may not delete images the orphans are named in the log.
pub async fn discard_orphans(odoo: &OdooClient, config: &OdooConfig, request_id: i64, ids: &[i64]) {
    if ids.is_empty() {
        return;
    }
    let done: Result<Option<bool>, _> = odoo
        .execute_kw(
            crate::odoo::records::IMAGE_MODEL,
            "unlink",
            &json!([ids]),
            &json!({}),
        )
        .await;
    match done {
        Ok(_) => tracing::info!(
            ai_generation_request_id = request_id,
            images = ?ids,
            "deleted generated images an interrupted attempt left unlinked"
        ),
        Err(error) => tracing::warn!(
            ai_generation_request_id = request_id,
            images = ?ids,
            %error,
            "generated images an interrupted attempt left unlinked remain; delete them in Odoo"
        ),
    }
}

/// Whether the image model has an `attachment_id` many2one to
/// `ir.attachment`, learnt once with `fields_get` (at login, or at the
/// first link if Odoo was not reachable then).
#[derive(Debug, Default)]
pub struct ImageModel {
    attachment_field: AtomicU8,
}

const UNKNOWN: u8 = 0;
const PRESENT: u8 = 1;
const ABSENT: u8 = 2;

impl ImageModel {
    /// Asks Odoo which fields the image model has.
    pub async fn learn(&self, odoo: &OdooClient, config: &OdooConfig) -> Result<(), OdooError> {
        let fields = odoo.fields_get(crate::odoo::records::IMAGE_MODEL).await?;
        let present = fields.get("attachment_id").is_some_and(|field| {
            field.field_type == "many2one" && field.relation.as_deref() == Some(ATTACHMENT_MODEL)
        });
        if !present {
            tracing::info!(
                model = crate::odoo::records::IMAGE_MODEL,
                "the image model has no attachment_id; storage_identifier alone links the attachment"
            );
        }
        let state = if present { PRESENT } else { ABSENT };
        self.attachment_field.store(state, Ordering::Relaxed);
        Ok(())
    }

    async fn has_attachment_field(
        &self,
        odoo: &OdooClient,
        config: &OdooConfig,
    ) -> Result<bool, OdooError> {
        if self.attachment_field.load(Ordering::Relaxed) == UNKNOWN {
            self.learn(odoo, config).await?;
        }
        Ok(self.attachment_field.load(Ordering::Relaxed) == PRESENT)
    }
}

/// How the image is stored: what Odoo offers, learnt on first use.
#[derive(Debug, Default)]
pub struct Learnt {
    pub saving: AttachmentSaving,
    pub image_model: ImageModel,
}

/// Steps 2–5 for a request that has no completed image yet.
pub async fn store(
    odoo: &OdooClient,
    config: &OdooConfig,
    request_id: i64,
    retention_category: &str,
    image: &VerifiedImage,
    existing: Option<ExistingImage>,
    learnt: &Learnt,
) -> Result<Stored, PipelineError> {
    let (image_id, linked_attachment, recovering) = match existing {
        Some(found) => (
            found.id,
            found
                .storage_identifier
                .as_deref()
                .and_then(|s| s.parse::<i64>().ok()),
            true,
        ),
        None => (
            create_image(odoo, config, request_id, retention_category, image)
                .await
                .map_err(create_failed)?,
            None,
            false,
        ),
    };
    // Only an image an earlier attempt created can already have an
    // attachment; a new one cannot, so the happy path skips the search.
    let earlier_attachment = match (linked_attachment, recovering) {
        (Some(id), _) => Some(id),
        (None, true) => find_attachment(odoo, config, image_id).await?,
        (None, false) => None,
    };
    let stored = match earlier_attachment {
        Some(id) => read_back(odoo, id).await?,
        None => create_attachment(odoo, config, request_id, image_id, image, &learnt.saving)
            .await
            .map_err(create_failed)?,
    };
    let attachment_id = stored.id;
    let stored_size = stored
        .file_size
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(image.bytes.len() as u64);
    let original_sha1 = hex(&Sha1::digest(&image.bytes));
    let altered_by_odoo = stored.checksum.as_deref() != Some(original_sha1.as_str())
        || stored_size != image.bytes.len() as u64;
    if linked_attachment.is_none() || altered_by_odoo {
        let with_field = learnt
            .image_model
            .has_attachment_field(odoo, config)
            .await?;
        link(
            odoo,
            config,
            image_id,
            attachment_id,
            with_field,
            altered_by_odoo.then_some(stored_size),
        )
        .await?;
    }
    Ok(Stored {
        image_id,
        attachment_id,
        stored_size,
        altered_by_odoo,
    })
}

/// A failed create: [`PipelineError::OutcomeUnknown`] when it may have
/// reached Odoo and commit later.
fn create_failed(error: OdooError) -> PipelineError {
    if error.outcome_unknown() {
        PipelineError::OutcomeUnknown(error)
    } else {
        PipelineError::Odoo(error)
    }
}

async fn create_image(
    odoo: &OdooClient,
    config: &OdooConfig,
    request_id: i64,
    retention_category: &str,
    image: &VerifiedImage,
) -> Result<i64, OdooError> {
    let vals = json!({
        "request_id": request_id,
        "storage_type": "ir.attachment",
        "file_format": image.format.extension(),
        "file_size": image.bytes.len(),
        "width": image.width,
        "height": image.height,
        "hash_value": image.sha256_hex,
        "retention_category": retention_category,
    });
    odoo.create(crate::odoo::records::IMAGE_MODEL, &vals).await
}

async fn find_attachment(
    odoo: &OdooClient,
    config: &OdooConfig,
    image_id: i64,
) -> Result<Option<i64>, OdooError> {
    let domain = json!([
        ["res_model", "=", crate::odoo::records::IMAGE_MODEL],
        ["res_id", "=", image_id]
    ]);
    let options = SearchOptions {
        limit: Some(1),
        order: Some("id asc".into()),
        ..SearchOptions::default()
    };
    let ids = odoo.search(ATTACHMENT_MODEL, &domain, &options).await?;
    Ok(ids.first().copied())
}

/// The `ir.attachment` values, with `datas` serialized as base64 straight
/// from the image bytes.
#[derive(Serialize)]
struct AttachmentVals<'a> {
    name: String,
    #[serde(serialize_with = "base64_datas")]
    datas: &'a [u8],
    mimetype: &'static str,
    res_model: &'a str,
    res_id: i64,
}

fn base64_datas<S: serde::Serializer>(bytes: &&[u8], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&base64::display::Base64Display::new(bytes, &STANDARD))
}

/// The context of every attachment creation: without it Odoo resizes (and
/// re-encodes) PNG/JPEG/BMP/TIFF images larger than
/// `base.image_autoresize_max_px`, 1920 px by default.
fn no_postprocess() -> serde_json::Value {
    json!({ "image_no_postprocess": true })
}

/// Whether Odoo's `web_save` (create and read back in one call and one
/// transaction; Odoo 17+) is available, learnt on first use.
#[derive(Debug)]
pub struct AttachmentSaving {
    web_save: AtomicBool,
}

impl Default for AttachmentSaving {
    fn default() -> Self {
        Self {
            web_save: AtomicBool::new(true),
        }
    }
}

/// Creates the attachment and reads back what Odoo stored: one `web_save`
/// call, or `create` then `read` where `web_save` does not exist.
async fn create_attachment(
    odoo: &OdooClient,
    config: &OdooConfig,
    request_id: i64,
    image_id: i64,
    image: &VerifiedImage,
    saving: &AttachmentSaving,
) -> Result<Attachment, OdooError> {
    let vals = AttachmentVals {
        name: format!("ai_gen_{request_id}_{}", image.format.extension()),
        datas: &image.bytes,
        mimetype: image.format.mimetype(),
        res_model: crate::odoo::records::IMAGE_MODEL,
        res_id: image_id,
    };
    if saving.web_save.load(Ordering::Relaxed) {
        let specification = json!({
            "specification": { "checksum": {}, "file_size": {} },
            "context": no_postprocess(),
        });
        let saved: Result<Option<Vec<Attachment>>, _> = odoo
            .execute_kw(
                ATTACHMENT_MODEL,
                "web_save",
                &(json!([]), &vals),
                &specification,
            )
            .await;
        match saved {
            Ok(Some(mut rows)) if rows.len() == 1 => return Ok(rows.remove(0)),
            Ok(other) => {
                return Err(OdooError::InvalidResponse(format!(
                    "web_save answered {other:?}"
                )));
            }
            Err(error) if error.server_kind() == Some(ServerErrorKind::NoSuchMethod) => {
                tracing::info!(
                    "this Odoo has no web_save; attachments are created and read back in two calls"
                );
                saving.web_save.store(false, Ordering::Relaxed);
            }
            Err(error) => return Err(error),
        }
    }
    let id: Option<i64> = odoo
        .execute_kw(
            ATTACHMENT_MODEL,
            "create",
            &(&vals,),
            &json!({ "context": no_postprocess() }),
        )
        .await?;
    let id = id.ok_or_else(|| OdooError::InvalidResponse("create returned nothing".into()))?;
    read_back(odoo, id).await
}

async fn read_back(odoo: &OdooClient, attachment_id: i64) -> Result<Attachment, OdooError> {
    let mut found: Vec<Attachment> = odoo
        .read(
            ATTACHMENT_MODEL,
            &[attachment_id],
            &["checksum", "file_size"],
        )
        .await?;
    found.pop().ok_or_else(|| {
        OdooError::InvalidResponse(format!(
            "attachment {attachment_id} vanished after its creation"
        ))
    })
}

async fn link(
    odoo: &OdooClient,
    config: &OdooConfig,
    image_id: i64,
    attachment_id: i64,
    with_field: bool,
    stored_size: Option<u64>,
) -> Result<(), OdooError> {
    let mut vals = json!({ "storage_identifier": attachment_id.to_string() });
    if with_field {
        vals["attachment_id"] = json!(attachment_id);
    }
    if let Some(size) = stored_size {
        vals["file_size"] = json!(size);
    }
    odoo.write(crate::odoo::records::IMAGE_MODEL, &[image_id], &vals)
        .await
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}
