//! The companion protocol: one `bridge_apply_result` call per result
//! whatever the outcome, two bridges, a late commit, a dead bridge's spool.

use std::time::Duration;

use influence_gen_testkit::{CallMatcher, Fault, FaultRule, images};
use serde_json::{Value, json};

use super::*;
use crate::support::bridge::BridgeProcess;
use crate::support::callbacks::{client, failure, post, success_inline};

#[tokio::test]
async fn companion_every_outcome_costs_one_odoo_call() {
    let (odoo, config) = companion_odoo().await;
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("the companion addon answers", Duration::from_secs(10))
        .await;
    let http = client();
    let first = odoo.seed_request(json!({ "prompt": "one" }));
    let second = odoo.seed_request(json!({ "prompt": "two" }));
    let third = odoo.seed_request(json!({ "prompt": "three" }));
    let fourth = odoo.seed_request(json!({ "prompt": "four" }));
    let uuid = odoo.record(REQUESTS, fourth).unwrap()["uuid"].clone();
    assert!(uuid.is_string(), "the emulator gives requests a uuid");
    let png = images::png(11, 11);
    let cases: Vec<(&str, Value, u16)> = vec![
        ("new success", success_inline(first.to_string(), &png), 200),
        (
            "duplicate success",
            success_inline(first.to_string(), &png),
            200,
        ),
        (
            "conflicting image",
            success_inline(first.to_string(), &images::png(12, 12)),
            409,
        ),
        ("late failure", failure(first, "late", ""), 409),
        ("failure", failure(second, "quota", ""), 200),
        ("duplicate failure", failure(second, "quota", ""), 200),
        ("unknown request", failure(777_777, "x", ""), 404),
        (
            "unusable image",
            success_inline(third.to_string(), b"not an image"),
            422,
        ),
        // No search to resolve a UUID first: Odoo finds it in the same call.
        (
            "success by uuid",
            success_inline(uuid.clone(), &images::png(13, 13)),
            200,
        ),
        (
            "duplicate by uuid",
            success_inline(uuid, &images::png(13, 13)),
            200,
        ),
    ];
    for (name, body, expected) in cases {
        let since = odoo.calls().len();
        let (status, answer) = post(&http, &bridge.url(""), &body).await.unwrap();
        assert_eq!(status, expected, "{name}: {answer}");
        assert_eq!(
            object_calls(&odoo, since),
            [format!("{REQUESTS}.bridge_apply_result")],
            "{name}"
        );
    }
    assert_one_image(&odoo, first);
    let stored = &images_of(&odoo, first)[0];
    assert_eq!(stored["hash_value"], hex_sha256(&png));
    assert_eq!(stored["width"], 11);
    assert_eq!(status_of(&odoo, second), "failed");
    assert_eq!(status_of(&odoo, third), "failed");
    assert_one_image(&odoo, fourth);
    let rejected = odoo.record(REQUESTS, third).unwrap();
    assert!(
        rejected["error_details"]
            .as_str()
            .is_some_and(|d| d.starts_with("Image unusable:")),
        "{rejected}"
    );
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn companion_ten_identical_results_through_two_bridges_make_one_image() {
    let (odoo, config) = companion_odoo().await;
    let config = config.with("odoo", "max_concurrent_calls = 8");
    let bridges = [
        BridgeProcess::start(&config).await,
        BridgeProcess::start(&config).await,
    ];
    let request = odoo.seed_request(json!({ "prompt": "ten at once" }));
    let body = success_inline(request.to_string(), &images::png(20, 20));
    let http = client();
    let posts = (0..10).map(|i| {
        let (http, url, body) = (http.clone(), bridges[i % 2].url(""), body.clone());
        tokio::spawn(async move { post(&http, &url, &body).await.unwrap() })
    });
    let mut duplicates = 0;
    for answer in futures_util::future::join_all(posts).await {
        let (status, body) = answer.unwrap();
        assert_eq!(status, 200, "{body}");
        duplicates += usize::from(body.to_string().contains("duplicate"));
    }
    assert_eq!(duplicates, 9, "one delivery stores, nine are duplicates");
    assert_one_image(&odoo, request);
    assert_eq!(odoo.count(REQUESTS, "bridge_apply_result"), 10);
    assert_eq!(odoo.count(IMAGES, "create"), 0, "no generic call");
}

#[tokio::test]
async fn companion_a_late_commit_is_answered_duplicate_without_waiting() {
    let (odoo, config) = companion_odoo().await;
    // The wait after an unknown outcome is long: the companion protocol
    // must not need it.
    let config = config
        .with("odoo", "timeout = \"1s\"")
        .with("odoo", "unknown_outcome_wait = \"10m\"")
        .with("spool", "wait = \"0s\"");
    let bridge = BridgeProcess::start(&config).await;
    let request = odoo.seed_request(json!({ "prompt": "late commit" }));
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQUESTS, "bridge_apply_result"),
        Fault::Stall(Duration::from_secs(3)),
    ));
    let (status, _) = post(
        &client(),
        &bridge.url(""),
        &success_inline(request.to_string(), &images::png(9, 9)),
    )
    .await
    .unwrap();
    assert_eq!(status, 202);
    eventually("the request to complete", Duration::from_secs(15), || {
        status_of(&odoo, request) == "completed"
    })
    .await;
    bridge
        .wait_for_log("spool entry applied", Duration::from_secs(10))
        .await;
    assert_one_image(&odoo, request);
    assert!(
        odoo.count(REQUESTS, "bridge_apply_result") >= 2,
        "the timed-out call was retried"
    );
    assert!(
        bridge.log_text().contains("Duplicate"),
        "{}",
        bridge.log_text()
    );
}

