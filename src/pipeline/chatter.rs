//! A short note of the outcome in the request's chatter: skipped from then on
//! when the model has none (the SDS model need not); an error is only logged.

use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::json;

use crate::odoo::{OdooClient, ServerErrorKind};

#[derive(Debug, Default)]
pub struct Chatter {
    absent: AtomicBool,
}

impl Chatter {
    pub async fn post(&self, odoo: &OdooClient, model: &str, id: i64, note: &str) {
        if self.absent.load(Ordering::Relaxed) {
            return;
        }
        let kwargs =
            json!({ "body": note, "message_type": "comment", "subtype_xmlid": "mail.mt_note" });
        let result: Result<Option<serde_json::Value>, _> = odoo
            .execute_kw(model, "message_post", &json!([[id]]), &kwargs)
            .await;
        match result {
            Ok(_) => {}
            Err(error) if error.server_kind() == Some(ServerErrorKind::NoSuchMethod) => {
                tracing::info!(model, "the model has no chatter; outcome notes are skipped");
                self.absent.store(true, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(ai_generation_request_id = id, %error, "could not post the outcome note")
            }
        }
    }
}
