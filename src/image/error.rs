//! Everything that can go wrong turning a callback's image into verified
//! bytes, sorted into the kinds callers branch on.
//!
//! Messages end up in Odoo's `error_details` and in HTTP answers, so they
//! stay short, may name the host of an `image_url`, and never carry its path
//! or query (a signed URL's token lives there) nor internal details; those
//! are logged at `debug` where they happen. [`ImageError::is_transient`]
//! answers whether the same delivery could succeed later,
//! [`ImageError::is_client_error`] whether the caller sent malformed data.

use std::time::Duration;

use super::ImageFormat;

/// Why a callback's image could not be turned into a [`super::VerifiedImage`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The inline image data is not base64 (or not a base64 data URL).
    #[error("the image data is not valid base64: {reason}")]
    InvalidBase64 { reason: String },
    /// The inline image data, or a downloaded body, holds no bytes.
    #[error("the image data is empty")]
    Empty,
    /// More bytes than `images.max_bytes`; `size` when it was known up front.
    #[error("the image is larger than the limit of {limit} bytes{}", size_suffix(*.size))]
    TooLarge { size: Option<u64>, limit: u64 },
    /// The bytes start with no signature of a supported format.
    #[error("the data is not a PNG, JPEG, WebP, GIF, BMP or TIFF image")]
    NotAnImage,
    /// The signature matched but the header or the end of the file is
    /// missing or inconsistent.
    #[error("the {format} image is damaged or incomplete: {reason}")]
    Corrupt {
        format: ImageFormat,
        reason: &'static str,
    },
    /// Width × height above `images.max_pixels` (a decompression bomb, or
    /// simply too big to store).
    #[error("the image is {width}x{height} pixels, more than the limit of {limit} pixels")]
    TooManyPixels { width: u64, height: u64, limit: u64 },
    /// `image_url` is not an absolute URL.
    #[error("image_url is not a valid URL")]
    InvalidUrl,
    /// The download guard refused the URL, a redirect, or every address the
    /// host resolved to. Nothing was sent to the target.
    #[error("image_url blocked: {reason}")]
    Blocked { reason: String },
    /// The host name did not resolve.
    #[error("could not resolve the image host {host}")]
    Dns { host: String },
    /// No connection could be made, or it broke before the answer was complete.
    #[error("could not download the image from {host}: connection failed")]
    Connect { host: String },
    /// `images.download_timeout` passed before the whole body arrived.
    #[error("downloading the image from {host} took longer than {}", humantime::format_duration(*.timeout))]
    Timeout { host: String, timeout: Duration },
    /// The image host answered with a status other than 2xx.
    #[error("the image host {host} answered HTTP {status}")]
    HttpStatus { host: String, status: u16 },
    /// More redirects than the fetcher follows.
    #[error("the image host {host} redirected more than {max} times")]
    TooManyRedirects { host: String, max: usize },
    /// A redirect led back to a URL already visited.
    #[error("the image host {host} redirected in a loop")]
    RedirectLoop { host: String },
    /// A redirect whose `Location` is not a URL the client can follow.
    #[error("the image host {host} redirected to an invalid URL")]
    InvalidRedirect { host: String },
    /// The image host answered 2xx with no body.
    #[error("the image host {host} sent an empty body")]
    EmptyBody { host: String },
    /// The HTTP client could not be built (a TLS setup problem, logged).
    #[error("the image download client could not be set up")]
    ClientSetup,
    /// The daemon stopped while the image was being checked.
    #[error("the image could not be checked: the bridge is shutting down")]
    ShuttingDown,
}

