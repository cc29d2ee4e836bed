//! The callback route end to end: the real daemon, the Odoo emulator, a
//! loopback image host. Every row of the README's response table has a test
//! that checks both the HTTP answer and the Odoo records afterwards.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use influence_gen_testkit::{
    CallMatcher, Fault, FaultRule, ImageServer, OdooEmulator, Route, images,
};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::support::bridge::BridgeProcess;
use crate::support::callbacks::{CALLBACK, failure, success_inline, success_url};
use crate::support::config::{CALLBACK_TOKEN, TestConfig, assert_no_secret};
use crate::support::odoo;

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";
const ATTACHMENTS: &str = "ir.attachment";

struct Setup {
    odoo: OdooEmulator,
    bridge: BridgeProcess,
    http: reqwest::Client,
    config: TestConfig,
}

async fn setup() -> Setup {
    setup_with(|config| config).await
}

async fn setup_with(adjust: impl FnOnce(TestConfig) -> TestConfig) -> Setup {
    let (odoo, config) = odoo().await;
    let config = adjust(
        config
            .with("images", "allow_private_networks = true")
            .with("images", "allowed_ports = []")
            .with("images", "download_timeout = \"2s\""),
    );
    let bridge = BridgeProcess::start(&config).await;
    influence_gen_bridge::tls::install_crypto_provider();
    Setup {
        odoo,
        bridge,
        http: reqwest::Client::new(),
        config,
    }
}

impl Setup {
    fn request(&self) -> i64 {
        self.odoo
            .seed_request(json!({ "prompt": "a lighthouse at dusk" }))
    }

    async fn post(&self, body: &Value) -> (u16, Value) {
        self.post_raw(body.to_string(), "application/json", Some(CALLBACK_TOKEN))
            .await
    }

    async fn post_raw(
        &self,
        body: String,
        content_type: &str,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(self.bridge.url(CALLBACK))
            .header("content-type", content_type)
            .body(body);
        if let Some(token) = token {
            request = request.header("X-N8N-Webhook-Token", token);
        }
        let response = request.send().await.expect("the bridge answers");
        let status = response.status().as_u16();
        assert!(
            response.headers().contains_key("x-request-id"),
            "no X-Request-Id"
        );
        let bytes = response.bytes().await.unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
        (status, body)
    }

    fn request_record(&self, id: i64) -> Value {
        self.odoo.record(REQUESTS, id).expect("the request exists")
    }

    fn images_of(&self, request: i64) -> Vec<Value> {
        self.odoo
            .records(IMAGES)
            .into_iter()
            .filter(|image| image["request_id"][0] == request)
            .collect()
    }

    fn attachments(&self) -> Vec<Value> {
        self.odoo.records(ATTACHMENTS)
    }

    fn assert_untouched(&self, id: i64) {
        let request = self.request_record(id);
        assert_eq!(request["status"], "queued", "{request}");
        assert!(self.images_of(id).is_empty());
        assert!(self.attachments().is_empty());
    }

    fn assert_no_leak(&self) {
        assert_no_secret(
            &self.bridge.log_text(),
            &self.config.secrets(),
            "bridge logs",
        );
    }
}

fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn sha1(bytes: &[u8]) -> String {
    hex(&Sha1::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The full set of records a completed request must have.
fn assert_completed(setup: &Setup, request: i64, png: &[u8], width: u64, height: u64) {
    let record = setup.request_record(request);
    assert_eq!(record["status"], "completed", "{record}");
    assert_eq!(record["error_details"], false);
    let images = setup.images_of(request);
    assert_eq!(images.len(), 1, "{images:?}");
    let image = &images[0];
    assert_eq!(record["generated_image_id"][0], image["id"]);
    assert_eq!(image["storage_type"], "ir.attachment");
    assert_eq!(image["file_format"], "png");
    assert_eq!(image["file_size"], png.len());
    assert_eq!(image["width"], width);
    assert_eq!(image["height"], height);
    assert_eq!(image["hash_value"], sha256(png));
    assert_eq!(image["retention_category"], "personal_generation");

    let attachments = setup.attachments();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    let attachment = &attachments[0];
    assert_eq!(image["storage_identifier"], attachment["id"].to_string());
    assert_eq!(image["attachment_id"][0], attachment["id"]);
    assert_eq!(attachment["name"], format!("ai_gen_{request}_png"));
    assert_eq!(attachment["mimetype"], "image/png");
    assert_eq!(attachment["res_model"], IMAGES);
    assert_eq!(attachment["res_id"], image["id"]);
    assert_eq!(attachment["checksum"], sha1(png));
    let id = attachment["id"].as_i64().unwrap();
    assert_eq!(setup.odoo.attachment_bytes(id).unwrap(), png);
}

// --- 200 --------------------------------------------------------------------

#[tokio::test]
async fn success_with_image_data_is_stored_and_completes_the_request() {
    let setup = setup().await;
    let request = setup.request();
    let png = images::png(64, 48);
    let (status, body) = setup.post(&success_inline(request.to_string(), &png)).await;
    assert_eq!((status, body), (200, json!({ "status": "success" })));
    assert_completed(&setup, request, &png, 64, 48);
    let notes: Vec<Value> = setup
        .odoo
        .records("mail.message")
        .into_iter()
        .filter(|m| m["res_id"] == request)
        .collect();
    assert!(
        notes.iter().any(|m| m["body"]
            .as_str()
            .unwrap_or_default()
            .contains("AI image stored")),
        "{notes:?}"
    );
    setup.assert_no_leak();
}

#[tokio::test]
async fn url_safe_unpadded_base64_and_a_numeric_id_are_accepted() {
    let setup = setup().await;
    let request = setup.request();
    let png = images::png(10, 10);
    let mut body = success_inline(request, &png);
    body["result_payload"]["data"]["image_data"] = json!(URL_SAFE_NO_PAD.encode(&png));
    let (status, _) = setup.post(&body).await;
    assert_eq!(status, 200);
    assert_completed(&setup, request, &png, 10, 10);
}

#[tokio::test]
async fn success_with_image_url_downloads_the_image() {
    let setup = setup().await;
    let host = ImageServer::start().await;
    let png = images::png(32, 16);
    let url = host.file("/generated/x.png", "image/png", png.clone());
    let request = setup.request();
    let (status, body) = setup.post(&success_url(request, &url)).await;
    assert_eq!((status, body), (200, json!({ "status": "success" })));
    assert_completed(&setup, request, &png, 32, 16);
    assert_eq!(host.requests(), ["/generated/x.png"]);
}

#[tokio::test]
async fn a_campaign_request_gets_a_campaign_retention_category() {
    let setup = setup().await;
    let partner = setup.odoo.insert("res.partner", json!({ "name": "Acme" }));
    let request = setup
        .odoo
        .seed_request(json!({ "prompt": "p", "campaign_id": partner, "intended_use": "campaign" }));
    let (status, _) = setup
        .post(&success_inline(request.to_string(), &images::png(4, 4)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        setup.images_of(request)[0]["retention_category"],
        format!("campaign_asset_{partner}")
    );
}

#[tokio::test]
async fn a_failure_payload_marks_the_request_failed() {
    let setup = setup().await;
    let request = setup.request();
    let (status, body) = setup
        .post(&failure(
            request,
            "NSFW filter triggered",
            "provider code 451",
        ))
        .await;
    assert_eq!((status, body), (200, json!({ "status": "success" })));
    let record = setup.request_record(request);
    assert_eq!(record["status"], "failed");
    assert_eq!(
        record["error_details"],
        "NSFW filter triggered\n\nprovider code 451"
    );
    assert!(setup.images_of(request).is_empty());
}

#[tokio::test]
async fn the_jsonrpc_envelope_is_answered_in_kind() {
    let setup = setup().await;
    let request = setup.request();
    let png = images::png(8, 8);
    let envelope = json!({ "jsonrpc": "2.0", "method": "call", "params": success_inline(request.to_string(), &png), "id": 77 });
    let (status, body) = setup.post(&envelope).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "jsonrpc": "2.0", "id": 77, "result": { "status": "success" } })
    );
    assert_completed(&setup, request, &png, 8, 8);

    let unknown = json!({ "jsonrpc": "2.0", "method": "call", "params": failure(999_999, "x", ""), "id": "abc" });
    let (status, body) = setup.post(&unknown).await;
    assert_eq!(status, 404);
    assert_eq!(body["id"], "abc");
    assert_eq!(body["result"]["status"], "error");
}

