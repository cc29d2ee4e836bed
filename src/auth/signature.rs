//! Signed callbacks in the [Standard Webhooks](https://www.standardwebhooks.com/)
//! format: `webhook-id`, `webhook-timestamp` (unix seconds) and
//! `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")> …`
//! over the exact bytes received. Keys are `whsec_<base64>`; any signature
//! matching any key passes, so a key rotates without downtime.
//!
//! What must stay true: the comparison is constant-time (`Mac::verify_slice`);
//! the timestamp is checked before any HMAC; the work per request is bounded
//! ([`MAX_SIGNATURES`] × the keys); no error or `Debug` output carries a key.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_PAD_INDIFFERENT};
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";
pub const SECRET_PREFIX: &str = "whsec_";
/// Key lengths accepted, in bytes (the Standard Webhooks bounds).
pub const MIN_KEY_BYTES: usize = 24;
pub const MAX_KEY_BYTES: usize = 64;
/// Signatures looked at per request; more are ignored (bounds the work).
pub const MAX_SIGNATURES: usize = 8;
pub const MAX_ID_BYTES: usize = 256;
pub const MAX_SIGNATURE_HEADER_BYTES: usize = 2048;

type HmacSha256 = Hmac<Sha256>;

/// A signing secret: its text (for the fingerprint) and the HMAC key, zeroized on drop.
#[derive(Debug, Clone)]
pub struct SigningSecret {
    text: SecretString,
    key: SecretSlice<u8>,
}

/// Why a configured secret is unusable. The message never contains it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("is not `whsec_` followed by base64")]
    NotBase64,
    #[error(
        "decodes to {0} bytes; a signing key must have {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes \
         (make one with: echo \"whsec_$(openssl rand -base64 32)\")"
    )]
    BadLength(usize),
}

impl SigningSecret {
    pub fn parse(text: &SecretString) -> Result<Self, SecretError> {
        let trimmed = text.expose_secret().trim();
        let encoded = trimmed.strip_prefix(SECRET_PREFIX).unwrap_or(trimmed);
        let key = STANDARD_PAD_INDIFFERENT
            .decode(encoded)
            .map_err(|_| SecretError::NotBase64)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::BadLength(key.len()));
        }
        Ok(Self {
            text: SecretString::from(trimmed.to_owned()),
            key: SecretSlice::from(key),
        })
    }

    pub fn text(&self) -> &SecretString {
        &self.text
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(self.key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac
    }

    /// `v1,<base64>`, as a sender signs (the bridge only verifies; tests sign).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mac = self.mac(id, timestamp, body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// Why a signature was refused (all answered 401 alike; the reason is logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    #[error("no signing secret is configured")]
    NotConfigured,
    #[error("the callback is not signed (no webhook-id, webhook-timestamp, webhook-signature)")]
    Missing,
    #[error("the callback's signature headers are incomplete or malformed: {0}")]
    Malformed(&'static str),
    #[error("the callback's webhook-timestamp is outside the allowed tolerance")]
    OutsideTolerance,
    #[error("no signature matches a configured signing secret")]
    Mismatch,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub signatures: Vec<Vec<u8>>,
}

impl<'a> SignedHeaders<'a> {
    /// `None` without any of the three headers; an error if some are missing.
    pub fn from_headers(headers: &'a HeaderMap) -> Result<Option<Self>, SignatureError> {
        let get = |name: &str| headers.get(name).map(http::HeaderValue::as_bytes);
        match (get(ID_HEADER), get(TIMESTAMP_HEADER), get(SIGNATURE_HEADER)) {
            (None, None, None) => Ok(None),
            (Some(id), Some(timestamp), Some(signature)) => {
                Self::parse(id, timestamp, signature).map(Some)
            }
            _ => Err(SignatureError::Malformed(
                "webhook-id, webhook-timestamp and webhook-signature must all be present",
            )),
        }
    }

    pub fn parse(id: &'a [u8], timestamp: &[u8], signature: &[u8]) -> Result<Self, SignatureError> {
        Ok(Self {
            id: parse_id(id)?,
            timestamp: parse_timestamp(timestamp)?,
            signatures: parse_signatures(signature)?,
        })
    }

    pub fn is_fresh(&self, now: i64, tolerance: Duration) -> bool {
        self.timestamp.abs_diff(now) <= tolerance.as_secs()
    }

    /// Passes when any signature matches any secret.
    pub fn verify(&self, secrets: &[SigningSecret], body: &[u8]) -> Result<(), SignatureError> {
        if secrets.is_empty() {
            return Err(SignatureError::NotConfigured);
        }
        for secret in secrets {
            let mac = secret.mac(self.id, self.timestamp, body);
            // All are compared: the time taken does not tell which matched.
            let mut matched = false;
            for signature in &self.signatures {
                matched |= mac.clone().verify_slice(signature).is_ok();
            }
            if matched {
                return Ok(());
            }
        }
        Err(SignatureError::Mismatch)
    }
}

/// A `webhook-id`: 1 to [`MAX_ID_BYTES`] visible ASCII characters.
pub fn parse_id(value: &[u8]) -> Result<&str, SignatureError> {
    let malformed =
        SignatureError::Malformed("webhook-id must be 1 to 256 visible ASCII characters");
    if value.is_empty() || value.len() > MAX_ID_BYTES || !value.iter().all(u8::is_ascii_graphic) {
        return Err(malformed);
    }
    std::str::from_utf8(value).map_err(|_| malformed)
}

/// A `webhook-timestamp`: unix seconds, 1 to 12 decimal digits.
pub fn parse_timestamp(value: &[u8]) -> Result<i64, SignatureError> {
    let malformed = SignatureError::Malformed("webhook-timestamp must be unix seconds");
    if value.is_empty() || value.len() > 12 || !value.iter().all(u8::is_ascii_digit) {
        return Err(malformed);
    }
    std::str::from_utf8(value)
        .ok()
        .and_then(|text| text.parse().ok())
        .ok_or(malformed)
}

/// A `webhook-signature`: space-separated `version,base64` entries; other
/// versions (`v1a`) are skipped, at least one `v1` of 32 bytes is required.
pub fn parse_signatures(value: &[u8]) -> Result<Vec<Vec<u8>>, SignatureError> {
    if value.len() > MAX_SIGNATURE_HEADER_BYTES {
        return Err(SignatureError::Malformed("webhook-signature is too long"));
    }
    let text = std::str::from_utf8(value)
        .map_err(|_| SignatureError::Malformed("webhook-signature is not ASCII"))?;
    let mut signatures = Vec::new();
    for entry in text.split(' ').filter(|entry| !entry.is_empty()) {
        let (version, encoded) = entry.split_once(',').ok_or(SignatureError::Malformed(
            "webhook-signature entries are `v1,<base64>`",
        ))?;
        if version != "v1" {
            continue;
        }
        let decoded = STANDARD_PAD_INDIFFERENT
            .decode(encoded)
            .ok()
            .filter(|bytes| bytes.len() == 32)
            .ok_or(SignatureError::Malformed(
                "a v1 signature must be base64 of 32 bytes",
            ))?;
        if signatures.len() < MAX_SIGNATURES {
            signatures.push(decoded);
        }
    }
    if signatures.is_empty() {
        return Err(SignatureError::Malformed(
            "webhook-signature holds no v1 signature",
        ));
    }
    Ok(signatures)
}

#[cfg(test)]
mod tests;
