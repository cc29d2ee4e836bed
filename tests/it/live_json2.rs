//! Against a real Odoo 19 over `/json/2`, when one is named in the
//! environment (the contract of the real-Odoo suite): `IG_LIVE_ODOO_URL`,
//! `IG_LIVE_ODOO_DB`, `IG_LIVE_ODOO_LOGIN` and `IG_LIVE_ODOO_PASSWORD` (the
//! bridge's user and, on Odoo 19, its API key: `.ci/odoo-user-key` makes
//! both), with `examples/odoo/influence_gen_base_models` installed. Without
//! them, or when the live Odoo is older than 19, every test here says it is
//! skipped and passes; `tests/it/live.rs` covers Odoo 18 over `/jsonrpc`.
//!
//! Proved here over `/json/2`: `check` (its API and key lines), the callback
//! round trip (image, attachment, checksums), a duplicate, a failure, a late
//! failure that must not overwrite the image, and an initiation to an N8N
//! fake. The real-Odoo suite (`tests/it/live/`) runs against Odoo 19 too;
//! that the daemon sends nothing over `/jsonrpc` there is proved against the
//! emulator (`odoo_client_json2::the_daemon_speaks_only_json2_to_odoo_19`).

use std::path::Path;
use std::time::Duration;

use influence_gen_bridge::config::{Config, Environment};
use influence_gen_bridge::odoo::{Api, OdooClient, SearchOptions};
use influence_gen_testkit::{N8nFake, Reply, images};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::support::bridge::{self, BridgeProcess, ConfigFile};
use crate::support::callbacks::{client, failure, post, success_inline};
use crate::support::config::{API_KEY, TestConfig, assert_no_secret};

const REQUESTS: &str = "influence_gen.ai_image_request";
const IMAGES: &str = "influence_gen.generated_image";

/// The live Odoo's configuration and a client for it, or `None` (and a
/// message) to skip: no live Odoo named, or one without `/json/2`.
async fn live(test: &str) -> Option<(TestConfig, OdooClient)> {
    let Ok(url) = std::env::var("IG_LIVE_ODOO_URL") else {
        eprintln!(
            "skipped {test}: set IG_LIVE_ODOO_URL (and _DB, _LOGIN, _PASSWORD) to a real Odoo 19"
        );
        return None;
    };
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| panic!("IG_LIVE_ODOO_URL is set but {name} is not"))
    };
    let mut config = TestConfig::new(&url);
    config.database = var("IG_LIVE_ODOO_DB");
    config.login = var("IG_LIVE_ODOO_LOGIN");
    config.password = var("IG_LIVE_ODOO_PASSWORD");
    let config = config.with("odoo", "timeout = \"30s\"");
    let odoo = odoo_client(&config);
    let version = odoo.version().await.expect("the live Odoo answers");
    if odoo.api().await.expect("the API is chosen") != Api::Json2 {
        eprintln!(
            "skipped {test}: the live Odoo is {} (no /json/2); tests/it/live.rs covers it",
            version.server_version
        );
        return None;
    }
    Some((config, odoo))
}

fn odoo_client(config: &TestConfig) -> OdooClient {
    let parsed = Config::from_toml(
        &config.toml(),
        Path::new("live.toml"),
        Path::new("/tmp"),
        &Environment::default(),
    )
    .unwrap();
    influence_gen_bridge::tls::install_crypto_provider();
    OdooClient::new(&parsed.odoo).unwrap()
}

#[tokio::test]
async fn check_passes_over_json2() {
    let Some((config, _)) = live("check_passes_over_json2").await else {
        return;
    };
    let n8n = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = TestConfig {
        webhook_url: Some(format!("http://{}/webhook/x", n8n.local_addr().unwrap())),
        ..config
    };
    let file = ConfigFile::write(&config);
    let output = bridge::run(&file.path, &["check"], &[]).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{text}");
    assert!(output.status.success(), "{text}");
    assert!(text.contains("ok   odoo api: /json/2"), "{text}");
    assert!(
        text.contains("odoo login: Odoo accepted the API key"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.contains(" odoo api key: accepted")),
        "{text}"
    );
    assert_no_secret(&text, &config.secrets(), "check");
}

