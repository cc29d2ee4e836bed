//! Signed callbacks (Standard Webhooks) through the real route.

use std::path::Path;
use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use influence_gen_testkit::images;
use serde_json::{Value, json};

use super::{
    SIGNING_KEY_NEW, SIGNING_KEY_OLD, failure_body, now, signature_headers, signed_mode, start,
    token_header,
};
use crate::support::bridge::{self, ConfigFile};

#[tokio::test]
async fn a_copy_of_a_signed_callback_is_a_duplicate_and_changes_nothing() {
    let setup = start(|config| signed_mode(config, "signature")).await;
    let request = setup.request();
    let body = failure_body(request);
    let headers = signature_headers(SIGNING_KEY_NEW, "msg_first", now(), &body);

    let answer = setup.post(&body, &headers).await;
    assert_eq!(
        (answer.status, &answer.body),
        (200, &json!({"status": "success"}))
    );
    assert_eq!(setup.record(request)["status"], "failed");

    // No replay memory: applying a result is idempotent, and the timestamp
    // tolerance bounds how late a copy can come.
    let copy = setup.post(&body, &headers).await;
    assert_eq!(copy.status, 200, "{}", copy.body);
    assert!(
        copy.body["message"].as_str().unwrap().contains("duplicate"),
        "{}",
        copy.body
    );
    assert_eq!(setup.record(request)["status"], "failed");
    setup.assert_no_leak();
}

#[tokio::test]
async fn either_rotated_secret_and_any_listed_signature_pass() {
    let setup = start(|config| signed_mode(config, "signature")).await;
    let request = setup.request();
    let body = failure_body(request);
    // The sender still signs with the old secret.
    let old = signature_headers(SIGNING_KEY_OLD, "msg_old", now(), &body);
    assert_eq!(setup.post(&body, &old).await.status, 200);

    // The sender signs with both while it rotates: one header, two signatures.
    let request = setup.request();
    let body = failure_body(request);
    let timestamp = now();
    let mut headers = signature_headers(SIGNING_KEY_NEW, "msg_both", timestamp, &body);
    let unknown = signature_headers(
        "whsec_dW5rbm93bi1zaWduaW5nLWtleS1ub3QtY29uZmlndXJlZA==",
        "msg_both",
        timestamp,
        &body,
    );
    headers[2].1 = format!("{} {}", unknown[2].1, headers[2].1);
    assert_eq!(setup.post(&body, &headers).await.status, 200);
    setup.assert_no_leak();
}

#[tokio::test]
async fn bad_stale_future_tampered_or_missing_signatures_are_401_and_nothing_is_written() {
    let setup = start(|config| signed_mode(config, "signature")).await;
    let request = setup.request();
    let body = failure_body(request);
    let stranger = "whsec_dW5rbm93bi1zaWduaW5nLWtleS1ub3QtY29uZmlndXJlZA==";
    let tampered = failure_body(request + 1000);
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "unknown secret",
            signature_headers(stranger, "m1", now(), &body),
        ),
        (
            "ten minutes old",
            signature_headers(SIGNING_KEY_NEW, "m2", now() - 600, &body),
        ),
        (
            "ten minutes ahead",
            signature_headers(SIGNING_KEY_NEW, "m3", now() + 600, &body),
        ),
        (
            "another body",
            signature_headers(SIGNING_KEY_NEW, "m4", now(), &tampered),
        ),
        ("token only", vec![token_header()]),
        ("nothing", Vec::new()),
        (
            "half the headers",
            signature_headers(SIGNING_KEY_NEW, "m5", now(), &body)[..2].to_vec(),
        ),
    ];
    for (case, headers) in cases {
        let answer = setup.post(&body, &headers).await;
        assert_eq!(answer.status, 401, "{case}: {}", answer.body);
        assert_eq!(
            answer.body,
            json!({"status": "error", "message": "authentication failed"}),
            "{case}"
        );
    }
    assert_eq!(setup.record(request)["status"], "queued");
    let text = setup.bridge.log_text();
    for reason in [
        "no signature matches",
        "outside the allowed tolerance",
        "is not signed",
    ] {
        assert!(text.contains(reason), "no {reason} in the log");
    }
    setup.assert_no_leak();
}

