//! Accepted means durable: outages, `kill -9` at several points, dead
//! letters and the spool CLI, a full spool, and shutdown during a slow
//! Odoo write. The bridge runs as a child process so it can really die.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use influence_gen_bridge::spool::EntryId;
use influence_gen_testkit::{CallMatcher, Fault, FaultRule, ImageServer, OdooEmulator, images};
use serde_json::{Value, json};

use crate::support::bridge::{self, BridgeProcess, ConfigFile};
use crate::support::callbacks::{client, failure, post, success_inline, success_url};
use crate::support::config::{TestConfig, assert_no_secret};
use crate::support::odoo;

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";
const ATTACHMENTS: &str = "ir.attachment";

fn test_config(config: TestConfig) -> TestConfig {
    config
        .with("images", "allow_private_networks = true")
        .with("images", "allowed_ports = []")
        .with("odoo", "max_concurrent_calls = 8")
}

/// What a request must look like once its callback was applied exactly once.
fn assert_applied_once(odoo: &OdooEmulator, request: i64, expect_image: bool) {
    let record = odoo.record(REQUESTS, request).unwrap();
    let images: Vec<Value> = odoo
        .records(IMAGES)
        .into_iter()
        .filter(|i| i["request_id"][0] == request)
        .collect();
    if expect_image {
        assert_eq!(record["status"], "completed", "request {request}: {record}");
        assert_eq!(
            images.len(),
            1,
            "request {request} has {} images",
            images.len()
        );
        let attachments: Vec<Value> = odoo
            .records(ATTACHMENTS)
            .into_iter()
            .filter(|a| a["res_id"] == images[0]["id"])
            .collect();
        assert_eq!(
            attachments.len(),
            1,
            "request {request} has {} attachments",
            attachments.len()
        );
    } else {
        assert_eq!(record["status"], "failed", "request {request}: {record}");
        assert!(images.is_empty());
    }
}

/// Waits until `done` holds, polling the emulator's state.
async fn eventually(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Entries in `pending/`: a directory `<id>/` each.
fn pending_entries(file: &ConfigFile) -> usize {
    ids_in(file, "pending").len()
}

/// The ids of the entries in `pending` or `dead`.
fn ids_in(file: &ConfigFile, state: &str) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(file.spool_dir.join(state))
        .map(|d| d.flatten().collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| EntryId::parse(name).is_some())
        .collect();
    ids.sort();
    ids
}

fn queued_left(odoo: &OdooEmulator, requests: &[i64]) -> usize {
    requests
        .iter()
        .filter(|id| odoo.record(REQUESTS, **id).unwrap()["status"] == "queued")
        .count()
}

#[tokio::test]
async fn an_odoo_outage_during_200_callbacks_loses_nothing() {
    let (odoo, config) = odoo().await;
    let config = test_config(config).with("spool", "wait = \"300ms\"");
    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let host = ImageServer::start().await;
    let http = client();
    let base = bridge.url("");

    let mut bodies = Vec::new();
    for n in 0..200 {
        let request = odoo.seed_request(json!({ "prompt": format!("prompt {n}") }));
        let body = match n % 3 {
            0 => success_inline(request.to_string(), &images::png(8 + n as u32 % 5, 8)),
            1 => failure(request, "provider error", &format!("case {n}")),
            _ => {
                let url = host.file(
                    &format!("/img/{n}.png"),
                    "image/png",
                    images::png(6, 6 + n as u32 % 4),
                );
                success_url(request, &url)
            }
        };
        bodies.push((request, n % 3 != 1, body));
    }
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for (n, chunk) in bodies.chunks(10).enumerate() {
        if n == 5 {
            odoo.set_down(true);
        }
        if n == 15 {
            odoo.set_down(false);
        }
        let answers = futures_util::future::join_all(
            chunk.iter().map(|(_, _, body)| post(&http, &base, body)),
        )
        .await;
        for answer in answers {
            let (status, body) = answer.expect("the bridge answers every callback");
            assert!(status == 200 || status == 202, "{status}: {body}");
            *statuses.entry(status).or_default() += 1;
        }
    }
    assert!(
        statuses.get(&202).copied().unwrap_or(0) >= 100,
        "callbacks during the outage are accepted: {statuses:?}"
    );
    let requests: Vec<i64> = bodies.iter().map(|(r, _, _)| *r).collect();
    eventually("every request to be final", Duration::from_secs(60), || {
        queued_left(&odoo, &requests) == 0
    })
    .await;
    for (request, is_success, _) in &bodies {
        assert_applied_once(&odoo, *request, *is_success);
    }
    eventually("the spool to be empty", Duration::from_secs(10), || {
        pending_entries(&file) == 0
    })
    .await;
    assert_no_secret(&bridge.log_text(), &config.secrets(), "bridge logs");
}

