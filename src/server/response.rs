//! The shapes of the bridge's HTTP answers.
//!
//! Every answer is JSON. Errors are `{"status":"error","message":"…"}`, the
//! contract of the SDS; messages are short, written for the caller, and never
//! carry secrets or internal addresses.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

/// The body type of every answer.
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

/// 404 for a path the bridge does not serve.
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
