//! Property test against the running route: whatever the body (random
//! bytes, random JSON, a valid callback cut anywhere) and whatever the
//! headers (content types, tokens, signature headers with random values),
//! the answer is a 4xx with a JSON error body, never a 5xx, and the daemon
//! stays up. The case count is modest: each case is a real HTTP request.

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Value, json};

use super::{CALLBACK, SIGNING_KEY_NEW, Setup, now, signature_headers, signed_mode, start};
use crate::support::config::CALLBACK_TOKEN;

const CASES: u32 = 96;

/// A valid callback for a request that does not exist (so that even a body
/// that parses and authenticates ends in a 4xx: 404).
fn valid_body() -> String {
    json!({
        "ai_generation_request_id": "987654",
        "security_token": CALLBACK_TOKEN,
        "result_payload": {
            "status": "success",
            "data": { "image_data": "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
                      "file_format": "png", "width": 1, "height": 1 }
        }
    })
    .to_string()
}

fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let valid = valid_body();
    let valid_len = valid.len();
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        (0..valid_len).prop_map(move |cut| valid.as_bytes()[..cut].to_vec()),
        json_values().prop_map(|value| value.to_string().into_bytes()),
        "\\PC{0,200}".prop_map(String::into_bytes),
    ]
}

fn json_values() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z_]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map(
                prop_oneof![
                    Just("ai_generation_request_id".to_owned()),
                    Just("result_payload".to_owned()),
                    Just("security_token".to_owned()),
                    Just("status".to_owned()),
                    Just("data".to_owned()),
                    Just("params".to_owned()),
                    Just("jsonrpc".to_owned()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let content_type = prop_oneof![
        Just("application/json".to_owned()),
        Just("application/json; charset=utf-8".to_owned()),
        Just("application/vnd.api+json".to_owned()),
        Just("text/plain".to_owned()),
        "[ -~]{0,30}",
    ]
    .prop_map(|value| ("content-type".to_owned(), value));
    let token = prop_oneof![Just(CALLBACK_TOKEN.to_owned()), "[ -~]{0,40}",]
        .prop_map(|value| ("x-n8n-webhook-token".to_owned(), value));
    let signature_header = prop_oneof![
        Just("webhook-id".to_owned()),
        Just("webhook-timestamp".to_owned()),
        Just("webhook-signature".to_owned()),
    ];
    let signature_value = prop_oneof!["[ -~]{0,60}", "v1,[A-Za-z0-9+/]{43}=", "[0-9]{1,12}",];
    (
        content_type,
        proptest::option::of(token),
        proptest::collection::vec((signature_header, signature_value), 0..4),
    )
        .prop_map(|(content_type, token, signature)| {
            let mut headers = vec![content_type];
            headers.extend(token);
            headers.extend(signature);
            headers
        })
}

async fn send(setup: &Setup, body: Vec<u8>, headers: &[(String, String)]) -> Result<(), String> {
    let mut request = setup.http.post(setup.bridge.url(CALLBACK)).body(body);
    for (name, value) in headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request
        .send()
        .await
        .map_err(|e| format!("no answer: {e}"))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|_| format!("{status}: not JSON: {}", String::from_utf8_lossy(&bytes)))?;
    if !(400..500).contains(&status) {
        return Err(format!("{status} {body}"));
    }
    if body["status"] != "error" && body["result"]["status"] != "error" {
        return Err(format!("{status}: not an error body: {body}"));
    }
    Ok(())
}

#[test]
fn random_bodies_and_headers_always_get_a_4xx_json_answer() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let setup = runtime.block_on(start(|config| signed_mode(config, "either")));
    let mut runner = TestRunner::new(ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&(bodies(), headers()), |(body, headers)| {
        runtime
            .block_on(send(&setup, body, &headers))
            .map_err(TestCaseError::fail)
    });
    if let Err(failure) = result {
        panic!("{failure}\n{}", setup.bridge.log_text());
    }
    // Correctly signed random bodies, too (they pass authentication).
    let valid = valid_body();
    for case in 0..=16usize {
        let body = valid.as_bytes()[..(10 + case * 7).min(valid.len())].to_vec();
        let body = if case == 16 {
            valid.as_bytes().to_vec()
        } else {
            body
        };
        let signed = signature_headers(SIGNING_KEY_NEW, &format!("msg_{case}"), now(), &body);
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        headers.extend(signed.into_iter().map(|(k, v)| (k.to_owned(), v)));
        runtime.block_on(send(&setup, body, &headers)).unwrap();
    }
    assert!(runtime.block_on(setup.healthy()));
    setup.assert_no_leak();
}
