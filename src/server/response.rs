//! The shapes of the bridge's HTTP answers: JSON, errors as
//! `{"status":"error","message":"…"}` (docs/protocol.md#callback-answers) with
//! short messages for the caller that never carry secrets or addresses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

pub type Body = Full<Bytes>;

/// `status` with `value` as its JSON body.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    let bytes = serde_json::to_vec(value)
        .unwrap_or_else(|_| br#"{"status":"error","message":"internal error"}"#.to_vec());
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `{"status":"error","message":…}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Response<Body> {
    json(
        status,
        &serde_json::json!({ "status": "error", "message": message }),
    )
}

pub fn not_found() -> Response<Body> {
    error(StatusCode::NOT_FOUND, "no such route")
}

/// 405 with the `Allow` header listing what the route accepts.
pub fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method not allowed; use {allow}"),
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// A request's outcome label (metrics, logs): set by handlers, else [`Outcome::of_status`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome(pub &'static str);

impl Outcome {
    pub fn of_status(status: StatusCode) -> Self {
        Self(match status.as_u16() {
            200 => "ok",
            202 => "accepted",
            400 => "bad_request",
            401 => "unauthorized",
            404 => "not_found",
            405 => "method_not_allowed",
            408 => "body_timeout",
            409 => "conflict",
            413 => "too_large",
            415 => "unsupported_media_type",
            422 => "image_rejected",
            500 => "internal_error",
            503 => "unavailable",
            _ => "other",
        })
    }

    pub fn of(response: &Response<Body>) -> Self {
        response
            .extensions()
            .get::<Outcome>()
            .copied()
            .unwrap_or_else(|| Self::of_status(response.status()))
    }
}