#[tokio::test]
async fn the_token_may_travel_in_the_body() {
    let setup = setup().await;
    let request = setup.request();
    let mut body = failure(request, "timeout at provider", "");
    body["security_token"] = json!(CALLBACK_TOKEN);
    let (status, _) = setup
        .post_raw(body.to_string(), "application/json", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(setup.request_record(request)["status"], "failed");
}

// --- duplicates -------------------------------------------------------------

#[tokio::test]
async fn the_same_result_twice_is_stored_once() {
    let setup = setup().await;
    let request = setup.request();
    let png = images::png(20, 20);
    let body = success_inline(request.to_string(), &png);
    assert_eq!(setup.post(&body).await.0, 200);
    let (status, answer) = setup.post(&body).await;
    assert_eq!(status, 200);
    assert_eq!(answer["status"], "success");
    assert!(
        answer["message"].as_str().unwrap().contains("duplicate"),
        "{answer}"
    );
    assert_completed(&setup, request, &png, 20, 20);
}

#[tokio::test]
async fn ten_concurrent_deliveries_create_one_image() {
    let setup = setup().await;
    let request = setup.request();
    let png = images::png(30, 30);
    let body = success_inline(request.to_string(), &png);
    let deliveries = (0..10).map(|_| setup.post(&body));
    let answers = futures_util::future::join_all(deliveries).await;
    for (status, answer) in &answers {
        assert_eq!(*status, 200, "{answer}");
    }
    let duplicates = answers
        .iter()
        .filter(|(_, a)| a.get("message").is_some())
        .count();
    assert_eq!(duplicates, 9, "{answers:?}");
    assert_completed(&setup, request, &png, 30, 30);
}

#[tokio::test]
async fn a_duplicate_failure_is_absorbed() {
    let setup = setup().await;
    let request = setup.request();
    let body = failure(request, "quota exceeded", "");
    assert_eq!(setup.post(&body).await.0, 200);
    let (status, answer) = setup.post(&body).await;
    assert_eq!(status, 200);
    assert!(answer["message"].as_str().unwrap().contains("duplicate"));
    assert_eq!(setup.odoo.count(REQUESTS, "write"), 1);
}

// --- 400 --------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_is_400() {
    let setup = setup().await;
    let request = setup.request();
    let (status, body) = setup
        .post_raw(
            "{\"ai_generation_request_id\": ".into(),
            "application/json",
            Some(CALLBACK_TOKEN),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(body["status"], "error");
    assert!(
        body["message"].as_str().unwrap().contains("not valid JSON"),
        "{body}"
    );
    setup.assert_untouched(request);
    let (status, _) = setup
        .post_raw("[1, 2]".into(), "application/json", Some(CALLBACK_TOKEN))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn missing_fields_are_400_and_named() {
    let setup = setup().await;
    let request = setup.request();
    let cases = [
        (json!({}), "ai_generation_request_id"),
        (
            json!({ "ai_generation_request_id": request.to_string() }),
            "result_payload",
        ),
        (
            json!({ "ai_generation_request_id": request.to_string(), "result_payload": { "status": "maybe" } }),
            "status",
        ),
        (
            json!({ "ai_generation_request_id": request.to_string(), "result_payload": { "status": "success" } }),
            "data",
        ),
        (
            json!({ "ai_generation_request_id": request.to_string(), "result_payload": { "status": "success", "data": {} } }),
            "image_data or image_url",
        ),
    ];
    for (body, needle) in cases {
        let (status, answer) = setup.post(&body).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            answer["message"].as_str().unwrap().contains(needle),
            "{answer} should mention {needle}"
        );
    }
    setup.assert_untouched(request);
}

#[tokio::test]
async fn invalid_base64_is_400() {
    let setup = setup().await;
    let request = setup.request();
    let mut body = success_inline(request, b"x");
    body["result_payload"]["data"]["image_data"] = json!("not*base64!");
    let (status, answer) = setup.post(&body).await;
    assert_eq!(status, 400);
    assert!(
        answer["message"].as_str().unwrap().contains("image_data"),
        "{answer}"
    );
    setup.assert_untouched(request);
}

// --- 401 --------------------------------------------------------------------

#[tokio::test]
async fn a_bad_or_missing_token_is_401_and_nothing_is_written() {
    let setup = setup().await;
    let request = setup.request();
    let body = success_inline(request.to_string(), &images::png(4, 4)).to_string();
    for token in [Some("wrong-token"), None] {
        let (status, answer) = setup
            .post_raw(body.clone(), "application/json", token)
            .await;
        assert_eq!(status, 401);
        assert_eq!(
            answer,
            json!({ "status": "error", "message": "authentication failed" })
        );
    }
    setup.assert_untouched(request);
    assert_eq!(
        setup.odoo.count(REQUESTS, "search_read"),
        0,
        "an unauthenticated callback reached Odoo"
    );
    setup.assert_no_leak();
}

#[tokio::test]
async fn without_a_configured_token_every_callback_is_refused() {
    let setup = setup_with(|config| TestConfig {
        callback_token: None,
        ..config
    })
    .await;
    let request = setup.request();
    let (status, _) = setup.post(&failure(request, "x", "")).await;
    assert_eq!(status, 401);
    setup.assert_untouched(request);
    setup
        .bridge
        .wait_for_log("no callback token is configured", Duration::from_secs(5))
        .await;
}

// --- 404, 405, 409 ----------------------------------------------------------

#[tokio::test]
async fn an_unknown_request_is_404() {
    let setup = setup().await;
    let (status, body) = setup.post(&failure(424_242, "x", "")).await;
    assert_eq!(status, 404);
    assert!(
        body["message"].as_str().unwrap().contains("424242"),
        "{body}"
    );
    let body = json!({ "ai_generation_request_id": "00000000-0000-4000-8000-000000000000", "result_payload": { "status": "failure" } });
    assert_eq!(setup.post(&body).await.0, 404);
    assert!(setup.odoo.records(REQUESTS).is_empty());
}

#[tokio::test]
async fn a_request_is_found_by_its_uuid() {
    let setup = setup().await;
    let request = setup.request();
    let uuid = setup.request_record(request)["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = setup.post(&success_inline(uuid, &images::png(5, 5))).await;
    assert_eq!(status, 200);
    assert_eq!(setup.request_record(request)["status"], "completed");
}

#[tokio::test]
async fn get_is_405() {
    let setup = setup().await;
    let response = setup
        .http
        .get(setup.bridge.url(CALLBACK))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
}

#[tokio::test]
async fn a_different_image_for_a_completed_request_is_409() {
    let setup = setup().await;
    let request = setup.request();
    let first = images::png(12, 12);
    assert_eq!(
        setup
            .post(&success_inline(request.to_string(), &first))
            .await
            .0,
        200
    );
    let (status, body) = setup
        .post(&success_inline(request.to_string(), &images::png(13, 13)))
        .await;
    assert_eq!(status, 409);
    assert_eq!(body["status"], "error");
    assert_completed(&setup, request, &first, 12, 12);
}

#[tokio::test]
async fn a_late_failure_never_overwrites_a_completed_request() {
    let setup = setup().await;
    let request = setup.request();
    let png = images::png(9, 9);
    assert_eq!(
        setup
            .post(&success_inline(request.to_string(), &png))
            .await
            .0,
        200
    );
    let before = setup.request_record(request);
    let (status, body) = setup.post(&failure(request, "timed out", "")).await;
    assert_eq!(status, 409);
    assert!(
        body["message"].as_str().unwrap().contains("completed"),
        "{body}"
    );
    assert_eq!(setup.request_record(request), before);
    assert_completed(&setup, request, &png, 9, 9);
}

// --- 413, 415 ---------------------------------------------------------------

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let setup = setup_with(|config| config.with("server", "max_body_bytes = 4096")).await;
    let request = setup.request();
    let body = success_inline(request.to_string(), &images::png_of_size(20_000));
    let (status, answer) = setup.post(&body).await;
    assert_eq!(status, 413);
    assert!(
        answer["message"].as_str().unwrap().contains("4096"),
        "{answer}"
    );
    setup.assert_untouched(request);
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let setup = setup().await;
    let request = setup.request();
    let (status, answer) = setup
        .post_raw(
            "status=success".into(),
            "application/x-www-form-urlencoded",
            Some(CALLBACK_TOKEN),
        )
        .await;
    assert_eq!(status, 415);
    assert_eq!(answer["status"], "error");
    setup.assert_untouched(request);
}

// --- 422 --------------------------------------------------------------------

#[tokio::test]
async fn bytes_that_are_not_an_image_are_422_and_fail_the_request() {
    let setup = setup().await;
    let request = setup.request();
    let (status, body) = setup
        .post(&success_inline(
            request.to_string(),
            b"<html>not an image</html>",
        ))
        .await;
    assert_eq!(status, 422);
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .starts_with("image unusable"),
        "{body}"
    );
    let record = setup.request_record(request);
    assert_eq!(record["status"], "failed");
    assert!(
        record["error_details"]
            .as_str()
            .unwrap()
            .starts_with("Image unusable"),
        "{record}"
    );
    assert!(setup.images_of(request).is_empty());
}

