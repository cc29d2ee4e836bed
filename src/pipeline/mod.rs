//! Applying a callback's result to Odoo (docs/protocol.md#applying-a-result).
//!
//! [`Pipeline::apply`] is idempotent: a result delivered twice, or ten times
//! at once, creates one generated image, and a failure never overwrites a
//! completed request. The companion protocol ([`companion`]) applies a result
//! in one Odoo transaction under a row lock; the generic one ([`store`])
//! serializes deliveries with a per-request lock and makes every step find
//! what an interrupted attempt made. `ai_generation_request_id` is the Odoo
//! id when all digits, else the request's [`UUID_FIELD`].

pub mod chatter;
mod companion;
mod store;

use std::sync::Arc;

use arc_swap::ArcSwap;
use serde_json::json;
use sha1::{Digest, Sha1};

use crate::callback::{CallbackResult, Claims, ImagePayload, Outcome};
use crate::config::Config;
use crate::image::{self, ImageError, ImageFetcher, ImageLimits, VerifiedImage};
use crate::locks::RequestLocks;
use crate::metrics::Metrics;
use crate::odoo::records::REQUEST_MODEL;
use crate::odoo::{OdooClient, OdooError, Protocol, SearchOptions};

/// What applying a result did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The image is stored and the request completed.
    Completed {
        request_id: i64,
        image_id: i64,
        attachment_id: i64,
        size: u64,
        sha256_hex: String,
    },
    /// The request is `failed` with the reported failure.
    FailureRecorded { request_id: i64 },
    /// This exact result was already applied; nothing changed.
    Duplicate { request_id: i64 },
    /// The image cannot be used; the request is `failed` with the reason.
    ImageRejected { request_id: i64, reason: String },
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error("no AI image request matches {0:?}")]
    UnknownRequest(String),
    /// The request is completed and this result would change it.
    #[error("request {request_id} is already completed with {reason}")]
    Conflict {
        request_id: i64,
        reason: &'static str,
    },
    /// The image host failed in a way that may pass.
    #[error("the image is not available yet: {0}")]
    ImageUnavailable(ImageError),
    /// Generic protocol: a create may commit later; not repeated before `odoo.unknown_outcome_wait`.
    #[error("Odoo may still commit a create whose answer was lost: {0}")]
    OutcomeUnknown(OdooError),
    #[error(transparent)]
    Odoo(#[from] OdooError),
}

impl PipelineError {
    /// Odoo refused the bridge itself: not the result's fault, so it waits.
    pub fn refusal(&self) -> Option<crate::odoo::Refusal> {
        match self {
            Self::Odoo(error) => error.refusal(),
            _ => None,
        }
    }

    /// Whether trying the same result again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::ImageUnavailable(_) | Self::OutcomeUnknown(_) => true,
            Self::Odoo(error) => error.is_transient(),
            Self::UnknownRequest(_) | Self::Conflict { .. } => false,
        }
    }
}

fn unknown(reference: &str) -> PipelineError {
    PipelineError::UnknownRequest(reference.to_owned())
}

/// Which kind of result is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Success,
    Failure,
    /// An unusable image, recorded as a failure.
    Rejected,
}

impl Kind {
    fn conflict(self, request_id: i64) -> PipelineError {
        let reason = match self {
            Self::Success => "a different image",
            Self::Failure => "an image; a failure cannot replace it",
            Self::Rejected => "an image; an unusable one cannot replace it",
        };
        PipelineError::Conflict { request_id, reason }
    }
}

struct Stored {
    request_id: i64,
    image_id: i64,
    attachment_id: i64,
    stored_size: u64,
    altered_by_odoo: bool,
}

impl Stored {
    /// Whether Odoo kept other bytes than `image` (it resized them).
    fn altered(image: &VerifiedImage, stored_size: u64, checksum: Option<&str>) -> bool {
        stored_size != image.bytes.len() as u64
            || checksum.is_some_and(|checksum| checksum != sha1_hex(&image.bytes))
    }
}

