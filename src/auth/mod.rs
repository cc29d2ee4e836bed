//! Callback authentication: the shared token, Standard Webhooks signatures,
//! or both, as `[auth] mode` says (docs/security.md); one entry point, [`authenticate`].
//!
//! A wrong credential is never rescued by another one: in `either` a signed
//! callback is judged by its signature alone, and the `X-N8N-Webhook-Token`
//! header outranks the body's `security_token` (docs/protocol.md#callback-contract).
//! No replay memory: applying a result is idempotent, and
//! `auth.timestamp_tolerance` bounds how late a signed copy can come. With no
//! token configured every callback is refused.
//!
//! What must stay true: comparisons are constant-time (a token's SHA-256
//! digests are compared, so not even its length leaks); the caller hears only
//! "authentication failed" (the reason is logged); no secret is logged.

pub mod signature;

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::config::{AuthConfig, AuthMode};

pub use signature::{SignatureError, SignedHeaders, SigningSecret};

/// The header N8N sends the token in.
pub const TOKEN_HEADER: &str = "x-n8n-webhook-token";

/// Why a token was refused (all answered 401 alike; the reason is logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no callback token is configured; every callback is refused")]
    NotConfigured,
    #[error("the callback carried no token")]
    Missing,
    #[error("the callback's token does not match")]
    Mismatch,
}

/// Checks the presented token (the header's, else the body's) against `expected`.
pub fn check_token(
    expected: Option<&SecretString>,
    header: Option<&[u8]>,
    body: Option<&str>,
) -> Result<(), AuthError> {
    let expected = expected.ok_or(AuthError::NotConfigured)?;
    let presented = header
        .or(body.map(str::as_bytes))
        .ok_or(AuthError::Missing)?;
    match tokens_match(expected.expose_secret().as_bytes(), presented) {
        true => Ok(()),
        false => Err(AuthError::Mismatch),
    }
}

/// Constant-time equality of two secrets of any lengths.
pub fn tokens_match(expected: &[u8], presented: &[u8]) -> bool {
    let expected: [u8; 32] = Sha256::digest(expected).into();
    let presented: [u8; 32] = Sha256::digest(presented).into();
    constant_time_eq::constant_time_eq_32(&expected, &presented)
}

/// Why a callback was refused: always 401 "authentication failed".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error(transparent)]
    Token(#[from] AuthError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl Refusal {
    pub const STATUS: StatusCode = StatusCode::UNAUTHORIZED;

    /// The message for the caller: it never says which check failed.
    pub fn public_message(self) -> &'static str {
        "authentication failed"
    }
}

/// Authenticates a callback (its headers, exact body bytes and the body's
/// `security_token`) at `now` (unix seconds) against `token`, the callback
/// token in force (`n8n.callback_token`, or Odoo's system parameter).
pub fn authenticate(
    auth: &AuthConfig,
    token: Option<&SecretString>,
    headers: &HeaderMap,
    body: &[u8],
    body_token: Option<&str>,
    now: i64,
) -> Result<(), Refusal> {
    let header = headers.get(TOKEN_HEADER).map(|value| value.as_bytes());
    let check_token = || check_token(token, header, body_token);
    let check_signature = || -> Result<(), Refusal> {
        let signed = SignedHeaders::from_headers(headers)?.ok_or(SignatureError::Missing)?;
        if !signed.is_fresh(now, auth.timestamp_tolerance) {
            return Err(SignatureError::OutsideTolerance.into());
        }
        Ok(signed.verify(&auth.signing_secrets, body)?)
    };
    match auth.mode {
        AuthMode::Token => Ok(check_token()?),
        AuthMode::Either if SignedHeaders::from_headers(headers)?.is_none() => Ok(check_token()?),
        AuthMode::Signature | AuthMode::Either => check_signature(),
        AuthMode::Both => {
            check_token()?;
            check_signature()
        }
    }
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH);
    elapsed.map_or(0, |elapsed| {
        elapsed.as_secs().try_into().unwrap_or(i64::MAX)
    })
}

#[cfg(test)]
mod tests;
