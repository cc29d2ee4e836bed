//! Downloading an `image_url` with one reqwest client for the daemon's life:
//! every URL, redirect hop and resolved address passes the [`UrlGuard`] (the
//! client has no other resolver and no proxy); `images.download_timeout`
//! bounds the whole download, body included; at most `images.max_bytes` are
//! kept; no cookies, credentials, `Referer` or decompression (reqwest is
//! built without those features): the bytes verified are the bytes sent.

use std::error::Error;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use url::Url;

use super::{ImageError, ImageLimits, UrlGuard, VerifiedImage, verify};
use crate::config::ImageConfig;

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
    pub fn new(config: &ImageConfig) -> Result<Self, ImageError> {
        crate::tls::install_crypto_provider();
        let guard = UrlGuard::new(config);
        let redirects = guard.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            match redirects.check_redirect(attempt.url(), attempt.previous()) {
                Ok(()) => attempt.follow(),
                Err(refusal) => attempt.error(refusal),
            }
        });
        let client = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .dns_resolver(guard.clone())
            .no_proxy()
            .redirect(policy)
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

    /// Downloads `url` and verifies the bytes as an image.
    pub async fn fetch(&self, url: &str) -> Result<VerifiedImage, ImageError> {
        let url = Url::parse(url.trim()).map_err(|_| ImageError::InvalidUrl)?;
        self.guard.check_url(&url)?;
        let bytes = self.download(url).await?;
        // Hashing tens of megabytes is CPU work: keep it off the async workers.
        let limits = self.limits;
        match tokio::task::spawn_blocking(move || verify(bytes, &limits)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(ImageError::ShuttingDown),
        }
    }

    async fn download(&self, url: Url) -> Result<Bytes, ImageError> {
        let host = url.host_str().unwrap_or_default().to_owned();
        let mut response = self
            .client
            .get(url)
            .header(http::header::ACCEPT, "image/*")
            .send()
            .await
            .map_err(|e| self.classify(e, &host))?;
        let host = response.url().host_str().unwrap_or(&host).to_owned();
        let status = response.status();
        if !status.is_success() {
            return Err(ImageError::HttpStatus {
                host,
                status: status.as_u16(),
            });
        }
        let limit = self.limits.max_bytes;
        let too_large = |size| ImageError::TooLarge { size, limit };
        let declared = response.content_length().unwrap_or(0);
        if declared > limit {
            return Err(too_large(Some(declared)));
        }
        let mut body = BytesMut::with_capacity(usize::try_from(declared).unwrap_or(0));
        // A chunk that would pass the limit is refused, never appended.
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.classify(e, &host))?
        {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(too_large(None));
            }
            body.extend_from_slice(&chunk);
        }
        if body.is_empty() {
            return Err(ImageError::EmptyBody { host });
        }
        Ok(body.freeze())
    }

    /// Sorts a reqwest error into an [`ImageError`], logging the detail that
    /// the message leaves out (without the URL: it may carry a token).
    fn classify(&self, error: reqwest::Error, host: &str) -> ImageError {
        let error = error.without_url();
        // The guard's own refusals travel inside reqwest's errors: from the
        // redirect policy, and from the resolver through the connector.
        let mut sources = std::iter::successors(Some(&error as &dyn Error), |&e| e.source());
        if let Some(refusal) = sources.find_map(|e| e.downcast_ref::<ImageError>()) {
            return refusal.clone();
        }
        tracing::debug!(host, error = &error as &dyn Error, "image download failed");
        let host = host.to_owned();
        if error.is_timeout() {
            ImageError::Timeout {
                host,
                timeout: self.timeout,
            }
        } else if error.is_redirect() || error.is_builder() {
            ImageError::InvalidRedirect { host }
        } else {
            ImageError::Connect { host }
        }
    }
}

#[cfg(test)]
mod tests;
