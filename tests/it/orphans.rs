//! A result whose first attempt stopped half-way (issue 15, item 9): it
//! counts as applied only when its image is the request's
//! `generated_image_id`, never merely because an image with its hash
//! exists. The orphan an interrupted attempt left is finished, or deleted
//! once another result completed the request.

use influence_gen_testkit::{CallMatcher, Fault, FaultRule, images};
use serde_json::{Value, json};

use crate::support::bridge::BridgeProcess;
use crate::support::callbacks::{self, success_inline};
use crate::support::odoo;

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";
const ATTACHMENTS: &str = "ir.attachment";

fn images_of(odoo: &influence_gen_testkit::OdooEmulator, request: i64) -> Vec<Value> {
    odoo.records(IMAGES)
        .into_iter()
        .filter(|image| image["request_id"][0] == request)
        .collect()
}

#[tokio::test]
async fn a_half_applied_result_redelivered_after_another_completed_the_request_is_a_conflict() {
    let (odoo, config) = odoo().await;
    let bridge = BridgeProcess::start(&config).await;
    let http = callbacks::client();
    let url = bridge.url("");
    let request = odoo.seed_request(json!({ "prompt": "a lighthouse" }));
    // The first result's image and attachment are made, then linking them
    // fails for good: an orphan image with the first result's hash.
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(IMAGES, "write"),
        Fault::odoo("odoo.exceptions.UserError", "stop here"),
    ));
    let first = success_inline(request.to_string(), &images::png(20, 20));
    assert_eq!(callbacks::post(&http, &url, &first).await.unwrap().0, 500);
    assert_eq!(images_of(&odoo, request).len(), 1);
    // A different result completes the request.
    let second = success_inline(request.to_string(), &images::png(21, 21));
    assert_eq!(callbacks::post(&http, &url, &second).await.unwrap().0, 200);
    let completed = odoo.record(REQUESTS, request).unwrap();
    assert_eq!(completed["status"], "completed");
    // The first result again: not applied, so not a duplicate.
    let (status, body) = callbacks::post(&http, &url, &first).await.unwrap();
    assert_eq!(status, 409, "{body}");
    let images = images_of(&odoo, request);
    assert_eq!(images.len(), 1, "the orphan is left: {images:?}");
    assert_eq!(images[0]["id"], completed["generated_image_id"][0]);
    let attachments = odoo.records(ATTACHMENTS);
    assert_eq!(attachments.len(), 1, "{attachments:?}");
    assert_eq!(attachments[0]["res_id"], images[0]["id"]);
    assert_eq!(odoo.record(REQUESTS, request).unwrap(), completed);
}

#[tokio::test]
async fn the_linked_image_makes_a_duplicate_even_beside_a_same_hash_orphan() {
    let (odoo, config) = odoo().await;
    let bridge = BridgeProcess::start(&config).await;
    let http = callbacks::client();
    let url = bridge.url("");
    let request = odoo.seed_request(json!({ "prompt": "a lighthouse" }));
    let png = images::png(22, 22);
    let result = success_inline(request.to_string(), &png);
    assert_eq!(callbacks::post(&http, &url, &result).await.unwrap().0, 200);
    let linked = odoo.record(REQUESTS, request).unwrap()["generated_image_id"][0].clone();
    // A twin committed late by an earlier, timed-out attempt: same hash,
    // not linked.
    let twin = odoo.insert(
        IMAGES,
        json!({ "request_id": request, "hash_value": images_of(&odoo, request)[0]["hash_value"] }),
    );
    let (status, body) = callbacks::post(&http, &url, &result).await.unwrap();
    assert_eq!(
        (status, &body["status"]),
        (200, &json!("success")),
        "{body}"
    );
    let images = images_of(&odoo, request);
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["id"], linked);
    assert!(odoo.record(IMAGES, twin).is_none());
}
