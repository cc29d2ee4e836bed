//! Request ids: one per HTTP request, in every log line of its span and in
//! the `X-Request-Id` answer header, so an admin can match an N8N execution
//! to the bridge's log.
//!
//! A sane `X-Request-Id` sent by the caller (a reverse proxy's) is kept;
//! anything else gets a fresh random id.

use http::{HeaderMap, HeaderValue};

/// The header carrying the id, both ways.
pub const HEADER: &str = "x-request-id";
/// Longest caller-supplied id that is kept.
const MAX_LEN: usize = 64;

/// The caller's id when it is short visible ASCII, else a new one.
pub fn from_headers(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(HEADER)
        .filter(|value| {
            let bytes = value.as_bytes();
            !bytes.is_empty()
                && bytes.len() <= MAX_LEN
                && bytes
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        })
        .cloned()
        .unwrap_or_else(generate)
}

/// 16 random bytes as 32 hex digits.
pub fn generate() -> HeaderValue {
    let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
    HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("abc-123"));
        assert_eq!(from_headers(&headers), "abc-123");
        headers.insert(HEADER, HeaderValue::from_static("has space"));
        assert_eq!(from_headers(&headers).len(), 32);
        headers.insert(HEADER, HeaderValue::from_str(&"x".repeat(65)).unwrap());
        assert_eq!(from_headers(&headers).len(), 32);
        assert_ne!(generate(), generate());
    }
}