#[tokio::test]
async fn kill_9_after_the_spool_write_then_restart_applies_everything_once() {
    let (odoo, config) = odoo().await;
    let config = test_config(config).with("spool", "wait = \"0s\"");
    let file = ConfigFile::write(&config);
    let mut bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let http = client();
    odoo.set_down(true);
    let mut requests = Vec::new();
    for n in 0..20 {
        let request = odoo.seed_request(json!({ "prompt": format!("p{n}") }));
        let (status, _) = post(
            &http,
            &bridge.url(""),
            &success_inline(request.to_string(), &images::png(5, 5 + n)),
        )
        .await
        .unwrap();
        assert_eq!(status, 202);
        requests.push(request);
    }
    bridge.signal("KILL");
    bridge
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("killed");
    assert_eq!(
        pending_entries(&file),
        20,
        "every accepted callback is on disk"
    );
    odoo.set_down(false);
    let _bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    eventually(
        "the spooled callbacks to be applied",
        Duration::from_secs(30),
        || queued_left(&odoo, &requests) == 0,
    )
    .await;
    for request in requests {
        assert_applied_once(&odoo, request, true);
    }
    eventually("the spool to be empty", Duration::from_secs(10), || {
        pending_entries(&file) == 0
    })
    .await;
}

#[tokio::test]
async fn kill_9_in_the_middle_of_a_burst_applies_each_acknowledged_callback_exactly_once() {
    let (odoo, config) = odoo().await;
    let config = test_config(config);
    let file = ConfigFile::write(&config);
    let mut bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let http = client();
    let base = bridge.url("");
    let mut bursts = Vec::new();
    for n in 0..120 {
        let request = odoo.seed_request(json!({ "prompt": format!("burst {n}") }));
        bursts.push((
            request,
            success_inline(request.to_string(), &images::png(4 + n % 7, 4)),
        ));
    }
    // Twenty at a time; the kill lands once 30 were answered, while others
    // are being received, spooled and applied.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let killer = {
        let pid = bridge.pid();
        let answered = std::sync::Arc::clone(&answered);
        tokio::spawn(async move {
            while answered.load(std::sync::atomic::Ordering::SeqCst) < 30 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        })
    };
    let mut answers: Vec<(i64, Result<u16, String>)> = Vec::new();
    for chunk in bursts.chunks(20) {
        let results = futures_util::future::join_all(chunk.iter().map(|(_, body)| {
            let answered = std::sync::Arc::clone(&answered);
            let http = http.clone();
            let base = base.clone();
            async move {
                let result = post(&http, &base, body).await;
                answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                result
            }
        }))
        .await;
        for ((request, _), result) in chunk.iter().zip(results) {
            answers.push((
                *request,
                result.map(|(status, _)| status).map_err(|e| e.to_string()),
            ));
        }
    }
    killer.await.unwrap();
    bridge
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("killed");
    let acknowledged: Vec<i64> = answers
        .iter()
        .filter(|(_, a)| matches!(a, Ok(200 | 202)))
        .map(|(r, _)| *r)
        .collect();
    let refused: Vec<i64> = answers
        .iter()
        .filter(|(_, a)| matches!(a, Ok(s) if !(200..300).contains(s)))
        .map(|(r, _)| *r)
        .collect();
    let lost: Vec<i64> = answers
        .iter()
        .filter(|(_, a)| a.is_err())
        .map(|(r, _)| *r)
        .collect();
    assert!(
        !acknowledged.is_empty() && !lost.is_empty(),
        "the kill should land mid-burst: {} acknowledged, {} lost",
        acknowledged.len(),
        lost.len()
    );

    let _bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    eventually(
        "every acknowledged callback to be applied",
        Duration::from_secs(30),
        || queued_left(&odoo, &acknowledged) == 0,
    )
    .await;
    eventually("the spool to be empty", Duration::from_secs(20), || {
        pending_entries(&file) == 0
    })
    .await;
    for request in &acknowledged {
        assert_applied_once(&odoo, *request, true);
    }
    for request in &refused {
        assert_eq!(
            odoo.record(REQUESTS, *request).unwrap()["status"],
            "queued",
            "a refused callback was applied"
        );
    }
    // Callbacks whose connection died got no answer: either outcome is
    // fine, but never twice.
    for request in &lost {
        let images = odoo
            .records(IMAGES)
            .into_iter()
            .filter(|i| i["request_id"][0] == *request)
            .count();
        assert!(images <= 1, "request {request} has {images} images");
    }
}

