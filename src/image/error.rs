//! What can go wrong turning a callback's image into verified bytes. The
//! messages reach Odoo's `error_details` and HTTP answers: short, naming at
//! most the host of an `image_url`, never its path or query (a signed URL's
//! token lives there) nor internal details (logged at `debug` instead).

use std::time::Duration;

use super::ImageFormat;
use super::guard::MAX_REDIRECTS;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ImageError {
    #[error("the image data is not valid base64: {reason}")]
    InvalidBase64 { reason: String },
    #[error("the image data is empty")]
    Empty,
    /// More bytes than `images.max_bytes`; `size` when it was known up front.
    #[error("the image is larger than the limit of {limit} bytes{}",
        size.map(|size| format!(" ({size} bytes)")).unwrap_or_default())]
    TooLarge { size: Option<u64>, limit: u64 },
    /// Not one of the accepted formats (GIF, BMP, TIFF, text, …).
    #[error("the data is not a PNG, JPEG or WebP image (the formats accepted)")]
    NotAnImage,
    /// The header or the end of the file is missing or inconsistent.
    #[error("the {} image is damaged or incomplete: {reason}", format.extension())]
    Corrupt {
        format: ImageFormat,
        reason: &'static str,
    },
    /// Width × height above `images.max_pixels` (a decompression bomb?).
    #[error("the image is {width}x{height} pixels, more than the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("image_url is not a valid URL")]
    InvalidUrl,
    /// The guard refused the URL, a redirect, or every address of the host.
    #[error("image_url blocked: {reason}")]
    Blocked { reason: String },
    #[error("could not resolve the image host {host}")]
    Dns { host: String },
    /// No connection, or it broke before the answer was complete.
    #[error("could not download the image from {host}: connection failed")]
    Connect { host: String },
    /// `images.download_timeout` passed before the whole body arrived.
    #[error("downloading the image from {host} took longer than {}", humantime::format_duration(*.timeout))]
    Timeout { host: String, timeout: Duration },
    #[error("the image host {host} answered HTTP {status}")]
    HttpStatus { host: String, status: u16 },
    #[error("the image host {host} redirected more than {MAX_REDIRECTS} times")]
    TooManyRedirects { host: String },
    #[error("the image host {host} sent an empty body")]
    EmptyBody { host: String },
    #[error("the image host {host} redirected in a loop")]
    RedirectLoop { host: String },
    #[error("the image host {host} redirected to an invalid URL")]
    InvalidRedirect { host: String },
    /// The HTTP client could not be built (a TLS setup problem, logged).
    #[error("the image download client could not be set up")]
    ClientSetup,
    #[error("the image could not be checked: the bridge is shutting down")]
    ShuttingDown,
}

impl ImageError {
    /// Whether the same delivery may succeed later: network trouble and
    /// 5xx/408/429; the content, blocked URLs, limits and redirects are not.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Dns { .. } | Self::Connect { .. } | Self::Timeout { .. } | Self::ShuttingDown => {
                true
            }
            Self::HttpStatus { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            _ => false,
        }
    }

    /// Malformed data (answered 400), unlike an acceptable request whose
    /// image is unusable (answered 422).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::InvalidBase64 { .. } | Self::Empty)
    }
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
        assert!(!ImageError::Blocked { reason: "x".into() }.is_transient());
        assert!(!ImageError::NotAnImage.is_transient());
        assert!(
            !ImageError::TooLarge {
                size: None,
                limit: 1
            }
            .is_transient()
        );
        assert!(!ImageError::TooManyRedirects { host: host() }.is_transient());
        assert!(!ImageError::RedirectLoop { host: host() }.is_transient());
    }

    #[test]
    fn only_malformed_data_is_a_client_error() {
        assert!(ImageError::InvalidBase64 { reason: "x".into() }.is_client_error());
        assert!(ImageError::Empty.is_client_error());
        assert!(!ImageError::NotAnImage.is_client_error());
        assert!(!ImageError::Blocked { reason: "x".into() }.is_client_error());
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
            ImageError::Blocked {
                reason: "10.0.0.1 is private (RFC 1918)".into()
            }
            .to_string(),
            "image_url blocked: 10.0.0.1 is private (RFC 1918)"
        );
    }
}
