//! Routing: which handler answers which method and path.
//!
//! A plain `match` on method and path: the bridge has a handful of fixed
//! routes, and a table this small reads better than a router dependency.
//! Every request runs in a span carrying its request id, which is also
//! returned in `X-Request-Id`; its end is logged once, with the status and
//! the outcome, and counted in the metrics for the routes N8N and Odoo call.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use tracing::Instrument;

use super::response::{self, Body, Outcome};
use super::{callback, request_id};
use crate::app::App;
use crate::config::CALLBACK_PATH;

/// Answers one request.
pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let id = request_id::from_headers(request.headers());
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "http",
        request_id = %id.to_str().unwrap_or_default(),
        method = %request.method(),
        path = %super::trigger::loggable_path(&path),
    );
    let mut response = route(&app, request, &id).instrument(span.clone()).await;
    let outcome = Outcome::of(&response);
    if let Some(route) = counted_route(&path) {
        app.metrics()
            .callback_answered(route, outcome.0, started.elapsed());
        span.in_scope(|| {
            tracing::info!(
                status = response.status().as_u16(),
                outcome = outcome.0,
                elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
                "answered"
            );
        });
    }
    response.headers_mut().insert(request_id::HEADER, id);
    response
}

/// The metrics label of the routes whose answers are counted.
fn counted_route(path: &str) -> Option<&'static str> {
    if path == CALLBACK_PATH {
        Some("callback")
    } else if path.starts_with("/influence_gen/trigger") {
        Some("trigger")
    } else {
        None
    }
}

async fn route(
    app: &Arc<App>,
    request: Request<Incoming>,
    request_id: &HeaderValue,
) -> Response<Body> {
    let path = request.uri().path();
    match (request.method(), path) {
        (&Method::POST, CALLBACK_PATH) => {
            callback::handle(
                Arc::clone(app),
                request,
                request_id.to_str().unwrap_or_default(),
            )
            .await
        }
        (_, CALLBACK_PATH) => response::method_not_allowed("POST"),
        (_, path) if super::trigger::is_trigger_path(path) => {
            super::trigger::handle(Arc::clone(app), request).await
        }
        (&Method::GET | &Method::HEAD, "/healthz") => healthz(),
        (_, "/healthz") => response::method_not_allowed("GET, HEAD"),
        (&Method::GET | &Method::HEAD, "/readyz") => readyz(app).await,
        (_, "/readyz") => response::method_not_allowed("GET, HEAD"),
        (&Method::GET | &Method::HEAD, "/metrics") => metrics(app),
        (_, "/metrics") => response::method_not_allowed("GET, HEAD"),
        _ => response::not_found(),
    }
}

/// Liveness: the process runs and serves HTTP. Says nothing about Odoo.
fn healthz() -> Response<Body> {
    response::json(StatusCode::OK, &serde_json::json!({ "status": "ok" }))
}

/// Readiness: Odoo accepts the login, the spool is writable, the
/// configuration is loaded (it is, or the process would not run).
async fn readyz(app: &App) -> Response<Body> {
    let report = app.readiness().await;
    if report.ready {
        response::json(StatusCode::OK, &serde_json::json!({ "status": "ready" }))
    } else {
        let body = serde_json::json!({ "status": "not ready", "failing": report.failing });
        response::json(StatusCode::SERVICE_UNAVAILABLE, &body)
    }
}

/// The Prometheus text exposition.
fn metrics(app: &App) -> Response<Body> {
    let mut response = Response::new(Body::from(app.metrics_text()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::metrics::CONTENT_TYPE),
    );
    response
}
