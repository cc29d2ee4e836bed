//! The admin's view: health and readiness, Prometheus metrics, systemd
//! notifications and the unit file, SIGHUP reloads, JSON logs with request
//! ids.

use std::collections::HashMap;
use std::time::Duration;

use influence_gen_testkit::images;
use serde_json::{Value, json};

use crate::support::bridge::{BIN, BridgeProcess, ConfigFile};
use crate::support::callbacks::{CALLBACK, client, failure, post, success_inline};
use crate::support::config::{CALLBACK_TOKEN, TestConfig, assert_no_secret};
use crate::support::odoo;

async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    let response = http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn readyz_follows_odoo_and_the_spool_without_revealing_addresses() {
    let (odoo, config) = odoo().await;
    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    bridge
        .wait_for_log("logged in to Odoo", Duration::from_secs(10))
        .await;
    let http = client();
    let (status, body) = get(&http, &bridge.url("/readyz")).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ready"}"#));

    odoo.set_down(true);
    tokio::time::sleep(Duration::from_millis(2100)).await; // past the readiness cache
    let (status, body) = get(&http, &bridge.url("/readyz")).await;
    assert_eq!(status, 503, "{body}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({ "status": "not ready", "failing": ["odoo: unreachable"] })
    );
    assert!(!body.to_string().contains(&odoo.addr().port().to_string()));
    odoo.set_down(false);

    // The probe writes under tmp/; a file in its place makes the spool unwritable.
    let tmp = file.spool_dir.join("tmp");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::write(&tmp, b"in the way").unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = get(&http, &bridge.url("/readyz")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["failing"],
        json!(["spool: not writable"])
    );
    assert!(!body.contains(file.spool_dir.to_str().unwrap()));
    std::fs::remove_file(&tmp).unwrap();
    std::fs::create_dir(&tmp).unwrap();

    let (status, _) = get(&http, &bridge.url("/healthz")).await;
    assert_eq!(status, 200);
}

/// `name{labels} value` lines of a Prometheus text exposition.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

async fn scrape(http: &reqwest::Client, bridge: &BridgeProcess) -> HashMap<String, f64> {
    let response = http.get(bridge.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "not a complete exposition");
    parse_exposition(&text)
}

fn callbacks(metrics: &HashMap<String, f64>, outcome: &str) -> f64 {
    let key =
        format!("influence_gen_bridge_callbacks_total{{route=\"callback\",outcome=\"{outcome}\"}}");
    metrics.get(&key).copied().unwrap_or(0.0)
}

#[tokio::test]
async fn metrics_count_every_callback_outcome() {
    let (odoo, config) = odoo().await;
    let config = config.with("server", "max_body_bytes = 4096");
    let bridge = BridgeProcess::start(&config).await;
    let http = client();
    let base = bridge.url("");
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let png = images::png(4, 4);
    let success = success_inline(request.to_string(), &png);

    let json = "application/json";
    let cases = [
        ("applied", json, CALLBACK_TOKEN, success.to_string()),
        ("duplicate", json, CALLBACK_TOKEN, success.to_string()),
        (
            "conflict",
            json,
            CALLBACK_TOKEN,
            failure(request, "late", "").to_string(),
        ),
        (
            "not_found",
            json,
            CALLBACK_TOKEN,
            failure(987_654, "x", "").to_string(),
        ),
        ("unauthorized", json, "wrong-token", success.to_string()),
        ("bad_request", json, CALLBACK_TOKEN, "{".to_owned()),
        (
            "unsupported_media_type",
            "text/plain",
            CALLBACK_TOKEN,
            "x".to_owned(),
        ),
        ("too_large", json, CALLBACK_TOKEN, "x".repeat(5000)),
    ];
    for (outcome, content_type, token, body) in cases {
        let before = callbacks(&scrape(&http, &bridge).await, outcome);
        let response = http
            .post(format!("{base}{CALLBACK}"))
            .header("content-type", content_type)
            .header("x-n8n-webhook-token", token)
            .body(body)
            .send()
            .await
            .unwrap();
        let _ = response.bytes().await;
        let after = scrape(&http, &bridge).await;
        assert_eq!(
            callbacks(&after, outcome),
            before + 1.0,
            "the {outcome} counter did not move"
        );
    }
    let metrics = scrape(&http, &bridge).await;
    assert!(metrics.keys().any(|k| k.starts_with(
        "influence_gen_bridge_odoo_calls_total{method=\"search_read\",result=\"ok\"}"
    )));
    assert!(metrics.keys().any(|k| {
        k.starts_with("influence_gen_bridge_callback_duration_seconds_count{route=\"callback\"}")
    }));
    assert!(
        metrics
            .keys()
            .any(|k| k.starts_with("influence_gen_bridge_odoo_call_duration_seconds_bucket"))
    );
    assert_eq!(
        metrics.get("influence_gen_bridge_spool_pending_entries"),
        Some(&0.0)
    );
    assert!(
        metrics
            .keys()
            .any(|k| k.starts_with("influence_gen_bridge_build_info{version="))
    );
    // The unknown request became a dead letter.
    assert_eq!(
        metrics.get("influence_gen_bridge_spool_dead_letters"),
        Some(&2.0),
        "conflict and unknown request"
    );
}

