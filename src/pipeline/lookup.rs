//! Finding the request a callback is about (SDS §3.7 `process_n8n_callback`).
//!
//! `ai_generation_request_id` is the Odoo id in decimal, or the value of the
//! request's UUID field, as `odoo.lookup` says. Both are one `search_read`
//! that also returns every field the pipeline decides on, so the lookup is
//! the only read before the first write.

use serde_json::json;

use crate::config::{OdooConfig, RequestLookup};
use crate::odoo::records::AiImageRequest;
use crate::odoo::{OdooClient, OdooError, SearchOptions};

/// Fields read with the request.
pub const LOOKUP_FIELDS: &[&str] = &[
    "id",
    "status",
    "error_details",
    "generated_image_id",
    "campaign_id",
];

/// How a reference is looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Id(i64),
    Uuid(String),
    /// The reference cannot name a request under the configured mode
    /// (e.g. a UUID when `odoo.lookup = "id"`).
    Impossible,
}

/// Decides how `reference` is looked up under `mode`.
pub fn plan(mode: RequestLookup, reference: &str) -> Lookup {
    let as_id = reference
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0 && reference.bytes().all(|b| b.is_ascii_digit()));
    match (mode, as_id) {
        (RequestLookup::Id | RequestLookup::Both, Some(id)) => Lookup::Id(id),
        (RequestLookup::Id, None) => Lookup::Impossible,
        (RequestLookup::Uuid, _) | (RequestLookup::Both, None) => {
            Lookup::Uuid(reference.to_owned())
        }
    }
}

/// Reads the request `reference` names; `Ok(None)` when there is none.
pub async fn find(
    odoo: &OdooClient,
    config: &OdooConfig,
    reference: &str,
) -> Result<Option<AiImageRequest>, OdooError> {
    let domain = match plan(config.lookup, reference) {
        Lookup::Id(id) => json!([["id", "=", id]]),
        Lookup::Uuid(uuid) => json!([[config.uuid_field, "=", uuid]]),
        Lookup::Impossible => return Ok(None),
    };
    let options = SearchOptions {
        limit: Some(1),
        ..SearchOptions::default()
    };
    let mut found: Vec<AiImageRequest> = odoo
        .search_read(&config.request_model, &domain, LOOKUP_FIELDS, &options)
        .await?;
    Ok(found.pop())
}

/// Reads request `id` again (after waiting for its lock).
pub async fn reread(
    odoo: &OdooClient,
    config: &OdooConfig,
    id: i64,
) -> Result<Option<AiImageRequest>, OdooError> {
    let mut found: Vec<AiImageRequest> = odoo
        .read(&config.request_model, &[id], LOOKUP_FIELDS)
        .await?;
    Ok(found.pop())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_ids_where_ids_are_allowed() {
        assert_eq!(plan(RequestLookup::Id, "42"), Lookup::Id(42));
        assert_eq!(plan(RequestLookup::Both, "42"), Lookup::Id(42));
        assert_eq!(plan(RequestLookup::Uuid, "42"), Lookup::Uuid("42".into()));
    }

    #[test]
    fn anything_else_is_a_uuid_or_impossible() {
        let uuid = "81fbb39d-5411-4204-b2af-d6f45dafde7a";
        assert_eq!(plan(RequestLookup::Both, uuid), Lookup::Uuid(uuid.into()));
        assert_eq!(plan(RequestLookup::Uuid, uuid), Lookup::Uuid(uuid.into()));
        assert_eq!(plan(RequestLookup::Id, uuid), Lookup::Impossible);
        assert_eq!(plan(RequestLookup::Id, "0"), Lookup::Impossible);
        assert_eq!(plan(RequestLookup::Id, "+5"), Lookup::Impossible);
        assert_eq!(
            plan(RequestLookup::Id, "99999999999999999999"),
            Lookup::Impossible
        );
    }
}