#[tokio::test]
async fn companion_a_dead_bridges_spool_moved_to_a_live_one_is_applied_once() {
    let (odoo, config) = companion_odoo().await;
    let config = config
        .with("spool", "wait = \"0s\"")
        .with("odoo", "max_concurrent_calls = 2");
    let mut dead = BridgeProcess::start(&config).await;
    let requests: Vec<i64> = (0..3)
        .map(|i| odoo.seed_request(json!({ "prompt": format!("ha {i}") })))
        .collect();
    // The first two are being applied when the machine dies (Odoo finishes
    // and commits them anyway); the third never left the spool.
    odoo.inject(FaultRule::times(
        CallMatcher::model_method(REQUESTS, "bridge_apply_result"),
        Fault::Stall(Duration::from_secs(2)),
        2,
    ));
    let http = client();
    for (i, request) in requests.iter().enumerate() {
        let body = success_inline(request.to_string(), &images::png(8 + i as u32, 8));
        let (status, _) = post(&http, &dead.url(""), &body).await.unwrap();
        assert_eq!(status, 202);
    }
    assert!(
        odoo.wait_for_arrival(REQUESTS, "bridge_apply_result", 2, Duration::from_secs(10))
            .await
    );
    let dead_spool = dead.spool_dir();
    dead.signal("KILL");
    dead.wait_exit(Duration::from_secs(5))
        .await
        .expect("killed");

    let live = BridgeProcess::start(&config).await;
    let staging = live.spool_dir().with_file_name("recovered");
    std::fs::create_dir(&staging).unwrap();
    let mut moved = 0;
    for entry in std::fs::read_dir(dead_spool.join("pending")).unwrap() {
        let entry = entry.unwrap();
        let copy = staging.join(entry.file_name());
        let status = std::process::Command::new("cp")
            .arg("-a")
            .arg(entry.path())
            .arg(&copy)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::rename(
            &copy,
            live.spool_dir().join("pending").join(entry.file_name()),
        )
        .unwrap();
        // An entry is a directory; its in-flight marker travels inside.
        moved += 1;
    }
    assert_eq!(moved, 3, "every accepted result was still pending");
    eventually("every request to complete", Duration::from_secs(20), || {
        requests.iter().all(|r| status_of(&odoo, *r) == "completed")
    })
    .await;
    eventually("the live spool to empty", Duration::from_secs(10), || {
        std::fs::read_dir(live.spool_dir().join("pending"))
            .map(|d| d.count() == 0)
            .unwrap_or(false)
    })
    .await;
    for request in &requests {
        assert_one_image(&odoo, *request);
    }
}
