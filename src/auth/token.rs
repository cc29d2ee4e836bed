//! The shared token (docs/protocol.md#callback-contract): in the
//! `X-N8N-Webhook-Token` header or the body's `security_token`. A header,
//! when present, is authoritative: a wrong one is refused even if the body
//! holds the right token. Both sides are hashed with SHA-256 and the digests
//! compared in constant time, so neither the content nor the length of the
//! token leaks through timing. With no token configured every callback is
//! refused: the bridge fails closed.

use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// The header N8N sends the token in.
pub const TOKEN_HEADER: &str = "x-n8n-webhook-token";

/// Where an accepted token was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Header,
    Body,
}

/// Why a token was refused (all answered 401 alike; for logs and metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no callback token is configured; every callback is refused")]
    NotConfigured,
    #[error("the callback carried no token")]
    Missing,
    #[error("the callback's token does not match")]
    Mismatch,
}

impl AuthError {
    /// A short label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::Missing => "missing",
            Self::Mismatch => "mismatch",
        }
    }
}

/// The token the header carries, if any (non-UTF-8 values count as present
/// but wrong).
pub fn header_token(headers: &HeaderMap) -> Option<&[u8]> {
    headers.get(TOKEN_HEADER).map(|value| value.as_bytes())
}

/// Checks the presented token against `expected`.
pub fn check_token(
    expected: Option<&SecretString>,
    header: Option<&[u8]>,
    body: Option<&str>,
) -> Result<TokenSource, AuthError> {
    let expected = expected.ok_or(AuthError::NotConfigured)?;
    let (presented, source) = match (header, body) {
        (Some(header), _) => (header, TokenSource::Header),
        (None, Some(body)) => (body.as_bytes(), TokenSource::Body),
        (None, None) => return Err(AuthError::Missing),
    };
    if tokens_match(expected.expose_secret().as_bytes(), presented) {
        Ok(source)
    } else {
        Err(AuthError::Mismatch)
    }
}

/// Constant-time equality of two secrets of any lengths.
pub fn tokens_match(expected: &[u8], presented: &[u8]) -> bool {
    let expected: [u8; 32] = Sha256::digest(expected).into();
    let presented: [u8; 32] = Sha256::digest(presented).into();
    constant_time_eq::constant_time_eq_32(&expected, &presented)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> SecretString {
        SecretString::from(text.to_owned())
    }

    #[test]
    fn the_right_token_passes_from_header_or_body() {
        let expected = secret("s3cret");
        assert_eq!(
            check_token(Some(&expected), Some(b"s3cret"), None),
            Ok(TokenSource::Header)
        );
        assert_eq!(
            check_token(Some(&expected), None, Some("s3cret")),
            Ok(TokenSource::Body)
        );
    }

    #[test]
    fn a_wrong_header_is_not_rescued_by_the_body() {
        let expected = secret("s3cret");
        assert_eq!(
            check_token(Some(&expected), Some(b"nope"), Some("s3cret")),
            Err(AuthError::Mismatch)
        );
    }

    #[test]
    fn missing_wrong_and_unconfigured_are_refused() {
        let expected = secret("s3cret");
        assert_eq!(
            check_token(Some(&expected), None, None),
            Err(AuthError::Missing)
        );
        assert_eq!(
            check_token(Some(&expected), None, Some("s3cre")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            check_token(Some(&expected), None, Some("s3cret ")),
            Err(AuthError::Mismatch)
        );
        assert_eq!(
            check_token(None, Some(b"anything"), None),
            Err(AuthError::NotConfigured)
        );
        assert_eq!(check_token(None, None, None), Err(AuthError::NotConfigured));
    }

    #[test]
    fn header_lookup_ignores_case() {
        let mut headers = HeaderMap::new();
        headers.insert("X-N8N-Webhook-Token", "abc".parse().unwrap());
        assert_eq!(header_token(&headers), Some(&b"abc"[..]));
    }

    #[test]
    fn errors_never_contain_the_token() {
        for error in [
            AuthError::NotConfigured,
            AuthError::Missing,
            AuthError::Mismatch,
        ] {
            assert!(!error.to_string().contains("s3cret"));
        }
    }
}
