//! An inline image is decoded only for an authenticated caller (issue 15,
//! item 10): an unauthenticated one costs no more than reading its body.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use influence_gen_testkit::images;
use serde_json::json;

use super::{start, token_header};

/// `influence_gen_bridge_image_data_decoded_bytes_total` from `/metrics`.
async fn decoded_bytes(setup: &super::Setup) -> f64 {
    let text = setup
        .http
        .get(setup.bridge.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("influence_gen_bridge_image_data_decoded_bytes_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no decoded-bytes counter in:\n{text}"))
}

#[tokio::test]
async fn an_unauthenticated_callback_with_a_large_inline_image_decodes_nothing() {
    let setup = start(|config| config.with("server", "max_body_bytes = 33554432")).await;
    let request = setup.request();
    let png = images::png_of_size(8 * 1024 * 1024);
    let body = json!({
        "ai_generation_request_id": request.to_string(),
        "result_payload": { "status": "success", "data": { "image_data": STANDARD.encode(&png) } }
    })
    .to_string();
    for headers in [vec![], vec![("x-n8n-webhook-token", "wrong".to_owned())]] {
        let answer = setup.post(body.as_bytes(), &headers).await;
        assert_eq!(answer.status, 401, "{}", answer.body);
    }
    let broken = body.replacen("\"image_data\":\"", "\"image_data\":\"*", 1);
    assert_eq!(setup.post(broken.as_bytes(), &[]).await.status, 401);
    assert_eq!(
        decoded_bytes(&setup).await,
        0.0,
        "an unauthenticated image was decoded"
    );
    // The same body with the token is decoded (and counted) once.
    let answer = setup.post(body.as_bytes(), &[token_header()]).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(decoded_bytes(&setup).await, png.len() as f64);
    assert_eq!(setup.record(request)["status"], "completed");
}
