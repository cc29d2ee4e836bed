//! The two protocols toward Odoo against the emulator: detection
//! (`odoo.protocol`), the generic protocol's wait after a create of unknown
//! outcome (also across a restart), and the companion protocol's one call
//! per result, counted by the emulator.

use std::time::{Duration, Instant};

use influence_gen_testkit::{CallMatcher, EmulatorConfig, Fault, FaultRule, OdooEmulator, images};
use serde_json::{Value, json};

use crate::support::bridge::{BridgeProcess, ConfigFile};
use crate::support::callbacks::{client, failure, post, success_inline};
use crate::support::config::{ODOO_LOGIN, ODOO_PASSWORD, TestConfig};
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

// --- the companion protocol ---------------------------------------------------

/// An emulator, with the companion addon installed or not, the bridge's
/// user in the addon's group, and a configuration pointing at it.
async fn bridge_user_odoo(addon: bool) -> (OdooEmulator, TestConfig) {
    let emulator = if addon {
        EmulatorConfig::default().with_companion_addon()
    } else {
        EmulatorConfig::default()
    };
    let odoo = OdooEmulator::start_with(emulator).await;
    odoo.add_bridge_user(ODOO_LOGIN, ODOO_PASSWORD);
    let config = TestConfig::new(&odoo.url());
    (odoo, config)
}

/// [`bridge_user_odoo`] with the addon, speaking the companion protocol.
async fn companion_odoo() -> (OdooEmulator, TestConfig) {
    let (odoo, config) = bridge_user_odoo(true).await;
    let config = config
        .with("odoo", "protocol = \"companion\"")
        .with("initiation", "sweep_interval = \"0s\"")
        .with("limits", "rate_limit_per_minute = 0");
    (odoo, config)
}

/// `model.method` of the `execute_kw` calls the emulator received since `since`.
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
async fn companion_mode_applies_what_waited_once_the_addon_is_installed() {
    let (odoo, config) = bridge_user_odoo(false).await;
    let config = config
        .with("odoo", "protocol = \"companion\"")
        .with("spool", "wait = \"0s\"");
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("the Odoo protocol is not usable", Duration::from_secs(10))
        .await;
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&client(), &bridge.url(""), &failure(request, "x", ""))
        .await
        .unwrap();
    assert_eq!(status, 202);
    odoo.install_companion_addon();
    eventually(
        "the failure to be recorded",
        Duration::from_secs(10),
        || status_of(&odoo, request) == "failed",
    )
    .await;
    assert_eq!(odoo.count(REQUESTS, "bridge_apply_result"), 1);
    assert_eq!(odoo.count(REQUESTS, "write"), 0, "no generic write");
}

#[tokio::test]
async fn auto_switches_to_the_addon_installed_while_odoo_was_away() {
    let (odoo, config) = bridge_user_odoo(false).await;
    let config = config
        .with("initiation", "sweep_interval = \"0s\"")
        .with("spool", "wait = \"0s\"");
    let bridge = BridgeProcess::start(&config).await;
    bridge
        .wait_for_log("speaking the generic protocol", Duration::from_secs(10))
        .await;
    // Odoo goes away (a restart with a new addon), a result arrives meanwhile.
    odoo.set_down(true);
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&client(), &bridge.url(""), &failure(request, "x", ""))
        .await
        .unwrap();
    assert_eq!(status, 202);
    bridge
        .wait_for_log("transient failure; will retry", Duration::from_secs(10))
        .await;
    odoo.install_companion_addon();
    odoo.set_down(false);
    eventually(
        "the failure to be recorded",
        Duration::from_secs(10),
        || status_of(&odoo, request) == "failed",
    )
    .await;
    bridge
        .wait_for_log("the companion addon answers", Duration::from_secs(5))
        .await;
    assert_eq!(odoo.count(REQUESTS, "bridge_apply_result"), 1);
    assert_eq!(odoo.count(REQUESTS, "write"), 0, "no generic write");
}

#[tokio::test]
async fn companion_a_dead_bridges_spool_moved_to_a_live_one_is_applied_once() {
    let (odoo, config) = companion_odoo().await;
    let config = config
        .with("spool", "wait = \"0s\"")
        .with("spool", "max_concurrent = 2");
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
        // In-flight markers (`<id>.inflight`) travel with their entries.
        moved += usize::from(!entry.file_name().to_string_lossy().ends_with(".inflight"));
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
