//! Downloading an `image_url`: guarded, bounded in size and time.
//!
//! One [`ImageFetcher`] holds one reqwest client for the daemon's life. What
//! must stay true:
//!
//! - every URL, redirect hop and resolved address passes the [`UrlGuard`]
//!   (the client has no other resolver and no proxy);
//! - `images.download_timeout` bounds the whole download: DNS, connect,
//!   redirects and body;
//! - at most `images.max_bytes` are kept: a larger `Content-Length` fails at
//!   once, and a body without one is cut off as soon as it passes the limit,
//!   so no more than the limit plus one network chunk is ever held;
//! - no cookies, no credentials, no `Referer`, no decompression (reqwest is
//!   built without those features): the bytes verified are the bytes sent.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use url::Url;

use super::{ImageError, ImageLimits, UrlGuard, VerifiedImage, verify};
use crate::config::ImageConfig;

/// Redirects followed per download: CDNs need one or two.
pub(crate) const MAX_REDIRECTS: usize = 3;
/// Sent on every download, so image hosts can tell who is asking.
const USER_AGENT: &str = concat!("influence-gen-bridge/", env!("CARGO_PKG_VERSION"));

/// Downloads and verifies images under the `[images]` rules.
#[derive(Debug, Clone)]
pub struct ImageFetcher {
    client: reqwest::Client,
    guard: UrlGuard,
    limits: ImageLimits,
    timeout: Duration,
}

impl ImageFetcher {
    /// Builds the HTTP client `config` describes.
    pub fn new(config: &ImageConfig) -> Result<Self, ImageError> {
        crate::tls::install_crypto_provider();
        let guard = UrlGuard::new(config);
        let redirect_guard = guard.clone();
        let max_redirects = MAX_REDIRECTS;
        let redirect_policy =
            reqwest::redirect::Policy::custom(move |attempt| {
                match redirect_guard.check_redirect(
                    attempt.url(),
                    attempt.previous(),
                    max_redirects,
                ) {
                    Ok(()) => attempt.follow(),
                    Err(refusal) => attempt.error(refusal),
                }
            });
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .dns_resolver(guard.resolver())
            .no_proxy()
            .redirect(redirect_policy)
            .referer(false)
            .retry(reqwest::retry::never())
            .timeout(config.download_timeout)
            .build()
            .map_err(|e| {
                tracing::error!(error = %e, "cannot build the image download client");
                ImageError::ClientSetup
            })?;
        Ok(Self {
            client,
            guard,
            limits: ImageLimits::from(config),
            timeout: config.download_timeout,
        })
    }

    /// The limits every image is verified against.
    pub fn limits(&self) -> &ImageLimits {
        &self.limits
    }

    /// Downloads `url` and verifies the bytes as an image.
    pub async fn fetch(&self, url: &str) -> Result<VerifiedImage, ImageError> {
        let url = Url::parse(url.trim()).map_err(|_| ImageError::InvalidUrl)?;
        self.guard.check_url(&url)?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let bytes = tokio::time::timeout(self.timeout, self.download(url, &host))
            .await
            .map_err(|_| ImageError::Timeout {
                host: host.clone(),
                timeout: self.timeout,
            })??;
        if bytes.is_empty() {
            return Err(ImageError::EmptyBody { host });
        }
        // Hashing tens of megabytes is CPU work: keep it off the async workers.
        let limits = self.limits;
        match tokio::task::spawn_blocking(move || verify(bytes, &limits)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(ImageError::ShuttingDown),
        }
    }

    async fn download(&self, url: Url, host: &str) -> Result<Bytes, ImageError> {
        let response = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "image/*")
            .send()
            .await
            .map_err(|e| self.classify(e, host))?;
        let final_host = response.url().host_str().unwrap_or(host).to_owned();
        let status = response.status();
        if !status.is_success() {
            return Err(ImageError::HttpStatus {
                host: final_host,
                status: status.as_u16(),
            });
        }
        let declared = response.content_length();
        if let Some(size) = declared.filter(|&size| size > self.limits.max_bytes) {
            return Err(ImageError::TooLarge {
                size: Some(size),
                limit: self.limits.max_bytes,
            });
        }
        let body = ResponseChunks {
            response,
            fetcher: self,
            host: final_host,
        };
        read_capped(body, declared, self.limits.max_bytes).await
    }

    /// Sorts a reqwest error into an [`ImageError`], logging the detail that
    /// the message leaves out (without the URL: it may carry a token).
    fn classify(&self, error: reqwest::Error, host: &str) -> ImageError {
        let error = error.without_url();
        // The guard's own refusals travel inside reqwest's errors: from the
        // redirect policy, and from the resolver through the connector.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(current) = source {
            if let Some(refusal) = current.downcast_ref::<ImageError>() {
                return refusal.clone();
            }
            source = current.source();
        }
        tracing::debug!(host, error = %error_chain(&error), "image download failed");
        if error.is_timeout() {
            ImageError::Timeout {
                host: host.to_owned(),
                timeout: self.timeout,
            }
        } else if error.is_redirect() || error.is_builder() {
            ImageError::InvalidRedirect {
                host: host.to_owned(),
            }
        } else {
            ImageError::Connect {
                host: host.to_owned(),
            }
        }
    }
}

/// Where a body's chunks come from: a response, or a test's generator.
pub(super) trait Chunks {
    /// The next chunk, `None` at the end of the body.
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, ImageError>> + Send;
}

impl<C: Chunks> Chunks for &mut C {
    fn next_chunk(&mut self) -> impl Future<Output = Result<Option<Bytes>, ImageError>> + Send {
        (**self).next_chunk()
    }
}

/// A response body, its errors classified for `host`.
struct ResponseChunks<'a> {
    response: reqwest::Response,
    fetcher: &'a ImageFetcher,
    host: String,
}

impl Chunks for ResponseChunks<'_> {
    async fn next_chunk(&mut self) -> Result<Option<Bytes>, ImageError> {
        self.response
            .chunk()
            .await
            .map_err(|e| self.fetcher.classify(e, &self.host))
    }
}

/// Collects a body into at most `max_bytes` bytes, failing as soon as one
/// more chunk would pass the limit (that chunk is never appended).
///
/// `declared` (a `Content-Length` already checked against the limit) only
/// sizes the buffer up front.
pub(super) async fn read_capped(
    mut body: impl Chunks,
    declared: Option<u64>,
    max_bytes: u64,
) -> Result<Bytes, ImageError> {
    let capacity = declared.unwrap_or(0).min(max_bytes);
    let mut collected = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    while let Some(chunk) = body.next_chunk().await? {
        if (collected.len() + chunk.len()) as u64 > max_bytes {
            return Err(ImageError::TooLarge {
                size: None,
                limit: max_bytes,
            });
        }
        collected.extend_from_slice(&chunk);
    }
    Ok(collected.freeze())
}

/// `error` and its sources, joined for a log line.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(current) = source {
        text.push_str(": ");
        text.push_str(&current.to_string());
        source = current.source();
    }
    text
}

#[cfg(test)]
mod tests;
