//! One spooled callback: its id, and its metadata, a small JSON document
//! rewritten after every attempt (an inline image's bytes are a file of
//! their own). [`Meta::from_json`] reads only [`FORMAT_VERSION`], so an
//! entry of another version of the bridge is reported, not half-understood.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::callback::{CallbackResult, ImagePayload, Outcome};

/// The format version written into every entry.
pub const FORMAT_VERSION: u32 = 2;

/// An entry's id: the arrival time in ns, zero-padded, and a random suffix,
/// so ids sort in arrival order and never collide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EntryId(String);

impl EntryId {
    /// A fresh id for an entry arriving now.
    pub fn now() -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH);
        let nanos = nanos.unwrap_or_default().as_nanos();
        Self(format!("{nanos:020}-{:08x}", fastrand::u32(..)))
    }

    /// Parses an id given by an admin or found on disk; `None` if it is not
    /// one (which also keeps path separators out of file names).
    pub fn parse(text: &str) -> Option<Self> {
        let (time, suffix) = text.split_once('-')?;
        let valid = time.len() == 20
            && time.bytes().all(|b| b.is_ascii_digit())
            && suffix.len() == 8
            && suffix.bytes().all(|b| b.is_ascii_hexdigit());
        valid.then(|| Self(text.to_owned()))
    }

    /// When the entry arrived (ms since the epoch), as its id says.
    pub fn arrived_ms(&self) -> u64 {
        let nanos: u128 = self.0.get(..20).and_then(|t| t.parse().ok()).unwrap_or(0);
        u64::try_from(nanos / 1_000_000).unwrap_or(u64::MAX)
    }

    /// The id as text, also the name of the entry's directory.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH);
    u64::try_from(elapsed.unwrap_or_default().as_millis()).unwrap_or(u64::MAX)
}

/// Everything known about an entry except its image bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub version: u32,
    pub id: EntryId,
    pub received_at_ms: u64,
    /// The `X-Request-Id` of the HTTP request that delivered it.
    pub http_request_id: String,
    /// The callback as validated; an inline image's bytes are in the
    /// entry's image file, and here an empty string.
    #[serde(flatten)]
    pub result: CallbackResult,
    /// The size of the image file, when the entry has one.
    pub image_bytes: Option<u64>,
    pub attempts: u32,
    pub last_attempt_at_ms: Option<u64>,
    pub next_attempt_at_ms: u64,
    pub last_error: Option<String>,
    /// When an attempt ended with a create of unknown outcome (generic
    /// protocol), which Odoo may still commit: see the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_outcome_at_ms: Option<u64>,
    pub dead: Option<DeadLetter>,
}

/// Why and when an entry became a dead letter.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeadLetter {
    pub reason: String,
    pub at_ms: u64,
}