#[tokio::test]
async fn callbacks_round_trip_over_json2() {
    let Some((config, odoo)) = live("callbacks_round_trip_over_json2").await else {
        return;
    };
    let request = odoo
        .create(REQUESTS, &json!({ "prompt": "live json2 round trip" }))
        .await
        .unwrap();
    let other = odoo
        .create(REQUESTS, &json!({ "prompt": "live json2 failure" }))
        .await
        .unwrap();

    let file = ConfigFile::write(&config);
    let bridge = BridgeProcess::start_with_file(&file.path, &[]).await;
    let http = client();
    let png = images::png(40, 30);
    let body = success_inline(request.to_string(), &png);
    let (status, answer) = post(&http, &bridge.url(""), &body).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(&http, &bridge.url(""), &body).await.unwrap();
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or_default()
            .contains("duplicate"),
        "{answer}"
    );
    let (status, answer) = post(
        &http,
        &bridge.url(""),
        &failure(other, "live json2 provider error", "details"),
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    // A failure arriving after the image never overwrites it.
    let (status, answer) = post(&http, &bridge.url(""), &failure(request, "late", ""))
        .await
        .unwrap();
    assert_eq!(status, 409, "{answer}");

    let fields = ["status", "generated_image_id", "error_details"];
    let records: Vec<Value> = odoo
        .read(REQUESTS, &[request, other], &fields)
        .await
        .unwrap();
    let (done, failed) = if records[0]["id"] == request {
        (&records[0], &records[1])
    } else {
        (&records[1], &records[0])
    };
    assert_eq!(done["status"], "completed", "{records:?}");
    assert_eq!(failed["status"], "failed");
    assert_eq!(
        failed["error_details"],
        "live json2 provider error\n\ndetails"
    );
    let image_id = done["generated_image_id"][0].as_i64().unwrap();
    let images: Vec<Value> = odoo
        .search_read(
            IMAGES,
            &json!([["request_id", "=", request]]),
            &["storage_identifier", "width", "height"],
            &SearchOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(images.len(), 1, "one image for two deliveries: {images:?}");
    assert_eq!(images[0]["id"], image_id);
    assert_eq!(
        (images[0]["width"].clone(), images[0]["height"].clone()),
        (json!(40), json!(30))
    );
    let attachment_id: i64 = images[0]["storage_identifier"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let attachments: Vec<Value> = odoo
        .read(
            "ir.attachment",
            &[attachment_id],
            &["checksum", "res_model", "res_id", "name"],
        )
        .await
        .unwrap();
    let sha1: String = Sha1::digest(&png)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(attachments[0]["checksum"], sha1.as_str());
    assert_eq!(attachments[0]["res_model"], IMAGES);
    assert_eq!(attachments[0]["res_id"], image_id);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_no_secret(&bridge.log_text(), &config.secrets(), "bridge logs");
}

#[tokio::test]
async fn an_initiation_over_json2() {
    let Some((config, odoo)) = live("an_initiation_over_json2").await else {
        return;
    };
    let n8n = N8nFake::start().await;
    n8n.require_api_key("X-N8N-Api-Key", API_KEY);
    n8n.script([Reply::Status(200, "{}".into())]);
    let config = TestConfig {
        webhook_url: Some(n8n.url("/webhook/influence-gen")),
        ..config
    }
    .with("initiation", "sweep_interval = \"0s\"");
    let id = odoo
        .create(
            REQUESTS,
            &json!({ "prompt": "live json2 initiation", "seed": 5 }),
        )
        .await
        .unwrap();
    let file = ConfigFile::write(&config);
    let output = bridge::run(&file.path, &["initiate", &id.to_string()], &[]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("sent to N8N (HTTP 200)"), "{stdout}");
    let received = n8n.received();
    assert_eq!(received.len(), 1);
    assert_eq!(
        received[0].json()["params"]["prompt"],
        "live json2 initiation"
    );
    assert_eq!(received[0].json()["params"]["seed"], 5);
    let read: Vec<Value> = odoo.read(REQUESTS, &[id], &["status"]).await.unwrap();
    assert_eq!(read[0]["status"], "processing");
}
