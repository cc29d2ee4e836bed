//! Applying a callback's result to Odoo (SDS §3.7, §8): the heart of the
//! bridge, called the same way by the callback route and by the spool.
//!
//! [`Pipeline::apply`] is idempotent: a result delivered twice, or ten times
//! at once, creates one generated image. A failure never overwrites a
//! completed request. Two protocols ([`crate::odoo::Protocol`]):
//!
//! * **companion** ([`companion`]): one `bridge_apply_result` call per
//!   result, whatever the outcome; Odoo decides and writes under a row lock
//!   in one transaction, so this holds across retries and bridges.
//! * **generic** (the rest of this module): deliveries for the same request
//!   are serialized by a per-request lock keyed by the Odoo id (a reference
//!   by id and one by UUID take the same lock), and every decision rests on
//!   a read taken while holding it; each Odoo write is a separate
//!   transaction, so every step first finds what an earlier, interrupted
//!   attempt made ([`store`]). A create whose outcome is unknown (timeout,
//!   lost connection, 502/503/504) ends the attempt with
//!   [`PipelineError::OutcomeUnknown`]: the spool then repeats nothing for
//!   that request before `odoo.unknown_outcome_wait`, when Odoo has
//!   committed or killed the call and a search sees the truth.
//!
//! Generic Odoo calls per outcome (the lookup is always first; it is the
//! read under the lock, plus one `search` the first time a UUID reference is
//! seen):
//!
//! | outcome | calls |
//! |---|---|
//! | success, new | lookup, image search (the idempotency check), image create, attachment create and read-back (one `web_save`), image link, request write, chatter note = 7 |
//! | success, duplicate | lookup, image search = 2 |
//! | failure | lookup, request write, chatter note = 3 |
//! | failure, duplicate | lookup = 1 |
//! | unusable image | lookup, request write, chatter note = 3 |
//! | unknown request | lookup = 1 |
//! | conflict (result for a completed request) | lookup (+ image search for a success) |

pub(crate) mod chatter;
use crate::locks;
mod companion;
mod lookup;
mod references;
mod store;

use std::sync::Arc;

use arc_swap::ArcSwap;

use serde_json::json;

use crate::callback::{CallbackResult, Claims, ImagePayload, Outcome};
use crate::config::Config;
use crate::image::{self, ImageError, ImageFetcher, ImageLimits, VerifiedImage};
use crate::metrics::Metrics;
use crate::odoo::records::{AiImageRequest, RequestStatus};
use crate::odoo::{OdooClient, OdooError, Protocol};

use chatter::Chatter;
use locks::RequestLocks;

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
    /// The failure is recorded: the request is `failed`.
    FailureRecorded { request_id: i64 },
    /// This exact result was already applied; nothing changed.
    Duplicate { request_id: i64 },
    /// The image cannot be used; the request is `failed` with the reason.
    ImageRejected { request_id: i64, reason: String },
}

impl Applied {
    /// The Odoo id of the request the result was applied to.
    pub fn request_id(&self) -> i64 {
        match self {
            Self::Completed { request_id, .. }
            | Self::FailureRecorded { request_id }
            | Self::Duplicate { request_id }
            | Self::ImageRejected { request_id, .. } => *request_id,
        }
    }
}

/// Why a result was not applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// No request matches `ai_generation_request_id`.
    #[error("no AI image request matches {0:?}")]
    UnknownRequest(String),
    /// The request is completed and this result would change it.
    #[error("request {request_id} is already completed with {reason}")]
    Conflict {
        request_id: i64,
        reason: &'static str,
    },
    /// The image could not be fetched for a reason that may pass (a
    /// timeout, a 503 from the image host); worth another attempt.
    #[error("the image is not available yet: {0}")]
    ImageUnavailable(ImageError),
    /// Generic protocol: a create may have reached Odoo and commit later
    /// (timeout, lost connection, 502/503/504). Transient, but nothing may
    /// repeat it before `odoo.unknown_outcome_wait` has passed.
    #[error("Odoo may still commit a create whose answer was lost: {0}")]
    OutcomeUnknown(OdooError),
    /// Odoo failed; see [`OdooError::is_transient`].
    #[error(transparent)]
    Odoo(#[from] OdooError),
}

