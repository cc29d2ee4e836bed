//! Callback scenarios shared by the emulator and the real Odoo: every row of
//! the README's answer table that touches Odoo and does not need a fault
//! (200 success and duplicate, 404, 409, 422), base64 and URL images, the
//! JSON-RPC envelope with a UUID, 13 deliveries of one result, and an image
//! beyond Odoo's autoresize limit stored byte for byte.

use std::sync::Arc;

use futures_util::FutureExt;
use influence_gen_testkit::{ImageServer, images};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::{ATTACHMENTS, IMAGES, Scenario, Target, snapshot};
use crate::support::bridge::BridgeProcess;
use crate::support::callbacks::{client, failure, post, success_inline, success_url};

macro_rules! scenario {
    ($name:ident) => {
        Scenario {
            name: stringify!($name),
            run: |target| $name(target).boxed(),
        }
    };
}

pub fn scenarios() -> Vec<Scenario> {
    vec![
        scenario!(a_base64_image_completes_the_request_once),
        scenario!(an_image_url_is_downloaded_and_stored),
        scenario!(a_failure_fails_the_request_once),
        scenario!(thirteen_deliveries_of_one_result_make_one_image),
        scenario!(a_late_failure_or_another_image_is_409_and_the_request_stays_completed),
        scenario!(an_unknown_request_is_404),
        scenario!(the_jsonrpc_envelope_with_a_uuid_is_answered_in_kind),
        scenario!(bytes_that_are_not_an_image_are_422_and_fail_the_request),
        scenario!(a_2100_by_1200_png_is_stored_byte_for_byte),
    ]
}

/// The daemon against `target`, and a client for it.
async fn bridge(target: &Target) -> (BridgeProcess, reqwest::Client) {
    (BridgeProcess::start(&target.config).await, client())
}

/// Posts `body`; the status and answer as one JSON value.
async fn deliver(bridge: &BridgeProcess, http: &reqwest::Client, body: &Value) -> Value {
    let (status, answer) = post(http, &bridge.url(""), body)
        .await
        .expect("the bridge answers");
    json!([status, answer])
}

fn status_of(answer: &Value) -> u64 {
    answer[0].as_u64().unwrap_or_default()
}

async fn a_base64_image_completes_the_request_once(target: Arc<Target>) -> Value {
    let request = target.request(json!({ "prompt": "base64" })).await;
    let (bridge, http) = bridge(&target).await;
    let body = success_inline(request.to_string(), &images::png(40, 30));
    let first = deliver(&bridge, &http, &body).await;
    let again = deliver(&bridge, &http, &body).await;
    assert_eq!(first, json!([200, { "status": "success" }]));
    assert_eq!(status_of(&again), 200, "{again}");
    assert!(
        again[1]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("duplicate")
    );
    snapshot::take(&target, &[request], json!([first, again])).await
}

async fn an_image_url_is_downloaded_and_stored(target: Arc<Target>) -> Value {
    let request = target.request(json!({ "prompt": "url" })).await;
    let host = ImageServer::start().await;
    let png = images::png(64, 48);
    let url = host.file("/generated.png", "image/png", png.clone());
    let (bridge, http) = bridge(&target).await;
    let answer = deliver(&bridge, &http, &success_url(request, &url)).await;
    assert_eq!(answer, json!([200, { "status": "success" }]));
    assert_stored(&target, request, &png).await;
    snapshot::take(&target, &[request], json!([answer])).await
}

async fn a_failure_fails_the_request_once(target: Arc<Target>) -> Value {
    let request = target.request(json!({ "prompt": "failure" })).await;
    let (bridge, http) = bridge(&target).await;
    let body = failure(request, "provider quota exceeded", "retry after 60 s");
    let first = deliver(&bridge, &http, &body).await;
    let again = deliver(&bridge, &http, &body).await;
    assert_eq!(first, json!([200, { "status": "success" }]));
    assert_eq!(status_of(&again), 200, "{again}");
    snapshot::take(&target, &[request], json!([first, again])).await
}

/// Ten deliveries at once, then three one after another: one image, one
/// success, twelve duplicates.
async fn thirteen_deliveries_of_one_result_make_one_image(target: Arc<Target>) -> Value {
    let request = target.request(json!({ "prompt": "thirteen" })).await;
    let (bridge, http) = bridge(&target).await;
    let body = success_inline(request.to_string(), &images::png(32, 32));
    let at_once = (0..10).map(|_| deliver(&bridge, &http, &body));
    let mut answers = futures_util::future::join_all(at_once).await;
    for _ in 0..3 {
        answers.push(deliver(&bridge, &http, &body).await);
    }
    assert!(answers.iter().all(|a| status_of(a) == 200), "{answers:?}");
    let duplicates = answers
        .iter()
        .filter(|a| {
            a[1]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("duplicate")
        })
        .count();
    assert_eq!(duplicates, 12, "{answers:?}");
    let summary = json!({ "deliveries": answers.len(), "duplicates": duplicates });
    snapshot::take(&target, &[request], summary).await
}

