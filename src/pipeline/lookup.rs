//! Finding the request a callback names: `ai_generation_request_id` is the
//! Odoo id when it is all digits, else the request's [`UUID_FIELD`].
//!
//! A UUID is resolved to the id with one `search`, and the answer is
//! remembered ([`References`]): a request's UUID never changes (the addon
//! makes it read-only and unique), so a result and its redeliveries cost one
//! search, not one each. The pipeline reads the request itself ([`read`])
//! only while it holds the request's lock.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::json;

use crate::odoo::records::{AiImageRequest, REQUEST_MODEL};
use crate::odoo::{OdooClient, OdooError, SearchOptions};

/// The request's UUID field: the example addon's, and the only one N8N is
/// ever sent, so it is not worth a key.
pub const UUID_FIELD: &str = "uuid";

/// Fields read with the request.
const LOOKUP_FIELDS: &[&str] = &[
    "id",
    "status",
    "error_details",
    "generated_image_id",
    "campaign_id",
];

/// References remembered at most; then the memory starts over.
const MAX_REMEMBERED: usize = 10_000;

/// The Odoo id `reference` is, when it is a positive decimal number.
pub fn as_id(reference: &str) -> Option<i64> {
    reference
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| reference.parse().ok())
        .flatten()
        .filter(|id| *id > 0)
}

/// The Odoo id of the request whose UUID is `uuid`; `Ok(None)` when none.
pub async fn search_uuid(odoo: &OdooClient, uuid: &str) -> Result<Option<i64>, OdooError> {
    let options = SearchOptions {
        limit: Some(1),
        ..SearchOptions::default()
    };
    let domain = json!([[UUID_FIELD, "=", uuid]]);
    let ids = odoo.search(REQUEST_MODEL, &domain, &options).await?;
    Ok(ids.first().copied())
}

/// Reads request `id`; `Ok(None)` when it does not exist (a `search_read`,
/// so a missing id is an empty answer, not Odoo's `MissingError`).
pub async fn read(odoo: &OdooClient, id: i64) -> Result<Option<AiImageRequest>, OdooError> {
    let options = SearchOptions {
        limit: Some(1),
        ..SearchOptions::default()
    };
    let domain = json!([["id", "=", id]]);
    let mut found: Vec<AiImageRequest> = odoo
        .search_read(REQUEST_MODEL, &domain, LOOKUP_FIELDS, &options)
        .await?;
    Ok(found.pop())
}

/// UUID → Odoo id, as resolved before. Only found ids are remembered: a
/// request may be created after a result naming it arrived.
#[derive(Debug, Default)]
pub struct References {
    // std Mutex: never held across an await.
    ids: Mutex<HashMap<String, i64>>,
}

impl References {
    pub fn get(&self, reference: &str) -> Option<i64> {
        self.lock().get(reference).copied()
    }

    pub fn remember(&self, reference: &str, id: i64) {
        let mut ids = self.lock();
        if ids.len() >= MAX_REMEMBERED && !ids.contains_key(reference) {
            ids.clear();
        }
        ids.insert(reference.to_owned(), id);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.ids.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_ids_and_anything_else_a_uuid() {
        assert_eq!(as_id("42"), Some(42));
        for uuid in ["81fbb39d-5411-4204-b2af-d6f45dafde7a", "0", "+5", "-3", ""] {
            assert_eq!(as_id(uuid), None, "{uuid}");
        }
        assert_eq!(as_id("99999999999999999999"), None);
    }

    #[test]
    fn remembers_until_full_then_starts_over() {
        let references = References::default();
        references.remember("a", 1);
        assert_eq!(references.get("a"), Some(1));
        assert_eq!(references.get("b"), None);
        for n in 0..MAX_REMEMBERED as i64 {
            references.remember(&format!("r{n}"), n);
        }
        assert!(references.lock().len() <= MAX_REMEMBERED);
        assert_eq!(references.get("a"), None, "the memory started over");
    }
}