#[tokio::test]
async fn a_gif_bmp_or_tiff_is_422_naming_the_accepted_formats() {
    let setup = setup().await;
    for image in [
        &include_bytes!("../../src/image/testdata/tiny.gif")[..],
        include_bytes!("../../src/image/testdata/tiny.bmp"),
        include_bytes!("../../src/image/testdata/tiny.tiff"),
    ] {
        let request = setup.request();
        let (status, body) = setup
            .post(&success_inline(request.to_string(), image))
            .await;
        assert_eq!(status, 422, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains("not a PNG, JPEG or WebP image"),
            "{message}"
        );
        assert_eq!(setup.request_record(request)["status"], "failed");
        assert!(setup.images_of(request).is_empty());
    }
}

#[tokio::test]
async fn unusable_image_urls_fail_the_request_with_a_reason_and_the_daemon_stays_healthy() {
    // A host that never answers is a transient failure: retried until the
    // entry is older than spool.max_age, then the image counts as unusable
    // for good, all within the wait.
    let setup = setup_with(|config| config.with("spool", "max_age = \"1s\"")).await;
    let host = ImageServer::start().await;
    let png = images::png(4, 4);
    let target = host.file("/final.png", "image/png", png);
    let cases = [
        (host.redirect_chain("/hops", 5, &target), "redirect"),
        (host.route("/endless.png", Route::Endless), "larger"),
        (
            host.file("/page.html", "text/html", "<html>hello</html>"),
            "not a png",
        ),
        (host.route("/hang.png", Route::Hang), "took longer than 2s"),
        (
            host.route(
                "/gone.png",
                Route::File {
                    status: 404,
                    content_type: "text/plain".into(),
                    body: "no".into(),
                },
            ),
            "404",
        ),
    ];
    for (url, reason) in cases {
        let request = setup.request();
        let (status, body) = setup.post(&success_url(request, &url)).await;
        assert_eq!(status, 422, "{url}: {body}");
        let record = setup.request_record(request);
        assert_eq!(record["status"], "failed", "{url}");
        let details = record["error_details"].as_str().unwrap().to_lowercase();
        assert!(
            details.contains(reason),
            "{url}: {details:?} should mention {reason:?}"
        );
        assert!(setup.images_of(request).is_empty());
        let health = setup
            .http
            .get(setup.bridge.url("/healthz"))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
    }
}

