//! What N8N receives (docs/protocol.md#initiation), field by field, and its headers.

use serde_json::{Value, json};

use super::{CALLBACK_URL, REQUESTS, WEBHOOK_PATH, initiate, record, setup};
use crate::support::config::{API_KEY, OUTBOUND_TOKEN};

#[tokio::test]
async fn a_request_with_every_field_is_sent_as_docs_protocol_initiation_says() {
    let (odoo, n8n, config) = setup(&[]).await;
    let id = odoo.seed_request(json!({
        "prompt": "A neon-lit city street at night, cinematic",
        "negative_prompt": "blurry, lowres",
        "model_id": "sdxl-1.0",
        "resolution": "1024x1024",
        "aspect_ratio": "16:9",
        "seed": 42,
        "inference_steps": 30,
        "cfg_scale": 7.5,
    }));
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert!(output.status.success(), "{stdout}");
    assert_eq!(
        stdout.trim(),
        format!("request {id}: sent to N8N (HTTP 202); status processing")
    );

    let received = n8n.received();
    assert_eq!(received.len(), 1);
    let call = &received[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path, WEBHOOK_PATH);
    assert_eq!(call.headers["content-type"], "application/json");
    assert_eq!(call.headers["x-n8n-api-key"], API_KEY);
    let body = call.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys.len(),
        4,
        "only the four top-level fields of the payload: {keys:?}"
    );
    assert_eq!(body["ai_generation_request_id"], id.to_string());
    assert_eq!(body["odoo_callback_url"], CALLBACK_URL);
    assert_eq!(body["security_token"], OUTBOUND_TOKEN);
    let params = &body["params"];
    assert_eq!(params.as_object().unwrap().len(), 8, "{params}");
    assert_eq!(
        params["prompt"],
        "A neon-lit city street at night, cinematic"
    );
    assert_eq!(params["negative_prompt"], "blurry, lowres");
    assert_eq!(params["model_id"], "sdxl-1.0");
    assert_eq!(params["resolution"], "1024x1024");
    assert_eq!(params["aspect_ratio"], "16:9");
    assert_eq!(params["seed"], json!(42));
    assert!(params["seed"].is_i64(), "numbers stay numbers");
    assert_eq!(params["inference_steps"], json!(30));
    assert_eq!(params["cfg_scale"], json!(7.5));
    assert!(params["cfg_scale"].is_f64());

    let record = record(&odoo, id);
    assert_eq!(record["status"], "processing");
    assert_eq!(record["error_details"], false);
}

#[tokio::test]
async fn optional_fields_left_empty_are_left_out() {
    let (odoo, n8n, config) = setup(&[]).await;
    // What Odoo holds for a request where only the prompt was filled in:
    // false for the texts, 0 for the numbers.
    let id = odoo.seed_request(json!({
        "prompt": "a red bicycle",
        "negative_prompt": false,
        "model_id": false,
        "resolution": "",
        "seed": 0,
        "inference_steps": 0,
        "cfg_scale": 0.0,
    }));
    assert_eq!(odoo.record(REQUESTS, id).unwrap()["aspect_ratio"], false);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert!(output.status.success(), "{stdout}");
    let body = n8n.received()[0].json();
    assert_eq!(body["params"], json!({ "prompt": "a red bicycle" }));
    assert_eq!(body["ai_generation_request_id"], id.to_string());
    assert_eq!(body["odoo_callback_url"], CALLBACK_URL);
    assert_eq!(body["security_token"], OUTBOUND_TOKEN);
}

#[tokio::test]
async fn a_request_named_by_its_uuid_is_sent_by_its_id_with_the_api_key_header() {
    let (odoo, n8n, config) = setup(&[]).await;
    let id = odoo.seed_request(json!({ "prompt": "p" }));
    let uuid = record(&odoo, id)["uuid"].as_str().unwrap().to_owned();
    let (output, stdout) = initiate(&config, &[&uuid]).await;
    assert!(output.status.success(), "{stdout}");
    let call = &n8n.received()[0];
    assert_eq!(call.headers["x-n8n-api-key"], API_KEY);
    assert_eq!(
        call.json()["ai_generation_request_id"],
        Value::from(id.to_string())
    );
}

#[tokio::test]
async fn without_an_outbound_token_the_security_token_is_empty() {
    let (odoo, n8n, config) = setup(&[]).await;
    let config = crate::support::config::TestConfig {
        outbound_token: None,
        ..config
    };
    let id = super::request(&odoo);
    let (output, stdout) = initiate(&config, &[&id.to_string()]).await;
    assert!(output.status.success(), "{stdout}");
    assert_eq!(n8n.received()[0].json()["security_token"], "");
}
