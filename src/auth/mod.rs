//! Callback authentication: the shared token, Standard Webhooks signatures,
//! or both, as `[auth] mode` says; one entry point, [`authenticate`].
//!
//! | mode | a callback passes when |
//! |---|---|
//! | `token` (default) | its token matches `n8n.callback_token` ([`token`]) |
//! | `signature` | its signature matches one of `auth.signing_secrets` ([`signature`]); a token is ignored |
//! | `either` | signed: the signature matches; unsigned: the token matches |
//! | `both` | the token matches **and** the signature matches |
//!
//! In `either`, a callback that carries signature headers is judged by them
//! alone, as a token header outranks the body's token: a wrong credential is
//! never rescued by another one. There is no replay memory: applying a result
//! is idempotent, and `auth.timestamp_tolerance` bounds how late a copy of a
//! signed callback can come.
//!
//! What must stay true: every comparison is constant-time; no refusal says
//! more than "authentication failed" to the caller (the reason is logged);
//! nothing here logs or returns a secret.

pub mod signature;
mod token;

use std::time::{SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};
use secrecy::SecretString;

use crate::config::{AuthConfig, AuthMode};

pub use signature::{SignatureError, SignedHeaders, SigningSecret};
pub use token::{AuthError, TOKEN_HEADER, TokenSource, check_token, header_token, tokens_match};

/// How a callback proved itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proof {
    Token(TokenSource),
    Signature,
    TokenAndSignature(TokenSource),
}

/// Why a callback was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    #[error(transparent)]
    Token(#[from] AuthError),
    #[error(transparent)]
    Signature(#[from] SignatureError),
}

impl Refusal {
    /// A short label for logs and metrics.
    pub fn label(self) -> &'static str {
        match self {
            Self::Token(error) => error.label(),
            Self::Signature(error) => error.label(),
        }
    }

    /// The HTTP status of the answer: 401 for every bad credential.
    pub fn status(self) -> StatusCode {
        StatusCode::UNAUTHORIZED
    }

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
) -> Result<Proof, Refusal> {
    let check_token = || check_token(token, header_token(headers), body_token);
    let check_signature = || -> Result<(), Refusal> {
        let signed = SignedHeaders::from_headers(headers)?.ok_or(SignatureError::Missing)?;
        if !signed.is_fresh(now, auth.timestamp_tolerance) {
            return Err(SignatureError::OutsideTolerance.into());
        }
        Ok(signed.verify(&auth.signing_secrets, body)?)
    };
    Ok(match auth.mode {
        AuthMode::Token => Proof::Token(check_token()?),
        AuthMode::Either if SignedHeaders::from_headers(headers)?.is_none() => {
            Proof::Token(check_token()?)
        }
        AuthMode::Signature | AuthMode::Either => {
            check_signature()?;
            Proof::Signature
        }
        AuthMode::Both => {
            let source = check_token()?;
            check_signature()?;
            Proof::TokenAndSignature(source)
        }
    })
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