// --- 500, 503 ---------------------------------------------------------------

#[tokio::test]
async fn an_unexpected_odoo_refusal_is_500_without_internals() {
    let setup = setup().await;
    let request = setup.request();
    setup.odoo.inject(FaultRule::once(
        CallMatcher::model_method(IMAGES, "create"),
        Fault::OdooError {
            name: "odoo.exceptions.AccessError".into(),
            message: "secret internal detail".into(),
        },
    ));
    let (status, body) = setup
        .post(&success_inline(request.to_string(), &images::png(4, 4)))
        .await;
    assert_eq!(status, 500);
    assert_eq!(body["status"], "error");
    assert!(
        !body.to_string().contains("secret internal detail"),
        "{body}"
    );
    assert_eq!(setup.request_record(request)["status"], "queued");
}

#[tokio::test]
async fn odoo_down_is_accepted_and_applied_when_odoo_returns() {
    let setup = setup_with(|config| config.with("spool", "wait = \"1s\"")).await;
    let request = setup.request();
    setup.odoo.set_down(true);
    let (status, body) = setup.post(&failure(request, "provider outage", "")).await;
    assert_eq!((status, body), (202, json!({ "status": "accepted" })));
    setup.odoo.set_down(false);
    let applied = setup
        .odoo
        .wait_for_count(REQUESTS, "write", 1, Duration::from_secs(10))
        .await;
    assert!(applied, "the spooled failure never reached Odoo");
    assert_eq!(setup.request_record(request)["status"], "failed");
}

