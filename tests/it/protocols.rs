//! The two protocols toward Odoo against the emulator: detection
//! (`odoo.protocol`), the generic protocol's wait after a create of unknown
//! outcome (also across a restart), and the companion protocol's one call
//! per result, counted by the emulator.

use std::time::{Duration, Instant};

use influence_gen_testkit::{CallMatcher, Fault, FaultRule, OdooEmulator, images};
use serde_json::{Value, json};

use crate::support::bridge::{BridgeProcess, ConfigFile};
use crate::support::callbacks::{client, failure, post, success_inline};
use crate::support::config::TestConfig;
use crate::support::odoo;

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";
const ATTACHMENTS: &str = "ir.attachment";

/// Waits until `done` holds, polling the emulator's state.
async fn eventually(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn images_of(odoo: &OdooEmulator, request: i64) -> Vec<Value> {
    odoo.records(IMAGES)
        .into_iter()
        .filter(|image| image["request_id"][0] == request)
        .collect()
}

fn status_of(odoo: &OdooEmulator, request: i64) -> String {
    odoo.record(REQUESTS, request).expect("the request")["status"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Exactly one image and one attachment, and the request completed.
fn assert_one_image(odoo: &OdooEmulator, request: i64) {
    assert_eq!(status_of(odoo, request), "completed");
    let images = images_of(odoo, request);
    assert_eq!(images.len(), 1, "request {request} has images {images:?}");
    let attachments: Vec<Value> = odoo
        .records(ATTACHMENTS)
        .into_iter()
        .filter(|a| a["res_id"] == images[0]["id"])
        .collect();
    assert_eq!(attachments.len(), 1, "{attachments:?}");
}

/// The late-commit setting: calls time out after 1 s, the create of the
/// generated image takes 3 s to commit, the wait after an unknown outcome
/// is 4 s.
fn late_commit_config(config: TestConfig) -> TestConfig {
    config
        .with("odoo", "protocol = \"generic\"")
        .with("odoo", "timeout = \"1s\"")
        .with("odoo", "unknown_outcome_wait = \"4s\"")
        .with("spool", "wait = \"0s\"")
        .with("initiation", "sweep_interval = \"0s\"")
}

fn stall_the_image_create(odoo: &OdooEmulator) {
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(IMAGES, "create"),
        Fault::Stall(Duration::from_secs(3)),
    ));
}

#[tokio::test]
async fn generic_a_create_that_commits_after_the_timeout_is_found_not_repeated() {
    let (odoo, config) = odoo().await;
    let bridge = BridgeProcess::start(&late_commit_config(config)).await;
    let request = odoo.seed_request(json!({ "prompt": "late commit" }));
    stall_the_image_create(&odoo);
    let (status, _) = post(
        &client(),
        &bridge.url(""),
        &success_inline(request.to_string(), &images::png(9, 9)),
    )
    .await
    .unwrap();
    assert_eq!(status, 202);
    eventually("the request to complete", Duration::from_secs(20), || {
        status_of(&odoo, request) == "completed"
    })
    .await;
    every_image_create_answered(&odoo).await;
    assert_one_image(&odoo, request);
    assert_eq!(odoo.count(IMAGES, "create"), 1, "the create was repeated");
    bridge
        .wait_for_log("may still commit a create", Duration::from_secs(1))
        .await;
}

/// Waits until no create of a generated image is still running in the
/// emulator (the stalled one has committed).
async fn every_image_create_answered(odoo: &OdooEmulator) {
    let settled = odoo
        .wait_for_calls(
            |calls| {
                calls
                    .iter()
                    .filter(|c| {
                        c.model.as_deref() == Some(IMAGES)
                            && c.model_method.as_deref() == Some("create")
                    })
                    .all(|c| c.outcome != influence_gen_testkit::Outcome::Pending)
            },
            Duration::from_secs(10),
        )
        .await;
    assert!(settled, "a create is still running");
}

#[tokio::test]
async fn generic_the_wait_after_an_unknown_outcome_survives_a_restart() {
    let (odoo, config) = odoo().await;
    let file = ConfigFile::write(&late_commit_config(config));
    let mut bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let request = odoo.seed_request(json!({ "prompt": "late commit, then a crash" }));
    stall_the_image_create(&odoo);
    let (status, _) = post(
        &client(),
        &bridge.url(""),
        &success_inline(request.to_string(), &images::png(10, 10)),
    )
    .await
    .unwrap();
    assert_eq!(status, 202);
    bridge
        .wait_for_log("transient failure; will retry", Duration::from_secs(10))
        .await;
    bridge.signal("KILL");
    bridge
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("killed");
    let recorded = spool_texts(&file)
        .iter()
        .any(|text| text.contains("unknown_outcome_at_ms"));
    assert!(
        recorded,
        "the spool entry does not record the unknown outcome"
    );
    let _restarted = BridgeProcess::start_with_file(&file.path, &[]).await;
    eventually("the request to complete", Duration::from_secs(20), || {
        status_of(&odoo, request) == "completed"
    })
    .await;
    every_image_create_answered(&odoo).await;
    assert_one_image(&odoo, request);
    assert_eq!(odoo.count(IMAGES, "create"), 1, "the create was repeated");
}

/// The text of every file under the spool's `pending/`.
fn spool_texts(file: &ConfigFile) -> Vec<String> {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.push(text);
            }
        }
    }
    let mut out = Vec::new();
    walk(&file.spool_dir.join("pending"), &mut out);
    out
}