#[tokio::test]
async fn a_retry_after_a_503_with_the_same_headers_is_handled() {
    let setup = start(|config| signed_mode(config, "signature")).await;
    let request = setup.request();
    let body = failure_body(request);
    let headers = signature_headers(SIGNING_KEY_NEW, "msg_retry", now(), &body);
    // A spool that cannot be written answers 503: nothing was accepted.
    let pending = setup.bridge.spool_dir().join("pending");
    std::fs::remove_dir_all(&pending).unwrap();
    std::fs::write(&pending, b"in the way").unwrap();
    let first = setup.post(&body, &headers).await;
    assert_eq!(first.status, 503, "{}", first.body);
    std::fs::remove_file(&pending).unwrap();
    std::fs::create_dir(&pending).unwrap();
    // N8N retries 1 s later with exactly the same request.
    let retry = setup.post(&body, &headers).await;
    assert_eq!(retry.status, 200, "{}", retry.body);
    assert_eq!(setup.record(request)["status"], "failed");
    setup.assert_no_leak();
}

#[tokio::test]
async fn both_needs_token_and_signature_and_either_takes_one() {
    let both = start(|config| signed_mode(config, "both")).await;
    let request = both.request();
    let body = failure_body(request);
    let signed = signature_headers(SIGNING_KEY_NEW, "msg_b1", now(), &body);
    assert_eq!(both.post(&body, &signed).await.status, 401);
    assert_eq!(both.post(&body, &[token_header()]).await.status, 401);
    let mut all = signed.clone();
    all.push(token_header());
    assert_eq!(both.post(&body, &all).await.status, 200);
    both.assert_no_leak();

    let either = start(|config| signed_mode(config, "either")).await;
    let request = either.request();
    let body = failure_body(request);
    assert_eq!(either.post(&body, &[token_header()]).await.status, 200);
    let request = either.request();
    let body = failure_body(request);
    let signed = signature_headers(SIGNING_KEY_OLD, "msg_e1", now(), &body);
    assert_eq!(either.post(&body, &signed).await.status, 200);
    either.assert_no_leak();
}

#[tokio::test]
async fn a_signature_mode_without_a_secret_does_not_start() {
    let (_odoo, config) = crate::support::odoo().await;
    let file = ConfigFile::write(&config.with("auth", "mode = \"signature\""));
    let output = bridge::run(&file.path, &["serve"], &[]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("auth.signing_secrets"), "{stderr}");
}

/// The signing recipe of `examples/n8n/README.md`, run as N8N would run it
/// (Node.js, the Code node's `$env`, `$json` and `$()`), produces requests
/// the bridge accepts: the documentation and the code agree. Skipped when
/// `node` is not installed.
#[tokio::test]
async fn the_n8n_code_node_recipe_signs_what_the_bridge_verifies() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: node is not installed");
        return;
    }
    let setup = start(|config| signed_mode(config, "signature")).await;
    let request = setup.request();
    let png = images::png(8, 8);
    let item = json!({
        "image_data": STANDARD.encode(&png), "file_format": "png", "file_size": png.len(),
        "width": 8, "height": 8, "mimetype": "image/png",
    });
    let signed = run_recipe(&item, request, SIGNING_KEY_NEW);
    let body = signed["body"].as_str().unwrap().as_bytes().to_vec();
    let headers = vec![
        (
            "webhook-id",
            signed["webhook_id"].as_str().unwrap().to_owned(),
        ),
        (
            "webhook-timestamp",
            signed["webhook_timestamp"].as_str().unwrap().to_owned(),
        ),
        (
            "webhook-signature",
            signed["webhook_signature"].as_str().unwrap().to_owned(),
        ),
    ];
    let answer = setup.post(&body, &headers).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(setup.record(request)["status"], "completed");
    setup.assert_no_leak();
}

/// Runs the README's Code-node snippet under Node.js and returns its item.
fn run_recipe(item: &Value, request: i64, secret: &str) -> Value {
    let readme = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/n8n/README.md"),
    )
    .unwrap();
    let start = readme.find("```js\n").expect("the README has a js block") + "```js\n".len();
    let end = start + readme[start..].find("```").unwrap();
    // The snippet is the body of the Code node: a function returning the item.
    let code: String = readme[start..end]
        .lines()
        .map(|line| line.strip_prefix("   ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join("\n");
    let harness = format!(
        "const $env = {{ INFLUENCE_GEN_CALLBACK_SIGNING_SECRET: {secret:?} }};\n\
         const $json = {item};\n\
         const $ = (name) => ({{ item: {{ json: {{ body: {{ ai_generation_request_id: {request:?} }} }} }} }});\n\
         const node = () => {{\n{code}\n}};\n\
         process.stdout.write(JSON.stringify(node().json));\n",
        request = request.to_string(),
    );
    let output = Command::new("node")
        .arg("-e")
        .arg(&harness)
        .output()
        .expect("run node");
    assert!(
        output.status.success(),
        "the recipe failed under node: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the recipe returns one item")
}