#[tokio::test]
async fn kill_9_during_the_odoo_writes_then_restart_completes_without_twins() {
    let (odoo, config) = odoo().await;
    let config = test_config(config)
        .with("spool", "wait = \"0s\"")
        .with("odoo", "timeout = \"2s\"");
    let file = ConfigFile::write(&config);
    let mut bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let request = odoo.seed_request(json!({ "prompt": "slow attachment" }));
    // The attachment create (web_save) is received, then takes 1.5 s to commit.
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(ATTACHMENTS, "web_save"),
        Fault::Stall(Duration::from_millis(1500)),
    ));
    let (status, _) = post(
        &client(),
        &bridge.url(""),
        &success_inline(request.to_string(), &images::png(21, 21)),
    )
    .await
    .unwrap();
    assert_eq!(status, 202);
    assert!(
        odoo.wait_for_arrival(ATTACHMENTS, "web_save", 1, Duration::from_secs(10))
            .await
    );
    bridge.signal("KILL");
    bridge
        .wait_exit(Duration::from_secs(5))
        .await
        .expect("killed");
    // Restarted at once: the entry was in flight, so it waits for Odoo to
    // finish the interrupted call (odoo.timeout) before it resumes.
    let restarted = BridgeProcess::start_with_file(&file.path, &[]).await;
    eventually("the request to complete", Duration::from_secs(20), || {
        queued_left(&odoo, &[request]) == 0
    })
    .await;
    assert_applied_once(&odoo, request, true);
    restarted
        .wait_for_log(
            "resuming an entry that was being applied",
            Duration::from_secs(5),
        )
        .await;
}

#[tokio::test]
async fn a_dead_letter_can_be_listed_retried_after_the_fix_and_purged() {
    let (odoo, config) = odoo().await;
    let config = test_config(config);
    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let http = client();
    let uuid = "5b0c8d1e-0000-4000-8000-00000000a001";
    let body = json!({
        "ai_generation_request_id": uuid,
        "result_payload": { "status": "failure", "error_data": { "message": "too early" } }
    });
    let (status, _) = post(&http, &bridge.url(""), &body).await.unwrap();
    assert_eq!(status, 404);
    let (status, _) = post(&http, &bridge.url(""), &failure(999_999, "never", ""))
        .await
        .unwrap();
    assert_eq!(status, 404);

    let listing = spool_cli(&file, &["spool", "list"]).await;
    assert!(listing.contains("0 pending, 2 dead"), "{listing}");
    assert!(listing.contains("no AI image request matches"), "{listing}");
    let ids = dead_ids(&file);
    let shown = spool_cli(&file, &["spool", "show", &ids[0], "--payload"]).await;
    assert!(
        shown.contains("\"dead\": {") && shown.contains("\"message\": \"too early\""),
        "{shown}"
    );

    // The fix: the request exists now. Retry while the daemon runs.
    let request = odoo.insert(REQUESTS, json!({ "prompt": "late", "uuid": uuid }));
    let retried = spool_cli(&file, &["spool", "retry", &ids[0]]).await;
    assert!(retried.contains("back in pending"), "{retried}");
    eventually(
        "the retried entry to apply",
        Duration::from_secs(10),
        || odoo.record(REQUESTS, request).unwrap()["status"] == "failed",
    )
    .await;

    let purged = spool_cli(&file, &["spool", "purge", &ids[1]]).await;
    assert!(purged.contains("purged"), "{purged}");
    eventually("the spool to be empty", Duration::from_secs(10), || {
        pending_entries(&file) == 0
    })
    .await;
    assert!(dead_ids(&file).is_empty());
    assert_no_secret(&bridge.log_text(), &config.secrets(), "bridge logs");
}

