//! `POST /influence_gen/ai/callback/image_result`: N8N's result, from the
//! HTTP request to the answer.
//!
//! The order of the checks is deliberate: cheap refusals first (415, 413),
//! then the body is read within `server.body_read_timeout` (408), parsed
//! (400; nothing decoded yet), authenticated (401: before any field is
//! validated, any image decoded or Odoo touched, unless the callback token is only in Odoo; see
//! [`crate::auth`]), validated and its image decoded (400), written to the spool
//! (503 if it cannot be), and applied by the spool's worker while the caller
//! waits up to `spool.wait` (202 after that). See the README's response
//! table for every answer.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tracing::Instrument;

use super::response::{self, Body, Outcome};
use crate::app::App;
use crate::callback::{self, BodyStyle, CallbackResult};
use crate::config::Config;
use crate::pipeline::{Applied, PipelineError};
use crate::spool::{Final, SpoolError};

/// An answer before the style of the body is known is always bare.
struct Answer {
    status: StatusCode,
    body: serde_json::Value,
    /// The outcome label for metrics and logs.
    outcome: Outcome,
}

impl Answer {
    fn success(message: Option<&str>) -> Self {
        let (body, outcome) = match message {
            Some(message) => (
                serde_json::json!({ "status": "success", "message": message }),
                Outcome("duplicate"),
            ),
            None => (
                serde_json::json!({ "status": "success" }),
                Outcome("applied"),
            ),
        };
        Self {
            status: StatusCode::OK,
            body,
            outcome,
        }
    }

    fn accepted() -> Self {
        Self {
            status: StatusCode::ACCEPTED,
            body: serde_json::json!({ "status": "accepted" }),
            outcome: Outcome("accepted"),
        }
    }

    fn error(status: StatusCode, message: &str) -> Self {
        Self {
            status,
            body: serde_json::json!({ "status": "error", "message": message }),
            outcome: Outcome::of_status(status),
        }
    }

    fn into_response(self, style: &BodyStyle) -> Response<Body> {
        let mut response = match style {
            BodyStyle::Bare => response::json(self.status, &self.body),
            BodyStyle::JsonRpc { id } => {
                let envelope =
                    serde_json::json!({ "jsonrpc": "2.0", "id": id, "result": self.body });
                response::json(self.status, &envelope)
            }
        };
        response.extensions_mut().insert(self.outcome);
        response
    }
}

/// Handles one callback.
pub async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
    http_request_id: &str,
) -> Response<Body> {
    let config = app.config();
    let (parts, body) = request.into_parts();
    if !is_json(&parts.headers) {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON (Content-Type: application/json)",
        );
    }
    let body = match read_body(body, &parts.headers, &config).await {
        Ok(body) => body,
        Err(answer) => return answer.into_response(&BodyStyle::Bare),
    };
    let parsed = match callback::parse(&body) {
        Ok(parsed) => parsed,
        Err(malformed) => return refuse(StatusCode::BAD_REQUEST, &malformed.0),
    };
    let style = parsed.style.clone();
    // n8n.callback_token, else Odoo's influence_gen.n8n_callback_token.
    let expected = app.initiation().parameters().callback_token(&config).await;
    let token = parsed.security_token.as_deref();
    match app
        .auth()
        .authenticate(&config, expected.as_ref(), &parts.headers, &body, token)
    {
        Ok(_) => {}
        Err(refusal) => {
            tracing::warn!(reason = refusal.label(), "callback refused: {refusal}");
            return Answer::error(refusal.status(), refusal.public_message()).into_response(&style);
        }
    };
    let result = validate(&app, &parsed, &config);
    // The image is decoded: the body's (base64) text is not needed while
    // the result is spooled and applied.
    drop(parsed);
    drop(body);
    let answer = match result {
        Ok(result) => {
            let span =
                tracing::info_span!("callback", ai_generation_request_id = %result.request_ref);
            apply(&app, &config, &result, http_request_id)
                .instrument(span)
                .await
        }
        Err(invalid) => Answer::error(StatusCode::BAD_REQUEST, &invalid.0),
    };
    answer.into_response(&style)
}

