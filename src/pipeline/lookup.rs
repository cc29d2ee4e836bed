//! Finding the request a callback is about (SDS §3.7 `process_n8n_callback`).
//!
//! `ai_generation_request_id` is the Odoo id in decimal, or the value of the
//! request's UUID field, as `odoo.lookup` says. Finding it is two steps:
//! [`resolve`] turns the reference into the Odoo id (no call for an id, one
//! `search` for a UUID), and [`read`] reads the fields the pipeline decides
//! on. The pipeline reads only while it holds the request's lock, so every
//! decision rests on a read no other delivery of this process can overtake.

use serde_json::json;

use crate::config::OdooConfig;
use crate::odoo::records::{AiImageRequest, UUID_FIELD};
use crate::odoo::{OdooClient, OdooError, SearchOptions};

/// Fields read with the request.
pub const LOOKUP_FIELDS: &[&str] = &[
    "id",
    "status",
    "error_details",
    "generated_image_id",
    "campaign_id",
];

/// How a reference is looked up: a positive decimal is the Odoo id,
/// anything else the request's UUID ([`UUID_FIELD`]), so either kind of
/// sender is understood without a setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Id(i64),
    Uuid(String),
}

/// Decides how `reference` is looked up.
pub fn plan(reference: &str) -> Lookup {
    let as_id = reference
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0 && reference.bytes().all(|b| b.is_ascii_digit()));
    match as_id {
        Some(id) => Lookup::Id(id),
        None => Lookup::Uuid(reference.to_owned()),
    }
}

/// The Odoo id `reference` names, when that needs no call: `Some(Some(id))`
/// for an id, `None` for a UUID (Odoo must be asked).
pub fn resolve_offline(reference: &str) -> Option<Option<i64>> {
    match plan(reference) {
        Lookup::Id(id) => Some(Some(id)),
        Lookup::Uuid(_) => None,
    }
}

/// The Odoo id of the request `reference` names; `Ok(None)` when there is none.
pub async fn resolve(
    odoo: &OdooClient,
    _config: &OdooConfig,
    reference: &str,
) -> Result<Option<i64>, OdooError> {
    let uuid = match plan(reference) {
        Lookup::Id(id) => return Ok(Some(id)),
        Lookup::Uuid(uuid) => uuid,
    };
    let options = SearchOptions {
        limit: Some(1),
        ..SearchOptions::default()
    };
    let domain = json!([[UUID_FIELD, "=", uuid]]);
    let ids = odoo
        .search(crate::odoo::records::REQUEST_MODEL, &domain, &options)
        .await?;
    Ok(ids.first().copied())
}

/// Reads request `id`; `Ok(None)` when it does not exist (a `search_read`,
/// so a missing id is an empty answer, not Odoo's `MissingError`).
pub async fn read(
    odoo: &OdooClient,
    _config: &OdooConfig,
    id: i64,
) -> Result<Option<AiImageRequest>, OdooError> {
    let options = SearchOptions {
        limit: Some(1),
        ..SearchOptions::default()
    };
    let mut found: Vec<AiImageRequest> = odoo
        .search_read(
            crate::odoo::records::REQUEST_MODEL,
            &json!([["id", "=", id]]),
            LOOKUP_FIELDS,
            &options,
        )
        .await?;
    Ok(found.pop())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positive_decimals_are_ids_and_anything_else_a_uuid() {
        assert_eq!(plan("42"), Lookup::Id(42));
        let uuid = "81fbb39d-5411-4204-b2af-d6f45dafde7a";
        for reference in [uuid, "0", "+5", "99999999999999999999"] {
            assert_eq!(plan(reference), Lookup::Uuid(reference.into()));
        }
    }
}