impl ImageError {
    /// Whether the same delivery may succeed if tried again later.
    ///
    /// Transient: timeouts, DNS and connection failures, 5xx/408/429 from the
    /// image host. Permanent: everything about the content, blocked URLs,
    /// other statuses, size limits and redirect trouble.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Dns { .. } | Self::Connect { .. } | Self::Timeout { .. } | Self::ShuttingDown => {
                true
            }
            Self::HttpStatus { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            Self::InvalidBase64 { .. }
            | Self::Empty
            | Self::TooLarge { .. }
            | Self::NotAnImage
            | Self::Corrupt { .. }
            | Self::TooManyPixels { .. }
            | Self::InvalidUrl
            | Self::Blocked { .. }
            | Self::TooManyRedirects { .. }
            | Self::RedirectLoop { .. }
            | Self::InvalidRedirect { .. }
            | Self::EmptyBody { .. }
            | Self::ClientSetup => false,
        }
    }

    /// Whether the caller sent malformed data (answered 400); the other
    /// permanent errors are about an acceptable request whose image is not
    /// (answered 422).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::InvalidBase64 { .. } | Self::Empty)
    }

    /// A short label for metrics and logs (`too_large`, `blocked`, …).
    pub fn kind_label(&self) -> &'static str {
        match self {
            Self::InvalidBase64 { .. } => "invalid_base64",
            Self::Empty => "empty",
            Self::TooLarge { .. } => "too_large",
            Self::NotAnImage => "not_an_image",
            Self::Corrupt { .. } => "corrupt",
            Self::TooManyPixels { .. } => "too_many_pixels",
            Self::InvalidUrl => "invalid_url",
            Self::Blocked { .. } => "blocked",
            Self::Dns { .. } => "dns",
            Self::Connect { .. } => "connect",
            Self::Timeout { .. } => "timeout",
            Self::HttpStatus { .. } => "http_status",
            Self::TooManyRedirects { .. } => "too_many_redirects",
            Self::RedirectLoop { .. } => "redirect_loop",
            Self::InvalidRedirect { .. } => "invalid_redirect",
            Self::EmptyBody { .. } => "empty_body",
            Self::ClientSetup => "client_setup",
            Self::ShuttingDown => "shutting_down",
        }
    }

    pub(crate) fn blocked(reason: impl Into<String>) -> Self {
        Self::Blocked {
            reason: reason.into(),
        }
    }
}

fn size_suffix(size: Option<u64>) -> String {
    size.map(|size| format!(" ({size} bytes)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> ImageError {
        ImageError::HttpStatus {
            host: "img.example.com".into(),
            status,
        }
    }

    #[test]
    fn transient_errors_are_the_ones_worth_retrying() {
        let host = || "img.example.com".to_owned();
        assert!(ImageError::Dns { host: host() }.is_transient());
        assert!(ImageError::Connect { host: host() }.is_transient());
        assert!(
            ImageError::Timeout {
                host: host(),
                timeout: Duration::from_secs(1)
            }
            .is_transient()
        );
        for code in [500, 502, 503, 504, 408, 429] {
            assert!(status(code).is_transient(), "{code}");
        }
        for code in [400, 401, 403, 404, 410, 300] {
            assert!(!status(code).is_transient(), "{code}");
        }
        assert!(!ImageError::blocked("x").is_transient());
        assert!(!ImageError::NotAnImage.is_transient());
        assert!(
            !ImageError::TooLarge {
                size: None,
                limit: 1
            }
            .is_transient()
        );
        assert!(
            !ImageError::TooManyRedirects {
                host: host(),
                max: 3
            }
            .is_transient()
        );
        assert!(!ImageError::RedirectLoop { host: host() }.is_transient());
    }

    #[test]
    fn only_malformed_data_is_a_client_error() {
        assert!(ImageError::InvalidBase64 { reason: "x".into() }.is_client_error());
        assert!(ImageError::Empty.is_client_error());
        assert!(!ImageError::NotAnImage.is_client_error());
        assert!(!ImageError::blocked("x").is_client_error());
        assert!(!status(404).is_client_error());
    }

    #[test]
    fn messages_are_short_and_name_only_the_host() {
        assert_eq!(
            ImageError::TooLarge {
                size: Some(50),
                limit: 10
            }
            .to_string(),
            "the image is larger than the limit of 10 bytes (50 bytes)"
        );
        assert_eq!(
            ImageError::Timeout {
                host: "img.example.com".into(),
                timeout: Duration::from_secs(60)
            }
            .to_string(),
            "downloading the image from img.example.com took longer than 1m"
        );
        assert_eq!(
            status(503).to_string(),
            "the image host img.example.com answered HTTP 503"
        );
        assert_eq!(
            ImageError::blocked("10.0.0.1 is private (RFC 1918)").to_string(),
            "image_url blocked: 10.0.0.1 is private (RFC 1918)"
        );
    }
}