impl PipelineError {
    /// Whether Odoo refused the bridge itself (see [`OdooError::refusal`]):
    /// not the result's fault, so it waits and is never given up for it.
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

/// Applies results to Odoo.
#[derive(Debug)]
pub struct Pipeline {
    odoo: OdooClient,
    fetcher: ArcSwap<ImageFetcher>,
    locks: RequestLocks,
    references: references::References,
    chatter: Chatter,
    learnt: store::Learnt,
    metrics: Arc<Metrics>,
}

impl Pipeline {
    /// A pipeline writing through `odoo`, downloading with `fetcher`.
    pub fn new(odoo: OdooClient, fetcher: ImageFetcher, metrics: Arc<Metrics>) -> Self {
        Self {
            odoo,
            fetcher: ArcSwap::from_pointee(fetcher),
            locks: RequestLocks::default(),
            references: references::References::default(),
            chatter: Chatter::default(),
            learnt: store::Learnt::default(),
            metrics,
        }
    }

    /// Learns what the Odoo models offer (called after the login, so the
    /// first result does not pay for it); what is not learnt here is
    /// learnt at first use.
    pub async fn prepare(&self, config: &Config) -> Result<(), PipelineError> {
        self.learnt
            .image_model
            .learn(&self.odoo, &config.odoo)
            .await?;
        Ok(())
    }

    /// Replaces the image downloader (its settings changed on reload).
    pub fn set_fetcher(&self, fetcher: ImageFetcher) {
        self.fetcher.store(Arc::new(fetcher));
    }

    async fn download(&self, url: &str) -> Result<VerifiedImage, ImageError> {
        let started = std::time::Instant::now();
        let fetcher = self.fetcher.load_full();
        let image = fetcher.fetch(url).await?;
        self.metrics
            .image_download_bytes
            .inc_by(image.bytes.len() as u64);
        self.metrics
            .image_download_duration
            .observe(started.elapsed().as_secs_f64());
        Ok(image)
    }

    /// Applies `result` under `config`.
    pub async fn apply(
        &self,
        config: &Config,
        result: &CallbackResult,
    ) -> Result<Applied, PipelineError> {
        match &result.outcome {
            Outcome::Failure { message, details } => {
                let error_details = failure_details(message, details.as_deref());
                self.record_failure(config, &result.request_ref, &error_details, false)
                    .await
            }
            Outcome::Success { image, claims } => {
                let limits = ImageLimits::from(&config.images);
                let verified = match image {
                    ImagePayload::Inline(bytes) => image::verify(bytes.clone(), &limits),
                    ImagePayload::Url(url) => self.download(url).await,
                    ImagePayload::Refused(reason) => {
                        return self.reject(config, &result.request_ref, reason).await;
                    }
                };
                match verified {
                    Ok(verified) => {
                        self.complete(config, &result.request_ref, verified, claims)
                            .await
                    }
                    Err(error) if error.is_transient() => {
                        Err(PipelineError::ImageUnavailable(error))
                    }
                    Err(error) => {
                        self.reject(config, &result.request_ref, &error.to_string())
                            .await
                    }
                }
            }
        }
    }

    /// Marks the request failed because its image is unusable. Also what the
    /// caller does when an [`PipelineError::ImageUnavailable`] never passes.
    pub async fn reject(
        &self,
        config: &Config,
        reference: &str,
        reason: &str,
    ) -> Result<Applied, PipelineError> {
        let error_details = format!("Image unusable: {reason}");
        match self
            .record_failure(config, reference, &error_details, true)
            .await?
        {
            Applied::FailureRecorded { request_id } => Ok(Applied::ImageRejected {
                request_id,
                reason: reason.to_owned(),
            }),
            other => Ok(other),
        }
    }

    /// How long an entry waits after a call of unknown outcome: the
    /// configured wait in the generic protocol (also when the protocol cannot
    /// be learnt now: fail closed), nothing in the companion protocol, whose
    /// retries Odoo answers `duplicate` under its row lock.
    pub async fn unknown_outcome_hold(&self, config: &Config) -> Option<std::time::Duration> {
        match self.odoo.protocol().await {
            Ok(Protocol::Companion { .. }) => None,
            Ok(Protocol::Generic) | Err(_) => Some(config.odoo.unknown_outcome_wait),
        }
    }

    /// A handle on the per-request locks, for the rest of the daemon: the
    /// initiation takes the same lock, so a result never races the
    /// initiation of its request.
    pub fn request_locks(&self) -> RequestLocks {
        self.locks.clone()
    }

    /// Whether this session speaks the companion protocol, as far as is
    /// known without asking Odoo (false while unknown).
    pub fn speaks_companion(&self) -> bool {
        matches!(self.odoo.known_protocol(), Some(Protocol::Companion { .. }))
    }

