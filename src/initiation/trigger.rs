//! Triggers from Odoo's automation rule. Odoo posts from inside `create()`,
//! before its commit, and waits 1 s at most, so a trigger only books a slot
//! ([`MAX_PENDING`], then 503; one already pending is joined) and spawns a
//! task that polls until the record is readable and hands it to the
//! [`Initiator`]. A record that never appears is left to the sweeper.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Initiator;
use crate::config::Config;
use crate::odoo::SearchOptions;
use crate::odoo::records::REQUEST_MODEL;
use crate::retry::Backoff;

/// How long a trigger waits for its record: Odoo commits a create within a
/// second or two, and the sweeper sends whatever commits later.
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(30);
/// Triggers waiting or running at once: far above what Odoo creates in
/// a burst, and a bound on the tasks a flood of triggers can start.
pub(super) const MAX_PENDING: usize = 256;
/// The pauses between looks for a record not yet committed.
const VISIBILITY_BACKOFF: Backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(2));

/// Why a trigger was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("too many triggers are pending")]
    Full,
    #[error("the bridge is shutting down")]
    ShuttingDown,
}

/// Removes a request from the pending set when its task ends, however it ends.
pub(super) struct PendingEntry(pub(super) Arc<Mutex<HashSet<i64>>>, pub(super) i64);

impl Drop for PendingEntry {
    fn drop(&mut self) {
        lock(&self.0).remove(&self.1);
    }
}

// std Mutex: held for a lookup and an insert, never across an await.
pub(super) fn lock(pending: &Mutex<HashSet<i64>>) -> MutexGuard<'_, HashSet<i64>> {
    pending.lock().unwrap_or_else(|p| p.into_inner())
}

/// Polls with a cheap `search` until the record is readable, then sends it.
pub(super) async fn work(
    initiator: &Initiator,
    config: &Config,
    id: i64,
    stop: &CancellationToken,
) {
    let deadline = Instant::now() + VISIBILITY_TIMEOUT;
    let (domain, options) = (json!([["id", "=", id]]), SearchOptions::default());
    let mut look = 0;
    loop {
        look += 1;
        let search = initiator.odoo().search(REQUEST_MODEL, &domain, &options);
        match search.await {
            Ok(ids) if !ids.is_empty() => {
                // The outcome is logged by the initiator.
                let _ = initiator.initiate(config, id, "trigger", stop).await;
                return;
            }
            Ok(_) => tracing::trace!(look, "the triggered request is not readable yet"),
            Err(error) if error.is_transient() => {
                tracing::debug!(look, %error, "Odoo failed while looking for the triggered request")
            }
            Err(error) => {
                return tracing::warn!(%error, "cannot look the triggered request up in Odoo; trigger dropped, the sweeper sends the request");
            }
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return tracing::warn!(
                timeout = %humantime::format_duration(VISIBILITY_TIMEOUT),
                "the triggered request did not become readable in time (Odoo may have rolled the create back); \
                 trigger dropped, the sweeper sends the request if it exists"
            );
        }
        let pause = VISIBILITY_BACKOFF.delay(look);
        tokio::select! {
            () = stop.cancelled() => {
                return tracing::info!("shutting down; trigger dropped, the sweeper sends the request after the next start");
            }
            () = tokio::time::sleep(pause.min(left)) => {}
        }
    }
}

/// The request id a trigger body names: Odoo's (`_id`, `_model`, `id` and
/// fields from before the commit, unused) or a minimal `{"id": N}`; ids may
/// be numbers or digit strings, and `_model` must be the request model.
pub fn parse_body(body: &[u8]) -> Result<i64, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_owned())?;
    let object = value
        .as_object()
        .ok_or_else(|| "the body must be a JSON object".to_owned())?;
    match object.get("_model").map(Value::as_str) {
        None | Some(Some(REQUEST_MODEL)) => {}
        Some(Some(model)) => {
            let ours = format!("this bridge sends {REQUEST_MODEL:?} requests");
            return Err(format!("the trigger is about {model:?}; {ours}"));
        }
        Some(None) => return Err("\"_model\" must be a string".to_owned()),
    }
    let id = id_field(object, "_id")?;
    let plain = id_field(object, "id")?;
    match (id, plain) {
        (Some(a), Some(b)) if a != b => Err(format!("\"_id\" ({a}) and \"id\" ({b}) differ")),
        (Some(id), _) | (None, Some(id)) => Ok(id),
        (None, None) => Err("the body names no request: expected \"_id\" or \"id\"".to_owned()),
    }
}

fn id_field(object: &Map<String, Value>, key: &str) -> Result<Option<i64>, String> {
    let Some(value) = object.get(key) else {
        return Ok(None);
    };
    let id = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse().ok(),
        _ => None,
    };
    match id {
        Some(id) if id > 0 => Ok(Some(id)),
        _ => Err(format!("\"{key}\" must be a positive integer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every body the recorded Odoo 18 automation rule sent.
    fn recorded_bodies() -> Vec<(i64, String)> {
        let mut bodies = Vec::new();
        for text in [
            include_str!("../../tests/fixtures/odoo18/webhook/base_automation_on_create.json"),
            include_str!("../../tests/fixtures/odoo18/webhook/base_automation_behaviour.json"),
        ] {
            collect(&serde_json::from_str(text).unwrap(), &mut bodies);
        }
        bodies
    }

    fn collect(value: &Value, into: &mut Vec<(i64, String)>) {
        match value {
            Value::Object(map) => {
                if let (Some(Value::String(raw)), Some(json)) =
                    (map.get("body_raw"), map.get("body_json"))
                {
                    into.push((json["_id"].as_i64().unwrap(), raw.clone()));
                }
                map.values().for_each(|v| collect(v, into));
            }
            Value::Array(items) => items.iter().for_each(|v| collect(v, into)),
            _ => {}
        }
    }

    #[test]
    fn every_recorded_odoo_body_names_its_request() {
        let bodies = recorded_bodies();
        assert!(bodies.len() >= 5, "{}", bodies.len());
        for (id, raw) in bodies {
            assert_eq!(parse_body(raw.as_bytes()), Ok(id), "{raw}");
        }
    }

    #[test]
    fn a_minimal_body_is_enough() {
        assert_eq!(parse_body(br#"{"id": 42}"#), Ok(42));
        assert_eq!(parse_body(br#"{"id": "42"}"#), Ok(42));
        let odoo = br#"{"_id": 7, "_model": "influence_gen.ai_image_request"}"#;
        assert_eq!(parse_body(odoo), Ok(7));
    }

    #[test]
    fn bodies_that_name_no_request_are_refused() {
        for (body, expected) in [
            (&b"not json"[..], "not JSON"),
            (b"[1]", "JSON object"),
            (b"{}", "names no request"),
            (br#"{"id": 0}"#, "positive integer"),
            (br#"{"id": -3}"#, "positive integer"),
            (br#"{"id": 1.5}"#, "positive integer"),
            (br#"{"id": "x"}"#, "positive integer"),
            (br#"{"_id": 1, "id": 2}"#, "differ"),
            (br#"{"_id": 1, "_model": "res.partner"}"#, "res.partner"),
            (br#"{"_id": 1, "_model": 5}"#, "_model"),
        ] {
            let error = parse_body(body).unwrap_err();
            assert!(error.contains(expected), "{error}");
        }
    }
}
