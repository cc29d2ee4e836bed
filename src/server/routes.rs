//! Routing: which handler answers which method and path.
//!
//! A plain `match` on method and path: the bridge has a handful of fixed
//! routes, and a table this small reads better than a router dependency.

use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::response::{self, Body};
use crate::app::App;

/// Answers one request.
pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let _ = &app;
    match (request.method(), request.uri().path()) {
        (&Method::GET | &Method::HEAD, "/healthz") => healthz(),
        (_, "/healthz") => response::method_not_allowed("GET, HEAD"),
        _ => response::not_found(),
    }
}

/// Liveness: the process runs and serves HTTP. Says nothing about Odoo.
fn healthz() -> Response<Body> {
    response::json(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}