    /// The Odoo id of the request `reference` names, when that needs no
    /// call to Odoo (an id, or a UUID resolved before): `Some(Some(id))`;
    /// `Some(None)` when the reference can name no request; `None` when
    /// Odoo must be asked ([`Pipeline::resolve`]).
    pub fn resolve_offline(&self, config: &Config, reference: &str) -> Option<Option<i64>> {
        lookup::resolve_offline(config.odoo.lookup, reference)
            .or_else(|| self.references.get(reference).map(Some))
    }

    /// The Odoo id of the request `reference` names; `Ok(None)` when no
    /// request has it. The spool orders its entries by this id, so a result
    /// sent by id and one sent by UUID for the same request never overtake
    /// each other.
    pub async fn resolve(
        &self,
        config: &Config,
        reference: &str,
    ) -> Result<Option<i64>, PipelineError> {
        if let Some(known) = self.resolve_offline(config, reference) {
            return Ok(known);
        }
        let found = lookup::resolve(&self.odoo, &config.odoo, reference).await?;
        if let Some(id) = found {
            self.references.remember(reference, id);
        }
        Ok(found)
    }

    /// The request, read while its lock is held: every decision rests on a
    /// read taken after any other delivery of this request (in this
    /// process) finished, never on one that may have overlapped it.
    async fn locked_request(
        &self,
        config: &Config,
        reference: &str,
    ) -> Result<(AiImageRequest, locks::RequestGuard), PipelineError> {
        let unknown = || PipelineError::UnknownRequest(reference.to_owned());
        let id = self.resolve(config, reference).await?.ok_or_else(unknown)?;
        let guard = self.locks.lock(id).await;
        let request = lookup::read(&self.odoo, &config.odoo, id)
            .await?
            .ok_or_else(unknown)?;
        Ok((request, guard))
    }

    async fn record_failure(
        &self,
        config: &Config,
        reference: &str,
        error_details: &str,
        image_rejected: bool,
    ) -> Result<Applied, PipelineError> {
        if let Protocol::Companion { .. } = self.odoo.protocol().await? {
            let kind = if image_rejected {
                companion::Kind::Rejected
            } else {
                companion::Kind::Failure
            };
            let done =
                companion::apply_failure(&self.odoo, &config.odoo, reference, error_details, kind)
                    .await?;
            return Ok(match done {
                companion::Done::Duplicate { request_id } => Applied::Duplicate { request_id },
                companion::Done::FailureRecorded { request_id }
                | companion::Done::Completed(companion::Stored { request_id, .. }) => {
                    Applied::FailureRecorded { request_id }
                }
            });
        }
        let (request, _guard) = self.locked_request(config, reference).await?;
        if request.status == RequestStatus::Completed {
            let reason = if image_rejected {
                "an image; an unusable one cannot replace it"
            } else {
                "an image; a failure cannot replace it"
            };
            return Err(PipelineError::Conflict {
                request_id: request.id,
                reason,
            });
        }
        if request.status == RequestStatus::Failed
            && request.error_details.as_deref() == Some(error_details)
        {
            return Ok(Applied::Duplicate {
                request_id: request.id,
            });
        }
        let vals =
            json!({ "status": RequestStatus::Failed.as_str(), "error_details": error_details });
        self.odoo
            .write(crate::odoo::records::REQUEST_MODEL, &[request.id], &vals)
            .await?;
        let note = format!("AI image generation failed: {}", first_line(error_details));
        self.chatter
            .post(
                &self.odoo,
                crate::odoo::records::REQUEST_MODEL,
                request.id,
                &note,
            )
            .await;
        Ok(Applied::FailureRecorded {
            request_id: request.id,
        })
    }

