//! `POST /influence_gen/ai/callback/image_result` (docs/protocol.md#callback-answers).
//! The order is deliberate: cheap refusals (415, 413, 408), parsing without
//! decoding (400), authentication (401) before anything is validated, decoded
//! or sent to Odoo; then validation (400), the spool (503 if it cannot store),
//! and the worker's outcome within `spool.wait` (else 202).

use std::sync::Arc;

use http::{HeaderMap, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;
use tracing::Instrument;

use super::response::{self, Body, Outcome};
use crate::app::App;
use crate::auth;
use crate::callback::{self, BodyStyle, CallbackResult, ImagePayload};
use crate::config::Config;
use crate::pipeline::{Applied, PipelineError};
use crate::spool::{Final, SpoolError};

/// Status, body (before the caller's body style wraps it) and outcome label.
struct Answer(StatusCode, serde_json::Value, &'static str);

impl Answer {
    fn error(status: StatusCode, message: &str) -> Self {
        let body = json!({ "status": "error", "message": message });
        Self(status, body, Outcome::of_status(status).0)
    }
}

pub async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
    http_request_id: &str,
) -> Response<Body> {
    let (Answer(status, body, outcome), style) = answer(&app, request, http_request_id).await;
    let body = match style {
        BodyStyle::Bare => body,
        BodyStyle::JsonRpc { id } => json!({ "jsonrpc": "2.0", "id": id, "result": body }),
    };
    let mut response = response::json(status, &body);
    response.extensions_mut().insert(Outcome(outcome));
    response
}

async fn answer(app: &App, request: Request<Incoming>, request_id: &str) -> (Answer, BodyStyle) {
    let refuse = |status: StatusCode, message: &str| {
        tracing::info!(status = status.as_u16(), message, "callback refused");
        (Answer::error(status, message), BodyStyle::Bare)
    };
    let config = app.config();
    let (parts, body) = request.into_parts();
    if !is_json(&parts.headers) {
        let message = "the body must be JSON (Content-Type: application/json)";
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, message);
    }
    let limit = config.server.max_body_bytes;
    let body = match super::body::read(body, &parts.headers, limit, super::body::READ_TIMEOUT).await
    {
        Ok(body) => body,
        Err(error) => return refuse(error.status(), &error.to_string()),
    };
    let parsed = match callback::parse(&body) {
        Ok(parsed) => parsed,
        Err(malformed) => return refuse(StatusCode::BAD_REQUEST, &malformed.0),
    };
    let style = parsed.style.clone();
    // n8n.callback_token, else Odoo's influence_gen.n8n_callback_token.
    let expected = app.initiation().parameters().callback_token(&config).await;
    let (token, now) = (parsed.security_token.as_deref(), auth::unix_now());
    let authenticated = auth::authenticate(
        &config.auth,
        expected.as_ref(),
        &parts.headers,
        &body,
        token,
        now,
    );
    if let Err(refusal) = authenticated {
        tracing::warn!(reason = %refusal, "callback refused");
        return (
            Answer::error(auth::Refusal::STATUS, refusal.public_message()),
            style,
        );
    }
    let result = parsed.validate(config.images.max_bytes);
    // The image is decoded: the body's base64 text is not needed any more.
    drop(parsed);
    drop(body);
    let result = match result {
        Ok(result) => result,
        Err(invalid) => return (Answer::error(StatusCode::BAD_REQUEST, &invalid.0), style),
    };
    if let callback::Outcome::Success {
        image: ImagePayload::Inline(bytes),
        ..
    } = &result.outcome
    {
        (app.metrics().image_data_decoded_bytes).inc_by(bytes.len() as u64);
    }
    let span = tracing::info_span!("callback", ai_generation_request_id = %result.request_ref);
    let answer = apply(app, &config, &result, request_id)
        .instrument(span)
        .await;
    (answer, style)
}

/// `application/json` (with parameters) or any `+json` type.
fn is_json(headers: &HeaderMap) -> bool {
    let value = headers.get(header::CONTENT_TYPE);
    let value = value.and_then(|v| v.to_str().ok()).unwrap_or_default();
    let essence = value.split(';').next().unwrap_or_default();
    let essence = essence.trim().to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Spools the result durably (else 503: nothing is acknowledged that is not
/// stored), then waits up to `spool.wait` for the worker's outcome (else 202).
async fn apply(app: &App, config: &Config, result: &CallbackResult, request_id: &str) -> Answer {
    let (id, outcome) = match app.spool().submit(result, request_id).await {
        Ok(submitted) => submitted,
        Err(error) => {
            let message = if let SpoolError::Full { .. } = error {
                tracing::error!(%error, "callback refused: the spool is full (raise spool.max_bytes or fix Odoo)");
                "the bridge's spool is full; try again later"
            } else {
                tracing::error!(%error, "callback refused: cannot write the spool");
                "the bridge cannot store the callback; try again later"
            };
            return Answer::error(StatusCode::SERVICE_UNAVAILABLE, message);
        }
    };
    tracing::debug!(entry = %id, "callback spooled");
    let reference = &result.request_ref;
    match tokio::time::timeout(config.spool.wait, outcome).await {
        Ok(Ok(Final::Applied(applied))) => applied_answer(applied),
        Ok(Ok(Final::Dead(error))) => error_answer(reference, error),
        Ok(Err(_)) | Err(_) => {
            app.spool().abandon(&id);
            tracing::info!(entry = %id, "not applied yet; accepted into the spool");
            Answer(
                StatusCode::ACCEPTED,
                json!({ "status": "accepted" }),
                "accepted",
            )
        }
    }
}

fn applied_answer(applied: Applied) -> Answer {
    tracing::info!(outcome = ?applied, "callback applied");
    let message = match applied {
        Applied::Completed { .. } | Applied::FailureRecorded { .. } => {
            return Answer(StatusCode::OK, json!({ "status": "success" }), "applied");
        }
        Applied::Duplicate { .. } => "duplicate: this result was already applied",
        Applied::ImageRejected { reason, .. } => {
            let message = format!("image unusable: {reason}");
            return Answer::error(StatusCode::UNPROCESSABLE_ENTITY, &message);
        }
    };
    let body = json!({ "status": "success", "message": message });
    Answer(StatusCode::OK, body, "duplicate")
}

fn error_answer(reference: &str, error: PipelineError) -> Answer {
    let (status, message) = match &error {
        PipelineError::UnknownRequest(_) => (
            StatusCode::NOT_FOUND,
            format!("unknown request {reference:?}"),
        ),
        PipelineError::Conflict { .. } => (StatusCode::CONFLICT, error.to_string()),
        error if error.is_transient() => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Odoo is unavailable; try again later".to_owned(),
        ),
        _ => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error; see the bridge's log".to_owned(),
        ),
    };
    if status.is_server_error() {
        tracing::error!(ai_generation_request_id = %reference, %error, "callback not applied");
    } else {
        tracing::info!(ai_generation_request_id = %reference, %error, "callback not applied");
    }
    Answer::error(status, &message)
}
