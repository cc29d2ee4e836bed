//! Callback bodies as N8N sends them, and a client that posts them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::config::CALLBACK_TOKEN;

/// The callback route.
pub const CALLBACK: &str = "/influence_gen/ai/callback/image_result";

/// A success carrying the image inline as base64.
pub fn success_inline(request: impl Into<Value>, image: &[u8]) -> Value {
    json!({
        "ai_generation_request_id": request.into(),
        "result_payload": {
            "status": "success",
            "data": { "image_data": STANDARD.encode(image), "file_format": "png", "mimetype": "image/png" }
        }
    })
}

/// A success pointing at an image URL.
pub fn success_url(request: i64, url: &str) -> Value {
    json!({
        "ai_generation_request_id": request.to_string(),
        "result_payload": { "status": "success", "data": { "image_url": url, "file_format": "png" } }
    })
}

/// A failure with a message and details.
pub fn failure(request: i64, message: &str, details: &str) -> Value {
    json!({
        "ai_generation_request_id": request.to_string(),
        "result_payload": { "status": "failure", "error_data": { "message": message, "details": details } }
    })
}

/// A reqwest client (with the TLS provider installed).
pub fn client() -> reqwest::Client {
    influence_gen_bridge::tls::install_crypto_provider();
    reqwest::Client::new()
}

/// Posts `body` with the test token; the HTTP status and JSON answer, or the
/// transport error (e.g. the daemon was killed mid-request).
pub async fn post(
    http: &reqwest::Client,
    base_url: &str,
    body: &Value,
) -> Result<(u16, Value), reqwest::Error> {
    let response = http
        .post(format!("{base_url}{CALLBACK}"))
        .header("content-type", "application/json")
        .header("X-N8N-Webhook-Token", CALLBACK_TOKEN)
        .body(body.to_string())
        .send()
        .await?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await?;
    Ok((
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    ))
}
