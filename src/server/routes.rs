//! Routing: a plain `match` on method and path. Every request runs in a span
//! with its request id, also returned in `X-Request-Id` (to match an N8N
//! execution to the log); answers to N8N and Odoo are logged and counted.

use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use serde_json::json;
use tracing::Instrument;

use super::response::{self, Body, Outcome};
use super::{callback, trigger};
use crate::app::App;
use crate::config::CALLBACK_PATH;

const REQUEST_ID: &str = "x-request-id";

pub async fn handle(app: Arc<App>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let id = request_id(request.headers());
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!(
        "http",
        request_id = %id.to_str().unwrap_or_default(),
        method = %request.method(),
        path = %trigger::loggable_path(&path),
    );
    let mut response = route(&app, request, &id).instrument(span.clone()).await;
    let counted = match path.as_str() {
        CALLBACK_PATH => Some("callback"),
        path if trigger::is_trigger_path(path) => Some("trigger"),
        _ => None,
    };
    if let Some(route) = counted {
        let (outcome, elapsed) = (Outcome::of(&response).0, started.elapsed());
        app.metrics().callback_answered(route, outcome, elapsed);
        let (status, elapsed_ms) = (response.status().as_u16(), elapsed.as_secs_f64() * 1e3);
        span.in_scope(|| tracing::info!(status, outcome, elapsed_ms, "answered"));
    }
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

/// The caller's (a reverse proxy's) request id if short and sane, else a random one.
fn request_id(headers: &HeaderMap) -> HeaderValue {
    let sane = |value: &&HeaderValue| {
        let bytes = value.as_bytes();
        (1..=64).contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    headers
        .get(REQUEST_ID)
        .filter(sane)
        .cloned()
        .unwrap_or_else(|| {
            let id = format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..));
            HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
        })
}

async fn route(app: &Arc<App>, request: Request<Incoming>, id: &HeaderValue) -> Response<Body> {
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    match (request.method(), request.uri().path()) {
        (&Method::POST, CALLBACK_PATH) => {
            let id = id.to_str().unwrap_or_default();
            callback::handle(Arc::clone(app), request, id).await
        }
        (_, CALLBACK_PATH) => response::method_not_allowed("POST"),
        (_, path) if trigger::is_trigger_path(path) => {
            trigger::handle(Arc::clone(app), request).await
        }
        // Liveness: the process serves HTTP; says nothing about Odoo.
        (_, "/healthz") if read => response::json(StatusCode::OK, &json!({ "status": "ok" })),
        (_, "/readyz") if read => {
            let report = app.readiness().await;
            if report.ready {
                response::json(StatusCode::OK, &json!({ "status": "ready" }))
            } else {
                let body = json!({ "status": "not ready", "failing": report.failing });
                response::json(StatusCode::SERVICE_UNAVAILABLE, &body)
            }
        }
        (_, "/metrics") if read => {
            let mut response = Response::new(Body::from(app.metrics_text()));
            let content_type = HeaderValue::from_static(crate::metrics::CONTENT_TYPE);
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, content_type);
            response
        }
        (_, "/healthz" | "/readyz" | "/metrics") => response::method_not_allowed("GET, HEAD"),
        _ => response::not_found(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_static("abc-123"));
        assert_eq!(request_id(&headers), "abc-123");
        headers.insert(REQUEST_ID, HeaderValue::from_static("has space"));
        assert_eq!(request_id(&headers).len(), 32);
        headers.insert(REQUEST_ID, HeaderValue::from_str(&"x".repeat(65)).unwrap());
        assert_eq!(request_id(&headers).len(), 32);
        assert_ne!(request_id(&HeaderMap::new()), request_id(&HeaderMap::new()));
    }
}