/// Validates an authenticated callback, decoding its inline image (counted
/// in `image_data_decoded_bytes`).
fn validate(
    app: &App,
    parsed: &callback::ParsedCallback<'_>,
    config: &Config,
) -> Result<CallbackResult, callback::InvalidCallback> {
    let result = parsed.validate(config.images.max_bytes)?;
    if let callback::Outcome::Success {
        image: callback::ImagePayload::Inline(bytes),
        ..
    } = &result.outcome
    {
        app.metrics()
            .image_data_decoded_bytes
            .inc_by(bytes.len() as u64);
    }
    Ok(result)
}

fn refuse(status: StatusCode, message: &str) -> Response<Body> {
    tracing::info!(status = status.as_u16(), message, "callback refused");
    Answer::error(status, message).into_response(&BodyStyle::Bare)
}

/// `application/json`, with or without parameters, or any `+json` type.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

async fn read_body(body: Incoming, headers: &HeaderMap, config: &Config) -> Result<Bytes, Answer> {
    let limit = config.server.max_body_bytes;
    super::body::read(body, headers, limit, config.server.body_read_timeout)
        .await
        .map_err(|error| Answer::error(error.status(), &error.to_string()))
}

/// Spools the result durably, then waits up to `spool.wait` for the worker
/// to apply it: the caller gets the real outcome, or 202 once the wait is
/// over (the spool finishes the job). A spool that cannot take the result
/// means 503: nothing is acknowledged that is not stored.
async fn apply(
    app: &App,
    config: &Config,
    result: &CallbackResult,
    http_request_id: &str,
) -> Answer {
    let (id, outcome) = match app.spool().submit(result, http_request_id).await {
        Ok(submitted) => submitted,
        Err(error @ SpoolError::Full { .. }) => {
            tracing::error!(%error, "callback refused: the spool is full (raise spool.max_bytes/max_entries or fix Odoo)");
            return Answer::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the bridge's spool is full; try again later",
            );
        }
        Err(error) => {
            tracing::error!(%error, "callback refused: cannot write the spool");
            return Answer::error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the bridge cannot store the callback; try again later",
            );
        }
    };
    tracing::debug!(entry = %id, "callback spooled");
    match tokio::time::timeout(config.spool.wait, outcome).await {
        Ok(Ok(Final::Applied(applied))) => answer(&result.request_ref, Ok(applied)),
        Ok(Ok(Final::Dead(error))) => answer(&result.request_ref, Err(error)),
        Ok(Err(_)) | Err(_) => {
            app.spool().abandon(&id);
            tracing::info!(entry = %id, "not applied yet; accepted into the spool");
            Answer::accepted()
        }
    }
}

fn answer(reference: &str, outcome: Result<Applied, PipelineError>) -> Answer {
    match outcome {
        Ok(applied) => {
            tracing::info!(ai_generation_request_id = applied.request_id(), outcome = ?applied, "callback applied");
            match applied {
                Applied::Completed { .. } | Applied::FailureRecorded { .. } => {
                    Answer::success(None)
                }
                Applied::Duplicate { .. } => {
                    Answer::success(Some("duplicate: this result was already applied"))
                }
                Applied::ImageRejected { reason, .. } => Answer::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("image unusable: {reason}"),
                ),
            }
        }
        Err(error) => {
            let status = match &error {
                PipelineError::UnknownRequest(_) => StatusCode::NOT_FOUND,
                PipelineError::Conflict { .. } => StatusCode::CONFLICT,
                error if error.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let message = match status {
                StatusCode::NOT_FOUND => format!("unknown request {reference:?}"),
                StatusCode::CONFLICT => error.to_string(),
                StatusCode::SERVICE_UNAVAILABLE => {
                    "Odoo is unavailable; try again later".to_owned()
                }
                _ => "internal error; see the bridge's log".to_owned(),
            };
            if status.is_server_error() {
                tracing::error!(ai_generation_request_id = %reference, %error, "callback not applied");
            } else {
                tracing::info!(ai_generation_request_id = %reference, %error, "callback not applied");
            }
            Answer::error(status, &message)
        }
    }
}
