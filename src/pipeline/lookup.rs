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

/// How a callback's `ai_generation_request_id` finds its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestLookup {
    /// The Odoo integer id, sent as a decimal string.
    Id,
    /// The request's UUID field ([`UUID_FIELD`]).
    Uuid,
    /// A decimal string is an id; anything else is a UUID.
    Both,
}

/// Accepts what either kind of sender sends: no setup has to choose.
pub const LOOKUP: RequestLookup = RequestLookup::Both;

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

/// The Odoo id `reference` names, when that needs no call: `Some(Some(id))`
/// for an id, `Some(None)` when the reference can name no request, `None`
/// for a UUID (Odoo must be asked).
pub fn resolve_offline(mode: RequestLookup, reference: &str) -> Option<Option<i64>> {
    match plan(mode, reference) {
        Lookup::Id(id) => Some(Some(id)),
        Lookup::Impossible => Some(None),
        Lookup::Uuid(_) => None,
    }
}

/// The Odoo id of the request `reference` names; `Ok(None)` when there is none.
pub async fn resolve(
    odoo: &OdooClient,
    config: &OdooConfig,
    reference: &str,
) -> Result<Option<i64>, OdooError> {
    let uuid = match plan(LOOKUP, reference) {
        Lookup::Id(id) => return Ok(Some(id)),
        Lookup::Impossible => return Ok(None),
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
    config: &OdooConfig,
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