fn sha1_hex(bytes: &[u8]) -> String {
    let digest = Sha1::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub use crate::odoo::records::UUID_FIELD;

/// The Odoo id `reference` is, if a positive decimal number.
pub fn as_id(reference: &str) -> Option<i64> {
    let digits = reference.bytes().all(|b| b.is_ascii_digit());
    let id = digits.then(|| reference.parse().ok()).flatten();
    id.filter(|id| *id > 0)
}

#[derive(Debug)]
pub struct Pipeline {
    odoo: OdooClient,
    fetcher: ArcSwap<ImageFetcher>,
    locks: RequestLocks,
    chatter: chatter::Chatter,
    attachment_field: std::sync::OnceLock<bool>,
    metrics: Arc<Metrics>,
}

impl Pipeline {
    pub fn new(odoo: OdooClient, fetcher: ImageFetcher, metrics: Arc<Metrics>) -> Self {
        Self {
            odoo,
            fetcher: ArcSwap::from_pointee(fetcher),
            locks: RequestLocks::default(),
            chatter: chatter::Chatter::default(),
            attachment_field: std::sync::OnceLock::new(),
            metrics,
        }
    }

    pub fn set_fetcher(&self, fetcher: ImageFetcher) {
        self.fetcher.store(Arc::new(fetcher));
    }

    /// The per-request locks, shared with the initiation.
    pub fn request_locks(&self) -> RequestLocks {
        self.locks.clone()
    }

    /// Whether the session speaks the companion protocol (false while unknown).
    pub fn speaks_companion(&self) -> bool {
        matches!(self.odoo.known_protocol(), Some(Protocol::Companion { .. }))
    }

    /// How long an entry waits after a call of unknown outcome: none in the
    /// companion protocol (a retry answers `duplicate`), else (also when the
    /// protocol is unknown) `odoo.unknown_outcome_wait`.
    pub async fn unknown_outcome_hold(&self, config: &Config) -> Option<std::time::Duration> {
        match self.odoo.protocol().await {
            Ok(Protocol::Companion { .. }) => None,
            Ok(Protocol::Generic) | Err(_) => Some(config.odoo.unknown_outcome_wait),
        }
    }

    /// The request's Odoo id if that needs no call; `None`: ask Odoo.
    pub fn resolve_offline(&self, reference: &str) -> Option<Option<i64>> {
        as_id(reference).map(Some)
    }

    /// The request's Odoo id, `Ok(None)` when none (the spool orders by it).
    pub async fn resolve(&self, reference: &str) -> Result<Option<i64>, PipelineError> {
        if let Some(id) = as_id(reference) {
            return Ok(Some(id));
        }
        let options = SearchOptions {
            limit: Some(1),
            ..SearchOptions::default()
        };
        let domain = json!([[UUID_FIELD, "=", reference]]);
        let ids = self.odoo.search(REQUEST_MODEL, &domain, &options).await?;
        Ok(ids.first().copied())
    }

    pub async fn apply(
        &self,
        config: &Config,
        result: &CallbackResult,
    ) -> Result<Applied, PipelineError> {
        let reference = result.request_ref.as_str();
        let (image, claims) = match &result.outcome {
            Outcome::Failure { message, details } => {
                let error_details = match details {
                    Some(details) => format!("{message}\n\n{details}"),
                    None => message.clone(),
                };
                return self
                    .record_failure(reference, &error_details, Kind::Failure)
                    .await;
            }
            Outcome::Success { image, claims } => (image, claims),
        };
        let verified = match image {
            ImagePayload::Inline(bytes) => {
                image::verify(bytes.clone(), &ImageLimits::from(&config.images))
            }
            ImagePayload::Url(url) => {
                let started = std::time::Instant::now();
                let fetched = self.fetcher.load_full().fetch(url).await;
                if let Ok(image) = &fetched {
                    let (metrics, size) = (&self.metrics, image.bytes.len() as u64);
                    metrics.image_download_bytes.inc_by(size);
                    (metrics.image_download_duration).observe(started.elapsed().as_secs_f64());
                }
                fetched
            }
            ImagePayload::Refused(reason) => return self.reject(reference, reason).await,
        };
        match verified {
            Ok(verified) => self.complete(reference, verified, claims).await,
            Err(error) if error.is_transient() => Err(PipelineError::ImageUnavailable(error)),
            Err(error) => self.reject(reference, &error.to_string()).await,
        }
    }

    /// Marks the request failed for an unusable image (also once an
    /// [`PipelineError::ImageUnavailable`] never passes).
    pub async fn reject(&self, reference: &str, reason: &str) -> Result<Applied, PipelineError> {
        let error_details = format!("Image unusable: {reason}");
        let applied = self
            .record_failure(reference, &error_details, Kind::Rejected)
            .await?;
        Ok(match applied {
            Applied::FailureRecorded { request_id } => Applied::ImageRejected {
                request_id,
                reason: reason.to_owned(),
            },
            other => other,
        })
    }

    async fn record_failure(
        &self,
        reference: &str,
        error_details: &str,
        kind: Kind,
    ) -> Result<Applied, PipelineError> {
        match self.odoo.protocol().await? {
            Protocol::Companion { .. } => {
                self.companion_failure(reference, error_details, kind).await
            }
            Protocol::Generic => self.generic_failure(reference, error_details, kind).await,
        }
    }

    async fn complete(
        &self,
        reference: &str,
        image: VerifiedImage,
        claims: &Claims,
    ) -> Result<Applied, PipelineError> {
        for mismatch in image::claim_mismatches(
            &image,
            claims.mimetype.as_deref(),
            claims.file_format.as_deref(),
            claims.width,
            claims.height,
            claims.file_size,
        ) {
            tracing::warn!(ai_generation_request_id = %reference, %mismatch, "the callback's metadata does not match the image; storing the real values");
        }
        match self.odoo.protocol().await? {
            Protocol::Companion { .. } => self.companion_success(reference, image).await,
            Protocol::Generic => self.generic_success(reference, image).await,
        }
    }

    /// The answer to a completion, warning when Odoo altered the bytes.
    fn completed(&self, image: VerifiedImage, stored: Stored) -> Applied {
        if stored.altered_by_odoo {
            self.metrics.images_altered_by_odoo.inc();
            tracing::warn!(
                ai_generation_request_id = stored.request_id,
                sent_bytes = image.bytes.len(),
                stored_bytes = stored.stored_size,
                "Odoo stored different bytes than sent (base.image_autoresize_max_px resized it); hash_value keeps the original's SHA-256"
            );
        }
        Applied::Completed {
            request_id: stored.request_id,
            image_id: stored.image_id,
            attachment_id: stored.attachment_id,
            size: image.bytes.len() as u64,
            sha256_hex: image.sha256_hex,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_ids_and_anything_else_a_uuid() {
        assert_eq!(as_id("42"), Some(42));
        for uuid in ["81fbb39d-5411-4204-b2af-d6f45dafde7a", "0", "+5", "-3", ""] {
            assert_eq!(as_id(uuid), None, "{uuid}");
        }
        assert_eq!(as_id("99999999999999999999"), None);
    }
}