#[tokio::test]
async fn json_logs_carry_the_request_id_that_is_returned() {
    let (odoo, config) = odoo().await;
    let bridge = BridgeProcess::start(&config).await;
    let http = client();
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let response = http
        .post(bridge.url(CALLBACK))
        .header("content-type", "application/json")
        .header("x-n8n-webhook-token", CALLBACK_TOKEN)
        .body(failure(request, "m", "").to_string())
        .send()
        .await
        .unwrap();
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(request_id.len(), 32);
    let line = bridge
        .wait_for_log("\"answered\"", Duration::from_secs(5))
        .await;
    let logs = bridge.logs();
    for line in &logs {
        serde_json::from_str::<Value>(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
    }
    let answered: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(
        answered["spans"][0]["request_id"],
        request_id.as_str(),
        "{answered}"
    );
    assert_eq!(answered["outcome"], "applied");
    assert_eq!(answered["status"], 200);
    let applied = logs
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == "callback applied")
        .expect("an applied line");
    let spans = applied["spans"].as_array().unwrap();
    assert!(
        spans.iter().any(|s| s["request_id"] == request_id.as_str()),
        "{applied}"
    );
    assert!(
        spans
            .iter()
            .any(|s| s["ai_generation_request_id"].as_str() == Some(request.to_string().as_str())),
        "{applied}"
    );
}

#[tokio::test]
async fn sighup_swaps_the_callback_token_without_a_restart() {
    let (odoo, config) = odoo().await;
    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let http = client();
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&http, &bridge.url(""), &failure(request, "first", ""))
        .await
        .unwrap();
    assert_eq!(status, 200);

    let new_token = "test-rotated-callback-token-77aa";
    let rotated = TestConfig {
        callback_token: Some(new_token.to_owned()),
        spool_dir: Some(file.spool_dir.clone()),
        ..config.clone()
    };
    file.rewrite(&rotated);
    let pid = bridge.pid();
    bridge.signal("HUP");
    bridge
        .wait_for_log("configuration reloaded", Duration::from_secs(5))
        .await;

    let (status, _) = post(&http, &bridge.url(""), &failure(request, "second", ""))
        .await
        .unwrap();
    assert_eq!(status, 401, "the old token is refused after the reload");
    let response = http
        .post(bridge.url(CALLBACK))
        .header("content-type", "application/json")
        .header("x-n8n-webhook-token", new_token)
        .body(failure(request, "third", "").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the new token is accepted");
    assert_eq!(bridge.pid(), pid);
    assert_eq!(
        odoo.record("influence_gen.ai_image_request", request)
            .unwrap()["error_details"],
        "third"
    );
    let mut secrets = config.secrets();
    secrets.push(new_token.to_owned());
    assert_no_secret(&bridge.log_text(), &secrets, "bridge logs");
}

#[tokio::test]
async fn an_invalid_reload_keeps_the_running_configuration_and_restart_only_keys_are_named() {
    let (odoo, config) = odoo().await;
    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    std::fs::write(&file.path, "[server]\nlisten = \"nonsense\"\n").unwrap();
    bridge.signal("HUP");
    bridge
        .wait_for_log("reload refused", Duration::from_secs(5))
        .await;
    let request = odoo.seed_request(json!({ "prompt": "p" }));
    let (status, _) = post(&client(), &bridge.url(""), &failure(request, "still", ""))
        .await
        .unwrap();
    assert_eq!(status, 200);

    let moved = config.clone().with("server", "listen = \"127.0.0.1:1\"");
    file.rewrite(&TestConfig {
        spool_dir: Some(file.spool_dir.clone()),
        ..moved
    });
    bridge.signal("HUP");
    let line = bridge
        .wait_for_log("keep their running value", Duration::from_secs(5))
        .await;
    assert!(line.contains("server.listen"), "{line}");
}

#[tokio::test]
async fn systemd_gets_ready_and_watchdog_notifications() {
    let (_odoo, config) = odoo().await;
    let file = ConfigFile::write(&config);
    let socket_dir = tempfile::tempdir().unwrap();
    let socket_path = socket_dir.path().join("notify.sock");
    let socket = tokio::net::UnixDatagram::bind(&socket_path).unwrap();
    let envs = [
        ("NOTIFY_SOCKET", socket_path.to_str().unwrap()),
        ("WATCHDOG_USEC", "300000"),
    ];
    let bridge = BridgeProcess::start_with_file(&file.path, &envs).await;
    let mut messages = Vec::new();
    let mut buffer = vec![0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(messages.iter().any(|m: &String| m.contains("READY=1"))
        && messages.iter().filter(|m| m.contains("WATCHDOG=1")).count() >= 2)
    {
        let received = tokio::time::timeout_at(deadline, socket.recv(&mut buffer)).await;
        let length = received
            .expect("no READY=1 and watchdog pings within 10 s")
            .unwrap();
        messages.push(String::from_utf8_lossy(&buffer[..length]).into_owned());
    }
    let ready = messages.iter().find(|m| m.contains("READY=1")).unwrap();
    assert!(ready.contains("STATUS=serving; Odoo login ok"), "{ready}");
    drop(bridge);
}

/// `systemd-analyze verify` and the offline security score of the shipped
/// unit; skipped (with a message) where systemd-analyze is missing.
#[tokio::test]
async fn the_unit_file_verifies_and_scores_ok_or_better() {
    if std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    }
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/systemd/influence-gen-bridge.service"
    ))
    .unwrap();
    // verify checks that ExecStart's binary exists: point it at the one cargo built.
    let unit = unit.replace("/usr/local/bin/influence-gen-bridge", BIN);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("influence-gen-bridge.service");
    std::fs::write(&path, unit).unwrap();
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let complaints = String::from_utf8_lossy(&verify.stderr);
    assert!(
        verify.status.success(),
        "systemd-analyze verify failed:\n{complaints}"
    );
    let security = std::process::Command::new("systemd-analyze")
        .args(["security", "--offline=yes"])
        .arg(&path)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&security.stdout);
    let line = report
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no score in:\n{report}"));
    println!("{line}");
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the score in {line:?}"));
    assert!(score <= 2.0, "exposure {score} is above 2.0: {line}");
}
