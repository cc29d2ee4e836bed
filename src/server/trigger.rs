//! `POST /influence_gen/trigger/<secret>`: Odoo's automation rule says a
//! request was created (`docs/protocol.md#routes`). The secret is in the
//! path (Odoo's webhook action cannot send headers) and never logged. The
//! answer is 202 at once; [`crate::initiation::trigger`] reads the record.

use std::borrow::Cow;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use secrecy::{ExposeSecret, SecretString};

use super::body;
use super::response::{self, Body};
use crate::app::App;
use crate::auth;
use crate::config::fingerprint::fingerprint;
use crate::initiation::trigger;

/// The route's path up to the secret.
pub const TRIGGER_PATH_PREFIX: &str = "/influence_gen/trigger/";
/// Odoo's payload is a few hundred bytes; this leaves room for many fields.
const MAX_BODY_BYTES: u64 = 64 * 1024;

/// Whether `path` belongs to the trigger route.
pub fn is_trigger_path(path: &str) -> bool {
    path.starts_with(TRIGGER_PATH_PREFIX)
}

/// `path` fit for a log line: the trigger's secret replaced.
pub fn loggable_path(path: &str) -> Cow<'_, str> {
    if is_trigger_path(path) {
        Cow::Owned(format!("{TRIGGER_PATH_PREFIX}<secret>"))
    } else {
        Cow::Borrowed(path)
    }
}

/// Answers one trigger.
pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let config = app.config();
    let Some(expected) = &config.initiation.trigger_secret else {
        // As if the route did not exist; the start-up log says why.
        return response::not_found();
    };
    let presented = request
        .uri()
        .path()
        .strip_prefix(TRIGGER_PATH_PREFIX)
        .unwrap_or_default();
    if !auth::tokens_match(expected.expose_secret().as_bytes(), presented.as_bytes()) {
        tracing::warn!(
            presented_fingerprint = %fingerprint(&SecretString::from(presented.to_owned())),
            "trigger refused: the secret in the path is wrong"
        );
        return response::error(StatusCode::UNAUTHORIZED, "authentication failed");
    }
    if request.method() != Method::POST {
        return response::method_not_allowed("POST");
    }
    let (parts, body) = request.into_parts();
    let read = body::read(body, &parts.headers, MAX_BODY_BYTES, body::READ_TIMEOUT);
    let body = match read.await {
        Ok(body) => body,
        Err(error) => return response::error(error.status(), &error.to_string()),
    };
    let id = match trigger::parse_body(&body) {
        Ok(id) => id,
        Err(message) => {
            tracing::info!(%message, "trigger refused");
            return response::error(StatusCode::BAD_REQUEST, &message);
        }
    };
    match app.initiation().trigger(Arc::clone(&config), id) {
        Ok(already_pending) => {
            tracing::info!(
                ai_generation_request_id = id,
                already_pending,
                "trigger accepted; the request is sent once Odoo has committed it"
            );
            let accepted = serde_json::json!({ "status": "accepted" });
            response::json(StatusCode::ACCEPTED, &accepted)
        }
        Err(refused) => {
            tracing::warn!(ai_generation_request_id = id, %refused, "trigger refused; the sweeper sends the request later");
            let message = format!("{refused}; the request will be sent by the sweeper");
            response::error(StatusCode::SERVICE_UNAVAILABLE, &message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_never_reaches_a_log_line() {
        assert_eq!(
            loggable_path("/influence_gen/trigger/s3cret-0123456789abcdef"),
            "/influence_gen/trigger/<secret>"
        );
        assert_eq!(loggable_path("/healthz"), "/healthz");
        assert!(!is_trigger_path("/influence_gen/triggers"));
    }
}