#[tokio::test]
async fn a_spool_that_cannot_be_written_is_503_and_nothing_is_applied() {
    let setup = setup().await;
    let request = setup.request();
    // Replace the spool's pending directory by a file: every write fails.
    let pending = setup.bridge.spool_dir().join("pending");
    std::fs::remove_dir_all(&pending).unwrap();
    std::fs::write(&pending, b"not a directory").unwrap();
    let (status, body) = setup.post(&failure(request, "x", "")).await;
    assert_eq!(status, 503);
    assert!(
        body["message"].as_str().unwrap().contains("cannot store"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    setup.assert_untouched(request);
}

// --- interrupted writes -----------------------------------------------------

#[tokio::test]
async fn a_lost_reply_after_the_attachment_is_retried_without_twins() {
    let setup = setup().await;
    let request = setup.request();
    setup.odoo.inject(FaultRule::once(
        CallMatcher::model_method(ATTACHMENTS, "web_save"),
        Fault::CloseAfterApplying,
    ));
    let png = images::png(15, 15);
    let (status, _) = setup.post(&success_inline(request.to_string(), &png)).await;
    assert_eq!(status, 200);
    assert_completed(&setup, request, &png, 15, 15);
}

#[tokio::test]
async fn a_redelivery_after_a_failure_half_way_completes_without_duplicates() {
    let setup = setup().await;
    let request = setup.request();
    // The link write fails for good after the image and the attachment exist.
    setup.odoo.inject(FaultRule::once(
        CallMatcher::model_method(IMAGES, "write"),
        Fault::OdooError {
            name: "odoo.exceptions.UserError".into(),
            message: "stop here".into(),
        },
    ));
    let png = images::png(16, 16);
    let body = success_inline(request.to_string(), &png);
    assert_eq!(setup.post(&body).await.0, 500);
    assert_eq!(setup.images_of(request).len(), 1);
    assert_eq!(setup.attachments().len(), 1);
    assert_eq!(setup.post(&body).await.0, 200);
    assert_completed(&setup, request, &png, 16, 16);
}

// --- Odoo alters what it stores ---------------------------------------------

/// Attachments are created with the context `image_no_postprocess`, so an
/// image beyond `base.image_autoresize_max_px` is stored as sent (the
/// emulator resizes it otherwise, as Odoo does).
#[tokio::test]
async fn an_image_beyond_odoos_autoresize_limit_is_stored_byte_for_byte() {
    let setup = setup().await;
    setup
        .odoo
        .set_param("base.image_autoresize_max_px", "64x64");
    let request = setup.request();
    let png = images::png(200, 100);
    let (status, _) = setup.post(&success_inline(request.to_string(), &png)).await;
    assert_eq!(status, 200);
    let attachment = &setup.attachments()[0];
    let stored = setup
        .odoo
        .attachment_bytes(attachment["id"].as_i64().unwrap())
        .unwrap();
    assert!(stored == png, "Odoo altered the image");
    assert_completed(&setup, request, &png, 200, 100);
    assert!(
        !setup
            .bridge
            .log_text()
            .contains("Odoo stored different bytes than sent"),
    );
}

// --- how many Odoo calls each outcome costs ---------------------------------

/// `execute_kw` calls the emulator received since `since` (logins excluded).
fn object_calls(odoo: &OdooEmulator, since: usize) -> Vec<String> {
    odoo.calls()
        .into_iter()
        .skip(since)
        .filter(|call| call.service == "object")
        .map(|call| {
            format!(
                "{}.{}",
                call.model.unwrap_or_default(),
                call.model_method.unwrap_or_default()
            )
        })
        .collect()
}

#[tokio::test]
async fn each_outcome_costs_the_documented_number_of_odoo_calls() {
    // No sweeper: its periodic queries would be counted too.
    let setup = setup_with(|config| {
        config
            .with("initiation", "sweep_interval = \"0s\"")
            .with("odoo", "protocol = \"generic\"")
    })
    .await;
    setup
        .bridge
        .wait_for_log("Odoo protocol", Duration::from_secs(10))
        .await;
    let first = setup.request();
    let second = setup.request();
    let png = images::png(11, 11);
    let cases: Vec<(&str, Value, u16, Vec<&str>)> = vec![
        (
            "new success",
            success_inline(first.to_string(), &png),
            200,
            vec![
                "influence_gen.ai_image_request.search_read",
                "influence_gen.generated_image.search_read",
                "influence_gen.generated_image.create",
                "ir.attachment.web_save",
                "influence_gen.generated_image.write",
                "influence_gen.ai_image_request.write",
                "influence_gen.ai_image_request.message_post",
            ],
        ),
        (
            "duplicate success",
            success_inline(first.to_string(), &png),
            200,
            vec![
                "influence_gen.ai_image_request.search_read",
                "influence_gen.generated_image.search_read",
            ],
        ),
        (
            "conflicting image",
            success_inline(first.to_string(), &images::png(12, 12)),
            409,
            vec![
                "influence_gen.ai_image_request.search_read",
                "influence_gen.generated_image.search_read",
            ],
        ),
        (
            "late failure",
            failure(first, "late", ""),
            409,
            vec!["influence_gen.ai_image_request.search_read"],
        ),
        (
            "failure",
            failure(second, "quota", ""),
            200,
            vec![
                "influence_gen.ai_image_request.search_read",
                "influence_gen.ai_image_request.write",
                "influence_gen.ai_image_request.message_post",
            ],
        ),
        (
            "duplicate failure",
            failure(second, "quota", ""),
            200,
            vec!["influence_gen.ai_image_request.search_read"],
        ),
        (
            "unknown request",
            failure(777_777, "x", ""),
            404,
            vec!["influence_gen.ai_image_request.search_read"],
        ),
    ];
    for (name, body, status, expected) in cases {
        let since = setup.odoo.calls().len();
        let (answer, _) = setup.post(&body).await;
        assert_eq!(answer, status, "{name}");
        assert_eq!(object_calls(&setup.odoo, since), expected, "{name}");
    }
    let third = setup.request();
    let since = setup.odoo.calls().len();
    let (answer, _) = setup
        .post(&success_inline(third.to_string(), b"not an image"))
        .await;
    assert_eq!(answer, 422);
    assert_eq!(
        object_calls(&setup.odoo, since),
        [
            "influence_gen.ai_image_request.search_read",
            "influence_gen.ai_image_request.write",
            "influence_gen.ai_image_request.message_post"
        ],
        "unusable image"
    );
}

#[tokio::test]
async fn an_image_model_without_attachment_id_is_linked_by_storage_identifier_alone() {
    let (odoo, config) = odoo().await;
    odoo.remove_field(IMAGES, "attachment_id");
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log(
            "the image model has no attachment_id",
            Duration::from_secs(10),
        )
        .await;
    let request = odoo.seed_request(json!({ "prompt": "a lighthouse" }));
    let http = crate::support::callbacks::client();
    let body = success_inline(request.to_string(), &images::png(6, 6));
    let (status, answer) = crate::support::callbacks::post(&http, &bridge.url(""), &body)
        .await
        .unwrap();
    assert_eq!(status, 200, "{answer}");
    let image = &odoo.records(IMAGES)[0];
    let attachment = &odoo.records(ATTACHMENTS)[0];
    assert_eq!(image["storage_identifier"], attachment["id"].to_string());
    assert!(image.get("attachment_id").is_none(), "{image}");
}
