//! Routing: which handler answers which method and path.
//!
//! A plain `match` on method and path: the bridge has a handful of fixed
//! routes, and a table this small reads better than a router dependency.
//! Every request runs in a span carrying its request id, which is also
//! returned in `X-Request-Id`.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use tracing::Instrument;

use super::response::{self, Body};
use super::{callback, request_id};
use crate::app::App;
use crate::config::CALLBACK_PATH;

/// Answers one request.
pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let id = request_id::from_headers(request.headers());
    let span = tracing::info_span!(
        "http",
        request_id = %id.to_str().unwrap_or_default(),
        method = %request.method(),
        path = %super::trigger::loggable_path(request.uri().path()),
    );
    let mut response = route(app, request).instrument(span).await;
    response.headers_mut().insert(request_id::HEADER, id);
    response
}

async fn route(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    match (request.method(), request.uri().path()) {
        (&Method::POST, CALLBACK_PATH) => callback::handle(app, request).await,
        (_, CALLBACK_PATH) => response::method_not_allowed("POST"),
        (_, path) if super::trigger::is_trigger_path(path) => {
            super::trigger::handle(app, request).await
        }
        (&Method::GET | &Method::HEAD, "/healthz") => healthz(),
        (_, "/healthz") => response::method_not_allowed("GET, HEAD"),
        _ => response::not_found(),
    }
}

/// Liveness: the process runs and serves HTTP. Says nothing about Odoo.
fn healthz() -> Response<Body> {
    response::json(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}