impl Meta {
    /// Reads a metadata document, refusing what this bridge cannot read (not
    /// JSON, or another format version) with the reason.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.is_empty() {
            return Err("the metadata is empty".to_owned());
        }
        let document: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| format!("the metadata is not valid JSON: {e}"))?;
        match document["version"].as_u64() {
            Some(version) if version == u64::from(FORMAT_VERSION) => {
                serde_json::from_value(document)
                    .map_err(|e| format!("the metadata is damaged: {e}"))
            }
            Some(other) => Err(format!(
                "written in spool format version {other}; this bridge reads version {FORMAT_VERSION}"
            )),
            None => Err("the metadata has no format version".to_owned()),
        }
    }

    /// Metadata for a result arriving now, and its image bytes if inline.
    pub fn for_result(result: &CallbackResult, http_request_id: &str) -> (Self, Option<Bytes>) {
        let mut result = result.clone();
        let image = match &mut result.outcome {
            Outcome::Success {
                image: ImagePayload::Inline(bytes),
                ..
            } => Some(std::mem::take(bytes)),
            _ => None,
        };
        let now = now_ms();
        let meta = Self {
            version: FORMAT_VERSION,
            id: EntryId::now(),
            received_at_ms: now,
            http_request_id: http_request_id.to_owned(),
            result,
            image_bytes: image.as_ref().map(|bytes| bytes.len() as u64),
            attempts: 0,
            last_attempt_at_ms: None,
            next_attempt_at_ms: now,
            last_error: None,
            unknown_outcome_at_ms: None,
            dead: None,
        };
        (meta, image)
    }

    /// Rebuilds the result, given the image bytes when the entry has some.
    pub fn to_result(&self, image: Option<Bytes>) -> CallbackResult {
        let mut result = self.result.clone();
        if let Outcome::Success {
            image: ImagePayload::Inline(bytes),
            ..
        } = &mut result.outcome
        {
            *bytes = image.unwrap_or_default();
        }
        result
    }

    /// Whether applying it creates Odoo records (an image and an
    /// attachment), which a repeated, interrupted attempt could duplicate.
    pub fn creates_records(&self) -> bool {
        matches!(
            self.result.outcome,
            Outcome::Success {
                image: ImagePayload::Inline(_) | ImagePayload::Url(_),
                ..
            }
        )
    }

    /// A one-word summary: `success`, `failure`.
    pub fn kind(&self) -> &'static str {
        match self.result.outcome {
            Outcome::Success { .. } => "success",
            Outcome::Failure { .. } => "failure",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::callback::Claims;

    #[test]
    fn ids_sort_by_arrival_and_parse_back() {
        let first = EntryId::now();
        std::thread::sleep(Duration::from_millis(2));
        let second = EntryId::now();
        assert!(first < second);
        assert!(now_ms().abs_diff(first.arrived_ms()) < 1000);
        assert_eq!(EntryId::parse(first.as_str()), Some(first));
        for bad in [
            "",
            "x",
            "../etc/passwd",
            "00000000000000000001-zzzzzzzz",
            "1-00000000",
        ] {
            assert_eq!(EntryId::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn only_this_format_version_is_read() {
        let result = CallbackResult {
            request_ref: "42".into(),
            outcome: Outcome::Failure {
                message: "m".into(),
                details: None,
            },
        };
        let (meta, _) = Meta::for_result(&result, "req-1");
        let mut document = serde_json::to_value(&meta).unwrap();
        let text = serde_json::to_vec(&document).unwrap();
        assert_eq!(Meta::from_json(&text).unwrap().result.request_ref, "42");
        document["version"] = serde_json::json!(FORMAT_VERSION + 1);
        let error = Meta::from_json(&serde_json::to_vec(&document).unwrap()).unwrap_err();
        let newer = format!("spool format version {}", FORMAT_VERSION + 1);
        assert!(error.contains(&newer), "{error}");
        document.as_object_mut().unwrap().remove("version");
        let error = Meta::from_json(&serde_json::to_vec(&document).unwrap()).unwrap_err();
        assert!(error.contains("no format version"), "{error}");
        assert!(Meta::from_json(b"").unwrap_err().contains("empty"));
        assert!(
            Meta::from_json(format!("{{\"version\":{FORMAT_VERSION}}}").as_bytes())
                .unwrap_err()
                .contains("damaged")
        );
    }

    #[test]
    fn a_result_survives_the_trip_to_disk_form() {
        let result = CallbackResult {
            request_ref: "42".into(),
            outcome: Outcome::Success {
                image: ImagePayload::Inline(Bytes::from_static(b"\x89PNG")),
                claims: Claims {
                    width: Some(4),
                    ..Claims::default()
                },
            },
        };
        let (meta, image) = Meta::for_result(&result, "req-1");
        assert_eq!(meta.image_bytes, Some(4));
        let text = serde_json::to_string(&meta).unwrap();
        assert!(
            !text.contains("PNG"),
            "image bytes must not be in the metadata: {text}"
        );
        let back: Meta = serde_json::from_str(&text).unwrap();
        let rebuilt = back.to_result(image);
        let Outcome::Success {
            image: ImagePayload::Inline(bytes),
            claims,
        } = rebuilt.outcome
        else {
            panic!()
        };
        assert_eq!(&bytes[..], b"\x89PNG");
        assert_eq!(claims.width, Some(4));
    }
}
