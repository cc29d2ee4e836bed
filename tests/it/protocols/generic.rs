//! The generic protocol: a create whose answer was lost is never repeated
//! before `odoo.unknown_outcome_wait`, whether the bridge timed out, was
//! restarted, or crashed while the call ran.

use std::time::Duration;

use influence_gen_testkit::{CallMatcher, Fault, FaultRule, OdooEmulator, images};
use serde_json::json;

use super::*;
use crate::support::bridge::{BridgeProcess, ConfigFile};
use crate::support::callbacks::{client, post, success_inline};
use crate::support::odoo;

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

#[tokio::test]
async fn generic_a_crash_during_a_create_holds_the_entry_for_the_unknown_outcome_wait() {
    let (odoo, config) = odoo().await;
    let file = ConfigFile::write(&late_commit_config(config));
    let mut bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let request = odoo.seed_request(json!({ "prompt": "crash mid-create" }));
    stall_the_image_create(&odoo);
    let (status, _) = post(
        &client(),
        &bridge.url(""),
        &success_inline(request.to_string(), &images::png(12, 12)),
    )
    .await
    .unwrap();
    assert_eq!(status, 202);
    // Killed while the create runs in Odoo (it commits 3 s later), before
    // the bridge's own 1 s timeout: only the in-flight marker knows.
    assert!(
        odoo.wait_for_arrival(IMAGES, "create", 1, Duration::from_secs(10))
            .await
    );
    bridge.signal("KILL");
    bridge
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("killed");
    let restarted = BridgeProcess::start_with_file(&file.path, &[]).await;
    eventually("the request to complete", Duration::from_secs(20), || {
        status_of(&odoo, request) == "completed"
    })
    .await;
    every_image_create_answered(&odoo).await;
    assert_one_image(&odoo, request);
    assert_eq!(odoo.count(IMAGES, "create"), 1, "the create was repeated");
    restarted
        .wait_for_log("outcome is unknown", Duration::from_secs(1))
        .await;
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