fn dead_ids(file: &ConfigFile) -> Vec<String> {
    ids_in(file, "dead")
}

async fn spool_cli(file: &ConfigFile, args: &[&str]) -> String {
    let output = bridge::run(&file.path, args, &[]).await;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{args:?} failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

#[tokio::test]
async fn a_full_spool_is_503_and_nothing_is_half_written() {
    let (odoo, config) = odoo().await;
    let config = test_config(config)
        .with("spool", "wait = \"0s\"")
        .with("spool", "max_bytes = 1048576");
    // Two of these fit in a MiB, the third does not.
    let image = images::png_of_size(400 * 1024);
    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let http = client();
    odoo.set_down(true);
    let requests: Vec<i64> = (0..3)
        .map(|n| odoo.seed_request(json!({ "prompt": format!("{n}") })))
        .collect();
    let mut statuses = Vec::new();
    for request in &requests {
        statuses.push(
            post(
                &http,
                &bridge.url(""),
                &success_inline(request.to_string(), &image),
            )
            .await
            .unwrap(),
        );
    }
    assert_eq!(statuses[0].0, 202);
    assert_eq!(statuses[1].0, 202);
    assert_eq!(statuses[2].0, 503, "{:?}", statuses[2]);
    assert!(
        statuses[2].1["message"].as_str().unwrap().contains("full"),
        "{:?}",
        statuses[2]
    );
    assert_eq!(pending_entries(&file), 2);
    assert_eq!(
        std::fs::read_dir(file.spool_dir.join("tmp"))
            .unwrap()
            .count(),
        0,
        "debris left in tmp/"
    );
    bridge
        .wait_for_log("the spool is full", Duration::from_secs(5))
        .await;
    odoo.set_down(false);
    eventually("the accepted two to apply", Duration::from_secs(20), || {
        queued_left(&odoo, &requests[..2]) == 0
    })
    .await;
    assert_eq!(
        odoo.record(REQUESTS, requests[2]).unwrap()["status"],
        "queued"
    );
}

#[tokio::test]
async fn shutdown_during_a_slow_odoo_write_exits_in_time_and_the_entry_completes_after_restart() {
    let (odoo, config) = odoo().await;
    let config = test_config(config)
        .with("spool", "wait = \"0s\"")
        .with("server", "shutdown_grace = \"1s\"")
        .with("odoo", "timeout = \"3s\"");
    let file = ConfigFile::write(&config);
    let mut bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let request = odoo.seed_request(json!({ "prompt": "slow" }));
    odoo.inject(FaultRule::once(
        CallMatcher::model_method(REQUESTS, "write"),
        Fault::Stall(Duration::from_secs(2)),
    ));
    let (status, _) = post(
        &client(),
        &bridge.url(""),
        &failure(request, "slow write", ""),
    )
    .await
    .unwrap();
    assert_eq!(status, 202);
    assert!(
        odoo.wait_for_arrival(REQUESTS, "write", 1, Duration::from_secs(10))
            .await
    );
    let stopping = Instant::now();
    bridge.signal("TERM");
    let exit = bridge
        .wait_exit(Duration::from_secs(10))
        .await
        .expect("the bridge did not stop");
    assert!(exit.success(), "{exit}");
    assert!(
        stopping.elapsed() < Duration::from_millis(1900),
        "took {:?}, longer than the grace period",
        stopping.elapsed()
    );
    assert!(
        bridge.log_text().contains("stay pending"),
        "{}",
        bridge.log_text()
    );
    assert_eq!(
        pending_entries(&file),
        1,
        "the unfinished entry stays spooled"
    );

    let _restarted = BridgeProcess::start_with_file(&file.path, &[]).await;
    eventually(
        "the entry to complete after the restart",
        Duration::from_secs(20),
        || pending_entries(&file) == 0,
    )
    .await;
    assert_applied_once(&odoo, request, false);
}

/// An id as the bridge makes them, for an entry that arrived `ago`.
fn entry_id(ago: Duration, suffix: u32) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .saturating_sub(ago)
        .as_nanos();
    format!("{nanos:020}-{suffix:08x}")
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The metadata of a failure entry, as format version 2 writes it.
fn failure_entry(id: &str, request: i64, received_at_ms: u64) -> Value {
    json!({
        "version": 2,
        "id": id,
        "received_at_ms": received_at_ms,
        "http_request_id": "rid-hand-made",
        "request_ref": request.to_string(),
        "outcome": { "status": "failure", "message": "written by hand", "details": null },
        "attempts": 0,
        "last_attempt_at_ms": null,
        "next_attempt_at_ms": 0,
        "last_error": null,
        "dead": null
    })
}

async fn metric(http: &reqwest::Client, bridge: &BridgeProcess, name: &str) -> f64 {
    let text = http
        .get(bridge.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|line| {
            let (key, value) = line.rsplit_once(' ')?;
            (key == name).then(|| value.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Issue 15, item 7: an entry whose metadata is empty (a power cut) or of
/// another format version goes to the dead letters once, with the reason;
/// the gauges count what is in each directory; the rest of the spool flows.
#[tokio::test]
async fn damaged_and_other_version_entries_are_quarantined_once_and_counted_where_they_are() {
    let (odoo, config) = odoo().await;
    let config = test_config(config).with("spool", "wait = \"0s\"");
    let file = ConfigFile::write(&config);
    let pending = file.spool_dir.join("pending");
    std::fs::create_dir_all(&pending).unwrap();
    let empty = entry_id(Duration::from_secs(7200), 1);
    std::fs::create_dir(pending.join(&empty)).unwrap();
    std::fs::write(pending.join(&empty).join("meta.json"), b"").unwrap();
    let future = entry_id(Duration::from_secs(7100), 2);
    std::fs::create_dir(pending.join(&future)).unwrap();
    std::fs::write(
        pending.join(&future).join("meta.json"),
        json!({ "version": 3, "id": future, "whatever": "a later bridge wrote" }).to_string(),
    )
    .unwrap();
    std::fs::write(pending.join(&future).join("image.bin"), b"IMG").unwrap();
    let request = odoo.seed_request(json!({ "prompt": "waits for Odoo" }));
    let good = entry_id(Duration::from_secs(3600), 3);
    std::fs::create_dir(pending.join(&good)).unwrap();
    std::fs::write(
        pending.join(&good).join("meta.json"),
        failure_entry(&good, request, now_ms() - 3_600_000).to_string(),
    )
    .unwrap();

    odoo.set_down(true);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    eventually(
        "the damaged entries to be dead letters",
        Duration::from_secs(10),
        || dead_ids(&file).len() == 2,
    )
    .await;
    // Several polls later, still one line per entry.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let logs = bridge.log_text();
    let moved = logs
        .lines()
        .filter(|line| line.contains("cannot be applied; moved to the dead letters"))
        .count();
    assert_eq!(moved, 2, "{logs}");
    assert!(!logs.contains("skipping an unreadable"), "{logs}");
    assert_eq!(pending_entries(&file), 1);
    assert_eq!(
        std::fs::read(file.spool_dir.join("dead").join(&future).join("image.bin")).unwrap(),
        b"IMG",
        "a quarantined entry is kept as found"
    );

    let http = client();
    let gauge = |name: &'static str| metric(&http, &bridge, name);
    assert_eq!(
        gauge("influence_gen_bridge_spool_pending_entries").await,
        1.0
    );
    assert_eq!(gauge("influence_gen_bridge_spool_dead_letters").await, 2.0);
    let age = gauge("influence_gen_bridge_spool_oldest_entry_age_seconds").await;
    assert!((3590.0..3700.0).contains(&age), "oldest entry age {age}");

    let listing = spool_cli(&file, &["spool", "list"]).await;
    assert!(listing.contains("1 pending, 2 dead"), "{listing}");
    assert!(listing.contains("the metadata is empty"), "{listing}");
    assert!(listing.contains("spool format version 3"), "{listing}");
    let output = bridge::run(&file.path, &["spool", "retry", &future], &[]).await;
    assert!(!output.status.success());
    let refused = String::from_utf8_lossy(&output.stderr);
    assert!(refused.contains("cannot be retried"), "{refused}");
    let purged = spool_cli(&file, &["spool", "purge", &empty]).await;
    assert!(purged.contains("purged"), "{purged}");
    assert!(!file.spool_dir.join("dead").join(&empty).exists());

    odoo.set_down(false);
    eventually(
        "the readable entry to apply",
        Duration::from_secs(20),
        || odoo.record(REQUESTS, request).unwrap()["status"] == "failed",
    )
    .await;
    eventually("the spool to be empty", Duration::from_secs(10), || {
        pending_entries(&file) == 0
    })
    .await;
}

/// Issue 15, item 8: a second `serve` on the same spool refuses to start,
/// says why, and leaves the first one's files alone.
#[tokio::test]
async fn a_second_serve_on_the_same_spool_is_refused_and_the_first_keeps_serving() {
    let (odoo, config) = odoo().await;
    let config = test_config(config).with("spool", "wait = \"0s\"");
    let file = ConfigFile::write(&config);
    let first = BridgeProcess::start_with_file(&file.path, &[]).await;
    odoo.set_down(true);
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&client(), &first.url(""), &failure(request, "m", ""))
        .await
        .unwrap();
    assert_eq!(status, 202);

    let second = tokio::process::Command::new(bridge::BIN)
        .arg("--config")
        .arg(&file.path)
        .arg("serve")
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), second)
        .await
        .expect("a second serve on the same spool must stop, not run")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("in use by another `influence-gen-bridge serve`")
            && stderr.contains(&format!("pid {}", first.pid())),
        "{stderr}"
    );
    assert_eq!(pending_entries(&file), 1, "the first one's entry is intact");
    odoo.set_down(false);
    eventually(
        "the first to apply its entry",
        Duration::from_secs(20),
        || odoo.record(REQUESTS, request).unwrap()["status"] == "failed",
    )
    .await;
}

/// Issue 15, item 8: `spool list` and `show` need only `[spool]` (no Odoo
/// password, no token) and, like `retry` and `purge`, leave a running
/// daemon's files alone (entries being written in `tmp/`, metadata being
/// replaced in `pending/`).
#[tokio::test]
async fn the_spool_cli_needs_no_secret_and_leaves_a_running_daemons_files_alone() {
    let (odoo, config) = odoo().await;
    let config = test_config(config).with("spool", "wait = \"0s\"");
    let file = ConfigFile::write(&config);
    let _bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    odoo.set_down(true);
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&client(), &_bridge.url(""), &failure(request, "m", ""))
        .await
        .unwrap();
    assert_eq!(status, 202);
    let id = ids_in(&file, "pending").pop().expect("a pending entry");
    // Stand-ins for what the daemon has under way at any moment: an entry
    // being written, and one being removed (its metadata gone already).
    let writing = file
        .spool_dir
        .join("tmp")
        .join(format!("{}-00000001", &id[..20]));
    std::fs::write(&writing, b"half an entry").unwrap();
    let removing = file
        .spool_dir
        .join("pending")
        .join(format!("{}-00000002", &id[..20]));
    std::fs::create_dir(&removing).unwrap();
    let replacing = removing.join("image.bin");
    std::fs::write(&replacing, b"IMG").unwrap();

    let dir = tempfile::tempdir().unwrap();
    let bare = dir.path().join("spool-only.toml");
    std::fs::write(
        &bare,
        format!(
            "[spool]\ndir = {:?}\n",
            file.spool_dir.display().to_string()
        ),
    )
    .unwrap();
    let commands = [
        vec!["spool", "list"],
        vec!["spool", "show", &id],
        vec!["spool", "purge", "--dead-older-than", "1s"],
        vec!["spool", "retry", "--all-dead"],
    ];
    // With the daemon's own configuration file, then with [spool] alone.
    for (config_file, args) in commands
        .iter()
        .map(|args| (&file.path, args))
        .chain(commands.iter().map(|args| (&bare, args)))
    {
        let output = bridge::run(config_file, args, &[]).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{args:?}: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        if args[1] == "list" {
            assert!(stdout.contains("1 pending, 0 dead"), "{stdout}");
        }
        assert!(writing.exists(), "{args:?} deleted an entry being written");
        assert!(
            replacing.exists(),
            "{args:?} deleted an entry being removed"
        );
    }
    std::fs::remove_file(&writing).unwrap();
    std::fs::remove_dir_all(&removing).unwrap();
    odoo.set_down(false);
    eventually("the entry to apply", Duration::from_secs(20), || {
        odoo.record(REQUESTS, request).unwrap()["status"] == "failed"
    })
    .await;
}
