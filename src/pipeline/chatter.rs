//! A short note of the outcome in the request's chatter (SDS §3.7 step 5).
//!
//! Optional by nature: when the request model has no chatter (`message_post`
//! does not exist) notes are skipped silently from then on; any other error
//! is logged and never fails the callback, whose real work is already done.

use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::json;

use crate::odoo::{OdooClient, ServerErrorKind};

const UNKNOWN: u8 = 0;
const PRESENT: u8 = 1;
const ABSENT: u8 = 2;

/// Posts notes, remembering whether the model has a chatter at all.
#[derive(Debug)]
pub struct Chatter {
    state: AtomicU8,
}

impl Default for Chatter {
    fn default() -> Self {
        Self {
            state: AtomicU8::new(UNKNOWN),
        }
    }
}

impl Chatter {
    /// Posts `note` as an internal note on request `id` of `model`.
    pub async fn post(&self, odoo: &OdooClient, model: &str, id: i64, note: &str) {
        if self.state.load(Ordering::Relaxed) == ABSENT {
            return;
        }
        let kwargs =
            json!({ "body": note, "message_type": "comment", "subtype_xmlid": "mail.mt_note" });
        let result: Result<Option<serde_json::Value>, _> = odoo
            .execute_kw(model, "message_post", &json!([[id]]), &kwargs)
            .await;
        match result {
            Ok(_) => self.state.store(PRESENT, Ordering::Relaxed),
            Err(error) if error.server_kind() == Some(ServerErrorKind::NoSuchMethod) => {
                tracing::info!(
                    model,
                    "the request model has no chatter; outcome notes are skipped"
                );
                self.state.store(ABSENT, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(ai_generation_request_id = id, %error, "could not post the outcome note")
            }
        }
    }
}