    async fn complete(
        &self,
        config: &Config,
        reference: &str,
        image: VerifiedImage,
        claims: &Claims,
    ) -> Result<Applied, PipelineError> {
        warn_about_claims(reference, &image, claims);
        if let Protocol::Companion { .. } = self.odoo.protocol().await? {
            return self.complete_in_one_call(config, reference, image).await;
        }
        let (request, _guard) = self.locked_request(config, reference).await?;
        let found =
            store::find_images(&self.odoo, &config.odoo, request.id, &image.sha256_hex).await?;
        if request.status == RequestStatus::Completed {
            return self.settle_completed(config, &request, found).await;
        }
        // An image of an interrupted attempt is finished, not made again.
        let existing = found.into_iter().next();
        let retention = retention_category(&request);
        let stored = store::store(
            &self.odoo,
            &config.odoo,
            request.id,
            &retention,
            &image,
            existing,
            &self.learnt,
        )
        .await?;
        if stored.altered_by_odoo {
            self.altered_by_odoo(request.id, &image, stored.stored_size);
        }
        let vals = json!({ "status": RequestStatus::Completed.as_str(), "generated_image_id": stored.image_id, "error_details": false });
        self.odoo
            .write(crate::odoo::records::REQUEST_MODEL, &[request.id], &vals)
            .await?;
        let note = format!(
            "AI image stored: {}×{} {}, {} bytes, SHA-256 {}",
            image.width,
            image.height,
            image.format.extension().to_uppercase(),
            image.bytes.len(),
            &image.sha256_hex[..16.min(image.sha256_hex.len())]
        );
        self.chatter
            .post(
                &self.odoo,
                crate::odoo::records::REQUEST_MODEL,
                request.id,
                &note,
            )
            .await;
        Ok(Applied::Completed {
            request_id: request.id,
            image_id: stored.image_id,
            attachment_id: stored.attachment_id,
            size: image.bytes.len() as u64,
            sha256_hex: image.sha256_hex,
        })
    }

    /// A success for a completed request: a duplicate only when its image is
    /// the one linked to the request; images of this result that are not
    /// linked are orphans of an interrupted attempt, and are deleted.
    async fn settle_completed(
        &self,
        config: &Config,
        request: &AiImageRequest,
        found: Vec<store::ExistingImage>,
    ) -> Result<Applied, PipelineError> {
        let linked = request.generated_image_id.as_ref().map(|image| image.id);
        let (applied, orphans): (Vec<_>, Vec<_>) = found
            .into_iter()
            .map(|image| image.id)
            .partition(|id| Some(*id) == linked);
        store::discard_orphans(&self.odoo, &config.odoo, request.id, &orphans).await;
        if applied.is_empty() {
            return Err(PipelineError::Conflict {
                request_id: request.id,
                reason: "a different image",
            });
        }
        Ok(Applied::Duplicate {
            request_id: request.id,
        })
    }
}

impl Pipeline {
    /// The companion protocol's completion: one call does it all.
    async fn complete_in_one_call(
        &self,
        config: &Config,
        reference: &str,
        image: VerifiedImage,
    ) -> Result<Applied, PipelineError> {
        match companion::apply_success(&self.odoo, &config.odoo, reference, &image).await? {
            companion::Done::Completed(stored) => {
                if stored.altered_by_odoo {
                    self.altered_by_odoo(stored.request_id, &image, stored.stored_size);
                }
                Ok(Applied::Completed {
                    request_id: stored.request_id,
                    image_id: stored.image_id,
                    attachment_id: stored.attachment_id,
                    size: image.bytes.len() as u64,
                    sha256_hex: image.sha256_hex,
                })
            }
            companion::Done::Duplicate { request_id }
            | companion::Done::FailureRecorded { request_id } => {
                Ok(Applied::Duplicate { request_id })
            }
        }
    }

    fn altered_by_odoo(&self, request_id: i64, image: &VerifiedImage, stored_size: u64) {
        self.metrics.images_altered_by_odoo.inc();
        tracing::warn!(
            ai_generation_request_id = request_id,
            sent_bytes = image.bytes.len(),
            stored_bytes = stored_size,
            "Odoo stored different bytes than sent (base.image_autoresize_max_px resized it); hash_value keeps the original's SHA-256"
        );
    }
}

/// Logs where the callback's claims about the image differ from the image.
fn warn_about_claims(reference: &str, image: &VerifiedImage, claims: &Claims) {
    for mismatch in image::claim_mismatches(
        image,
        claims.mimetype.as_deref(),
        claims.file_format.as_deref(),
        claims.width,
        claims.height,
        claims.file_size,
    ) {
        tracing::warn!(ai_generation_request_id = %reference, %mismatch, "the callback's metadata does not match the image; storing the real values");
    }
}

/// SDS §3.7: `personal_generation`, or `campaign_asset_<id>` for a campaign.
fn retention_category(request: &AiImageRequest) -> String {
    match &request.campaign_id {
        Some(campaign) => format!("campaign_asset_{}", campaign.id),
        None => "personal_generation".to_owned(),
    }
}

/// The request's `error_details`: the message, then the details.
fn failure_details(message: &str, details: Option<&str>) -> String {
    match details {
        Some(details) => format!("{message}\n\n{details}"),
        None => message.to_owned(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