#[tokio::test]
async fn auto_without_the_addon_speaks_generic_and_says_so_once() {
    let (odoo, config) = odoo().await;
    let bridge = BridgeProcess::start(&config.with("initiation", "sweep_interval = \"0s\"")).await;
    bridge
        .wait_for_log("speaking the generic protocol", Duration::from_secs(10))
        .await;
    let http = client();
    for message in ["one", "two"] {
        let request = odoo.seed_request(json!({ "prompt": message }));
        let (status, _) = post(&http, &bridge.url(""), &failure(request, message, ""))
            .await
            .unwrap();
        assert_eq!(status, 200);
        assert_eq!(status_of(&odoo, request), "failed");
    }
    assert_eq!(odoo.count(REQUESTS, "bridge_protocol"), 1, "asked once");
    let lines = bridge
        .logs()
        .iter()
        .filter(|line| line.contains("speaking the generic protocol"))
        .count();
    assert_eq!(lines, 1, "{}", bridge.log_text());
}

#[tokio::test]
async fn generic_mode_never_asks_for_the_addon() {
    let (odoo, config) = odoo().await;
    let bridge = BridgeProcess::start(&config.with("odoo", "protocol = \"generic\"")).await;
    bridge
        .wait_for_log("Odoo protocol", Duration::from_secs(10))
        .await;
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&client(), &bridge.url(""), &failure(request, "x", ""))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(odoo.count(REQUESTS, "bridge_protocol"), 0);
}

#[tokio::test]
async fn companion_mode_without_the_addon_applies_nothing_and_says_why() {
    let (odoo, config) = odoo().await;
    let config = config
        .with("odoo", "protocol = \"companion\"")
        .with("spool", "wait = \"1s\"");
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("the Odoo protocol is not usable", Duration::from_secs(10))
        .await;
    let http = client();
    let ready = http.get(bridge.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body = ready.text().await.unwrap();
    assert!(body.contains("companion addon"), "{body}");
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&http, &bridge.url(""), &failure(request, "x", ""))
        .await
        .unwrap();
    assert_eq!(status, 202, "kept in the spool until the addon is there");
    assert_eq!(status_of(&odoo, request), "queued");
    assert_eq!(odoo.count(REQUESTS, "write"), 0);
}