async fn a_late_failure_or_another_image_is_409_and_the_request_stays_completed(
    target: Arc<Target>,
) -> Value {
    let request = target.request(json!({ "prompt": "late failure" })).await;
    let (bridge, http) = bridge(&target).await;
    let png = images::png(20, 20);
    let done = deliver(&bridge, &http, &success_inline(request.to_string(), &png)).await;
    let late = deliver(&bridge, &http, &failure(request, "late", "timeout")).await;
    let other = success_inline(request.to_string(), &images::png(21, 20));
    let other = deliver(&bridge, &http, &other).await;
    assert_eq!(status_of(&done), 200, "{done}");
    assert_eq!(status_of(&late), 409, "{late}");
    assert_eq!(status_of(&other), 409, "{other}");
    assert_stored(&target, request, &png).await;
    snapshot::take(&target, &[request], json!([done, late, other])).await
}

async fn an_unknown_request_is_404(target: Arc<Target>) -> Value {
    let (bridge, http) = bridge(&target).await;
    let by_id = deliver(&bridge, &http, &failure(987_654_321, "x", "")).await;
    let uuid = "00000000-0000-4000-8000-000000000000";
    let by_uuid = success_inline(uuid, &images::png(5, 5));
    let by_uuid = deliver(&bridge, &http, &by_uuid).await;
    assert_eq!(status_of(&by_id), 404, "{by_id}");
    assert_eq!(status_of(&by_uuid), 404, "{by_uuid}");
    snapshot::take(&target, &[], json!([by_id, by_uuid])).await
}

async fn the_jsonrpc_envelope_with_a_uuid_is_answered_in_kind(target: Arc<Target>) -> Value {
    let request = target.request(json!({ "prompt": "envelope" })).await;
    let rows: Vec<Value> = target
        .admin
        .read(super::REQUESTS, &[request], &["uuid"])
        .await
        .expect("read the uuid");
    let uuid = rows[0]["uuid"].as_str().expect("a uuid").to_owned();
    let (bridge, http) = bridge(&target).await;
    let png = images::png(8, 8);
    let envelope = json!({ "jsonrpc": "2.0", "method": "call", "id": 77,
                           "params": success_inline(uuid, &png) });
    let answer = deliver(&bridge, &http, &envelope).await;
    assert_eq!(
        answer,
        json!([200, { "jsonrpc": "2.0", "id": 77, "result": { "status": "success" } }])
    );
    assert_stored(&target, request, &png).await;
    snapshot::take(&target, &[request], json!([answer])).await
}

async fn bytes_that_are_not_an_image_are_422_and_fail_the_request(target: Arc<Target>) -> Value {
    let request = target.request(json!({ "prompt": "not an image" })).await;
    let (bridge, http) = bridge(&target).await;
    let body = success_inline(request.to_string(), b"these bytes are text, not a PNG");
    let answer = deliver(&bridge, &http, &body).await;
    assert_eq!(status_of(&answer), 422, "{answer}");
    snapshot::take(&target, &[request], json!([answer])).await
}

/// Beyond Odoo's default `base.image_autoresize_max_px` (1920): stored as
/// sent, so the attachment's checksum is the SHA-1 of the sent bytes and
/// the image's width, height and `hash_value` describe what is stored.
async fn a_2100_by_1200_png_is_stored_byte_for_byte(target: Arc<Target>) -> Value {
    let request = target.request(json!({ "prompt": "wide" })).await;
    let (bridge, http) = bridge(&target).await;
    let png = images::png(2100, 1200);
    let answer = deliver(&bridge, &http, &success_inline(request.to_string(), &png)).await;
    assert_eq!(answer, json!([200, { "status": "success" }]));
    let image = assert_stored(&target, request, &png).await;
    assert_eq!(
        (image["width"].as_u64(), image["height"].as_u64()),
        (Some(2100), Some(1200))
    );
    snapshot::take(&target, &[request], json!([answer])).await
}

/// The request is completed with exactly one image whose attachment holds
/// `png` byte for byte (checksum = SHA-1, `hash_value` = SHA-256, sizes).
/// Returns the image.
async fn assert_stored(target: &Target, request: i64, png: &[u8]) -> Value {
    let odoo = &target.admin;
    let rows: Vec<Value> = odoo
        .read(
            super::REQUESTS,
            &[request],
            &["status", "generated_image_id"],
        )
        .await
        .expect("read the request");
    assert_eq!(rows[0]["status"], "completed", "{rows:?}");
    let options = Default::default();
    let found: Vec<Value> = odoo
        .search_read(
            IMAGES,
            &json!([["request_id", "=", request]]),
            &[
                "storage_identifier",
                "file_size",
                "width",
                "height",
                "hash_value",
            ],
            &options,
        )
        .await
        .expect("read the images");
    assert_eq!(found.len(), 1, "{found:?}");
    let image = found[0].clone();
    assert_eq!(rows[0]["generated_image_id"][0], image["id"]);
    assert_eq!(image["hash_value"], hex(&Sha256::digest(png)));
    assert_eq!(image["file_size"], png.len());
    let attachment: i64 = image["storage_identifier"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("a storage identifier");
    let stored: Vec<Value> = odoo
        .read(
            ATTACHMENTS,
            &[attachment],
            &["checksum", "file_size", "datas"],
        )
        .await
        .expect("read the attachment");
    assert_eq!(stored[0]["checksum"], hex(&Sha1::digest(png)));
    assert_eq!(stored[0]["file_size"], png.len());
    let datas = stored[0]["datas"].as_str().unwrap_or_default();
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, datas)
        .expect("base64 datas");
    assert!(bytes == png, "the stored bytes differ from the sent ones");
    image
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
